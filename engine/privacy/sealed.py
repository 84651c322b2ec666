"""Sealed files: append-only streams of AES-256-GCM records under a per-file data key.

Layout (integers little-endian)::

    header (93 bytes)
      magic        8   b"\\x89VRTSEAL"
      version      1   1
      key id       8   the site key's id (its 16 hex digits as bytes)
      file id     16   random
      wrap nonce  12   }  the random 32-byte data key, AES-256-GCM-encrypted under the
      wrapped key 48   }  site key; associated data = the 33 bytes above
    records, index 0, 1, 2, ...
      length       4   u32: bytes of ciphertext + tag (>= 16)
      nonce       12   random
      ciphertext  length  AES-256-GCM under the data key; associated data =
                          b"VRTSREC1" + file id + u64 index + u8 kind (0 data, 1 end)
    end record: kind 1, empty plaintext, written by ``close()``; nothing may follow it

Each record authenticates its position and file, so changing, reordering, removing or
moving records between files is detected; a file without the end record was not closed (a
crash, or truncation): readers return every whole record before the first incomplete one,
like the XDF reader's torn-tail rule. One ``write()`` = one record = one ``os.write``, so a
killed writer loses at most its last write.

Plaintext never touches disk: readers decrypt into memory only.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engine.errors import VrTherapyError
from engine.privacy.errors import DecryptionError, SealedFileError
from engine.privacy.keys import (
    KEY_SIZE,
    NONCE_SIZE,
    SiteKey,
    unwrap_data_key,
    wrap_data_key,
)

__all__ = [
    "HEADER_SIZE",
    "MAGIC",
    "SealedCheck",
    "SealedReader",
    "SealedWriter",
    "close_torn",
    "is_sealed",
    "read_sealed_bytes",
    "recording_bytes",
    "sealed_sink",
    "verify_sealed",
    "write_sealed_bytes",
]

MAGIC = b"\x89VRTSEAL"
VERSION = 1
TAG_SIZE = 16
MAX_RECORD = 1 << 30
_PREFIX = struct.Struct("<8sB8s16s")  # magic, version, key id, file id
HEADER_SIZE = _PREFIX.size + NONCE_SIZE + KEY_SIZE + TAG_SIZE
_REC_HEAD = struct.Struct("<I12s")
_AAD = struct.Struct("<8s16sQB")
_DATA, _END = 0, 1


def _aad(file_id: bytes, index: int, kind: int) -> bytes:
    return _AAD.pack(b"VRTSREC1", file_id, index, kind)


def is_sealed(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` starts with the sealed magic."""
    with open(path, "rb") as f:
        return f.read(len(MAGIC)) == MAGIC


