"""Units parsed once, at load time: durations like ``"3min"`` become seconds.

Lives in ``biosignals`` (the bottom layer) so that therapy and engine configs share it.
"""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import BeforeValidator

_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(ms|s|sec|min|h)?\s*$")
_FACTORS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0, None: 1.0}
DURATION_HINT = "a number of seconds or a number with a unit: 500ms, 30s, 3min, 1h"


def parse_duration(value: object) -> float:
    """Parse ``value`` (number of seconds, or text like ``"500ms"``, ``"3min"``) to seconds.

    Raises
    ------
    ValueError
        If the value is not a non-negative finite duration.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; use {DURATION_HINT}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _FACTORS[match.group(2)]
    else:
        raise ValueError(f"{value!r} is not a duration; use {DURATION_HINT}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{value!r} is not a duration; use {DURATION_HINT}")
    return seconds


def format_duration(seconds: float) -> str:
    """Format seconds for people: ``90 -> '1min 30s'``, ``0.5 -> '500ms'``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    minutes, secs = divmod(round(seconds), 60)
    if minutes == 0:
        return f"{secs}s"
    return f"{minutes}min" if secs == 0 else f"{minutes}min {secs}s"


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Pydantic field type: seconds, accepting ``"3min"``-style text in YAML."""
