"""Private: what the streaming QRS detector (:mod:`biosignals._ecg_qrs`) remembers of the
recent beats: their morphology (:class:`RecentBeats`: shape around R, amplitude, QRS-edge
content, maximal slope) and their rhythm (:class:`RrAverage`: RR2, the regular RR average
of Hamilton & Tompkins 1986, and where a T wave may follow a beat).
"""

from __future__ import annotations

import math
from collections import deque

from biosignals._ecg_place import RIVAL_EDGES, Placed
from biosignals._stream import FloatArray, median_of_few

HISTORY = 8  # beats (and RR intervals) remembered


class RecentBeats:
    """The last HISTORY confirmed beats' shapes and the medians of their measures (the
    amplitude and edge medians once three beats are known; 0 until then)."""

    def __init__(self) -> None:
        self.slopes: deque[float] = deque(maxlen=HISTORY)
        self.hfs: deque[float] = deque(maxlen=HISTORY)
        self.amps: deque[float] = deque(maxlen=HISTORY)
        self.shapes: deque[FloatArray] = deque(maxlen=HISTORY)  # raw, around R
        self.slope_ref = self.hf_ref = self.amp_ref = 0.0  # their medians

    def add(self, slope: float, placed: Placed, shape: FloatArray | None) -> None:
        """Remember a confirmed beat: its maximal slope, placement and shape (None if
        not known)."""
        self.slopes.append(slope)
        self.hfs.append(placed[2])
        self.amps.append(placed[1])
        if shape is not None:
            self.shapes.append(shape)
        self.slope_ref = median_of_few(self.slopes)
        if len(self.hfs) >= 3:
            self.hf_ref = median_of_few(self.hfs)
            self.amp_ref = median_of_few(self.amps)

    def forget(self) -> None:
        """Forget every beat (the morphology changed)."""
        for refs in (self.slopes, self.hfs, self.amps):
            refs.clear()
        self.shapes.clear()
        self.slope_ref = self.hf_ref = self.amp_ref = 0.0

    def recent(self) -> tuple[deque[FloatArray], float, float]:
        """The shapes, amplitude and edge medians, as :meth:`QrsPlacer.place` takes them."""
        return self.shapes, self.amp_ref, self.hf_ref

    def edged(self, placed: Placed) -> bool:
        """True if ``placed`` has the recent beats' QRS edges for its size (at least
        RIVAL_EDGES of their ratio; a T wave or a bump has fewer)."""
        return placed[2] * self.amp_ref >= RIVAL_EDGES * placed[1] * self.hf_ref


class RrAverage:
    """RR2 (the mean of the last HISTORY RRs within 92-116 % of it, adopted anew after
    HISTORY irregular RRs) at sampling rate ``fs``; RRs outside ``rr_min``-``rr_max``
    samples are ignored. ``t_zone``: where a T wave may follow a beat, ``0.42 sqrt(RR2)``
    s, at least ``twave`` samples."""

    def __init__(self, fs: float, rr_min: int, rr_max: int, twave: int) -> None:
        self._fs, self._rr_min, self._rr_max, self._twave = fs, rr_min, rr_max, twave
        self._all: deque[int] = deque(maxlen=HISTORY)
        self._regular: deque[int] = deque(maxlen=HISTORY)
        self._irregular = 0
        self.rr2: float | None = None  # None while no RR is known
        self.t_zone = twave

    def add(self, rr: int) -> None:
        """Register an RR interval (samples)."""
        if not self._rr_min <= rr <= self._rr_max:
            return
        self._all.append(rr)
        rr2 = self.rr2
        if rr2 is None or 0.92 * rr2 <= rr <= 1.16 * rr2:
            self._regular.append(rr)
            self._irregular = 0
        else:
            self._irregular += 1
            if self._irregular < HISTORY:
                return
            self._regular = deque(self._all, maxlen=HISTORY)  # rhythm changed: adopt it
            self._irregular = 0
        self.rr2 = sum(self._regular) / len(self._regular)
        self.t_zone = max(self._twave, round(0.42 * math.sqrt(self.rr2 / self._fs) * self._fs))
