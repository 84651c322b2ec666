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
from bisect import bisect_left, insort
from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from biosignals._stream import FloatArray, extremes, median_of_few

_MANY = 3  # blocks in one chunk from which they are counted together


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


class _Window:
    """The last ``size`` values, in arrival order and sorted (kept sorted as they come)."""

    def __init__(self, size: int) -> None:
        self.order: deque[float] = deque(maxlen=size)
        self.sorted: list[float] = []

    def __len__(self) -> int:
        return len(self.order)

    def add(self, value: float) -> None:
        order, ranked = self.order, self.sorted
        if len(order) == order.maxlen:
            del ranked[bisect_left(ranked, order[0])]
        order.append(value)
        insort(ranked, value)

    def clear(self) -> None:
        self.order.clear()
        self.sorted.clear()

    def median(self) -> float:
        """Same as :func:`median_of_few` of the values."""
        data, n = self.sorted, len(self.sorted)
        return data[n // 2] if n % 2 else (data[n // 2 - 1] + data[n // 2]) / 2

    def high(self) -> float:
        """The 90th percentile (the value at 9/10 of the ranks, rounded down)."""
        data = self.sorted
        return data[(9 * (len(data) - 1)) // 10]


class BurstTracker:
    """Burst state of one regularly sampled stream at ``sampling_rate`` Hz."""

    def __init__(self, rules: BurstRules, sampling_rate: float) -> None:
        self.rules = rules
        self._b = max(2, round(rules.block * sampling_rate))
        self._every = rules.blocks  # a baseline sample every half second of blocks
        span = rules.block * rules.blocks
        self._acts = _Window(max(1, round(rules.baseline / span)))
        self._peaks = _Window(max(1, round(rules.baseline / span)))
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
        self._cuts: dict[tuple[int, int], NDArray[np.intp]] = {}

    def update(
        self, x: FloatArray, t: FloatArray, lo: float | None = None, hi: float | None = None
    ) -> list[tuple[bool, float]]:
        """Follow a chunk of finite samples (``lo``, ``hi``: its extremes, if known);
        return the burst starts (True) and ends (False) in it, with their times."""
        n, b = x.size, self._b
        need = b - self._fill
        if n < need:  # no block ends in this chunk: the usual frame
            if lo is None or hi is None:
                lo, hi = extremes(x)
            self._lo, self._hi, self._fill = min(lo, self._lo), max(hi, self._hi), self._fill + n
            return []
        out: list[tuple[bool, float]] = []
        m = (n - need) // b  # whole blocks after the one the pending samples complete
        i = need + m * b  # the samples after the last whole block
        cuts = self._cuts.get((n, need))
        if cuts is None:  # a few chunk shapes recur: their block starts are kept
            cuts = np.arange(need - b, n, b)
            cuts[0] = 0
            if len(self._cuts) < 16:
                self._cuts[(n, need)] = cuts
        highs = np.maximum.reduceat(x, cuts)
        lows = np.minimum.reduceat(x, cuts)
        sizes = (highs - lows).tolist()
        sizes[0] = max(highs.item(0), self._hi) - min(lows.item(0), self._lo)
        self._fill = n - i
        if self._fill:  # the last cut starts the pending block
            self._lo, self._hi = lows.item(-1), highs.item(-1)
            del sizes[-1]
        else:
            self._lo, self._hi = math.inf, -math.inf
        ends = t[need - 1 : i : b]  # the time each block ends
        if len(sizes) < _MANY:
            for q, size in enumerate(sizes):
                self._end_block(size, ends.item(q), out)
        else:
            self._end_blocks(sizes, ends, out)
        return out

    def _end_blocks(
        self, sizes: list[float], ends: FloatArray, out: list[tuple[bool, float]]
    ) -> None:
        """:meth:`_end_block` for several blocks (same result, fewer steps). While no
        burst is on or pending, the blocks up to the next baseline update meet a fixed
        limit, and the median of an odd number of ranges exceeds it exactly when most of
        them do: the blocks are counted, not sorted, and the state is stepped once."""
        k = self._ranges.maxlen or 1
        if len(self._ranges) < k - 1 or k % 2 == 0:  # the stream's first blocks
            for q, size in enumerate(sizes):
                self._end_block(size, ends.item(q), out)
            return
        every, m, most = self._every, len(sizes), (k + 1) // 2
        j = 0
        while j < m:
            if self._on or self._over:
                self._end_block(sizes[j], ends.item(j), out)
                j += 1
                continue
            e = min(m, j + every - self._count % every)  # after the next baseline update
            stop = self._first_over(sizes[j:e], k, most) if len(self._acts) >= self._warm else -1
            if stop >= 0:  # that block one by one, and on from there
                self._skip(sizes[j : j + stop])
                self._end_block(sizes[j + stop], ends.item(j + stop), out)
                j += stop + 1
                continue
            self._skip(sizes[j:e])
            if self._count % every == 0:
                self._baseline(median_of_few(self._ranges), max(self._ranges))
            j = e

    def _first_over(self, sizes: list[float], k: int, most: int) -> int:
        """Index of the first of ``sizes`` after which most of the last ``k`` ranges
        exceed the current limit (its activity does), -1 if none."""
        limit = max(self.rules.ratio * self._level, self.rules.peak_fraction * self._peak)
        if max(sizes) <= limit and max(self._ranges) <= limit:  # the usual half-second
            return -1
        prev = list(self._ranges)[len(self._ranges) - (k - 1) :]
        over = [r > limit for r in prev + sizes]
        count = sum(over[: k - 1])
        for q in range(len(sizes)):
            count += over[q + k - 1]
            if count >= most:
                return q
            count -= over[q]
        return -1

    def _skip(self, sizes: list[float]) -> None:
        """Blocks that change nothing but the count and the last ranges (no burst)."""
        if sizes:
            self._count += len(sizes)
            self._ranges.extend(sizes)
            self._bursty = 0

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
            self._baseline(activity, max(ranges))

    def _baseline(self, activity: float, top: float) -> None:
        """A clean half-second with this activity and largest block range."""
        self._acts.add(activity)
        self._level = self._acts.median()
        self._peaks.add(top)
        self._peak = self._peaks.high()
