"""The console's LSL link to one running session (``docs/console.md`` sections 1 and 2).

:meth:`SessionLink.attach` (blocking: run it off the event loop) resolves the session's
streams by their ``source_id`` (``vrtherapy-<what>-SID``), checks each one's
``<vrtherapy_session>`` against the SID, reads the session info from the status stream's
description, opens inlets and the console's signed command outlet. :meth:`SessionLink.poll`
never blocks: it pulls what arrived, keeps five minutes of it (:class:`History`) and turns
it into the WebSocket messages pages get; command markers answer pending commands by id.
A session is lost when its pairing file goes (it ended), its status stream is no longer
resolvable, or nothing arrives for :data:`LOST_AFTER` seconds.

The wire itself (stream names, the pairing file, signing) is the engine's:
:mod:`engine.console_wire` and :mod:`engine.console_pairing`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from biosignals.lsl import described, import_pylsl
from console.errors import LinkError
from console.history import History
from engine.console_pairing import ConsolePairingError, Pairing, find_pairing
from engine.console_wire import FEATURE_CHANNELS, STREAMS, make_command, source_id

__all__ = ["COMMAND_TIMEOUT", "LOST_AFTER", "SessionLink", "find_session"]

LOST_AFTER = 5.0
COMMAND_TIMEOUT = 5.0
CONNECT_TIMEOUT = 10.0
"""How long a command waits for the session to open this console's command stream."""
MAX_THUMBNAIL = 512 * 1024
_CHECK_EVERY = 0.5


CHANNELS = {"features": len(FEATURE_CHANNELS)}
"""Channels of each stream of :data:`~engine.console_wire.STREAMS` (1 where not listed)."""
_REQUIRED = ("intensity", "markers", "status", "features")


def find_session(sid: str | None, env: Mapping[str, str] | None = None) -> Pairing:
    """The live session ``sid`` (or the only one) from its pairing file
    (:func:`engine.console_pairing.find_pairing`); :class:`LinkError` saying why not."""
    try:
        return find_pairing(sid, env)
    except ConsolePairingError as exc:
        raise LinkError(str(exc)) from None


@dataclass
class _Pending:
    received: float
    text: str | None
    """The signed command until it is pushed (``None`` once the session reads it)."""
    pushed: float | None = None


def _json(text: str) -> dict[str, Any] | None:
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


