"""Session integrity: a SHA-256 manifest of a session folder, anchored in the audit log.

At session end :func:`write_integrity` hashes every file of the folder (recording,
summary, consent, report...) into ``<session>/integrity.json`` and appends an
``integrity`` entry holding the manifest's own SHA-256 to the site's audit log.
:func:`verify_session` checks the chain, that the latest ``integrity`` entry of the session
matches the manifest, and every file against the manifest (changed, missing, added).
Writing the manifest again (e.g. after a report is added) appends a new entry; the latest
one counts.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.privacy.audit import AuditLog, read_entries, verify_chain
from engine.privacy.errors import AuditError

__all__ = [
    "MANIFEST",
    "SessionCheck",
    "add_files_to_integrity",
    "add_to_integrity",
    "file_sha256",
    "is_member_name",
    "manifest_problems",
    "member_path",
    "session_ref",
    "verify_session",
    "write_integrity",
]

MANIFEST = "integrity.json"
_SKIP_SUFFIXES = (".tmp",)


def file_sha256(path: Path) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def session_ref(folder: Path, audit_path: Path) -> str:
    """How the audit log names a session: its folder relative to the log's folder."""
    folder, base = Path(folder).resolve(), Path(audit_path).resolve().parent
    try:
        return folder.relative_to(base).as_posix()
    except ValueError:
        return folder.name


def member_path(folder: Path, name: str) -> Path | None:
    """``folder / name`` if ``name`` (from a manifest, i.e. outside input) names a regular
    file inside ``folder``: a relative path without ``..``, no link on the way. None
    otherwise (an absolute path, ``../x``, ``/dev/zero``...): it is never opened."""
    if not is_member_name(name):
        return None
    path = folder / name
    try:
        real, base = path.resolve(strict=True), folder.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    inside = real != base and real.is_relative_to(base)
    return path if inside and path.is_file() and not path.is_symlink() else None


def _hash_folder(folder: Path) -> dict[str, str]:
    files = {}
    for p in sorted(folder.rglob("*")):
        if p.is_symlink():
            raise AuditError(f"{p}: symbolic links are not allowed in a session folder")
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and rel != MANIFEST and not rel.endswith(_SKIP_SUFFIXES):
            files[rel] = file_sha256(p)
    return files


def write_integrity(
    folder: str | os.PathLike[str], audit: AuditLog, *, ended_at: _dt.datetime | None = None
) -> dict[str, Any]:
    """Hash every file of ``folder`` into ``integrity.json`` and log its hash; return it.

    Parameters
    ----------
    ended_at
        When the session ended (UTC; default now); used by purging.
    """
    root = Path(folder)
    end = (ended_at or _dt.datetime.now(_dt.UTC)).astimezone(_dt.UTC)
    manifest = {
        "algorithm": "sha256",
        "ended_at": end.isoformat(timespec="seconds"),
        "files": _hash_folder(root),
    }
    _store_manifest(root, manifest, audit)
    return manifest


