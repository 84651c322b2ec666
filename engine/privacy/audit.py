"""Append-only, hash-chained audit log (JSON lines), one per site: ``<out>/audit.log``.

Each line is the canonical JSON (sorted keys, no spaces, UTF-8) of::

    {"seq": n, "time": UTC ISO, "event": ..., "actor": ..., "session": ... | null,
     "details": {...}, "prev_hash": hash of entry n-1 (64 zeros for n = 0),
     "hash": sha256 hex of the canonical JSON of this entry without "hash"}

:func:`verify_chain` re-derives every hash and also requires each line to be byte-for-byte
canonical, so any changed byte (even one that parses to the same value) is named by its
entry's ``seq``. Appends take an exclusive ``flock`` on the file, write one line with one
``os.write`` (``O_APPEND``) and ``fsync``.

A chain alone cannot show that its *last* entries were cut off; compare the head
(:attr:`VerifyResult.head`) with a copy kept elsewhere, or pass it as ``expect_head``.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.privacy.errors import AuditError

__all__ = [
    "EVENTS",
    "GENESIS",
    "AuditLog",
    "VerifyResult",
    "canonical_json",
    "model_sha256",
    "read_entries",
    "verify_chain",
]

GENESIS = "0" * 64
EVENTS = frozenset(
    {
        "session_start",
        "session_stop",
        "protocol",
        "consent",
        "override",
        "export",
        "report",
        "integrity",
        "key_created",
        "key_use",
        "failed_decryption",
        "purge",
        "identity_add",
        "verify",
        "replay",
        "twin_fit",
        # the therapist console (console/, docs/console.md section 3)
        "console_login",
        "console_login_failed",
        "console_logout",
        "console_pairing",
        "console_page",
        "console_attach",
        "console_command",
        "console_refused",
        "console_account",
        # clinician review (vrtherapy outcomes / serve; docs/outcomes.md, docs/review.md)
        "outcomes",
        "console_review",
        "console_download",
    }
)
_TAIL_BYTES = 1 << 16
_FIELDS = ("actor", "details", "event", "hash", "prev_hash", "seq", "session", "time")


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, no NaN: the bytes that are hashed."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def model_sha256(model: Any) -> str:
    """SHA-256 hex of a pydantic model's canonical JSON (e.g. a protocol's hash)."""
    return hashlib.sha256(canonical_json(model.model_dump(mode="json"))).hexdigest()


def _entry_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(
        canonical_json({k: v for k, v in entry.items() if k != "hash"})
    ).hexdigest()


def _utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`verify_chain`.

    Attributes
    ----------
    ok
        Every entry intact and chained (and matching ``expect_head`` when given).
    first_broken
        ``seq`` (= line number - 1) of the first bad entry, ``None`` when ``ok``.
    reason
        What is wrong, ``None`` when ``ok``.
    entries
        Entries checked good before the first bad one.
    head
        Hash of the last good entry (:data:`GENESIS` for an empty log).
    """

    ok: bool
    first_broken: int | None
    reason: str | None
    entries: int
    head: str


def _lines(path: Path) -> Iterator[bytes]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise AuditError(f"cannot read audit log {path}: {exc}") from exc
    if not data:
        return
    parts = data.split(b"\n")
    if parts[-1] == b"":
        parts.pop()
    else:
        parts[-1] += b"\x00torn"  # no final newline: an interrupted append, never canonical
    yield from parts


def _check_line(line: bytes, seq: int, prev: str) -> tuple[dict[str, Any] | None, str | None]:
    """Return ``(entry, None)`` when the line is entry ``seq`` chained to ``prev``."""
    try:
        entry = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return None, f"line {seq + 1} is not a JSON entry ({exc})"
    if not isinstance(entry, dict) or tuple(sorted(entry)) != _FIELDS:
        return None, f"line {seq + 1}: fields are not exactly {', '.join(_FIELDS)}"
    if entry["seq"] != seq:
        return None, f"line {seq + 1}: seq is {entry['seq']!r}, expected {seq}"
    if entry["prev_hash"] != prev:
        return None, f"entry {seq}: prev_hash does not match entry {seq - 1}'s hash"
    if entry["hash"] != _entry_hash(entry):
        return None, f"entry {seq}: hash does not match its content (entry changed)"
    if canonical_json(entry) != line:
        return None, f"entry {seq}: bytes are not canonical JSON (entry changed)"
    return entry, None