class SessionLink:
    """An attached session (make one with :meth:`attach`)."""

    def __init__(
        self,
        entry: Pairing,
        info: dict[str, Any],
        inlets: dict[str, Any],
        resolver: Any,
        outlet: Any,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.entry = entry
        self.sid = entry.sid
        self.info = info
        self.history = History()
        self.lost: str | None = None
        self._inlets = inlets
        self._described: set[str] = set()  # roles whose description liblsl holds
        self._resolver = resolver
        self._outlet = outlet
        self._now = now
        self._pending: dict[str, _Pending] = {}
        self._last_data = now()
        self._last_check = now()
        self._seen_on_lsl = False  # the resolver's first answer takes a moment

    # ------------------------------------------------------------------------- attaching
    @classmethod
    def attach(cls, entry: Pairing, timeout: float = 10.0) -> SessionLink:
        """Find the session's streams and open them (blocks up to about ``timeout`` s).

        Raises
        ------
        LinkError
            A required stream is not found, names another session, or its session info
            is not JSON.
        """
        pylsl = import_pylsl()
        sid = entry.sid
        # one resolve for all: it returns as soon as the four required streams answered
        found = pylsl.resolve_bypred(_predicate(sid, *_REQUIRED), len(_REQUIRED), timeout)
        infos = {role: _match(found, sid, role) for role in (*_REQUIRED, "thumbnail")}
        missing = [source_id(r, sid) for r in _REQUIRED if infos[r] is None]
        if missing:
            raise LinkError(
                f"session {sid}: no stream with source_id {', '.join(missing)} on LSL within "
                f"{timeout:g} s (is the session still running?)"
            )
        inlets = {role: _open(pylsl, sid, infos[role], timeout) for role in _REQUIRED}
        info = _session_info(sid, inlets["status"], timeout)
        if infos["thumbnail"] is not None:
            inlets["thumbnail"] = pylsl.StreamInlet(infos["thumbnail"], max_buflen=5)
        resolver = pylsl.ContinuousResolver(
            pred=_predicate(sid, "status", "thumbnail"), forget_after=LOST_AFTER
        )
        return cls(entry, info, inlets, resolver, _command_outlet(pylsl, sid))

    # ------------------------------------------------------------------------- reading
    def poll(self) -> list[dict[str, Any]]:
        """Everything that arrived since the last call, as page messages (never blocks)."""
        if self.lost is not None:
            return []
        events: list[dict[str, Any]] = []
        arrived = False
        for role, inlet in self._inlets.items():
            if role not in self._described:
                if not described(inlet):
                    continue  # a pull before the description could wait for good
                self._described.add(role)
            samples, stamps = inlet.pull_chunk(timeout=0.0, max_samples=4096)
            if stamps:
                arrived = True
                events += getattr(self, f"_on_{role}")(samples, stamps)
        now = self._now()
        if arrived:
            self._last_data = now
        events += self._timeouts(now)
        if now - self._last_check >= _CHECK_EVERY:
            self._last_check = now
            self.lost = self._lost_reason(now)
            if self.lost is not None:
                events.append({"type": "session_lost", "reason": self.lost})
        return events

    def _lost_reason(self, now: float) -> str | None:
        if self.entry.path is not None and not self.entry.path.exists():
            return "the session ended (its pairing file is gone)"
        seen = {i.name(): i for i in self._resolver.results()}
        on_lsl = STREAMS["status"][0] in seen
        thumbnail = seen.get(STREAMS["thumbnail"][0])
        if thumbnail is not None and "thumbnail" not in self._inlets:  # switched on later
            self._inlets["thumbnail"] = import_pylsl().StreamInlet(thumbnail, max_buflen=5)
        if self._seen_on_lsl and not on_lsl:
            return "the session's streams are gone from LSL"
        self._seen_on_lsl = self._seen_on_lsl or on_lsl
        if now - self._last_data > LOST_AFTER:
            return f"no data from the session for {now - self._last_data:.0f} s"
        return None

    def _on_intensity(self, samples: list[Any], stamps: list[float]) -> list[dict[str, Any]]:
        rows = self.history.add_intensity(
            (t, float(s[0])) for s, t in zip(samples, stamps, strict=True)
        )
        return [{"type": "intensity", "t": t, "value": v} for t, v in rows]

    def _on_features(self, samples: list[Any], stamps: list[float]) -> list[dict[str, Any]]:
        return [
            {"type": "features", "row": self.history.add_features(t, [float(v) for v in s])}
            for s, t in zip(samples, stamps, strict=True)
        ]

    def _on_status(self, samples: list[Any], stamps: list[float]) -> list[dict[str, Any]]:
        events = []
        for s in samples:
            status = _json(s[0])
            if status is not None:
                self.history.status = status
                events.append({"type": "status", "status": status})
        return events

    def _on_thumbnail(self, samples: list[Any], stamps: list[float]) -> list[dict[str, Any]]:
        data, t = samples[-1][0], stamps[-1]  # only the newest frame matters
        if len(data) > MAX_THUMBNAIL or not data.startswith(
            ("data:image/jpeg;", "data:image/png;")
        ):
            return []
        self.history.thumbnail = {"type": "thumbnail", "data": data, "t": round(t, 4)}
        return [self.history.thumbnail]

    def _on_markers(self, samples: list[Any], stamps: list[float]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for s, t in zip(samples, stamps, strict=True):
            marker = _json(s[0]) or {"event": "text", "text": str(s[0])}
            events.append({"type": "marker", "marker": self.history.add_marker(t, marker)})
            result = self._answer(marker)
            if result is not None:
                events.append(result)
        return events

    # ------------------------------------------------------------------------- commands
    def send(self, command_id: str, kind: str, fields: dict[str, Any], operator: str) -> None:
        """Sign and publish one command; its marker comes back through :meth:`poll` as a
        ``command_result`` (or an ``error`` after :data:`COMMAND_TIMEOUT` s)."""
        pylsl = import_pylsl()
        obj = make_command(
            self.sid,
            self.entry.secret,
            kind,
            operator,
            pylsl.local_clock(),
            command_id=command_id,
            **fields,
        )
        text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
        self._pending[command_id] = _Pending(self._now(), text)
        self._push()

    def _push(self) -> None:
        """Publish the commands waiting for the session to read this console's stream (a
        sample pushed before an inlet connects would reach nobody)."""
        waiting = [p for p in self._pending.values() if p.text is not None]
        if not waiting or not self._outlet.have_consumers():
            return
        for pending in waiting:
            self._outlet.push_sample([pending.text])
            pending.text, pending.pushed = None, self._now()

    def _answer(self, marker: dict[str, Any]) -> dict[str, Any] | None:
        event, cid = marker.get("event"), marker.get("id")
        if event not in ("command", "command_rejected") or not isinstance(cid, str):
            return None
        pending = self._pending.pop(cid, None)
        if pending is None:
            return None  # another console's, or a keyboard command
        latency = round((self._now() - pending.received) * 1000.0, 1)
        if event == "command_rejected":
            applied, result = False, f"rejected by the session: {marker.get('reason')}"
        else:
            applied, result = bool(marker.get("applied")), str(marker.get("result", ""))
        return {
            "type": "command_result",
            "id": cid,
            "applied": applied,
            "result": result,
            "latency_ms": latency,
        }

    def _timeouts(self, now: float) -> list[dict[str, Any]]:
        self._push()
        errors: list[dict[str, Any]] = []
        for cid, p in list(self._pending.items()):
            if p.text is not None and now - p.received > CONNECT_TIMEOUT:
                why = (
                    f"the session has not opened this console's command stream within "
                    f"{CONNECT_TIMEOUT:g} s; nothing was sent"
                )
            elif p.pushed is not None and now - p.pushed > COMMAND_TIMEOUT:
                why = f"no acknowledgement from the session within {COMMAND_TIMEOUT:g} s"
            else:
                continue
            del self._pending[cid]
            errors.append({"type": "error", "id": cid, "message": f"command {cid}: {why}"})
        return errors

    def close(self) -> None:
        """Close the inlets and withdraw the command outlet."""
        for inlet in self._inlets.values():
            inlet.close_stream()
        self._inlets.clear()
        self._outlet = None
        self._resolver = None


def _predicate(sid: str, *roles: str) -> str:
    """An XPath predicate matching exactly these streams of session ``sid``."""
    return " or ".join(f"source_id='{source_id(r, sid)}'" for r in roles)


def _match(found: list[Any], sid: str, role: str) -> Any:
    return next((i for i in found if i.source_id() == source_id(role, sid)), None)


def _open(pylsl: Any, sid: str, info: Any, timeout: float) -> Any:
    """An inlet on ``info`` after checking its type, channels and ``<vrtherapy_session>``."""
    role = next(r for r in STREAMS if source_id(r, sid) == info.source_id())
    kind, channels = STREAMS[role][1], CHANNELS.get(role, 1)
    if info.type() != kind or info.channel_count() != channels:
        raise LinkError(
            f"session {sid}: stream {info.source_id()} is type {info.type()!r} with "
            f"{info.channel_count()} channels, expected {kind!r} with {channels}"
        )
    inlet = pylsl.StreamInlet(info, max_buflen=int(LOST_AFTER) + 5, recover=True)
    owner = inlet.info(timeout).desc().child_value("vrtherapy_session")
    if owner != sid:
        raise LinkError(
            f"session {sid}: stream {info.source_id()} names session {owner!r} in its "
            f"<vrtherapy_session>"
        )
    return inlet


def _session_info(sid: str, inlet: Any, timeout: float) -> dict[str, Any]:
    text = inlet.info(timeout).desc().child_value("vrtherapy_session_info")
    info = _json(text)
    if info is None:
        raise LinkError(
            f"session {sid}: the status stream's <vrtherapy_session_info> is not a JSON object"
        )
    return info


def _command_outlet(pylsl: Any, sid: str) -> Any:
    name, kind = STREAMS["commands"]
    info = pylsl.StreamInfo(
        name, kind, 1, pylsl.IRREGULAR_RATE, "string", source_id("commands", sid)
    )
    info.desc().append_child_value("vrtherapy_session", sid)
    return pylsl.StreamOutlet(info)
