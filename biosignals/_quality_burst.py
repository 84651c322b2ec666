"""Private: wide-band bursts (muscle and motion artefacts) for :mod:`biosignals.quality`.

A clean ECG or PPG is quiet most of the time: between the QRS complexes (pulse upstrokes)
the signal changes little within a tenth of a second. Muscle noise, electrode motion and a
moving finger change it everywhere. :class:`BurstTracker` cuts the stream into blocks of
``block`` seconds on a fixed grid of samples and takes each block's range (max - min).
The *activity* after a block is the median range of the last ``blocks`` blocks (half a
second: a QRS or an upstroke fills one or two of them, so the median is the quiet part);
its *baseline* is the median activity of the clean half-seconds of the last ``baseline``
seconds, and its *peak level* the 90th percentile of the same half-seconds' largest
block range. A burst is raised when the activity exceeds the limit, the larger of
``ratio`` times the baseline and ``peak_fraction`` times the peak level, after ``persist``
blocks in a row, and cleared once it falls below half the limit; its start is the end of
the block that raised it.
Half-seconds with a burst never enter the baseline, unless bursts have lasted ``accept``
seconds (the signal's size changed for good: the baseline starts again).

Maxima and minima are exact whatever the grouping, and the rest is a sequence of
operations per block, so chunking does not change any result.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from numpy.typing import NDArray

from biosignals._stream import FloatArray, extremes, median_of_few


@dataclass(frozen=True, slots=True)
class BurstRules:
    """When a stream's activity is a burst.

    Attributes
    ----------
    block : float
        Seconds per block (its range is the unit of activity).
    blocks : int
        Blocks whose median range is the activity.
    ratio : float
        A burst: activity above this many times the baseline.
    baseline : float
        Seconds of clean activity whose median is the baseline.
    warmup : float
        Seconds of clean activity needed before any burst is raised.
    accept : float
        Seconds of bursts after which the baseline starts again.
    peak_fraction : float
        A burst also needs activity above this fraction of the *peak* level: the 90th
        percentile, over the same clean half-seconds, of their largest block range (a
        QRS, a pulse upstroke: at 30 bpm one half-second in four holds one). Quiet
        stretches of a coarsely quantised signal are 0 or 1 step, so the ratio alone
        would call a T wave a burst; noise that stays small beside the beats is no threat
        to beat detection.
    persist : int
        Blocks in a row whose activity must exceed the limit before a burst is raised
        (a wide ectopic beat lifts one or two).
    """

    block: float = 0.1
    blocks: int = 5
    ratio: float = 4.0
    baseline: float = 30.0
    warmup: float = 5.0
    accept: float = 30.0
    peak_fraction: float = 0.3
    persist: int = 2


class BurstTracker:
    """Burst state of one regularly sampled stream at ``sampling_rate`` Hz."""

    def __init__(self, rules: BurstRules, sampling_rate: float) -> None:
        self.rules = rules
        self._b = max(2, round(rules.block * sampling_rate))
        self._every = rules.blocks  # a baseline sample every half second of blocks
        span = rules.block * rules.blocks
        self._acts: deque[float] = deque(maxlen=max(1, round(rules.baseline / span)))
        self._peaks: deque[float] = deque(maxlen=self._acts.maxlen)
        self._warm = max(1, round(rules.warmup / span))
        self._accept = max(1, round(rules.accept / rules.block))
        self._ranges: deque[float] = deque(maxlen=rules.blocks)
        self._lo, self._hi, self._fill = math.inf, -math.inf, 0  # the pending block
        self._count = 0  # blocks completed
        self._level = 0.0  # the baseline
        self._peak = 0.0  # the peak level
        self._on = False
        self._bursty = 0  # blocks in a row with a burst
        self._over = 0  # blocks in a row over the limit (no burst yet)

    def update(self, x: FloatArray, t: FloatArray) -> list[tuple[bool, float]]:
        """Follow a chunk of finite samples; return the burst starts (True) and ends
        (False) in it, with their times."""
        n, b = x.size, self._b
        need = b - self._fill
        if n < need:  # no block ends in this chunk: the usual frame
            lo, hi = extremes(x)
            self._lo, self._hi, self._fill = min(lo, self._lo), max(hi, self._hi), self._fill + n
            return []
        out: list[tuple[bool, float]] = []
        lo, hi = extremes(x[:need])
        self._end_block(max(hi, self._hi) - min(lo, self._lo), t.item(need - 1), out)
        i = need
        m = (n - i) // b
        if m:
            blocks = x[i : i + m * b].reshape(m, b)
            ranges: NDArray = blocks.max(axis=1) - blocks.min(axis=1)
            for j, r in enumerate(ranges.tolist()):
                self._end_block(r, t.item(i + (j + 1) * b - 1), out)
            i += m * b
        self._fill = n - i
        self._lo, self._hi = extremes(x[i:]) if self._fill else (math.inf, -math.inf)
        return out

    def _end_block(self, size: float, when: float, out: list[tuple[bool, float]]) -> None:
        """A block of range ``size`` ended at ``when``: update the burst state."""
        self._count += 1
        ranges = self._ranges
        ranges.append(size)
        if len(ranges) < ranges.maxlen:  # type: ignore[operator]
            return
        activity = median_of_few(ranges)
        warm = len(self._acts) >= self._warm
        limit = max(self.rules.ratio * self._level, self.rules.peak_fraction * self._peak)
        self._over = self._over + 1 if warm and not self._on and activity > limit else 0
        if self._over >= self.rules.persist:
            self._on, self._over = True, 0
            out.append((True, when))
        elif self._on and activity < 0.5 * limit:
            self._on = False
            out.append((False, when))
        if self._on:
            self._bursty += 1
            if self._bursty >= self._accept:  # the signal changed for good
                self._acts.clear()
                self._peaks.clear()
                self._bursty = 0
                self._on = False
                out.append((False, when))
            return
        self._bursty = 0
        if self._count % self._every == 0:
            self._acts.append(activity)
            self._level = median_of_few(self._acts)
            self._peaks.append(max(ranges))
            peaks = sorted(self._peaks)
            self._peak = peaks[(9 * (len(peaks) - 1)) // 10]
