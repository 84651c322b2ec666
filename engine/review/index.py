"""The session index: an embedded SQLite file of session metadata and outcome measures.

The session folders stay the source of truth; the index is a cache that makes listing
thousands of sessions fast. :meth:`SessionIndex.refresh` walks the sessions folder and
(re)computes the row of every session that is new, whose files' sizes or modification
times changed, or whose ``integrity.json`` no longer matches what the index was built
from; rows of sessions that are gone are dropped. Each rebuilt row is computed by
:func:`engine.review.rows.session_row`, which checks the files it reads against the
session's ``integrity.json`` (status ``changed`` when they disagree). :meth:`verify`
re-hashes every indexed session's files and rebuilds the rows that disagree.

Privacy: the index holds the folder names (pseudonym, date, protocol: already plain on
disk), each session's status, and its measures. The measures are health data, so when a
site key is given they are stored encrypted (AES-256-GCM under a key derived from the site
key with HKDF-SHA256, the session's name as associated data); a key that changes makes
the index rebuild. The file is created mode 0600.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from engine.privacy.integrity import MANIFEST, file_sha256, member_path
from engine.privacy.keys import SiteKey
from engine.review.folder import ReviewError, SessionFolder, find_sessions, signature
from engine.review.measures import COLUMNS, Value
from engine.review.outcomes import compute_rows

__all__ = ["INDEX_NAME", "Participant", "Refresh", "SessionIndex", "manifest_sha256"]

INDEX_NAME = ".vrtherapy-index.sqlite"
SCHEMA = 1
_SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    rel TEXT PRIMARY KEY,
    participant TEXT NOT NULL,
    date TEXT,
    protocol TEXT,
    status TEXT NOT NULL,
    problems TEXT NOT NULL,
    sealed INTEGER NOT NULL,
    signature TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    measures BLOB NOT NULL,
    encrypted INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_participant ON sessions (participant, date, rel);
"""
_PLAIN = ("session", "participant", "date", "protocol", "status", "problems", "sealed")


def manifest_sha256(folder: Path) -> str:
    """SHA-256 of the session's ``integrity.json`` (``""`` when it has none)."""
    try:
        return hashlib.sha256((folder / MANIFEST).read_bytes()).hexdigest()
    except OSError:
        return ""


@dataclass(frozen=True)
class Refresh:
    """What a refresh did: sessions added, rebuilt, removed, left as they were."""

    added: int
    rebuilt: int
    removed: int
    unchanged: int


@dataclass(frozen=True)
class Participant:
    """One participant in the index: sessions, the first and last date, sessions not ok."""

    participant: str
    sessions: int
    first: str | None
    last: str | None
    not_ok: int


class _Sealer:
    """Encrypts measures under a key derived from the site key (see module docstring)."""

    def __init__(self, key: SiteKey | None) -> None:
        self.key_id = key.key_id if key is not None else ""
        self._aead: AESGCM | None = None
        if key is not None:
            hkdf = HKDF(
                algorithm=hashes.SHA256(), length=32, salt=None, info=b"vrtherapy review index v1"
            )
            self._aead = AESGCM(hkdf.derive(key.key))

    def seal(self, rel: str, values: dict[str, Value]) -> tuple[bytes, int]:
        plain = json.dumps(values, sort_keys=True).encode("utf-8")
        if self._aead is None:
            return plain, 0
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plain, rel.encode("utf-8")), 1

    def open(self, rel: str, blob: bytes, encrypted: int) -> dict[str, Value] | None:
        if encrypted:
            if self._aead is None:
                return None
            try:
                blob = self._aead.decrypt(blob[:12], blob[12:], rel.encode("utf-8"))
            except InvalidTag:
                return None
        try:
            data = json.loads(blob)
        except (ValueError, RecursionError):  # a damaged row: read like an undecryptable one
            return None
        return data if isinstance(data, dict) else None


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _damaged(path: Path | str, why: str) -> ReviewError:
    return ReviewError(
        f"{path}: the session index is damaged ({' '.join(why.split())}); delete it, and "
        f"the next refresh rebuilds it from the sessions folder"
    )


_F = TypeVar("_F", bound=Callable[..., Any])


