"""Guards for the review commands (``report``, ``export``, ``replay``): is the session intact
before it is read, and may an output go where it was asked to?

A **session folder** is a folder holding ``integrity.json`` or the consent record
(``consent.json`` / ``consent.json.sealed``, written when a session starts). Its files are
its record: no output may replace any of them, nor the site's ``audit.log``, whatever
``--force`` says. New files go into a session folder only where its manifest will list them:
its ``exports/`` sub-folder, or its report when it has none (:func:`check_output`).

:func:`check_before_reading` compares the files a command reads (the recording and the
session summary) with the SHA-256 in ``integrity.json``, after checking that manifest
against its anchor in the audit log.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from engine.privacy.errors import IntegrityError
from engine.privacy.integrity import MANIFEST, file_sha256, manifest_problems

__all__ = [
    "AUDIT_FILE",
    "EXPORTS",
    "REPORT_NAMES",
    "ReadCheck",
    "check_before_reading",
    "check_output",
    "is_session_folder",
    "recording_of",
    "session_of",
    "site_log_of",
]

AUDIT_FILE = "audit.log"
EXPORTS = "exports"
REPORT_NAMES = ("report.html", "report.html.sealed")
RECORDING_NAMES = ("recording.xdf.sealed", "recording.xdf")
SUMMARY_NAMES = ("summary.json", "summary.json.sealed")
_MARKERS = (MANIFEST, "consent.json", "consent.json.sealed")


def is_session_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a session's manifest or consent record."""
    return any((folder / name).is_file() for name in _MARKERS)


def recording_of(path: Path) -> Path:
    """``path`` itself, or the recording inside it when it is a session folder."""
    if path.is_dir():
        for name in RECORDING_NAMES:
            if (path / name).is_file():
                return path / name
        raise IntegrityError(f"{path} is a folder without {' or '.join(RECORDING_NAMES)}")
    return path


def session_of(path: Path) -> Path | None:
    """The session folder holding ``path`` (resolved), or ``None`` outside any session."""
    p = Path(os.path.realpath(path))
    for folder in (p, *p.parents):
        if folder.is_dir() and is_session_folder(folder):
            return folder
    return None


def site_log_of(folder: Path) -> Path | None:
    """The site audit log of a session folder: ``audit.log`` one or two folders up."""
    for site in (folder.parent.parent, folder.parent):
        if (site / AUDIT_FILE).is_file():
            return site / AUDIT_FILE
    return None


@dataclass(frozen=True)
class ReadCheck:
    """What :func:`check_before_reading` found.

    Attributes
    ----------
    folder
        The session folder, or ``None`` for a recording outside any session.
    audit
        The site's audit log, when found.
    problems
        One sentence per problem (a changed, unlisted or missing file, a manifest that
        does not match the audit log); empty when every file read is as it was.
    warnings
        What could not be checked (a session folder copied away from its audit log).
    """

    folder: Path | None
    audit: Path | None
    problems: tuple[str, ...] = field(default_factory=tuple)
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """The session's manifest was found, anchored and matched by every file read."""
        return self.folder is not None and not self.problems


def _read_names(folder: Path, recording: Path) -> list[str]:
    names = [Path(os.path.realpath(recording)).relative_to(folder).as_posix()]
    return names + [n for n in SUMMARY_NAMES if (folder / n).is_file()]


def check_before_reading(recording: Path) -> ReadCheck:
    """Check the files a review command will read against the session's manifest.

    A recording whose folder is no session folder (copied elsewhere) has nothing to be
    checked against: ``folder`` is ``None`` and there are no problems.
    """
    real = Path(os.path.realpath(recording))
    folder = real.parent
    if not is_session_folder(folder):
        return ReadCheck(None, None)
    log = site_log_of(folder)
    has_manifest = (folder / MANIFEST).is_file()
    if log is None and not has_manifest:
        return ReadCheck(None, None)  # a session folder copied away, never closed
    if not has_manifest:
        return ReadCheck(
            folder,
            log,
            (
                f"{folder} has no {MANIFEST}: the session did not close, or its manifest was "
                f"removed; run `vrtherapy verify --repair {folder}` first",
            ),
        )
    warnings: tuple[str, ...] = ()
    if log is None:
        problems: list[str] = []
        expected = _listed(folder)
        warnings = (
            f"{folder / MANIFEST} is checked without its anchor: no {AUDIT_FILE} one or two "
            f"folders up (a session folder copied away from its site)",
        )
    else:
        expected, problems = manifest_problems(folder, log)
    for name in _read_names(folder, real):
        problems += _file_problem(folder, name, expected)
    return ReadCheck(folder, log, tuple(problems), warnings)


def _listed(folder: Path) -> dict[str, str]:
    try:
        return dict(json.loads((folder / MANIFEST).read_bytes())["files"])
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return {}


