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


class FieldValueError(ValueError):
    """A config model's cross-field check failed; ``field`` names the field it is about.

    Raise it from a pydantic ``model_validator`` so the message names
    ``controller.start_step`` (and its line) instead of the enclosing block: the formatter
    in :mod:`engine.yamlconfig` appends ``field`` to the error's location.

    Parameters
    ----------
    field
        Path of the field below the validated model, e.g. ``("consent", "streams")``.
    message
        What is wrong and what is allowed.
    """

    def __init__(self, field: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.field = field