def _db_errors(method: _F) -> _F:
    """``method`` with a database error (a damaged index file) as :class:`ReviewError`."""

    @functools.wraps(method)
    def wrapper(self: SessionIndex, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            raise _damaged(self.path, str(exc)) from None

    return cast(_F, wrapper)


class SessionIndex:
    """The index of one sessions folder (see the module docstring).

    Parameters
    ----------
    path
        The SQLite file (created, mode 0600), or ``":memory:"``.
    sessions
        The sessions folder it indexes.
    key
        The site key: reads sealed sessions, encrypts the stored measures.
    """

    def __init__(self, path: Path | str, sessions: Path, key: SiteKey | None) -> None:
        self.sessions = sessions
        self.key = key
        self._sealer = _Sealer(key)
        self.path = path
        self._lock = threading.RLock()  # the web app reads while a refresh writes
        if str(path) != ":memory:" and not Path(path).exists():
            _create_private(Path(path))
        try:
            self._db = sqlite3.connect(str(path), check_same_thread=False)
            self._db.text_factory = _text  # a damaged text cell reads, and mismatches
            self._db.executescript(_SCHEMA_SQL)
            check = self._db.execute("PRAGMA quick_check").fetchone()
        except (sqlite3.Error, UnicodeDecodeError) as exc:  # not UTF-8: a damaged schema
            raise ReviewError(f"{path}: cannot open the session index ({exc})") from None
        if check != ("ok",):
            self._db.close()
            raise _damaged(path, str(check[0] if check else "no result"))
        self._check_meta()

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    @_db_errors
    def _check_meta(self) -> None:
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        want = {"schema": str(SCHEMA), "key_id": self._sealer.key_id}
        if meta != want:  # another schema or key: the stored rows cannot be used
            with self._db:
                self._db.execute("DELETE FROM sessions")
                self._db.execute("DELETE FROM meta")
                self._db.executemany("INSERT INTO meta VALUES (?, ?)", list(want.items()))

    @_db_errors
    def _stored(self) -> dict[str, tuple[str, str]]:
        with self._lock:
            rows = self._db.execute("SELECT rel, signature, manifest_sha256 FROM sessions")
            return {rel: (sig, sha) for rel, sig, sha in rows}

    @_db_errors
    def refresh(
        self, *, workers: int = 1, progress: Callable[[int, int], None] | None = None
    ) -> Refresh:
        """Bring the index up to date with the sessions folder (module docstring).

        Raises
        ------
        ReviewError
            The sessions folder is not a folder.
        """
        folders = find_sessions(self.sessions)
        stored = self._stored()
        stale: list[tuple[SessionFolder, str, str]] = []
        for f in folders:
            sig, sha = signature(f.path), manifest_sha256(f.path)
            if stored.get(f.rel) != (sig, sha):
                stale.append((f, sig, sha))
        gone = set(stored) - {f.rel for f in folders}
        rows = compute_rows([s[0] for s in stale], self.key, workers=workers, progress=progress)
        with self._lock, self._db:
            self._db.executemany("DELETE FROM sessions WHERE rel = ?", [(r,) for r in gone])
            for (folder, sig, sha), row in zip(stale, rows, strict=True):
                self._store(folder, sig, sha, row)
        added = sum(1 for f, _, _ in stale if f.rel not in stored)
        return Refresh(added, len(stale) - added, len(gone), len(folders) - len(stale))

    def _store(self, folder: SessionFolder, sig: str, sha: str, row: dict[str, Value]) -> None:
        blob, encrypted = self._sealer.seal(folder.rel, row)
        self._db.execute(
            "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                folder.rel,
                folder.participant,
                row.get("date"),
                row.get("protocol"),
                row.get("status"),
                row.get("problems") or "",
                int(bool(row.get("sealed"))),
                sig,
                sha,
                blob,
                encrypted,
            ),
        )

    def verify(self) -> list[str]:
        """Re-hash every indexed session's files against its ``integrity.json``; rebuild
        the rows of sessions that disagree with what was indexed. Returns their names."""
        changed = []
        for rel, (_sig, sha) in self._stored().items():
            folder = self.sessions / rel
            if manifest_sha256(folder) != sha or (sha and not _files_match(folder)):
                changed.append(rel)
        with self._lock, self._db:
            self._db.executemany(
                "UPDATE sessions SET signature = '' WHERE rel = ?", [(r,) for r in changed]
            )
        self.refresh()
        return changed

    @_db_errors
    def participants(self) -> list[Participant]:
        """Every participant, by name."""
        with self._lock:
            rows = self._db.execute(
                "SELECT participant, COUNT(*), MIN(date), MAX(date), SUM(status != 'ok') "
                "FROM sessions GROUP BY participant ORDER BY participant"
            ).fetchall()
        return [Participant(p, n, a, b, int(bad or 0)) for p, n, a, b, bad in rows]

    @_db_errors
    def sessions_of(self, participant: str | None = None) -> list[dict[str, Value]]:
        """The rows (metadata and measures) of one participant's sessions, by date, or of
        every session."""
        sql = "SELECT rel, participant, date, protocol, status, problems, sealed, measures, "
        sql += "encrypted FROM sessions"
        args: tuple[Any, ...] = ()
        if participant is not None:
            sql, args = sql + " WHERE participant = ?", (participant,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY participant, date, rel", args).fetchall()
        return [self._row(r) for r in rows]

    @_db_errors
    def session(self, rel: str) -> dict[str, Value] | None:
        """The row of one session, ``None`` when it is not indexed."""
        with self._lock:
            found = self._db.execute(
                "SELECT rel, participant, date, protocol, status, problems, sealed, measures, "
                "encrypted FROM sessions WHERE rel = ?",
                (rel,),
            ).fetchone()
        return None if found is None else self._row(found)

    def _row(self, r: tuple[Any, ...]) -> dict[str, Value]:
        plain: dict[str, Value] = dict(zip(_PLAIN, r[:7], strict=True))
        try:
            blob, encrypted = bytes(r[7]), int(r[8])
        except (TypeError, ValueError):  # a damaged cell: the measures are not shown
            blob, encrypted = b"", 0
        measures = self._sealer.open(str(r[0]), blob, encrypted) if blob else None
        blank: dict[str, Value] = dict.fromkeys(c.name for c in COLUMNS)
        return {**blank, **(measures or {}), **plain}


def _files_match(folder: Path) -> bool:
    try:
        listed = json.loads((folder / MANIFEST).read_bytes())["files"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return False
    if not isinstance(listed, dict):
        return False
    for name, sha in listed.items():
        path = member_path(folder, name) if isinstance(name, str) else None
        try:
            if path is None or file_sha256(path) != sha:
                return False
        except OSError:
            return False
    return True


def _create_private(path: Path) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ReviewError(f"{path}: cannot create the session index ({exc.strerror})") from None