def _file_problem(folder: Path, name: str, expected: dict[str, str]) -> list[str]:
    path = folder / name
    if name not in expected:
        return [f"{path} is not listed in {folder / MANIFEST} (added after the session)"]
    found = file_sha256(path)
    if found != expected[name]:
        return [
            f"{path} has changed since the session ended: SHA-256 {found}, "
            f"{MANIFEST} expects {expected[name]}"
        ]
    return []


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _protected(recording: Path, session: Path | None) -> dict[tuple[int, int], Path]:
    """Files no output may be: the input, the session's files, the site's audit log."""
    files: list[Path] = [recording]
    if session is not None:
        files += [p for p in session.rglob("*") if p.is_file()]
        log = site_log_of(session)
        files += [log] if log is not None else []
    ids = {}
    for p in files:
        ident = _identity(p)
        if ident is not None:
            ids[ident] = p
    return ids


def check_output(
    output: Path,
    recording: Path,
    *,
    folder: bool = False,
    allowed_names: Iterable[str] = (),
    plaintext_of_sealed: bool = False,
    verified: bool = True,
) -> Path | None:
    """Refuse an output that would replace the input or any file of a session's record.

    Paths are compared after resolving symbolic links and ``..``; an existing output is
    also compared by inode (hard links).

    Parameters
    ----------
    output
        The file (or, with ``folder``, the folder) to be written.
    recording
        The input recording.
    allowed_names
        Names a new file may have at the top of the input's own session folder (its report).
    plaintext_of_sealed
        The output is a readable copy of an encrypted session: it must stay outside every
        session folder and outside the sessions folder (a copy of it stays unreadable).
    verified
        The input's session passed :func:`check_before_reading` against its audit log (so
        the new file can be listed in its manifest); otherwise nothing may be added to it.

    Returns
    -------
    Path or None
        The session folder whose manifest must list the output once written, or ``None``
        (the output is outside every session folder).

    Raises
    ------
    IntegrityError
        One sentence naming the output, what it would replace, and where to write instead.
    """
    real_in = Path(os.path.realpath(recording))
    own = real_in.parent if is_session_folder(real_in.parent) else None
    target = Path(os.path.realpath(output))
    _refuse_existing(output, target, real_in, own)
    home = session_of(target if folder else target.parent)
    if plaintext_of_sealed:
        _refuse_plaintext_inside(output, target, home, own)
    if home is None:
        return None
    if home != own:
        raise IntegrityError(
            f"{output} lies inside the session folder {home}, which is not {real_in.name}'s "
            f"session: nothing is written into another session's record"
        )
    rel = target.relative_to(home)
    in_exports = rel.parts[:1] == (EXPORTS,) and len(rel.parts) > 1
    top_name = not folder and len(rel.parts) == 1 and rel.name in tuple(allowed_names)
    if not (in_exports or top_name):
        raise IntegrityError(
            f"{output} lies inside the session folder {home}: new files go only into its "
            f"{EXPORTS}/ sub-folder (listed in {MANIFEST}) or outside the session folder"
        )
    if folder and target.exists() and any(target.iterdir()):
        raise IntegrityError(
            f"{output} holds files of the session's record already; give a new folder"
        )
    if not verified:
        raise IntegrityError(
            f"{output}: nothing is added to a session whose integrity is not confirmed (it "
            f"did not pass its integrity check, or its audit log is not beside it); write "
            f"the output outside the session folder"
        )
    return home


def _refuse_existing(output: Path, target: Path, real_in: Path, own: Path | None) -> None:
    same = _identity(target)
    if target == real_in or (same is not None and same == _identity(real_in)):
        raise IntegrityError(
            f"{output} is the input recording {real_in}: an output never replaces its "
            f"input (--force or not); write it elsewhere"
        )
    if target.name == AUDIT_FILE:
        raise IntegrityError(f"{output}: an output may not be named {AUDIT_FILE}")
    ident = same
    if ident is None:
        return
    protected = _protected(real_in, own)
    if ident in protected:
        same_as = "" if protected[ident] == target else f" (the same file as {protected[ident]})"
        raise IntegrityError(
            f"{output}{same_as} is a file of the session's record: it is never replaced "
            f"(--force or not); write the output elsewhere"
        )
    home = session_of(target.parent)
    if home is not None and target.is_file():
        raise IntegrityError(
            f"{output} is a file of the session folder {home}: it is never replaced "
            f"(--force or not); write the output elsewhere"
        )


def _refuse_plaintext_inside(
    output: Path, target: Path, home: Path | None, own: Path | None
) -> None:
    sessions = None
    if own is not None:
        log = site_log_of(own)
        sessions = log.parent if log is not None else own
    if home is not None or (sessions is not None and target.is_relative_to(sessions)):
        where = home if home is not None else sessions
        raise IntegrityError(
            f"{output} is a readable copy of an encrypted session and lies inside {where}: "
            f"write it outside the sessions folder (e.g. -o ~/reports/NAME), so that a copy "
            f"of that folder stays unreadable without the site key"
        )
