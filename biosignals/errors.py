"""Exception tree of vrtherapy.

The root, :class:`VrTherapyError`, lives here because ``biosignals`` is the bottom layer
(it imports neither ``engine`` nor ``therapies``); ``engine.errors`` re-exports it and adds
the engine's own errors. The CLI turns any ``VrTherapyError`` into a message and exit code 2.
"""

from __future__ import annotations


class VrTherapyError(Exception):
    """Root of every error vrtherapy raises on purpose."""


class SignalError(VrTherapyError):
    """Bad physiological input: wrong sampling rate, empty or unusable arrays."""


class StreamError(VrTherapyError):
    """An LSL stream could not be found, opened or read."""


class StreamNotFoundError(StreamError):
    """No LSL stream matched a predicate within the timeout."""
