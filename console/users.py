"""Console accounts: ``<site>/users.json`` (mode 0600), scrypt password hashes, roles.

The file is one JSON object::

    {"version": 1, "users": {"dr.lee": {"role": "therapist", "created": ISO,
        "scrypt": {"n": 16384, "r": 8, "p": 1, "salt": hex, "hash": hex}}}}

Hashes are ``hashlib.scrypt`` (n=2^14, r=8, p=1, 16-byte random salt, 32-byte hash).
Only ``therapist`` and ``admin`` may steer a session; a ``clinician`` watches.
Writes go to a temporary file (0600) that replaces the old one, so a crash never leaves
half a file.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.errors import AccountError

__all__ = [
    "MIN_PASSWORD",
    "ROLES",
    "STEERING_ROLES",
    "User",
    "UserStore",
    "check_name",
    "hash_password",
    "verify_password",
]

ROLES = ("therapist", "clinician", "admin")
STEERING_ROLES = frozenset({"therapist", "admin"})
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_SALT_BYTES, _HASH_BYTES = 16, 32
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
USERS_FILE = "users.json"


@dataclass(frozen=True)
class User:
    """An account: its name (the audit trail's actor), role and creation time."""

    name: str
    role: str
    created: str

    @property
    def may_steer(self) -> bool:
        """Whether this user may send commands to a session."""
        return self.role in STEERING_ROLES


def check_name(name: str) -> str:
    """``name`` when it is an account name (1-64 of letters, digits, ``. _ @ -``).

    Raises
    ------
    AccountError
        Otherwise, saying what is allowed.
    """
    if not _NAME.match(name):
        raise AccountError(
            f"{name!r} is not an account name: 1 to 64 letters, digits, '.', '_', '@' or '-', "
            f"starting with a letter or digit"
        )
    return name


def _check_password(password: str) -> bytes:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AccountError(
            f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters (got {len(password)})"
        )
    return password.encode("utf-8")


def hash_password(password: str, salt: bytes | None = None) -> dict[str, Any]:
    """The ``scrypt`` record of ``password`` (a fresh random salt unless given)."""
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    digest = hashlib.scrypt(_check_password(password), salt=salt, dklen=_HASH_BYTES, **_SCRYPT)
    return {**_SCRYPT, "salt": salt.hex(), "hash": digest.hex()}


def verify_password(password: str, record: dict[str, Any]) -> bool:
    """Whether ``password`` matches a record of :func:`hash_password` (constant time)."""
    try:
        n, r, p = int(record["n"]), int(record["r"]), int(record["p"])
        salt, want = bytes.fromhex(record["salt"]), bytes.fromhex(record["hash"])
    except (KeyError, TypeError, ValueError, OverflowError):
        return False
    if {"n": n, "r": r, "p": p} != _SCRYPT or len(salt) != _SALT_BYTES:
        return False  # a damaged record: no other parameters (work, memory) are tried
    if len(want) != _HASH_BYTES:
        return False
    if not 0 < len(password) <= MAX_PASSWORD:
        return False
    got = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=len(want))
    return hmac.compare_digest(got, want)


@functools.cache
def _dummy() -> dict[str, Any]:
    """A record no password matches in practice: unknown names are checked against it."""
    return hash_password("not-a-password", salt=b"\0" * _SALT_BYTES)


class UserStore:
    """The accounts in one users file (read on every call: another process may change it).

    Parameters
    ----------
    path
        ``<site>/users.json``; a missing file is no accounts.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {}
        if stat.S_IMODE(st.st_mode) & 0o077:
            raise AccountError(
                f"{self.path}: readable by others (mode {stat.S_IMODE(st.st_mode):o}); "
                f"run chmod 600 {self.path}"
            )
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            users = raw["users"]
            if raw.get("version") != 1 or not isinstance(users, dict):
                raise ValueError("expected version 1 and a users object")
            for name, u in users.items():
                if not isinstance(u, dict) or u.get("role") not in ROLES:
                    raise ValueError(f"user {name!r} is not an object with a role in {ROLES}")
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
            raise AccountError(f"cannot read the users file {self.path}: {exc}") from None
        return users

    def _save(self, users: dict[str, dict[str, Any]]) -> None:
        data = json.dumps({"version": 1, "users": users}, indent=1, sort_keys=True) + "\n"
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.tmp")
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise AccountError(f"cannot write the users file {self.path}: {exc}") from exc

    def users(self) -> list[User]:
        """Every account, by name."""
        return [
            User(name, str(u.get("role")), str(u.get("created", "")))
            for name, u in sorted(self._load().items())
        ]

    def get(self, name: str) -> User | None:
        """The account ``name``, or ``None``."""
        u = self._load().get(name)
        return None if u is None else User(name, str(u.get("role")), str(u.get("created", "")))

    def add(self, name: str, role: str, password: str) -> User:
        """Create an account.

        Raises
        ------
        AccountError
            Bad name, role or password, or the account exists.
        """
        check_name(name)
        if role not in ROLES:
            raise AccountError(f"--role {role!r} is not one of {', '.join(ROLES)}")
        users = self._load()
        if name in users:
            raise AccountError(f"account {name!r} exists already in {self.path}")
        created = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        users[name] = {"role": role, "created": created, "scrypt": hash_password(password)}
        self._save(users)
        return User(name, role, created)

    def remove(self, name: str) -> None:
        """Delete an account (:class:`AccountError` when there is none)."""
        users = self._load()
        if users.pop(name, None) is None:
            raise AccountError(f"no account {name!r} in {self.path}")
        self._save(users)

    def set_password(self, name: str, password: str) -> None:
        """Replace an account's password (:class:`AccountError` when there is none)."""
        users = self._load()
        if name not in users:
            raise AccountError(f"no account {name!r} in {self.path}")
        users[name]["scrypt"] = hash_password(password)
        self._save(users)

    def authenticate(self, name: str, password: str) -> User | None:
        """The account when ``password`` is its password, else ``None``.

        An unknown name costs the same scrypt work as a wrong password, so the time taken
        does not tell which names exist.
        """
        u = self._load().get(name)
        record = u.get("scrypt") if u is not None else None
        ok = verify_password(password, record if isinstance(record, dict) else _dummy())
        if u is None or not ok:
            return None
        return User(name, str(u.get("role")), str(u.get("created", "")))
