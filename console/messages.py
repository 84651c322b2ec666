"""What a browser may send on the console's WebSocket, checked before anything acts on it.

Two messages (``docs/console.md``, "WebSocket"): ``{"type": "ping", "id": ...,
"active": bool}`` and ``{"type": "command", "id": uuid, "kind": ..., ...fields}``.
Anything else — over 4 KiB, not JSON, not an object, an unknown type, kind or key, a
missing or malformed field — raises :class:`MessageError` whose text is the ``error`` the
browser gets (the connection stays open; the session never sees it).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from console.errors import ConsoleError
from engine.console_wire import COMMAND_FIELDS, COMMAND_KINDS, MAX_COMMAND_BYTES
from therapies.commands import NEEDS
from therapies.prompts import SCALES

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MAX_NOTE",
    "BrowserCommand",
    "MessageError",
    "Ping",
    "SessionFacts",
    "parse_message",
]

MAX_MESSAGE_BYTES = MAX_COMMAND_BYTES
MAX_NOTE = 1000
PROMPT_RANGES = {kind: (scale.low, scale.high) for kind, scale in SCALES.items()}
"""Each prompt's answer range (the session's own scales, :data:`therapies.prompts.SCALES`)."""
_NEEDS = {kind.value: fields for kind, fields in NEEDS.items()}


class MessageError(ConsoleError):
    """A browser message that is refused (the text says why)."""


@dataclass(frozen=True)
class SessionFacts:
    """What a command is checked against: the attached session's id, scene events and
    stream roles (from its session info; empty means "not declared")."""

    sid: str
    scene_events: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()

    @classmethod
    def from_info(cls, sid: str, info: dict[str, Any]) -> SessionFacts:
        """From a session info object (``scene_events``: names or ``{"name": ...}``;
        ``roles``: names or a mapping role -> stream)."""
        events = info.get("scene_events") or []
        names = {e.get("name") if isinstance(e, dict) else e for e in events}
        roles = info.get("roles") or []
        return cls(
            sid,
            frozenset(str(n) for n in names if n),
            frozenset(str(r) for r in roles),
        )


@dataclass(frozen=True)
class Ping:
    """A latency probe (``active``: the user did something since the last one)."""

    id: str | int
    active: bool = False


@dataclass(frozen=True)
class BrowserCommand:
    """A checked command: id, kind and the fields it carries."""

    id: str
    kind: str
    fields: dict[str, Any] = field(default_factory=dict)


def parse_message(text: str | bytes, facts: SessionFacts) -> Ping | BrowserCommand:
    """Check one WebSocket message (see the module docstring).

    Raises
    ------
    MessageError
        The message is refused.
    """
    size = len(text.encode("utf-8") if isinstance(text, str) else text)
    if size > MAX_MESSAGE_BYTES:
        raise MessageError(f"message of {size} bytes refused: at most {MAX_MESSAGE_BYTES}")
    if isinstance(text, bytes):
        raise MessageError("binary message refused: send JSON text")
    try:
        msg = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise MessageError(f"message is not JSON ({exc.__class__.__name__})") from None
    if not isinstance(msg, dict):
        raise MessageError("message is not a JSON object")
    kind = msg.get("type")
    if kind == "ping":
        return _ping(msg)
    if kind == "command":
        return _command(msg, facts)
    raise MessageError(f"unknown message type {kind!r}: one of command, ping")


def _keys(msg: dict[str, Any], allowed: Collection[str]) -> None:
    extra = sorted(set(msg) - set(allowed))
    if extra:
        raise MessageError(f"{msg.get('type')}: unknown key(s) {', '.join(map(repr, extra))}")


def _ping(msg: dict[str, Any]) -> Ping:
    _keys(msg, ("type", "id", "active"))
    pid = msg.get("id")
    if isinstance(pid, bool) or not isinstance(pid, str | int) or len(str(pid)) > 64:
        raise MessageError("ping: id must be a string or number (at most 64 characters)")
    return Ping(pid, msg.get("active") is True)


def _command_id(value: Any) -> str:
    try:
        if not isinstance(value, str) or len(value) != 36:
            raise ValueError
        return str(uuid.UUID(value))
    except ValueError:
        raise MessageError(f"command: id {value!r} is not a UUID") from None


def _command(msg: dict[str, Any], facts: SessionFacts) -> BrowserCommand:
    _keys(msg, ("type", "id", "kind", "sid", *COMMAND_FIELDS))
    cid = _command_id(msg.get("id"))
    kind = msg.get("kind")
    if not isinstance(kind, str) or kind not in COMMAND_KINDS:
        raise MessageError(f"command: unknown kind {kind!r}: one of {', '.join(COMMAND_KINDS)}")
    if "sid" in msg and msg["sid"] != facts.sid:
        raise MessageError(
            f"command for session {msg['sid']!r} refused: this connection steers {facts.sid}"
        )
    needs = _NEEDS.get(kind, ())
    given = {f: msg[f] for f in COMMAND_FIELDS if msg.get(f) is not None}
    missing = [f for f in needs if f not in given]
    if missing:
        raise MessageError(f"command {kind} needs {', '.join(missing)}")
    stray = [f for f in given if f not in needs]
    if stray:
        raise MessageError(f"command {kind} takes no {', '.join(stray)}")
    _check_fields(kind, given, facts)
    return BrowserCommand(cid, kind, given)


def _named(value: Any, allowed: Collection[str]) -> bool:
    """``value`` is a string in ``allowed`` (a list or object is no name: not hashable)."""
    return isinstance(value, str) and value in allowed


def _check_fields(kind: str, given: dict[str, Any], facts: SessionFacts) -> None:
    if "prompt" in given and not _named(given["prompt"], PROMPT_RANGES):
        raise MessageError(
            f"{kind}: prompt {given['prompt']!r} is not one of {', '.join(PROMPT_RANGES)}"
        )
    if "value" in given:
        low, high = PROMPT_RANGES[given["prompt"]]
        value = given["value"]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise MessageError(
                f"{kind}: {given['prompt']} value must be a whole number {low}..{high}"
            )
    if "text" in given:
        text = given["text"]
        if not isinstance(text, str) or not 0 < len(text.strip()) <= MAX_NOTE:
            raise MessageError(f"note: text must be 1 to {MAX_NOTE} characters")
    if "event" in given and not _named(given["event"], facts.scene_events):
        allowed = ", ".join(sorted(facts.scene_events)) or "none in this session"
        raise MessageError(f"scene_event: {given['event']!r} is not one of {allowed}")
    if "role" in given and not _named(given["role"], facts.roles):
        allowed = ", ".join(sorted(facts.roles)) or "none"
        raise MessageError(f"{kind}: stream role {given['role']!r} is not one of {allowed}")
