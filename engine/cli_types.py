"""argparse types of the ``vrtherapy`` command: bad values are refused while parsing.

Each raises :class:`argparse.ArgumentTypeError` with what was given and what is allowed, so
argparse prints one line naming the option and exits 2 before any work starts.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from biosignals.units import parse_duration

EXIT_OK, EXIT_ABORTED, EXIT_BAD_INPUT = 0, 1, 2
"""The command's exit codes: ok; session aborted (safety, stop key, interrupted); bad input."""


def duration(text: str) -> float:
    """A duration such as ``90s`` or ``2min``, in seconds."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_duration(text: str) -> float:
    """A duration above zero, in seconds."""
    seconds = duration(text)
    if seconds <= 0.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration above 0")
    return seconds


def unit_interval(what: str) -> Callable[[str], float]:
    """A number in 0..1 (``what`` names it in the message, e.g. ``a volume``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not 0.0 <= value <= 1.0:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what} in 0..1")
        return value

    return parse


def seed(text: str) -> int:
    """A random seed, 0..2**63-1."""
    from engine.protocol import MAX_SEED

    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{text!r} is not a seed: a whole number 0..2**63-1")
    return value


def _no_file_on_the_way(text: str, path: Path) -> None:
    for part in path.parents:
        if part.exists():
            if not part.is_dir():
                raise argparse.ArgumentTypeError(f"{text!r}: {part} is a file, not a folder")
            return


def out_folder(text: str) -> Path:
    """A folder to write into: an existing folder, or one that can be made (nothing on its
    path is a file)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty name is not a folder")
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a file, not a folder")
    _no_file_on_the_way(text, path)
    return path


def out_file(text: str) -> Path:
    """A file to write: not a folder, and nothing on the way to it is a file."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty name is not a file")
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder, not a file")
    _no_file_on_the_way(text, path)
    return path


def out_path(text: str) -> Path:
    """A file or folder to write (the command says which): nothing on the way is a file."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty name is not a file or folder")
    path = Path(text)
    _no_file_on_the_way(text, path)
    return path


def real(what: str, low: float, high: float, *, above: bool = False) -> Callable[[str], float]:
    """A finite number in ``low..high`` (above ``low`` with ``above``), e.g. a speed."""
    span = f"above {low:g} and at most {high:g}" if above else f"{low:g}..{high:g}"
    allowed = f"{what}: a number {span}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (low < value <= high if above else low <= value <= high):
            raise argparse.ArgumentTypeError(f"{text!r} is not {allowed}")
        return value

    return parse


def path(text: str) -> Path:
    """A file or folder name; an empty one is refused (it would mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty name is not a file or folder")
    return Path(text)


def name_or_file(text: str) -> str:
    """A shipped name or a file name (protocols, patients); not empty."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty name is not a file or a shipped name")
    return text
