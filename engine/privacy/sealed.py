"""Sealed files: append-only streams of AES-256-GCM records under a per-file data key.

The byte layout is :mod:`engine.privacy.sealed_format`. Each record authenticates its
position and file, so changing, reordering, removing or moving records between files is
detected. One ``write()`` = one record = one ``os.write``, so a killed writer loses at most
its last write. This module is the writing side (:class:`SealedWriter`, ``sealed_sink``,
``write_sealed_bytes``); reading, verifying and repairing live in
:mod:`engine.privacy.sealed_read` and are re-exported here, so ``engine.privacy.sealed``
stays the one place to import sealed files from.

Plaintext never touches disk: readers decrypt into memory only.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engine.privacy.errors import SealedFileError
from engine.privacy.keys import KEY_SIZE, NONCE_SIZE, SiteKey, wrap_data_key
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
from engine.privacy.sealed_read import (
    SealedCheck,
    SealedReader,
    close_torn,
    read_sealed_bytes,
    recording_bytes,
    verify_sealed,
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
        prefix = PREFIX.pack(MAGIC, VERSION, bytes.fromhex(key.key_id), self._file_id)
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
        ct = self._aead.encrypt(nonce, data, record_aad(self._file_id, self._index, kind))
        try:
            self._write_raw(RECORD_HEAD.pack(len(ct), nonce) + ct)
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
        self._seal(plain, KIND_DATA)
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
                self._seal(b"", KIND_END)
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
