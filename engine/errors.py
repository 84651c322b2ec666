"""Errors raised by the engine; all derive from :class:`VrTherapyError`."""

from __future__ import annotations

from biosignals.errors import SignalError, StreamError, StreamNotFoundError, VrTherapyError

__all__ = [
    "DisplayUnavailableError",
    "IllegalTransitionError",
    "ProtocolError",
    "RecordingError",
    "SignalError",
    "StreamError",
    "StreamNotFoundError",
    "VrTherapyError",
]


class ProtocolError(VrTherapyError):
    """A protocol or patient YAML file is malformed; the message names file:line:field."""


class DisplayUnavailableError(VrTherapyError):
    """A display backend cannot start (missing package, no display, no GL context)."""


class RecordingError(VrTherapyError):
    """The session recording could not be written or read."""


class IllegalTransitionError(VrTherapyError):
    """A lifecycle state machine was asked for a transition it does not allow."""
