"""The last five minutes of a session, as the console keeps them for a page that (re)connects.

Rows are on the session's LSL clock (seconds). Features are kept as they arrive (one row a
controller tick), the intensity decimated to :data:`INTENSITY_RATE` rows a second (what a
page is sent live, too), markers as objects with their time ``t``. NaN becomes ``None``
(JSON has no NaN).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["FEATURE_NAMES", "INTENSITY_RATE", "WINDOW", "History", "feature_row"]

WINDOW = 300.0
INTENSITY_RATE = 10.0
FEATURE_NAMES = ("heart_rate", "scl", "scr_rate", "arousal", "rmssd", "valid")
"""The channels of the ``vrtherapy-features`` stream, in order."""


def _number(x: float) -> float | None:
    return None if not math.isfinite(x) else round(float(x), 4)


def feature_row(t: float, sample: Sequence[float]) -> list[float | None]:
    """``[t, hr, scl, scr_rate, arousal, rmssd, valid]`` with ``None`` for NaN."""
    if len(sample) != len(FEATURE_NAMES):
        raise ValueError(f"a features sample has {len(FEATURE_NAMES)} values, got {len(sample)}")
    return [round(t, 4), *(_number(v) for v in sample)]


class History:
    """Ring buffers of one session's features, intensity and markers, and its last status.

    Parameters
    ----------
    window
        Seconds kept, counted back from the newest time seen.
    """

    def __init__(self, window: float = WINDOW) -> None:
        self.window = window
        self.features: deque[list[float | None]] = deque()
        self.intensity: deque[list[float]] = deque()
        self.markers: deque[dict[str, Any]] = deque()
        self.status: dict[str, Any] | None = None
        self.thumbnail: dict[str, Any] | None = None
        self._newest = -math.inf
        self._last_slot = -math.inf

    def _trim(self, t: float) -> None:
        self._newest = max(self._newest, t)
        oldest = self._newest - self.window
        for rows in (self.features, self.intensity):
            while rows and (rows[0][0] or 0.0) < oldest:
                rows.popleft()
        while self.markers and self.markers[0]["t"] < oldest:
            self.markers.popleft()

    def add_features(self, t: float, sample: Sequence[float]) -> list[float | None]:
        """Keep one features sample; return its row."""
        row = feature_row(t, sample)
        self.features.append(row)
        self._trim(t)
        return row

    def add_intensity(self, samples: Iterable[tuple[float, float]]) -> list[list[float]]:
        """Keep at most :data:`INTENSITY_RATE` rows a second of ``(t, value)`` samples;
        return the rows kept (what a page is sent)."""
        kept: list[list[float]] = []
        for t, value in samples:
            slot = math.floor(t * INTENSITY_RATE)  # one row per 0.1 s slot of the clock
            if slot > self._last_slot and math.isfinite(value):
                self._last_slot = slot
                kept.append([round(t, 4), round(float(value), 4)])
        if kept:
            self.intensity.extend(kept)
            self._trim(kept[-1][0])
        return kept

    def add_marker(self, t: float, marker: dict[str, Any]) -> dict[str, Any]:
        """Keep one marker object; return it with its time ``t``."""
        stamped = {**marker, "t": round(t, 4)}
        self.markers.append(stamped)
        self._trim(t)
        return stamped

    def snapshot(self) -> dict[str, Any]:
        """The ``history`` message's fields (copies)."""
        return {
            "features": list(self.features),
            "intensity": list(self.intensity),
            "markers": list(self.markers),
            "status": self.status,
        }
