"""Site keys: a random key file or a passphrase (scrypt), and data-key wrapping.

A **site key** (32 bytes) never encrypts data itself: every sealed file gets its own
random 32-byte **data key**, wrapped (encrypted) by the site key with AES-256-GCM and
stored in the file's header (see :mod:`engine.privacy.sealed`). AES-GCM rather than AES-KW
(RFC 3394) so that the wrap also authenticates the file header (key id, file id) as
associated data; nonces are random 96-bit, one per wrapped key, far below GCM's 2**32
limit per key.

Key files are text, mode 0600 (refused when group or others may read them)::

    vrtherapy-site-key v1 raw
    <base64 of 32 random bytes>

or, for a passphrase (the file holds no key, only the scrypt parameters and salt, plus the
key id to tell a wrong passphrase at once)::

    vrtherapy-site-key v1 scrypt n=32768 r=8 p=1 salt=<base64 16 bytes> id=<key id>
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from engine.privacy.errors import DecryptionError, KeyFileError

__all__ = [
    "KEY_SIZE",
    "SCRYPT_N",
    "SCRYPT_P",
    "SCRYPT_R",
    "SiteKey",
    "create_passphrase_key",
    "create_site_key",
    "key_id_of",
    "key_kind",
    "load_site_key",
    "unwrap_data_key",
    "wrap_data_key",
]

KEY_SIZE = 32
NONCE_SIZE = 12
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_SALT_SIZE = 16
_HEAD = "vrtherapy-site-key v1"
_MAX_KEY_FILE = 4096


@dataclass(frozen=True)
class SiteKey:
    """A loaded site key. ``repr`` shows the key id and file, never the key.

    Attributes
    ----------
    key
        The 32 key bytes.
    key_id
        16 hex digits identifying the key (HMAC-SHA256 of a constant under the key); stored
        in sealed headers so a wrong key is named before any decryption is tried.
    source
        The key file it came from, if any.
    """

    key: bytes = field(repr=False)
    key_id: str
    source: Path | None = None

    def __post_init__(self) -> None:
        if len(self.key) != KEY_SIZE:
            raise KeyFileError(f"a site key has {KEY_SIZE} bytes, got {len(self.key)}")


def key_id_of(key: bytes) -> str:
    """The public identifier of ``key``: 16 hex digits, one-way."""
    return hmac.new(key, b"vrtherapy site key id v1", hashlib.sha256).hexdigest()[:16]


def _write_new(path: Path, text: str) -> None:
    """Create ``path`` exclusively with mode 0600 and ``fsync`` it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"key file {path} exists already; refusing to overwrite it") from None
    except OSError as exc:
        raise KeyFileError(f"cannot create key file {path}: {exc}") from exc
    try:
        os.fchmod(fd, 0o600)  # the umask may have removed bits, never added: make it exact
        os.write(fd, text.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)


def create_site_key(path: str | os.PathLike[str]) -> SiteKey:
    """Create a random site key file (mode 0600); refuses to overwrite an existing file."""
    p = Path(path)
    key = os.urandom(KEY_SIZE)
    _write_new(p, f"{_HEAD} raw\n{base64.b64encode(key).decode('ascii')}\n")
    return SiteKey(key, key_id_of(key), p)


