"""The sealed file format: append-only AES-256-GCM records under a per-file data key.

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

from engine.privacy.keys import KEY_SIZE, NONCE_SIZE

__all__ = [
    "HEADER_SIZE",
    "KIND_DATA",
    "KIND_END",
    "MAGIC",
    "MAX_RECORD",
    "PREFIX",
    "RECORD_HEAD",
    "TAG_SIZE",
    "VERSION",
    "is_sealed",
    "record_aad",
]

MAGIC = b"\x89VRTSEAL"
VERSION = 1
TAG_SIZE = 16
MAX_RECORD = 1 << 30
PREFIX = struct.Struct("<8sB8s16s")  # magic, version, key id, file id
HEADER_SIZE = PREFIX.size + NONCE_SIZE + KEY_SIZE + TAG_SIZE
RECORD_HEAD = struct.Struct("<I12s")
_AAD = struct.Struct("<8s16sQB")
KIND_DATA, KIND_END = 0, 1


def record_aad(file_id: bytes, index: int, kind: int) -> bytes:
    """The associated data that binds record ``index`` of kind ``kind`` to its file."""
    return _AAD.pack(b"VRTSREC1", file_id, index, kind)


def is_sealed(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` starts with the sealed magic."""
    with open(path, "rb") as f:
        return f.read(len(MAGIC)) == MAGIC
