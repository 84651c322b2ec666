"""Errors of :mod:`console`; all derive from :class:`~biosignals.errors.VrTherapyError`."""

from __future__ import annotations

from biosignals.errors import VrTherapyError

__all__ = ["AccountError", "ConsoleError", "LinkError", "TlsError"]


class ConsoleError(VrTherapyError):
    """Root of the console's errors (the CLI prints the message and exits 2)."""


class AccountError(ConsoleError):
    """A user account that cannot be made, found or changed, or an unreadable users file."""


class TlsError(ConsoleError):
    """A certificate or key that cannot be read, made or used."""


class LinkError(ConsoleError):
    """A session that cannot be found or attached to over LSL."""