def _scrypt(passphrase: str, salt: bytes) -> bytes:
    kdf = Scrypt(salt=salt, length=KEY_SIZE, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return kdf.derive(passphrase.encode("utf-8"))


def create_passphrase_key(path: str | os.PathLike[str], passphrase: str) -> SiteKey:
    """Create a passphrase key file (scrypt n=2**15, r=8, p=1, random salt), mode 0600."""
    p = Path(path)
    if len(passphrase) < 8:
        raise KeyFileError(f"{p}: a passphrase needs at least 8 characters")
    salt = os.urandom(_SALT_SIZE)
    key = _scrypt(passphrase, salt)
    kid = key_id_of(key)
    salt64 = base64.b64encode(salt).decode("ascii")
    _write_new(p, f"{_HEAD} scrypt n={SCRYPT_N} r={SCRYPT_R} p={SCRYPT_P} salt={salt64} id={kid}\n")
    return SiteKey(key, kid, p)


def _read_key_file(p: Path) -> str:
    try:
        st = p.stat()
    except FileNotFoundError:
        raise KeyFileError(f"key file {p} does not exist") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {p}: {exc}") from exc
    if not stat.S_ISREG(st.st_mode):
        raise KeyFileError(f"key file {p} is not a regular file")
    if st.st_mode & 0o077:
        raise KeyFileError(
            f"key file {p} has mode {stat.S_IMODE(st.st_mode):04o}: group or others may "
            f"read it; run `chmod 600 {p}`"
        )
    if st.st_size > _MAX_KEY_FILE:
        raise KeyFileError(f"key file {p} is {st.st_size} bytes: not a vrtherapy key file")
    try:
        return p.read_bytes().decode("ascii")
    except UnicodeDecodeError:
        raise KeyFileError(f"key file {p} is not a vrtherapy key file (not ASCII)") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {p}: {exc}") from exc


def _raw_key(p: Path, lines: list[str]) -> SiteKey:
    if len(lines) != 2:
        raise KeyFileError(f"key file {p}: expected the header line and one base64 line")
    try:
        key = base64.b64decode(lines[1].strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError(f"key file {p}: line 2 is not base64") from None
    if len(key) != KEY_SIZE:
        raise KeyFileError(f"key file {p}: key has {len(key)} bytes, expected {KEY_SIZE}")
    return SiteKey(key, key_id_of(key), p)


def _scrypt_key(p: Path, fields: list[str], passphrase: str | None) -> SiteKey:
    try:
        kv = dict(f.split("=", 1) for f in fields)
        params = (int(kv["n"]), int(kv["r"]), int(kv["p"]))
        salt = base64.b64decode(kv["salt"], validate=True)
        kid = kv["id"]
    except (KeyError, ValueError, binascii.Error):
        raise KeyFileError(f"key file {p}: malformed scrypt parameters") from None
    if params != (SCRYPT_N, SCRYPT_R, SCRYPT_P) or len(salt) != _SALT_SIZE:
        raise KeyFileError(f"key file {p}: unsupported scrypt parameters {params}")
    if passphrase is None:
        raise KeyFileError(f"key file {p} is passphrase-protected: a passphrase is needed")
    key = _scrypt(passphrase, salt)
    if not hmac.compare_digest(key_id_of(key), kid):
        raise DecryptionError(f"wrong passphrase for key file {p}")
    return SiteKey(key, kid, p)


def key_kind(path: str | os.PathLike[str]) -> str:
    """``"raw"`` or ``"scrypt"`` (needs a passphrase); same checks as :func:`load_site_key`."""
    p = Path(path)
    head = _read_key_file(p).split("\n", 1)[0].split()
    if len(head) < 3 or " ".join(head[:2]) != _HEAD or head[2] not in ("raw", "scrypt"):
        raise KeyFileError(f"key file {p} is not a vrtherapy key file (bad first line)")
    return head[2]


def load_site_key(path: str | os.PathLike[str], passphrase: str | None = None) -> SiteKey:
    """Load a site key file (raw, or passphrase-protected with ``passphrase``).

    Raises
    ------
    KeyFileError
        Missing, not a regular file, readable by group/others, malformed, wrong length,
        or a passphrase file without a passphrase; the message names the file.
    DecryptionError
        Wrong passphrase.
    """
    p = Path(path)
    lines = _read_key_file(p).splitlines()
    head = lines[0].split() if lines else []
    if len(head) < 3 or " ".join(head[:2]) != _HEAD:
        raise KeyFileError(f"key file {p} is not a vrtherapy key file (bad first line)")
    if head[2] == "raw" and len(head) == 3:
        return _raw_key(p, lines)
    if head[2] == "scrypt" and len(lines) == 1:
        return _scrypt_key(p, head[3:], passphrase)
    raise KeyFileError(f"key file {p}: unknown key kind {head[2]!r} (raw or scrypt)")


def wrap_data_key(site_key: SiteKey, data_key: bytes, aad: bytes) -> tuple[bytes, bytes]:
    """Encrypt ``data_key`` under the site key; return ``(nonce, wrapped)`` (48 bytes)."""
    if len(data_key) != KEY_SIZE:
        raise KeyFileError(f"a data key has {KEY_SIZE} bytes, got {len(data_key)}")
    nonce = os.urandom(NONCE_SIZE)
    return nonce, AESGCM(site_key.key).encrypt(nonce, data_key, aad)


def unwrap_data_key(
    site_key: SiteKey, nonce: bytes, wrapped: bytes, aad: bytes, where: str
) -> bytes:
    """Decrypt a wrapped data key; ``where`` names the file in the error.

    Raises
    ------
    DecryptionError
        Wrong site key or a changed header.
    """
    try:
        return AESGCM(site_key.key).decrypt(nonce, wrapped, aad)
    except InvalidTag:
        raise DecryptionError(
            f"{where}: cannot unwrap the data key with site key {site_key.key_id} "
            f"(wrong key, or the header was changed)"
        ) from None
