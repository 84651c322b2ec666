"""Argument types shared by the benchmarks' own command lines.

Every benchmark parses its arguments with :func:`bench_parser`, so that ``--help`` prints help
and exits without running, and an unknown option or a bad number is argparse's one-line
message and exit 2 before any work starts.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path


def bench_parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    """A benchmark's parser (``prog`` e.g. ``vrtherapy bench mitbih``), its module docstring
    as the description."""
    return argparse.ArgumentParser(
        prog=prog,
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _number(text: str, kind: type[int] | type[float], what: str) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value


def count(low: int = 1, high: int = 1_000_000) -> Callable[[str], int]:
    """A whole number in ``low..high`` (argparse type)."""
    what = f"a whole number {low}..{high}"

    def parse(text: str) -> int:
        value = int(_number(text, int, what))
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value

    return parse


def positive(high: float) -> Callable[[str], float]:
    """A finite number above 0 and at most ``high`` (argparse type)."""
    what = f"a number above 0 and at most {high:g}"

    def parse(text: str) -> float:
        value = float(_number(text, float, what))
        if not 0.0 < value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value

    return parse


def mitbih_dir(text: str) -> Path:
    """A folder holding the MIT-BIH records (``records.json``) (argparse type)."""
    path = Path(text)
    if not text or not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not a folder")
    if not (path / "records.json").is_file():
        raise argparse.ArgumentTypeError(f"{text!r} holds no records.json (not MIT-BIH data)")
    return path


def build_dir(text: str) -> Path:
    """A folder to build in: absent, or an existing folder (argparse type)."""
    path = Path(text)
    if not text or (path.exists() and not path.is_dir()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a folder")
    return path