def verify_chain(path: str | os.PathLike[str], expect_head: str | None = None) -> VerifyResult:
    """Check every entry of an audit log; a missing file is an empty (valid) log.

    Parameters
    ----------
    expect_head
        A head hash recorded elsewhere earlier: it must be the hash of some entry in the
        log (detects the removal of trailing entries up to that point).
    """
    p = Path(path)
    prev, seq, seen_head = GENESIS, 0, expect_head is None or expect_head == GENESIS
    for line in _lines(p):
        entry, problem = _check_line(line, seq, prev)
        if entry is None:
            return VerifyResult(False, seq, f"{p}: {problem}", seq, prev)
        prev = entry["hash"]
        seen_head = seen_head or prev == expect_head
        seq += 1
    if not seen_head:
        return VerifyResult(
            False,
            seq,
            f"{p}: expected head {expect_head} is not in the log (entries removed from its end?)",
            seq,
            prev,
        )
    return VerifyResult(True, None, None, seq, prev)


def read_entries(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """All entries of a log that verifies.

    Raises
    ------
    AuditError
        When the chain is broken (names the entry).
    """
    result = verify_chain(path)
    if not result.ok:
        raise AuditError(f"audit log broken at entry {result.first_broken}: {result.reason}")
    return [json.loads(line) for line in _lines(Path(path))]


class AuditLog:
    """Append entries to a site's audit log.

    Parameters
    ----------
    path
        The log file (created on the first append, mode 0600).
    actor
        Default ``actor`` of entries (e.g. ``"vrtherapy"`` or a staff pseudonym).
    now
        UTC clock for entry times (injected in tests).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        actor: str = "vrtherapy",
        now: Callable[[], _dt.datetime] = _utc_now,
    ) -> None:
        self._path = Path(path)
        self._actor = actor
        self._now = now

    @property
    def path(self) -> Path:
        """The log file."""
        return self._path

    def append(
        self,
        event: str,
        *,
        session: str | None = None,
        actor: str | None = None,
        **details: Any,
    ) -> dict[str, Any]:
        """Append one entry (``fsync``-ed) and return it.

        Raises
        ------
        AuditError
            Unknown event, details not JSON-serialisable, the log's last entry is broken
            (verify it), or IO fails.
        """
        if event not in EVENTS:
            raise AuditError(f"audit event {event!r} is not one of {', '.join(sorted(EVENTS))}")
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise AuditError(f"cannot open audit log {self._path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            seq, prev = self._tail()
            entry: dict[str, Any] = {
                "seq": seq,
                "time": self._now().astimezone(_dt.UTC).isoformat(timespec="milliseconds"),
                "event": event,
                "actor": actor if actor is not None else self._actor,
                "session": session,
                "details": details,
                "prev_hash": prev,
            }
            try:
                entry["hash"] = _entry_hash(entry)
                line = canonical_json(entry) + b"\n"
            except (TypeError, ValueError) as exc:
                raise AuditError(f"audit {event}: details are not JSON data ({exc})") from exc
            if os.write(fd, line) != len(line):
                raise AuditError(f"audit log {self._path}: short write (disk full?)")
            os.fsync(fd)
        except OSError as exc:
            raise AuditError(f"cannot append to audit log {self._path}: {exc}") from exc
        finally:
            os.close(fd)  # also releases the lock
        return entry

    def _tail(self) -> tuple[int, str]:
        """``(next seq, last hash)`` from the last line, which must be a sound entry.

        Reads only the end of the file (entries are far shorter than 64 KiB).
        """
        try:
            with open(self._path, "rb") as f:
                size = f.seek(0, os.SEEK_END)
                f.seek(max(0, size - _TAIL_BYTES))
                block = f.read()
        except OSError as exc:
            raise AuditError(f"cannot read audit log {self._path}: {exc}") from exc
        if not block:
            return 0, GENESIS
        last = block.rstrip(b"\n").rsplit(b"\n", 1)[-1]
        try:
            entry = json.loads(last.decode("utf-8"))
            ok = block.endswith(b"\n") and entry["hash"] == _entry_hash(entry)
            seq = int(entry["seq"]) + 1
        except (UnicodeDecodeError, ValueError, TypeError, KeyError, RecursionError):
            ok, seq = False, -1
        if not ok:
            raise AuditError(
                f"audit log {self._path}: its last entry is damaged or cut off; "
                f"run `vrtherapy verify` and keep the log for inspection"
            )
        return seq, str(entry["hash"])
