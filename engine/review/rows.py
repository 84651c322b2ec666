"""One outcome-table row per session folder: its status and its measures.

:func:`session_row` is the unit of work that ``vrtherapy outcomes`` spreads over worker
processes or a Dask cluster, and that the review index stores: a plain ``dict`` of
column name -> ``str | int | float | None`` (:data:`engine.review.measures.COLUMNS`).
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import VrTherapyError
from engine.privacy.keys import SiteKey
from engine.review.folder import ReadSession, SessionFolder, read_session
from engine.review.measures import Value, session_measures

__all__ = ["base_row", "row_of_read", "session_row"]


def base_row(read: ReadSession) -> dict[str, Value]:
    """The columns every session has, readable or not."""
    folder = read.folder
    return {
        "session": folder.rel,
        "participant": folder.participant,
        "date": _stamp_date(folder.path),
        "protocol": _stamp_protocol(folder.path),
        "status": read.status,
        "problems": "; ".join(read.problems),
        "sealed": int(read.sealed),
    }


def _stamp_date(path: Path) -> str | None:
    """``20261207-141916-heights`` -> ``2026-12-07T14:19:16`` (folder names of sessions)."""
    name = path.name
    if len(name) >= 15 and name[:8].isdigit() and name[8] == "-" and name[9:15].isdigit():
        d, t = name[:8], name[9:15]
        return f"{d[:4]}-{d[4:6]}-{d[6:]}T{t[:2]}:{t[2:4]}:{t[4:]}+00:00"
    return None


def _stamp_protocol(path: Path) -> str | None:
    name = path.name
    return name[16:] or None if _stamp_date(path) is not None and len(name) > 16 else None


def row_of_read(read: ReadSession) -> dict[str, Value]:
    """The row of an already read session (measures when its recording loaded)."""
    row = base_row(read)
    if read.data is None:
        return row
    try:
        measures = session_measures(read.data, read.summary)
    except VrTherapyError as exc:
        read.flag("unreadable", f"{read.folder.path}: measures cannot be computed ({exc})")
        return base_row(read)
    for name, value in measures.items():
        if (value is not None and value != "") or name not in row:
            row[name] = value
    row["status"], row["problems"] = read.status, "; ".join(read.problems)
    return row


def session_row(folder: SessionFolder, key: SiteKey | None) -> dict[str, Value]:
    """Read ``folder`` (sealed files in memory only) and compute its row; never raises for
    a bad folder (its ``status`` and ``problems`` say what is wrong)."""
    return row_of_read(read_session(folder, key))
