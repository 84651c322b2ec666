"""Signed commands for a session's command inlet (``docs/console.md`` section 2).

A command is one JSON object with every key present (``null`` where unused)::

    {"v": 1, "sid", "id", "ts", "kind", "operator", "prompt", "value", "text", "event",
     "role", "mac"}

``mac`` is the lower-case hex HMAC-SHA256, keyed with the session's 32-byte pairing secret
(the bytes, not their hex), of the UTF-8 bytes of the canonical JSON of every other key:
``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from therapies.commands import CommandKind

__all__ = [
    "COMMAND_FIELDS",
    "COMMAND_KINDS",
    "MAX_COMMAND_BYTES",
    "canonical",
    "mac",
    "signed_command",
]

COMMAND_KINDS = (*(k.value for k in CommandKind), "ignore_stream", "watch_stream")
"""What a console may ask a session for."""
COMMAND_FIELDS = ("prompt", "value", "text", "event", "role")
"""The optional fields of a command; which a kind needs is in :mod:`console.messages`."""
MAX_COMMAND_BYTES = 4096
VERSION = 1


def canonical(obj: dict[str, Any]) -> bytes:
    """The bytes that are signed: sorted keys, no spaces, UTF-8 (``mac`` left out)."""
    body = {k: v for k, v in obj.items() if k != "mac"}
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def mac(secret: bytes, obj: dict[str, Any]) -> str:
    """HMAC-SHA256 of :func:`canonical` ``(obj)`` keyed with ``secret``, lower-case hex."""
    return hmac.new(secret, canonical(obj), hashlib.sha256).hexdigest()


def signed_command(
    secret: bytes,
    *,
    sid: str,
    id: str,
    ts: float,
    kind: str,
    operator: str,
    fields: dict[str, Any],
) -> dict[str, Any]:
    """The command object with its ``mac`` (``fields``: any of :data:`COMMAND_FIELDS`).

    Raises
    ------
    ValueError
        ``kind`` or a field name is unknown (the browser message was checked before).
    """
    if kind not in COMMAND_KINDS:
        raise ValueError(f"unknown command kind {kind!r}")
    unknown = set(fields) - set(COMMAND_FIELDS)
    if unknown:
        raise ValueError(f"unknown command fields {sorted(unknown)}")
    obj: dict[str, Any] = {"v": VERSION, "sid": sid, "id": id, "ts": ts, "kind": kind}
    obj["operator"] = operator
    obj.update({f: fields.get(f) for f in COMMAND_FIELDS})
    obj["mac"] = mac(secret, obj)
    return obj
