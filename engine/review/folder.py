"""Session folders of a sessions folder, read for review without changing anything.

Layout (``docs/architecture.md``, "Recording"): ``<sessions>/<participant>/<session>/``
holding ``recording.xdf`` or ``recording.xdf.sealed``, ``summary.json[.sealed]``,
``report.html[.sealed]``, ``consent.json[.sealed]`` and ``integrity.json``. Sealed files
are decrypted in memory only (:func:`engine.privacy.sealed.recording_bytes`). A folder
that cannot be read whole (a torn recording, sealed under another site key, no summary,
no recording, files changed since the session ended) is still described: its
:class:`ReadSession` carries a ``status`` and one sentence per problem, and whatever could
be read.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import RecordingError, VrTherapyError
from engine.export.recording import SessionData, load_session
from engine.privacy.errors import DecryptionError, PrivacyError
from engine.privacy.integrity import MANIFEST, file_sha256, is_member_name
from engine.privacy.keys import SiteKey
from engine.privacy.sealed import MAGIC, is_sealed, read_sealed_bytes

__all__ = [
    "RECORDINGS",
    "STATUSES",
    "SUMMARIES",
    "ReadSession",
    "ReviewError",
    "SessionFolder",
    "find_sessions",
    "read_session",
    "signature",
]

RECORDINGS = ("recording.xdf.sealed", "recording.xdf")
SUMMARIES = ("summary.json.sealed", "summary.json")
REPORTS = ("report.html.sealed", "report.html")
SKIP = frozenset({"exports"})
STATUSES = {
    "ok": "readable, matches its integrity.json",
    "torn": "the recording ends in a torn chunk (a crash): measures up to the tear",
    "no_summary": "no summary.json: measures from the recording alone",
    "no_integrity": "no integrity.json (the session did not close): read, nothing to check",
    "changed": "files differ from integrity.json: read anyway, not trusted",
    "wrong_key": "sealed under another site key, or no key given: not readable",
    "no_recording": "no recording in the folder",
    "unreadable": "the recording is not a readable XDF file",
}
"""Each flag a session can have, worst last; its status is ``ok`` or its flags joined by
``,`` in this order."""
_ORDER = tuple(STATUSES)


class ReviewError(VrTherapyError):
    """A sessions folder or option that review cannot use (the CLI exits 2)."""


@dataclass(frozen=True)
class SessionFolder:
    """One session folder: its path and where it sits in the sessions folder."""

    path: Path
    rel: str
    participant: str

    def recording(self) -> Path | None:
        """The recording file, sealed first; ``None`` when there is none."""
        return next((self.path / n for n in RECORDINGS if (self.path / n).is_file()), None)


def find_sessions(sessions: Path) -> list[SessionFolder]:
    """Every session folder ``<sessions>/<participant>/<session>/``, sorted.

    Raises
    ------
    ReviewError
        ``sessions`` is not a folder.
    """
    if not sessions.is_dir():
        raise ReviewError(f"{sessions}: not a folder (give the sessions folder, e.g. ./sessions)")
    out = []
    for part in sorted(_dirs(sessions)):
        for folder in sorted(_dirs(part)):
            if folder.name not in SKIP:
                rel = f"{part.name}/{folder.name}"
                out.append(SessionFolder(folder, rel, part.name))
    return out


def _dirs(folder: Path) -> Iterator[Path]:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for e in entries:
        if not e.name.startswith(".") and e.is_dir(follow_symlinks=False):
            yield Path(e.path)


def signature(folder: Path) -> str:
    """Sizes and modification times of the files review reads, and of ``integrity.json``:
    equal signatures mean nothing to re-read (``"-"`` for a missing file)."""
    parts = []
    for name in (MANIFEST, *RECORDINGS, *SUMMARIES):
        try:
            st = (folder / name).stat()
            parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append(f"{name}:-")
    return "|".join(parts)


@dataclass
class ReadSession:
    """What could be read of one session folder (see the module docstring)."""

    folder: SessionFolder
    flags: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    sealed: bool = False
    data: SessionData | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    manifest_sha256: str = ""

    @property
    def status(self) -> str:
        """``ok``, or the flags found, in :data:`STATUSES` order, joined by ``,``."""
        return ",".join(s for s in _ORDER if s in self.flags) or "ok"

    @property
    def readable(self) -> bool:
        """The recording was loaded (whatever else is wrong)."""
        return self.data is not None

    def flag(self, status: str, problem: str) -> None:
        """Record a problem under the flag ``status`` (a key of :data:`STATUSES`)."""
        self.problems.append(problem)
        self.flags.add(status)


def _manifest(read: ReadSession) -> dict[str, str]:
    path = read.folder.path / MANIFEST
    try:
        raw = path.read_bytes()
        files = json.loads(raw)["files"]
        if not isinstance(files, dict):
            raise TypeError
    except OSError:
        read.flag("no_integrity", f"{path}: missing (the session did not close, or removed)")
        return {}
    except (ValueError, KeyError, TypeError, RecursionError):
        read.flag("changed", f"{path}: not a readable manifest")
        return {}
    read.manifest_sha256 = hashlib.sha256(raw).hexdigest()
    return {str(k): str(v) for k, v in files.items()}


def _check_files(read: ReadSession, listed: dict[str, str], names: list[str]) -> None:
    if not listed:
        return
    outside = sorted(n for n in listed if not is_member_name(n))
    if outside:
        where = read.folder.path / MANIFEST
        read.flag("changed", f"{where}: lists {outside[0]!r}, not a file of the session folder")
    for name in names:
        path = read.folder.path / name
        if name not in listed:
            read.flag("changed", f"{path}: not listed in {MANIFEST} (added after the session)")
        elif file_sha256(path) != listed[name]:
            read.flag("changed", f"{path}: differs from {MANIFEST} (changed since the session)")


def _summary(read: ReadSession, key: SiteKey | None) -> str | None:
    folder = read.folder.path
    for name in SUMMARIES:
        path = folder / name
        if not path.is_file():
            continue
        if key is None and name.endswith(".sealed"):
            read.flag("no_summary", f"{path}: encrypted, and no site key was given")
            return name
        try:
            sealed = name.endswith(".sealed") and key is not None
            raw = read_sealed_bytes(path, key) if sealed and key else path.read_bytes()
            data = json.loads(raw)
        except DecryptionError as exc:
            read.flag("wrong_key", f"{path}: cannot be decrypted ({exc})")
            return name
        except PrivacyError as exc:
            read.flag("no_summary", f"{path}: cannot be read ({exc})")
            return name
        except (OSError, ValueError, RecursionError) as exc:
            read.flag("no_summary", f"{path}: not readable JSON ({exc})")
            return name
        if isinstance(data, dict):
            read.summary = data
        else:
            read.flag("no_summary", f"{path}: not a JSON object")
        return name
    read.flag("no_summary", f"{folder}: no summary.json (measures from the recording alone)")
    return None


def _key_problem(path: Path, key: SiteKey | None) -> str | None:
    """Why a sealed file cannot be opened with ``key`` (``None``: it can be tried)."""
    if key is None:
        return f"{path}: encrypted, and no site key was given (--key FILE)"
    with open(path, "rb") as f:
        head = f.read(len(MAGIC) + 1 + 8)
    found = head[len(MAGIC) + 1 :].hex()
    if found != key.key_id:
        return f"{path}: sealed under another site key (key id {found}, given {key.key_id})"
    return None


def read_session(folder: SessionFolder, key: SiteKey | None, *, load: bool = True) -> ReadSession:
    """Read one session folder for review; never raises for a bad folder, never writes.

    Parameters
    ----------
    key
        The site key, for sealed files (decrypted in memory only).
    load
        Also load the recording (``data``); ``False`` checks the folder only.
    """
    read = ReadSession(folder)
    recording = folder.recording()
    listed = _manifest(read)
    summary_name = _summary(read, key)
    if recording is None:
        read.flag("no_recording", f"{folder.path}: no {' or '.join(RECORDINGS)}")
        return read
    try:
        read.sealed = is_sealed(recording)
    except OSError as exc:
        read.flag("unreadable", f"{recording}: cannot be read ({exc.strerror})")
        return read
    _check_files(read, listed, [recording.name, *([summary_name] if summary_name else [])])
    problem = _key_problem(recording, key) if read.sealed else None
    if problem is not None:
        read.flag("wrong_key", problem)
        return read
    if load:
        _load(read, recording, key)
    return read


def _load(read: ReadSession, recording: Path, key: SiteKey | None) -> None:
    try:
        read.data = load_session(recording, key if read.sealed else None)
    except DecryptionError as exc:
        read.flag("wrong_key", f"{recording}: cannot be decrypted ({exc})")
        return
    except RecordingError as exc:
        read.flag("unreadable", str(exc))
        return
    if read.data.truncated:
        read.flag("torn", f"{recording}: ends in a torn chunk (crash?): data up to it is used")