class SealedWriter:
    """Write a new sealed file, one sealed record per :meth:`write` (a file-like sink).

    Parameters
    ----------
    path
        The file to create; it must not exist.
    key
        The site key that wraps the file's data key.
    data_key, file_id
        Normally left out (fresh random ones); given only by tests.

    Raises
    ------
    SealedFileError
        When the file exists or cannot be created.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        key: SiteKey,
        *,
        data_key: bytes | None = None,
        file_id: bytes | None = None,
    ) -> None:
        self._path = Path(path)
        self._data_key = data_key if data_key is not None else os.urandom(KEY_SIZE)
        self._file_id = file_id if file_id is not None else os.urandom(16)
        if len(self._file_id) != 16:
            raise SealedFileError(f"{self._path}: file id must be 16 bytes")
        prefix = _PREFIX.pack(MAGIC, VERSION, bytes.fromhex(key.key_id), self._file_id)
        nonce, wrapped = wrap_data_key(key, self._data_key, prefix)
        self._aead = AESGCM(self._data_key)
        self._index = 0
        self._broken = False
        try:
            self._file: Any = open(self._path, "xb", buffering=0)  # noqa: SIM115
        except FileExistsError:
            raise SealedFileError(
                f"{self._path} exists already; refusing to overwrite it"
            ) from None
        except OSError as exc:
            raise SealedFileError(f"cannot create sealed file {self._path}: {exc}") from exc
        try:
            self._write_raw(prefix + nonce + wrapped)
        except OSError:
            self._file.close()
            raise

    @property
    def name(self) -> str:
        """The file's path, as a string (like a file object's ``name``)."""
        return str(self._path)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return bool(self._file.closed)

    @property
    def records(self) -> int:
        """Data records written so far."""
        return self._index

    def _write_raw(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = self._file.write(view)
            if not n:
                raise OSError(f"write to {self._path} wrote nothing ({len(view)} bytes left)")
            view = view[n:]

    def _seal(self, data: bytes, kind: int) -> None:
        if self._broken:
            raise OSError(f"sealed file {self._path}: an earlier write failed; no more records")
        if self._file.closed:
            raise ValueError(f"sealed file {self._path} is closed")
        nonce = os.urandom(NONCE_SIZE)
        ct = self._aead.encrypt(nonce, data, _aad(self._file_id, self._index, kind))
        try:
            self._write_raw(_REC_HEAD.pack(len(ct), nonce) + ct)
        except OSError:
            self._broken = True
            raise
        self._index += 1

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Seal ``data`` as one record and hand it to the kernel; return ``len(data)``.

        Raises ``OSError`` like a file when the disk fails (the writer then refuses further
        records: the file stays readable up to the last whole record).
        """
        plain = bytes(data)
        if not plain:
            return 0  # an empty record would be indistinguishable from the end record
        if len(plain) + TAG_SIZE > MAX_RECORD:
            raise SealedFileError(f"{self._path}: one record is limited to {MAX_RECORD} bytes")
        self._seal(plain, _DATA)
        return len(plain)

    def flush(self) -> None:
        """Nothing to do: the file is unbuffered; every record is written at once."""

    def fileno(self) -> int:
        """The OS file descriptor (for ``os.fsync``)."""
        return int(self._file.fileno())

    def close(self) -> None:
        """Write the end record, ``fsync`` and close; a no-op when already closed.

        The file descriptor is closed even when writing the end record fails.
        """
        if self._file.closed:
            return
        try:
            if not self._broken:
                self._seal(b"", _END)
                os.fsync(self._file.fileno())
        finally:
            self._file.close()

    def __enter__(self) -> SealedWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sealed_sink(key: SiteKey) -> Callable[[Path], SealedWriter]:
    """A ``sink_factory`` for :class:`~engine.record.XdfRecorder`: each flush sealed."""

    def factory(path: Path) -> SealedWriter:
        return SealedWriter(path, key)

    return factory


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
        _, version, kid, self._file_id = _PREFIX.unpack_from(head)
        if version != VERSION:
            raise SealedFileError(f"{self._path}: sealed format version {version} (need 1)")
        if kid.hex() != key.key_id:
            raise DecryptionError(
                f"{self._path} was sealed with site key {kid.hex()}, "
                f"not with the given key {key.key_id} (wrong key, or the header was changed)"
            )
        nonce = head[_PREFIX.size : _PREFIX.size + NONCE_SIZE]
        wrapped = head[_PREFIX.size + NONCE_SIZE :]
        data_key = unwrap_data_key(key, nonce, wrapped, head[: _PREFIX.size], str(self._path))
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
                head = f.read(_REC_HEAD.size)
                if len(head) < _REC_HEAD.size:
                    raise _Torn(index, pos, f"{size - pos} bytes, shorter than a record head")
                length, nonce = _REC_HEAD.unpack(head)
                if length < TAG_SIZE or length > MAX_RECORD:
                    raise DecryptionError(f"record {index} at byte {pos}: bad length {length}")
                if pos + _REC_HEAD.size + length > size:
                    raise _Torn(
                        index,
                        pos,
                        f"declares {length} bytes, only {size - pos - _REC_HEAD.size} remain",
                    )
                ct = f.read(length)
                kind = _END if length == TAG_SIZE else _DATA
                try:
                    plain = self._aead.decrypt(nonce, ct, _aad(self._file_id, index, kind))
                except InvalidTag:
                    raise DecryptionError(
                        f"record {index} at byte {pos} fails authentication (changed, "
                        f"moved or from another file)"
                    ) from None
                yield index, pos, kind, plain
                pos += _REC_HEAD.size + length
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
                if kind == _END:
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
            closed = kind == _END
            records += 0 if closed else 1
            end = pos + _REC_HEAD.size + len(plain) + TAG_SIZE
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
            if kind == _END:
                raise SealedFileError(f"{p} has its end record: nothing to repair")
            end, index = pos + _REC_HEAD.size + len(plain) + TAG_SIZE, i + 1
    except _Torn:
        pass  # an incomplete last record: cut it off
    except DecryptionError as exc:
        raise DecryptionError(f"{p}: {exc}; not repaired") from None
    nonce = os.urandom(NONCE_SIZE)
    sealed_end = reader._aead.encrypt(nonce, b"", _aad(reader._file_id, index, _END))
    try:
        return rewrite_prefix(
            p, end, _REC_HEAD.pack(TAG_SIZE, nonce) + sealed_end, hardlink=hardlink
        )
    except VrTherapyError as exc:
        raise SealedFileError(str(exc)) from None


def write_sealed_bytes(path: str | os.PathLike[str], data: bytes, key: SiteKey) -> None:
    """Replace ``path`` atomically by a sealed file holding ``data`` as one record.

    The temporary file (``<path>.tmp``) holds ciphertext only.
    """
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.unlink(missing_ok=True)
    try:
        with SealedWriter(tmp, key) as w:
            w.write(data)
        os.replace(tmp, p)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SealedFileError(f"cannot write sealed file {p}: {exc}") from exc


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
