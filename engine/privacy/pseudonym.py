"""Pseudonymity: a sealed real-name -> pseudonym map, and a scan for leaked identifiers.

The :class:`IdentityMap` is the only place a real name may be stored: a sealed file (see
:mod:`engine.privacy.sealed`) rewritten atomically on each change; its plaintext exists in
memory only. :func:`scan_for_identifiers` checks that a session folder holds no real name
in any file name, plaintext content, or (with the key) decrypted sealed content.
"""

from __future__ import annotations

import json
import os
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from engine.privacy.errors import PrivacyError
from engine.privacy.keys import SiteKey
from engine.privacy.sealed import (
    SealedReader,
    is_sealed,
    read_sealed_bytes,
    write_sealed_bytes,
)

__all__ = ["IdentifierHit", "IdentityMap", "scan_for_identifiers"]

_DIGITS = 4


def _norm(name: str) -> str:
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


class IdentityMap:
    """Real names <-> pseudonyms ``P-XXXX`` (random digits), stored sealed at ``path``.

    Parameters
    ----------
    path
        The sealed map file (created on the first :meth:`add`).
    site_key
        The key that seals it.

    Raises
    ------
    DecryptionError
        Wrong key or a changed file.
    """

    def __init__(self, path: str | os.PathLike[str], site_key: SiteKey) -> None:
        self._path = Path(path)
        self._key = site_key
        self._names: dict[str, str] = {}  # pseudonym -> real name as given
        if self._path.exists():
            data = json.loads(read_sealed_bytes(self._path, site_key))
            self._names = {str(k): str(v) for k, v in data["pseudonyms"].items()}

    def __len__(self) -> int:
        return len(self._names)

    def lookup(self, real_name: str) -> str | None:
        """The pseudonym of ``real_name`` (case and spacing ignored), ``None`` if unknown."""
        wanted = _norm(real_name)
        return next((p for p, n in self._names.items() if _norm(n) == wanted), None)

    def real_name(self, pseudonym: str) -> str | None:
        """The real name behind ``pseudonym``, ``None`` if unknown."""
        return self._names.get(pseudonym)

    def add(self, real_name: str) -> str:
        """Return the pseudonym of ``real_name``, creating and saving one if new."""
        if not _norm(real_name):
            raise PrivacyError("identity map: a real name cannot be empty")
        known = self.lookup(real_name)
        if known is not None:
            return known
        if len(self._names) >= 10**_DIGITS // 2:
            raise PrivacyError(f"identity map {self._path} is full ({len(self._names)} names)")
        while (pseudonym := f"P-{secrets.randbelow(10**_DIGITS):0{_DIGITS}d}") in self._names:
            pass
        self._names[pseudonym] = real_name.strip()
        data = json.dumps({"version": 1, "pseudonyms": self._names}, sort_keys=True)
        write_sealed_bytes(self._path, data.encode("utf-8"), self._key)
        return pseudonym


@dataclass(frozen=True)
class IdentifierHit:
    """A forbidden string found: in a file ``name``, plain ``content`` or ``decrypted``."""

    path: Path
    where: Literal["name", "content", "decrypted"]
    term: str


def _needles(term: str) -> list[bytes]:
    """Case-folded UTF-8 and UTF-16-LE forms of ``term``."""
    folded = term.casefold()
    return [folded.encode("utf-8"), folded.encode("utf-16-le")]


def scan_for_identifiers(
    folder: str | os.PathLike[str], forbidden: list[str], *, key: SiteKey | None = None
) -> list[IdentifierHit]:
    """Find ``forbidden`` strings (case-insensitive) in names and contents under ``folder``.

    Sealed files are searched as ciphertext and, with ``key``, also decrypted (in
    memory). A sealed file that does not decrypt with ``key`` raises
    :class:`~engine.privacy.errors.DecryptionError`.
    """
    terms = [t for t in forbidden if t.strip()]
    hits: list[IdentifierHit] = []
    for path in sorted(Path(folder).rglob("*")):
        rel = path.name.casefold()
        hits += [IdentifierHit(path, "name", t) for t in terms if t.casefold() in rel]
        if not path.is_file() or path.is_symlink():
            continue
        blobs: list[tuple[Literal["content", "decrypted"], bytes]] = [
            ("content", path.read_bytes())
        ]
        if key is not None and is_sealed(path):
            blobs.append(("decrypted", SealedReader(path, key).read_all()))
        for where, blob in blobs:
            text = blob.decode("utf-8", "replace").casefold().encode("utf-8")
            low = blob.lower()
            for t in terms:
                if any(n in text or n in low for n in _needles(t)):
                    hits.append(IdentifierHit(path, where, t))
    return hits
