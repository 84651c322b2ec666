"""Emulators of real LSL device bridges, for testing ``docs/devices/*.yaml`` end to end.

Each module emulates one bridge app from its published source (the module docstring names
the files and commits and marks what is assumed): the same stream names, types,
source_ids, channel layouts, units, formats, rates, clocks and packetisation, driven by
a :class:`~bridges.truth.Truth` with a known heart rate and skin conductance level.

``SNIPPETS`` maps every ``docs/devices/<snippet>.yaml`` to the emulator (and its options)
that the snippet is tested against. ``python -m bridges <snippet>`` publishes that
emulator on LSL in real time (see ``bridges.__main__``).
"""

from __future__ import annotations

from typing import Any

from bridges.base import Bridge
from bridges.bitalino import OpenSignals
from bridges.brainamp import BrainAmpSeries
from bridges.e4 import EmpaticaE4Lsl
from bridges.emotibit import EmotiBitOscilloscope
from bridges.exciteometer import ExciteOMeter
from bridges.muse import Muselsl
from bridges.polar import PolarBand2lsl
from bridges.shimmer import ShimmerLsl
from bridges.truth import Truth
from bridges.zephyr import AppZephyr

__all__ = ["BRIDGES", "SNIPPETS", "make_bridge"]

BRIDGES: dict[str, type[Bridge]] = {
    cls.name: cls
    for cls in (
        PolarBand2lsl,
        ExciteOMeter,
        Muselsl,
        EmpaticaE4Lsl,
        EmotiBitOscilloscope,
        AppZephyr,
        OpenSignals,
        ShimmerLsl,
        BrainAmpSeries,
    )
}

#: snippet file stem -> (bridge name, emulator options)
SNIPPETS: dict[str, tuple[str, dict[str, Any]]] = {
    "polar": ("polar", {}),
    "exciteometer": ("exciteometer", {}),
    "muse": ("muse", {}),
    "e4": ("e4", {}),
    "emotibit": ("emotibit", {}),
    "zephyr": ("zephyr", {}),
    "zephyr-summary": ("zephyr", {}),
    "bitalino": ("bitalino", {}),
    "shimmer": ("shimmer", {}),
    "brainamp": ("brainamp", {}),
    "brainamp-raw": ("brainamp", {"raw": True}),
}


def make_bridge(snippet: str, truth: Truth, seed: int = 0, unix_offset: float = 0.0) -> Bridge:
    """The emulator a snippet is tested against."""
    name, options = SNIPPETS[snippet]
    return BRIDGES[name](truth, seed, unix_offset, **options)
