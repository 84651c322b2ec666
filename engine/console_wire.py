"""The wire format between a session and a therapist console (docs/console.md, parts 1-2).

Pure: names and formats of the streams a session publishes, and the signed commands a
console sends back — canonical JSON, HMAC-SHA256 with the session's pairing secret, and
:class:`CommandVerifier`, which turns one received sample into a
:class:`~therapies.commands.Command` or a :class:`~therapies.commands.CommandRejection`
saying why not. The LSL side is :mod:`engine.console_link`, the pairing files
:mod:`engine.console_pairing`; a console process imports this module to sign.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import secrets
import uuid
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from therapies.commands import NEEDS, Command, CommandError, CommandKind, CommandRejection

__all__ = [
    "COMMAND_FIELDS",
    "COMMAND_KINDS",
    "FEATURE_CHANNELS",
    "MAX_CLOCK_SKEW_S",
    "MAX_COMMAND_BYTES",
    "PROTOCOL_VERSION",
    "STREAMS",
    "CommandVerifier",
    "canonical_json",
    "check_session_id",
    "command_mac",
    "make_command",
    "new_secret",
    "new_session_id",
    "source_id",
]

PROTOCOL_VERSION: Final = 1
"""``v`` of every command."""
MAX_COMMAND_BYTES: Final = 4096
"""Largest command sample (UTF-8 bytes) a session reads."""
MAX_CLOCK_SKEW_S: Final = 60.0
"""A command's ``ts`` must be this close to the session's clock (LSL seconds)."""
STREAMS: Final = MappingProxyType(
    {
        "intensity": ("vrtherapy-intensity", "Intensity"),
        "markers": ("vrtherapy-markers", "Markers"),
        "status": ("vrtherapy-status", "VrtherapyStatus"),
        "features": ("vrtherapy-features", "Features"),
        "thumbnail": ("vrtherapy-thumbnail", "VrtherapyThumbnail"),
        "commands": ("vrtherapy-commands", "VrtherapyCommands"),
    }
)
"""Stream kind -> (LSL name, LSL type); the source_id is ``<name>-<SID>``
(:func:`source_id`). ``commands`` is published by the console, the others by the session."""
FEATURE_CHANNELS: Final = (
    ("heart_rate", "bpm"),
    ("scl", "microsiemens"),
    ("scr_rate", "per_minute"),
    ("arousal", "normalized"),
    ("rmssd", "ms"),
    ("valid", "bool"),
)
"""The channels of the session's published ``features`` stream (label, unit)."""
COMMAND_KINDS: Final = tuple(kind.value for kind in CommandKind)
"""Every ``kind`` a command may have."""
COMMAND_FIELDS: Final = ("prompt", "value", "text", "event", "role")
"""A command's optional fields (``null`` when unused)."""
_KEYS: Final = frozenset({"v", "sid", "id", "ts", "kind", "operator", "mac", *COMMAND_FIELDS})
_LIMITS: Final = MappingProxyType(
    {"id": 128, "operator": 64, "prompt": 16, "text": 1000, "event": 64, "role": 16}
)
"""Longest string each field may hold (characters)."""
_SID = re.compile(r"^[0-9a-f]{8}$")


def new_session_id() -> str:
    """A fresh session id: 8 lowercase hex digits."""
    return secrets.token_hex(4)


def new_secret() -> bytes:
    """A fresh pairing secret: 32 random bytes."""
    return secrets.token_bytes(32)


def check_session_id(sid: str) -> str:
    """``sid`` if it is 8 lowercase hex digits; ValueError otherwise."""
    if not isinstance(sid, str) or not _SID.match(sid):
        raise ValueError(f"session id {sid!r} is not 8 lowercase hex digits")
    return sid


def source_id(stream: str, sid: str) -> str:
    """The LSL ``source_id`` of ``stream`` (a key of :data:`STREAMS`) in session ``sid``."""
    return f"{STREAMS[stream][0]}-{sid}"


