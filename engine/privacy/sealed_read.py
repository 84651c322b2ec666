"""Reading sealed files: decrypt into memory, verify every byte, close a torn file.

The format is :mod:`engine.privacy.sealed_format`; :mod:`engine.privacy.sealed` writes it
and re-exports everything here. A file without the end record was not closed (a crash, or
truncation): readers return every whole record before the first incomplete one, like the
XDF reader's torn-tail rule. Plaintext never touches disk.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engine.errors import VrTherapyError
from engine.privacy.errors import DecryptionError, SealedFileError
from engine.privacy.keys import NONCE_SIZE, SiteKey, unwrap_data_key
from engine.privacy.sealed_format import (
    HEADER_SIZE,
    KIND_DATA,
    KIND_END,
    MAGIC,
    MAX_RECORD,
    PREFIX,
    RECORD_HEAD,
    TAG_SIZE,
    VERSION,
    is_sealed,
    record_aad,
)

__all__ = [
    "SealedCheck",
    "SealedReader",
    "close_torn",
    "read_sealed_bytes",
    "recording_bytes",
    "verify_sealed",
]


@dataclass(frozen=True)
class SealedCheck:
    """What :func:`verify_sealed` found.

    Attributes
    ----------
    ok
        Header and every record authentic, and the end record present with nothing after.
    records
        Whole, authentic data records (readable plaintext records).
    closed
        The end record was found.
    first_bad
        Index of the first record that is incomplete, too long for the file, or fails
        authentication; ``None`` when there is none (``-1`` for the header).
    reason
        What is wrong and where (record index and byte offset), ``None`` when ``ok``.
    valid_end, file_size
        Byte offset just past the last authentic record; file size.
    """

    ok: bool
    records: int
    closed: bool
    first_bad: int | None
    reason: str | None
    valid_end: int
    file_size: int


class _Torn(Exception):
    """Internal: the record at this position is incomplete (not an authentication error)."""


class SealedReader:
    """Read a sealed file with the site key; plaintext stays in memory.

    Opening reads the header, checks the key id and unwraps the data key.

    Raises
    ------
    SealedFileError
        Missing file, or not a sealed file (bad magic/version, short header).
    DecryptionError
        The file was sealed under another key, or the header was changed.
    """

    def __init__(self, path: str | os.PathLike[str], key: SiteKey) -> None:
        self._path = Path(path)
        try:
            with open(self._path, "rb") as f:
                head = f.read(HEADER_SIZE)
        except OSError as exc:
            raise SealedFileError(f"cannot read sealed file {self._path}: {exc}") from exc
        if len(head) < HEADER_SIZE or head[: len(MAGIC)] != MAGIC:
            raise SealedFileError(f"{self._path} is not a sealed vrtherapy file")
        _, version, kid, self._file_id = PREFIX.unpack_from(head)
        if version != VERSION:
            raise SealedFileError(f"{self._path}: sealed format version {version} (need 1)")
        if kid.hex() != key.key_id:
            raise DecryptionError(
                f"{self._path} was sealed with site key {kid.hex()}, "
                f"not with the given key {key.key_id} (wrong key, or the header was changed)"
            )
        nonce = head[PREFIX.size : PREFIX.size + NONCE_SIZE]
        wrapped = head[PREFIX.size + NONCE_SIZE :]
        data_key = unwrap_data_key(key, nonce, wrapped, head[: PREFIX.size], str(self._path))
        self._aead = AESGCM(data_key)
        self.closed_cleanly: bool | None = None

    @property
    def path(self) -> Path:
        """The sealed file."""
        return self._path

    def _walk(self) -> Iterator[tuple[int, int, int, bytes]]:
        """Yield ``(index, offset, kind, plaintext)``; raise _Torn / DecryptionError."""
        with open(self._path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            pos, index = HEADER_SIZE, 0
            f.seek(pos)
            while pos < size:
                head = f.read(RECORD_HEAD.size)
                if len(head) < RECORD_HEAD.size:
                    raise _Torn(index, pos, f"{size - pos} bytes, shorter than a record head")
                length, nonce = RECORD_HEAD.unpack(head)
                if length < TAG_SIZE or length > MAX_RECORD:
                    raise DecryptionError(f"record {index} at byte {pos}: bad length {length}")
                if pos + RECORD_HEAD.size + length > size:
                    raise _Torn(
                        index,
                        pos,
                        f"declares {length} bytes, only {size - pos - RECORD_HEAD.size} remain",
                    )
                ct = f.read(length)
                kind = KIND_END if length == TAG_SIZE else KIND_DATA
                try:
                    plain = self._aead.decrypt(nonce, ct, record_aad(self._file_id, index, kind))
                except InvalidTag:
                    raise DecryptionError(
                        f"record {index} at byte {pos} fails authentication (changed, "
                        f"moved or from another file)"
                    ) from None
                yield index, pos, kind, plain
                pos += RECORD_HEAD.size + length
                index += 1

    def __iter__(self) -> Iterator[bytes]:
        """Yield each data record's plaintext; stop quietly at a torn tail.

        Sets :attr:`closed_cleanly` once iteration ends.

        Raises
        ------
        DecryptionError
            A record fails authentication, has an impossible length, or data follows the
            end record (message names the record index and byte offset).
        """
        self.closed_cleanly = False
        try:
            for index, pos, kind, plain in self._walk():
                if self.closed_cleanly:
                    raise DecryptionError(
                        f"{self._path}: record {index} at byte {pos} follows the end record"
                    )
                if kind == KIND_END:
                    self.closed_cleanly = True
                else:
                    yield plain
        except _Torn:
            return
        except DecryptionError as exc:
            raise DecryptionError(f"{self._path}: {exc}") from None

    def read_all(self) -> bytes:
        """All data records' plaintext, concatenated, in memory."""
        return b"".join(self)