def _store_manifest(root: Path, manifest: dict[str, Any], audit: AuditLog, **extra: Any) -> None:
    """Write ``integrity.json`` (temp + fsync + rename) and anchor its hash in the audit log."""
    data = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
    tmp = root / (MANIFEST + ".tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, root / MANIFEST)
    except OSError as exc:
        raise AuditError(f"cannot write {root / MANIFEST}: {exc}") from exc
    audit.append(
        "integrity",
        session=session_ref(root, audit.path),
        manifest_sha256=hashlib.sha256(data).hexdigest(),
        files=len(manifest["files"]),
        **extra,
    )


@dataclass(frozen=True)
class SessionCheck:
    """Outcome of :func:`verify_session`: ``ok`` and every problem found, by file/entry."""

    ok: bool
    problems: list[str] = field(default_factory=list)
    files: int = 0


def manifest_problems(root: Path, audit_path: Path) -> tuple[dict[str, str], list[str]]:
    manifest_path = root / MANIFEST
    try:
        data = manifest_path.read_bytes()
        files = json.loads(data)["files"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        return {}, [f"{manifest_path}: missing or unreadable ({exc})"]
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        return {}, [f"{manifest_path}: 'files' is not an object of file name -> SHA-256"]
    outside = sorted(n for n in files if not is_member_name(n))
    if outside:
        return {}, [f"{manifest_path}: lists {outside[0]!r}, not a file of the session folder"]
    ref = session_ref(root, audit_path)
    anchors = [
        e for e in read_entries(audit_path) if e["event"] == "integrity" and e["session"] == ref
    ]
    if not anchors:
        return files, [f"{audit_path}: no integrity entry for session {ref}"]
    last = anchors[-1]
    if last["details"].get("manifest_sha256") != hashlib.sha256(data).hexdigest():
        return files, [f"{manifest_path}: does not match audit entry {last['seq']} (changed)"]
    return files, []


def verify_session(
    folder: str | os.PathLike[str], audit_path: str | os.PathLike[str]
) -> SessionCheck:
    """Check a session folder against its manifest and the audit log.

    Problems reported: a broken audit chain (entry seq), a manifest missing, unreadable or
    not matching the latest ``integrity`` entry for the session, a file changed, missing or
    added since the manifest was written (file name).
    """
    root, log = Path(folder), Path(audit_path)
    chain = verify_chain(log)
    if not chain.ok:
        return SessionCheck(False, [f"audit entry {chain.first_broken}: {chain.reason}"])
    expected, problems = manifest_problems(root, log)
    actual = _hash_folder(root)
    for name in sorted(set(expected) | set(actual)):
        if name not in actual:
            problems.append(f"{root / name}: missing (listed in {MANIFEST})")
        elif name not in expected:
            problems.append(f"{root / name}: not listed in {MANIFEST} (added later)")
        elif expected[name] != actual[name]:
            problems.append(f"{root / name}: SHA-256 differs from {MANIFEST} (changed)")
    return SessionCheck(not problems, problems, len(actual))


def add_to_integrity(
    folder: str | os.PathLike[str], audit: AuditLog, new_file: str | os.PathLike[str]
) -> dict[str, Any]:
    """List ``new_file`` (a file at the top of a closed session, e.g. a later report) in its
    manifest; see :func:`add_files_to_integrity`."""
    return add_files_to_integrity(folder, audit, [Path(folder) / Path(new_file).name])


def add_files_to_integrity(
    folder: str | os.PathLike[str], audit: AuditLog, new_files: list[Path]
) -> dict[str, Any]:
    """List ``new_files`` (written into a closed session later: a report, exports) in its
    manifest.

    The session is verified first, with ``new_files`` as the only allowed newcomers; a
    changed, missing or other added file refuses the update (so a tampered session is
    never re-sealed by accident). The new manifest's hash is logged as an ``integrity`` entry.
    """
    root = Path(folder)
    real = Path(os.path.realpath(root))
    rels = [Path(os.path.realpath(f)).relative_to(real).as_posix() for f in new_files]
    check = verify_session(root, audit.path)
    newcomers = {f"{root / rel}: not listed in {MANIFEST} (added later)" for rel in rels}
    others = [p for p in check.problems if p not in newcomers]
    if others:
        raise AuditError(f"cannot add {', '.join(rels)} to {root / MANIFEST}: " + "; ".join(others))
    manifest = json.loads((root / MANIFEST).read_bytes())
    for rel in rels:
        manifest["files"][rel] = file_sha256(root / rel)
    added: str | list[str] = rels[0] if len(rels) == 1 else rels
    _store_manifest(root, manifest, audit, added=added)
    return dict(manifest)


def is_member_name(name: str) -> bool:
    """True for a manifest's file name as :func:`_hash_folder` writes them (relative, no
    ``..``); False for names that point out of the session folder."""
    rel = Path(name)
    return bool(name) and not rel.is_absolute() and ".." not in rel.parts and "\x00" not in name