def canonical_json(obj: Mapping[str, Any]) -> bytes:
    """The bytes a command's ``mac`` covers: ``obj`` without ``mac``, keys sorted, no
    spaces, UTF-8 (``json.dumps(..., sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)``)."""
    body = {k: v for k, v in obj.items() if k != "mac"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def command_mac(obj: Mapping[str, Any], secret: bytes) -> str:
    """Hex HMAC-SHA256 of :func:`canonical_json` of ``obj`` with ``secret``."""
    return hmac.new(secret, canonical_json(obj), hashlib.sha256).hexdigest()


def make_command(
    sid: str,
    secret: bytes,
    kind: str,
    operator: str,
    ts: float,
    *,
    command_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A signed command object, ready for ``json.dumps`` and the console's command stream.

    ``fields`` are any of :data:`COMMAND_FIELDS` (others are ``null``); ``command_id``
    defaults to a new UUID; ``ts`` is the sender's LSL clock (``pylsl.local_clock()``).
    """
    unknown = sorted(set(fields) - set(COMMAND_FIELDS))
    if unknown:
        raise ValueError(f"unknown command field(s) {unknown}; allowed: {COMMAND_FIELDS}")
    obj: dict[str, Any] = {
        "v": PROTOCOL_VERSION,
        "sid": sid,
        "id": command_id or str(uuid.uuid4()),
        "ts": ts,
        "kind": kind,
        "operator": operator,
        **{name: fields.get(name) for name in COMMAND_FIELDS},
    }
    obj["mac"] = command_mac(obj, secret)
    return obj


class _Reject(Exception):
    """Internal: why a sample is rejected."""


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


class CommandVerifier:
    """Checks command samples for one session (docs/console.md, part 2).

    Parameters
    ----------
    sid
        The session's id.
    secret
        The session's pairing secret.
    """

    def __init__(self, sid: str, secret: bytes) -> None:
        self.sid = check_session_id(sid)
        self._secret = bytes(secret)
        self._seen: set[str] = set()

    def check(self, sample: str, now: float) -> Command | CommandRejection:
        """The command in ``sample`` (received at session time ``now``), or why not.

        A sample is rejected when it is over :data:`MAX_COMMAND_BYTES`, not a JSON object,
        of another version or session, has unknown keys, a missing or bad ``mac``, an
        ``id`` seen before (replay), an unknown ``kind``, a missing or ill-typed field,
        or a ``ts`` more than :data:`MAX_CLOCK_SKEW_S` from ``now``. Signed ids are
        remembered, so a command applies at most once.
        """
        claimed: dict[str, str | None] = {"id": None, "kind": None}
        try:
            return self._check(sample, now, claimed)
        except _Reject as why:
            return CommandRejection(str(why), "console", claimed["id"], claimed["kind"])

    def _check(self, sample: str, now: float, claimed: dict[str, str | None]) -> Command:
        size = len(sample.encode("utf-8", "surrogatepass"))
        if size > MAX_COMMAND_BYTES:
            raise _Reject(f"{size} bytes, over the {MAX_COMMAND_BYTES}-byte limit")
        try:
            obj = json.loads(sample, parse_constant=_no_constants)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
            raise _Reject(f"not JSON ({exc})") from None
        if not isinstance(obj, dict):
            raise _Reject(f"not a JSON object but {type(obj).__name__}")
        for key in ("id", "kind"):
            value = obj.get(key)
            if isinstance(value, str) and len(value) <= _LIMITS["id"]:
                claimed[key] = value
        self._authentic(obj)
        command_id = self._fresh_id(obj.get("id"))
        kind = obj.get("kind")
        if kind not in COMMAND_KINDS:
            raise _Reject(f"unknown kind {kind!r} (allowed: {', '.join(COMMAND_KINDS)})")
        fields = self._fields(obj, CommandKind(kind))
        self._timely(obj.get("ts"), now)
        try:
            return Command(CommandKind(kind), "console", id=command_id, **fields)
        except CommandError as exc:  # defensive: the fields were checked above
            raise _Reject(str(exc)) from None

    def _authentic(self, obj: dict[str, Any]) -> None:
        """Version, session, keys and signature."""
        if obj.get("v") != PROTOCOL_VERSION:
            raise _Reject(f"version {obj.get('v')!r} is not {PROTOCOL_VERSION}")
        if obj.get("sid") != self.sid:
            raise _Reject(f"for session {obj.get('sid')!r}, not this session ({self.sid})")
        unknown = sorted(str(k) for k in set(obj) - _KEYS)
        if unknown:
            raise _Reject(f"unknown key(s) {', '.join(unknown)}")
        mac = obj.get("mac")
        if not isinstance(mac, str) or not mac:
            raise _Reject("no mac: commands must be signed with the session's pairing secret")
        given = mac.lower().encode("utf-8", "surrogatepass")  # str compare_digest: ASCII only
        if not hmac.compare_digest(given, command_mac(obj, self._secret).encode("ascii")):
            raise _Reject("bad mac: not signed with this session's pairing secret")

    def _fresh_id(self, command_id: object) -> str:
        limit = _LIMITS["id"]
        if not isinstance(command_id, str) or not 0 < len(command_id) <= limit:
            raise _Reject(f"id must be a string of 1-{limit} characters")
        if command_id in self._seen:
            raise _Reject(f"id {command_id} was seen before (replay)")
        self._seen.add(command_id)
        return command_id

    def _fields(self, obj: dict[str, Any], kind: CommandKind) -> dict[str, Any]:
        """``operator`` and the kind's fields, type-checked."""
        out: dict[str, Any] = {}
        for name in ("operator", *COMMAND_FIELDS):
            value = obj.get(name)
            if value is None:
                continue
            if name == "value":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise _Reject(f"value must be an integer, got {value!r}")
            elif not isinstance(value, str) or not 0 < len(value) <= _LIMITS[name]:
                raise _Reject(f"{name} must be a string of 1-{_LIMITS[name]} characters")
            out[name] = value
        if "operator" not in out:
            raise _Reject("no operator: a console command names the person who sent it")
        missing = [f for f in NEEDS.get(kind, ()) if f not in out]
        if missing:
            raise _Reject(f"{kind.value} needs {', '.join(missing)}")
        return out

    @staticmethod
    def _timely(ts: object, now: float) -> None:
        if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts):
            raise _Reject(f"ts must be a number (the sender's LSL clock), got {ts!r}")
        if abs(ts - now) > MAX_CLOCK_SKEW_S:
            raise _Reject(
                f"ts {ts:.3f} is {abs(ts - now):.0f} s from the session's clock "
                f"({now:.3f}; at most {MAX_CLOCK_SKEW_S:g} s)"
            )
