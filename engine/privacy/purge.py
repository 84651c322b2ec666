"""Retention: remove session folders older than a number of days, with an audit entry each.

Only folders shaped like :func:`engine.sessiondir.new_session_dir` makes them are touched:
``<out>/<pseudonym>/<YYYYmmdd-HHMMSS>-<protocol>[-n]/``. A session's end time is taken from
``integrity.json`` (``ended_at``), else ``summary.json`` (``ended_at``, else its
modification time), else the folder's modification time.

Deleting files does not wipe the disk blocks (SSDs, journaling, backups): for encrypted
sessions the data keys go with the files, but copies elsewhere are out of reach.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from engine.privacy.audit import AuditLog, read_entries
from engine.privacy.errors import PurgeError
from engine.privacy.integrity import MANIFEST, session_ref
from engine.sessiondir import PSEUDONYM

__all__ = [
    "Purged",
    "consented_retention",
    "purge_expired",
    "purge_older_than",
    "session_end",
    "session_folders",
]

_SESSION_DIR = re.compile(r"^\d{8}-\d{6}-[A-Za-z0-9._-]+$")


@dataclass(frozen=True)
class Purged:
    """One removed (or, in a dry run, removable) session."""

    folder: Path
    session: str
    ended_at: _dt.datetime
    files: int


def session_folders(out_dir: str | os.PathLike[str]) -> list[Path]:
    """Session folders under ``out_dir`` (``<pseudonym>/<stamp>-<protocol>``), sorted."""
    root = Path(out_dir)
    found = []
    for participant in sorted(root.iterdir()) if root.is_dir() else []:
        if participant.is_symlink() or not participant.is_dir():
            continue
        if not PSEUDONYM.match(participant.name):
            continue
        for folder in sorted(participant.iterdir()):
            if folder.is_dir() and not folder.is_symlink() and _SESSION_DIR.match(folder.name):
                found.append(folder)
    return found


def _parse_time(text: object) -> _dt.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value.astimezone(_dt.UTC) if value.tzinfo else None


def _from_mtime(path: Path) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(path.stat().st_mtime, _dt.UTC)


def session_end(folder: str | os.PathLike[str]) -> _dt.datetime:
    """When a session ended (UTC); see the module docstring for the sources tried."""
    root = Path(folder)
    for name in (MANIFEST, "summary.json"):
        path = root / name
        if not path.is_file():
            continue
        try:
            ended = _parse_time(json.loads(path.read_text(encoding="utf-8")).get("ended_at"))
        except (OSError, ValueError, AttributeError, RecursionError):
            ended = None
        if ended is not None:
            return ended
        if name == "summary.json":
            return _from_mtime(path)
    return _from_mtime(root)


def _remove(item: Purged, audit: AuditLog, days: int) -> None:
    try:
        shutil.rmtree(item.folder)
    except OSError as exc:
        audit.append(
            "purge", session=item.session, status="failed", error=str(exc), retention_days=days
        )
        raise PurgeError(f"cannot purge session folder {item.folder}: {exc}") from exc
    audit.append(
        "purge",
        session=item.session,
        status="removed",
        ended_at=item.ended_at.isoformat(timespec="seconds"),
        files=item.files,
        retention_days=days,
    )
    parent = item.folder.parent
    if not any(parent.iterdir()):
        parent.rmdir()


def purge_older_than(
    out_dir: str | os.PathLike[str],
    days: int,
    audit: AuditLog,
    *,
    now: _dt.datetime | None = None,
    dry_run: bool = False,
) -> list[Purged]:
    """Remove the session folders under ``out_dir`` that ended more than ``days`` ago.

    Each removal appends a ``purge`` entry (status ``removed``, or ``failed`` before a
    :class:`~engine.privacy.errors.PurgeError` is raised). With ``dry_run`` nothing is
    removed or logged. Returns the sessions removed (or that would be).
    """
    if days < 0:
        raise PurgeError(f"retention must be >= 0 days, got {days}")
    cutoff = (now or _dt.datetime.now(_dt.UTC)) - _dt.timedelta(days=days)
    done = []
    for folder in session_folders(out_dir):
        ended = session_end(folder)
        if ended >= cutoff:
            continue
        files = sum(1 for p in folder.rglob("*") if p.is_file())
        item = Purged(folder, session_ref(folder, audit.path), ended, files)
        if not dry_run:
            _remove(item, audit, days)
        done.append(item)
    return done


def consented_retention(audit_path: str | os.PathLike[str]) -> dict[str, int]:
    """Session -> ``retention_days`` of its latest ``consent`` entry in the audit log."""
    return {
        str(e["session"]): int(e["details"]["retention_days"])
        for e in read_entries(audit_path)
        if e["event"] == "consent" and "retention_days" in e["details"]
    }


def purge_expired(
    out_dir: str | os.PathLike[str],
    audit: AuditLog,
    *,
    now: _dt.datetime | None = None,
    dry_run: bool = False,
) -> tuple[list[Purged], list[Path]]:
    """Remove the sessions whose consented retention (from the audit log) has run out.

    Returns ``(removed, unknown)``: ``unknown`` lists session folders without a consent
    entry, which are left alone (use :func:`purge_older_than` for those).
    """
    retention = consented_retention(audit.path)
    at = now or _dt.datetime.now(_dt.UTC)
    done, unknown = [], []
    for folder in session_folders(out_dir):
        ref = session_ref(folder, audit.path)
        if ref not in retention:
            unknown.append(folder)
            continue
        days = retention[ref]
        ended = session_end(folder)
        if ended >= at - _dt.timedelta(days=days):
            continue
        files = sum(1 for p in folder.rglob("*") if p.is_file())
        item = Purged(folder, ref, ended, files)
        if not dry_run:
            _remove(item, audit, days)
        done.append(item)
    return done, unknown
