"""The command link: a therapist console's signed commands, read from LSL without ever
blocking a frame (docs/console.md, part 2).

:class:`LslCommandSource` is a :class:`~therapies.commands.CommandSource`. A background
thread watches for ``vrtherapy-commands-<SID>`` streams (a ``ContinuousResolver``: a
console may start, restart, or a second one appear at any time), opens each one it finds
and pulls what arrives into a bounded queue. The session thread drains that queue once per
step and checks every sample with :class:`~engine.console_wire.CommandVerifier`: accepted
ones become ``Command(source="console", operator=..., id=...)``, the others
:class:`~therapies.commands.CommandRejection` (recorded as ``command_rejected`` markers,
never applied). Nothing here waits on the network in the session's thread.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Final

from biosignals.lsl import import_pylsl
from biosignals.reconnect import StreamPredicate
from engine.console_wire import CommandVerifier, source_id
from therapies.commands import Command, CommandRejection

__all__ = ["QUEUE_LIMIT", "LslCommandSource"]

QUEUE_LIMIT: Final = 256
"""Samples waiting for the session at most; more are dropped (and that is recorded)."""
PER_STEP: Final = 32
"""Samples checked per session step at most (a flood cannot stall a frame)."""
WAIT_S: Final = 0.02
"""Longest wait of the reading thread for a console's next sample (a sample ends it at
once; the thread then looks for new streams and pulls every stream again)."""
RESCAN_S: Final = 0.25
"""How often the reading thread looks for new command streams."""
OPEN_TIMEOUT_S: Final = 2.0
"""How long the reading thread waits for a found stream to connect."""


class LslCommandSource:
    """Commands from the consoles steering session ``sid`` (see the module docstring).

    Parameters
    ----------
    sid
        The session's id.
    secret
        The session's pairing secret (commands are signed with it).
    """

    def __init__(self, sid: str, secret: bytes) -> None:
        self.verifier = CommandVerifier(sid, secret)
        self.source_id = source_id("commands", sid)
        self._queue: deque[tuple[str, str]] = deque()
        self._lock = threading.Lock()
        self._dropped = 0
        self._connected = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="console-commands", daemon=True)
        self._thread.start()

    @property
    def connected(self) -> int:
        """Command streams open now (0 until a console's outlet is found and connected)."""
        return self._connected

    def drain(self, now: float) -> list[Command | CommandRejection]:
        """Check what arrived since the last call (at most :data:`PER_STEP` samples)."""
        out: list[Command | CommandRejection] = []
        if self._dropped:
            with self._lock:
                dropped, self._dropped = self._dropped, 0
            out.append(
                CommandRejection(
                    f"{dropped} command samples dropped: more than {QUEUE_LIMIT} waiting",
                    "console",
                )
            )
        for _ in range(PER_STEP):
            if not self._queue:
                break
            what, payload = self._queue.popleft()
            if what == "sample":
                out.append(self.verifier.check(payload, now))
            else:
                out.append(CommandRejection(payload, "console"))
        return out

    def close(self) -> None:
        """Stop reading and close the streams (idempotent)."""
        self._stop.set()
        self._thread.join(timeout=OPEN_TIMEOUT_S + 1.0)

    # ----------------------------------------------------------------- reading thread
    def _put(self, what: str, payload: str) -> None:
        if len(self._queue) >= QUEUE_LIMIT:
            with self._lock:
                self._dropped += 1
            return
        self._queue.append((what, payload))

    def _run(self) -> None:
        pylsl = import_pylsl()
        xpath = StreamPredicate(source_id=self.source_id).to_xpath()
        resolver = pylsl.ContinuousResolver(pred=xpath, forget_after=2.0)
        inlets: dict[str, Any] = {}
        refused: set[str] = set()
        last_scan = -RESCAN_S
        try:
            while not self._stop.is_set():
                now = pylsl.local_clock()
                if now - last_scan >= RESCAN_S:
                    last_scan = now
                    self._scan(pylsl, resolver.results(), inlets, refused)
                if inlets:
                    self._pull(pylsl, inlets)
                else:  # no console yet: only look for one now and then
                    self._stop.wait(RESCAN_S)
        finally:
            for inlet in inlets.values():
                inlet.close_stream()
            self._connected = 0

    def _scan(
        self, pylsl: Any, infos: list[Any], inlets: dict[str, Any], refused: set[str]
    ) -> None:
        """Open every command stream not open yet (refusing ones of the wrong format)."""
        for info in infos:
            uid = info.uid()
            if uid in inlets or uid in refused:
                continue
            if info.channel_format() != pylsl.cf_string or info.channel_count() != 1:
                refused.add(uid)
                self._put(
                    "reject",
                    f"stream {info.name()!r} ({self.source_id}) is not one string channel: "
                    "not read",
                )
                continue
            inlet = pylsl.StreamInlet(info, max_buflen=60, recover=False)
            try:
                inlet.open_stream(timeout=OPEN_TIMEOUT_S)
            except (pylsl.util.TimeoutError, pylsl.util.LostError):  # tried again later
                inlet.close_stream()
                continue
            inlets[uid] = inlet
        self._connected = len(inlets)

    def _pull(self, pylsl: Any, inlets: dict[str, Any]) -> None:
        """Everything each open stream has now; when none had anything, wait (at most
        :data:`WAIT_S`) for the first stream's next sample, which wakes the thread at once."""
        got = False
        for uid, inlet in list(inlets.items()):
            got |= self._read(pylsl, inlets, uid, lambda i=inlet: i.pull_chunk(timeout=0.0))
        if not got and inlets:
            uid, inlet = next(iter(inlets.items()))
            self._read(pylsl, inlets, uid, lambda: _one(inlet.pull_sample(timeout=WAIT_S)))

    def _read(self, pylsl: Any, inlets: dict[str, Any], uid: str, pull: Any) -> bool:
        """Queue what ``pull`` returns; drop the stream when it is lost."""
        try:
            samples, _ = pull()
        except pylsl.util.LostError:
            inlets.pop(uid).close_stream()
            self._connected = len(inlets)
            return False
        except UnicodeDecodeError:
            self._put("reject", "a sample that is not UTF-8 text")
            return True
        for sample in samples:
            self._put("sample", str(sample[0]))
        return bool(samples)


def _one(pulled: tuple[Any, Any]) -> tuple[list[Any], list[Any]]:
    """``pull_sample``'s answer shaped like ``pull_chunk``'s."""
    sample, stamp = pulled
    return ([sample], [stamp]) if sample is not None else ([], [])
