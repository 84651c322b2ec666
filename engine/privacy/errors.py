"""Errors of :mod:`engine.privacy`; all derive from :class:`~engine.errors.VrTherapyError`."""

from __future__ import annotations

from engine.errors import VrTherapyError

__all__ = [
    "AuditError",
    "ConsentError",
    "DecryptionError",
    "IntegrityError",
    "KeyFileError",
    "PrivacyError",
    "PurgeError",
    "SealedFileError",
]


class PrivacyError(VrTherapyError):
    """Root of the privacy, consent and audit errors."""


class KeyFileError(PrivacyError):
    """A site key file is missing, malformed, too widely readable, or exists already."""


class SealedFileError(PrivacyError):
    """A sealed file is not in the sealed format, or cannot be created or read."""


class DecryptionError(SealedFileError):
    """Authentication failed: wrong key, or the sealed bytes were changed."""


class AuditError(PrivacyError):
    """The audit log cannot be appended to or read."""


class ConsentError(PrivacyError):
    """Consent is missing or does not cover what is asked (the CLI exits with 2)."""


class PurgeError(PrivacyError):
    """A session folder could not be purged."""


class IntegrityError(PrivacyError):
    """A session file changed since its manifest was written, or an output would replace a
    file of a session's record (the CLI exits with 2)."""