def verify_sealed(path: str | os.PathLike[str], key: SiteKey) -> SealedCheck:
    """Check every byte of a sealed file; return a :class:`SealedCheck` (never raises on
    tampering, only on a missing file).
    """
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise SealedFileError(f"cannot read sealed file {p}: {exc}") from exc
    try:
        reader = SealedReader(p, key)
    except SealedFileError as exc:
        return SealedCheck(False, 0, False, -1, f"header: {exc}", 0, size)
    records, closed, end = 0, False, HEADER_SIZE
    try:
        for index, pos, kind, plain in reader._walk():
            if closed:
                return SealedCheck(
                    False,
                    records,
                    True,
                    index,
                    f"record {index} at byte {pos} follows the end record",
                    end,
                    size,
                )
            closed = kind == KIND_END
            records += 0 if closed else 1
            end = pos + RECORD_HEAD.size + len(plain) + TAG_SIZE
    except _Torn as torn:
        index, pos, what = torn.args
        return SealedCheck(
            False,
            records,
            False,
            index,
            f"record {index} at byte {pos} is incomplete ({what}): torn "
            f"tail (crash) or truncated/changed length",
            end,
            size,
        )
    except DecryptionError as exc:
        return SealedCheck(False, records, False, records + int(closed), str(exc), end, size)
    if not closed:
        return SealedCheck(
            False,
            records,
            False,
            None,
            "no end record: the writer was not closed (crash) or the file was "
            "truncated at a record boundary",
            end,
            size,
        )
    return SealedCheck(True, records, True, None, None, end, size)


def close_torn(path: str | os.PathLike[str], key: SiteKey, *, hardlink: bool = True) -> Path:
    """Close a sealed file its writer never closed (a crash, a kill); return the backup.

    Keeps every whole, authentic record, drops an incomplete last one, and appends the end
    record, so :func:`verify_sealed` passes again; the original is kept as
    ``<path>.orig`` and the file is rewritten safely
    (:func:`engine.record.rewrite.rewrite_prefix`: on a full disk nothing changes).

    Raises
    ------
    SealedFileError
        The file is closed already (nothing to repair), or IO fails.
    DecryptionError
        Wrong key, or a record fails authentication: a changed file is never sealed over.
    """
    from engine.record.rewrite import rewrite_prefix

    p = Path(path)
    reader = SealedReader(p, key)
    end, index = HEADER_SIZE, 0
    try:
        for i, pos, kind, plain in reader._walk():
            if kind == KIND_END:
                raise SealedFileError(f"{p} has its end record: nothing to repair")
            end, index = pos + RECORD_HEAD.size + len(plain) + TAG_SIZE, i + 1
    except _Torn:
        pass  # an incomplete last record: cut it off
    except DecryptionError as exc:
        raise DecryptionError(f"{p}: {exc}; not repaired") from None
    nonce = os.urandom(NONCE_SIZE)
    sealed_end = reader._aead.encrypt(nonce, b"", record_aad(reader._file_id, index, KIND_END))
    try:
        return rewrite_prefix(
            p, end, RECORD_HEAD.pack(TAG_SIZE, nonce) + sealed_end, hardlink=hardlink
        )
    except VrTherapyError as exc:
        raise SealedFileError(str(exc)) from None


def read_sealed_bytes(path: str | os.PathLike[str], key: SiteKey) -> bytes:
    """The plaintext of a sealed file written by :func:`write_sealed_bytes` (must be closed).

    Raises
    ------
    DecryptionError
        Wrong key, or the file was changed or truncated.
    """
    reader = SealedReader(path, key)
    data = reader.read_all()
    if not reader.closed_cleanly:
        raise DecryptionError(f"{path}: truncated (no end record)")
    return data


def recording_bytes(path: str | os.PathLike[str], key: SiteKey | None) -> bytes:
    """A recording's plaintext bytes, in memory: the file itself, or decrypted if sealed.

    Raises
    ------
    SealedFileError
        The file is sealed and ``key`` is ``None``, or it cannot be read.
    DecryptionError
        Wrong key, or a sealed record was changed.
    """
    p = Path(path)
    try:
        sealed = is_sealed(p)
        if not sealed:
            return p.read_bytes()
    except OSError as exc:
        raise SealedFileError(f"cannot read {p}: {exc}") from exc
    if key is None:
        raise SealedFileError(f"{p}: encrypted recording: give the site key (--key FILE)")
    return SealedReader(p, key).read_all()
