"""Rewrite a damaged file safely: keep its original as ``<name>.orig``, write the mended
bytes beside it and rename them into place, so that a failure (a full disk) at any point
leaves the file as it was, no empty or partial backup and no temporary file.

Used by :func:`engine.record.reader.repair` (torn XDF) and
:func:`engine.privacy.sealed.close_torn` (sealed file without its end record).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from engine.errors import RecordingError

__all__ = ["keep_backup", "rewrite_prefix"]


def _same_bytes(a: Path, b: Path) -> bool:
    """Whether two files hold the same bytes (the same inode, or equal size and SHA-256)."""
    if os.path.samefile(a, b):
        return True
    if a.stat().st_size != b.stat().st_size:
        return False
    digests = []
    for path in (a, b):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
        digests.append(h.digest())
    return digests[0] == digests[1]


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_whole(dst: Path, src: Path, length: int | None, tail: bytes = b"") -> None:
    """Create ``dst`` (exclusively) with ``length`` bytes of ``src`` (all if ``None``) and
    ``tail``, ``fsync``-ed; a failed write removes ``dst`` and raises ``OSError``."""
    fout = open(dst, "xb")  # noqa: SIM115 (closed by the with below)
    try:
        with open(src, "rb") as fin, fout:
            left = length
            while left is None or left > 0:
                block = fin.read(1 << 20 if left is None else min(1 << 20, left))
                if not block:
                    break
                fout.write(block)
                left = None if left is None else left - len(block)
            fout.write(tail)
            fout.flush()
            os.fsync(fout.fileno())
        shutil.copymode(src, dst)
    except BaseException:
        dst.unlink(missing_ok=True)
        raise


def keep_backup(p: Path, backup: Path, hardlink: bool) -> bool:
    """Make ``backup`` hold ``p``'s bytes, atomically; True when this call created it.

    A hard link (the original inode itself: nothing is copied, nothing can be partial), or
    where links are not possible (or ``hardlink`` is false) a copy to ``<backup>.tmp``
    renamed into place once whole. An existing backup with the same bytes (left by a repair
    that failed later) is reused; one with other bytes is never replaced.
    """
    if backup.exists():
        if _same_bytes(p, backup):
            return False
        raise RecordingError(
            f"backup {backup} exists already and differs from {p}; move it away first"
        )
    if hardlink:
        try:
            os.link(p, backup)
            _fsync_dir(p.parent)
            return True
        except OSError:
            pass  # no hard links here (FAT, some network shares): copy instead
    tmp = backup.with_name(backup.name + ".tmp")
    tmp.unlink(missing_ok=True)  # a stale copy from a crashed attempt
    try:
        _write_whole(tmp, p, None)
        os.replace(tmp, backup)
        _fsync_dir(p.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RecordingError(
            f"cannot back up {p} to {backup} ({exc.strerror or exc}); nothing was changed: "
            f"free some space and repair again"
        ) from None
    return True


def rewrite_prefix(path: Path, length: int, tail: bytes, *, hardlink: bool = True) -> Path:
    """Replace ``path`` by its first ``length`` bytes plus ``tail``; return the backup.

    The original is kept first (:func:`keep_backup`, ``<path>.orig``); the new bytes go to
    ``<path>.repair.tmp``, are ``fsync``-ed and renamed over ``path``. On failure the file is
    unchanged and the temporary file, and a backup made by this call, are removed.

    Raises
    ------
    RecordingError
        A different backup exists, or IO fails (the message says to free space and retry).
    """
    backup = Path(str(path) + ".orig")
    created = keep_backup(path, backup, hardlink)
    tmp = path.with_name(path.name + ".repair.tmp")
    tmp.unlink(missing_ok=True)
    try:
        _write_whole(tmp, path, length, tail)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if created:
            backup.unlink(missing_ok=True)
        raise RecordingError(
            f"cannot repair {path} ({exc.strerror or exc}); the file is unchanged: free "
            f"some space and repair again"
        ) from None
    return backup
