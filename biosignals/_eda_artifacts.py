"""Private: motion-artefact segments in skin conductance, for :mod:`biosignals.eda`.

Skin conductance cannot change faster than sweat glands fill and empty. A response rises
in 0.5-5 s and recovers with a time constant of 2 s or more, so the signal never

* falls by more than 0.25 µS within 0.25 s (1 µS/s: the steepest recovery of a 1.5 µS
  response is about 0.75 µS/s), as it does when an electrode loosens or loses contact;
* rises by more than 1.25 µS within 0.25 s (5 µS/s, the steepest rise of the largest
  responses), as it does when the electrode is pressed;
* falls back, within 0.5 s of a peak, by more than 40 % of the rise to that peak from
  the 0.5 s before: a response rises for 0.5 s or more and then recovers by at most a
  fifth of its amplitude in 0.5 s; a pressure spike rises within 0.25 s and falls back
  within a second (falls under 0.1 µS do not count: noise);
* rises by more than 0.25 µS within 0.25 s (most of its rise over 0.5 s, so it began
  abruptly) and then, for the next 0.15 s, stays below the level it reached: a response
  that starts that steeply keeps rising for 0.5 s or more (with a rise time constant of
  0.5 s or more it gains about another third of that rise in the next 0.15 s), while a
  pressure spike turns down at once.
  This flags a spike within 0.5 s even when its fall back is slow or hidden by a
  response that starts with it. Not across a gap in the samples (a level that moved
  while no samples came is no spike).

(Rules after Kleckner et al. 2018, "Simple, transparent, and flexible automated quality
assessment procedures for ambulatory electrodermal activity data", and Taylor et al. 2015,
with limits derived from the response shapes above rather than their looser 10 µS/s.)

A segment starts at the fast change (0.25 s before the sample that broke a rule) with the
level before it, and ends once the signal has stayed within 5 % (at least 0.05 µS) of
that level, changing by less than 0.03 µS in 0.5 s, for 0.5 s (a slow recovery is part
of the artefact), or 20 s after the last rule was broken (the level changed for good).
While a segment is open the extractor is fed that level instead of the signal, so its
tonic level and noise estimate never learn the artefact.
The rules read the signal through a 5 Hz low-pass (order 2; none below 15 Hz sampling),
which keeps a 0.1-s change fast and averages the per-sample noise of high sampling rates.
Everything is computed per sample, so chunking never changes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.signal import butter

from biosignals._stream import FloatArray, History, SosState, extremes, window_extreme

FALL_US = 0.25
RISE_US = 1.25
WINDOW_S = 0.25
SPIKE_S = 0.5  # the fall window; the rise is measured from the 0.5 s before it
SPIKE_FRACTION = 0.4
SPIKE_MIN_US = 0.15
STALL_S = 0.15
STALL_MIN_US = 0.25
STALL_SHARE = 0.7
SETTLE_S = 0.5
MAX_S = 20.0
BACK_FRACTION = 0.05
BACK_MIN_US = 0.05
MARGIN_S = 1.0
SETTLED_US = 0.03


@dataclass(slots=True)
class _Segment:
    """An artefact segment: start time, sample (absolute index) and time where it was
    detected, end time and sample (None while open)."""

    start: float
    detected: int
    at: float
    end: float | None = None
    ended: int | None = None


@dataclass(frozen=True, slots=True)
class ArtifactEvent:
    """A motion-artefact segment that started (``end`` None) or ended.

    Attributes
    ----------
    start : float
        Time the artefact began (s).
    end : float or None
        Time it ended; None for the event reporting the start.
    detected : float
        Time of the sample that revealed it (the start event), or ``end``.
    """

    start: float
    end: float | None
    detected: float


class EdaArtifacts:
    """Artefact segments of one skin-conductance stream at ``fs`` Hz."""

    def __init__(self, fs: float) -> None:
        self._w = max(1, round(WINDOW_S * fs))
        self._fall = max(1, round(SPIKE_S * fs))
        self._jump = max(1, round(0.75 * fs))
        self._base = self._jump + self._w + 2  # samples the rules look back over
        self._settle = max(1, round(SETTLE_S * fs))
        self._stall_n = max(1, round(STALL_S * fs))
        self._dt = 1.0 / fs
        self._max_s = MAX_S
        self._sos = butter(2, 5.0, btype="lowpass", fs=fs, output="sos") if fs >= 15.0 else None
        self.reset()

    def reset(self) -> None:
        """Forget everything."""
        self._hist = History(2, self._base)  # (low-passed) samples and their times
        self._lp = SosState(self._sos) if self._sos is not None else None
        self._n = 0
        self._level: float | None = None  # the open segment's level before it
        self._start = 0.0
        self._last_hit = 0.0
        self._calm = 0  # samples back near the level so far
        self.events: list[ArtifactEvent] = []
        self.segments: list[_Segment] = []  # the recent ones (the last minute)
        self.new: list[_Segment] = []  # those detected in the last chunk

    @property
    def open(self) -> bool:
        """True while an artefact segment is open."""
        return self._level is not None

    def process(self, x: FloatArray, t: FloatArray) -> FloatArray:
        """Follow a chunk of finite samples; return the samples the extractor should use
        (the level before the artefact inside open segments). Segments opened in the
        chunk are appended to :attr:`segments` with the sample that detected them."""
        buf, col = self._hist.block(x.size)
        end = col + x.size
        if self._lp is None:
            buf[0, col:end] = x
        else:
            if self._n == 0:
                self._lp.start(float(x[0]))
            self._lp.filter_into(x, buf[0, col:end])
        buf[1, col:end] = t
        if self._n == 0:
            buf[0, :col] = x[0]
            buf[1, :col] = t[0]
        first = self._n
        self._n += x.size
        self.new = []
        if not self.open and self._quiet(buf[0, max(col - self._base + 1, 0) : end], x.size):
            return x  # the usual chunk
        hits = self._hits(buf, col, end)
        if not self.open and not hits.any():
            return x
        return self._follow(x, buf, col, hits, first - col)

    def _quiet(self, seg: FloatArray, n: int) -> bool:
        """True if no rule can break over ``seg`` (the samples the rules look at, the
        chunk's ``n`` last): its range is below the smallest rise a rule needs (a spike's
        0.15 µS), or below the largest (1.25 µS) while it never falls by the least a rule
        needs (a spike's fall back, 40 % of 0.15 µS) nor rises by more than 0.25 µS in
        0.25 s where a stall could end (a stall's rise)."""
        lo, hi = extremes(seg)
        if hi - lo <= SPIKE_MIN_US:
            return True
        if hi - lo > RISE_US:
            return False
        drop = np.maximum.accumulate(seg)
        drop -= seg
        if float(drop.max()) > SPIKE_FRACTION * SPIKE_MIN_US:
            return False
        w = self._w  # rises over 0.25 s ending a stall's window before the chunk's samples
        seg = seg[max(seg.size - n - self._stall_n - w, 0) :]
        lo, hi = extremes(seg)
        if hi - lo <= STALL_MIN_US:
            return True
        if float((seg[: w + 1] - seg[0]).max()) > STALL_MIN_US:  # (from the stream's start)
            return False
        return seg.size <= w or float((seg[w:] - seg[:-w]).max()) <= STALL_MIN_US

    def _hits(self, buf: FloatArray, col: int, end: int) -> NDArray[np.bool_]:
        """Per sample of the chunk (columns ``[col, end)`` of ``buf``): does it break a
        rule?"""
        first = max(col - self._base + 1, 0)
        seg = buf[0, first:end]
        off = col - first
        x = seg[off:]

        def trailing(size: int, maximum: bool) -> FloatArray:
            """Extreme of the ``size`` samples up to each one, over ``seg``."""
            out = np.empty_like(seg)
            origin = (size - 1) // 2
            window_extreme(seg, size, out, maximum=maximum, mode="nearest", origin=origin)
            return out

        w, f = self._w + 1, self._fall  # the sample and the 0.25 s (0.5 s) before it
        fall = trailing(w, True)[off:] - x
        rise = x - trailing(w, False)[off:]
        # the largest 0.25-s rise of the last 0.75 s, and the fall from the top of the
        # last 0.5 s
        jump = np.empty_like(seg)
        jump[:] = seg - trailing(w, False)
        steep = np.empty_like(seg)
        size = self._jump + 1
        window_extreme(jump, size, steep, maximum=True, mode="nearest", origin=(size - 1) // 2)
        steep = steep[off:]
        back = trailing(f + 1, True)[off:] - x
        spike = (steep > SPIKE_MIN_US) & (back > SPIKE_FRACTION * steep)
        stall = self._stall(seg, buf[1, first:end], off)
        return (fall > FALL_US) | (rise > RISE_US) | spike | stall

    def _stall(self, seg: FloatArray, times: FloatArray, off: int) -> NDArray[np.bool_]:
        """Per sample of ``seg[off:]`` (times ``times``): did the signal, ``STALL_S`` before
        it, end a rise of more than ``STALL_MIN_US`` in 0.25 s that makes up most of its
        rise over 0.5 s, and has it stayed below that top since? (Not across a gap in the
        samples: a level that moved while no samples came is not a spike.)"""
        k, w = self._stall_n, self._w
        j = np.maximum(np.arange(off - k, seg.size - k), 0)  # the sample ending the rise
        before = np.maximum(j - 2 * w, 0)
        a = seg[j] - seg[np.maximum(j - w, 0)]
        b = seg[j] - seg[before]
        after = np.empty_like(seg)
        window_extreme(seg, k, after, maximum=True, mode="nearest", origin=(k - 1) // 2)
        span = times[off:] - times[before]
        steady = span <= 1.5 * (k + 2 * w) * self._dt
        return (a > STALL_MIN_US) & (a >= STALL_SHARE * b) & (after[off:] < seg[j]) & steady

    def _follow(
        self, x: FloatArray, buf: FloatArray, col: int, hits: NDArray[np.bool_], col0: int
    ) -> FloatArray:
        """Open and close segments sample by sample (rare: only around artefacts) over
        the chunk ``x`` at buffer columns from ``col``; ``col0`` is the absolute sample
        index of column 0."""
        raw, times = buf[0], buf[1]
        end = col + x.size
        out = x.copy()
        for i in range(col, end):
            v, ti = float(raw[i]), float(times[i])
            if hits[i - col]:
                self._last_hit = ti
                if self._level is None:
                    a = max(i - self._w - 1, 0)
                    self._level = float(raw[a])
                    self._start = float(times[a + 1]) if a + 1 < i else ti
                    self._calm = 0
                    self.events.append(ArtifactEvent(self._start, None, ti))
                    self.segments.append(_Segment(self._start, col0 + i, ti))
                    self.new.append(self.segments[-1])
            if self._level is None:
                continue
            tol = max(BACK_FRACTION * abs(self._level), BACK_MIN_US)
            before = float(raw[max(i - self._settle, 0)])
            near = abs(v - self._level) <= tol and abs(v - before) <= SETTLED_US
            self._calm = self._calm + 1 if near else 0
            if self._calm >= self._settle or ti - self._last_hit >= self._max_s:
                self.events.append(ArtifactEvent(self._start, ti, ti))
                self.segments[-1].end, self.segments[-1].ended = ti, col0 + i
                self._level = None
                continue
            out[i - col] = self._level
        self._forget(float(times[col]))  # (no flag of this chunk is older than its start)
        return out

    def _forget(self, now: float) -> None:
        """Drop segments that ended over a minute ago."""
        seg = self.segments
        while seg and seg[0].end is not None and seg[0].end < now - 60.0:
            seg.pop(0)

    def covers(self, onset: float, at: int) -> bool:
        """True if a response with this onset time, flagged at absolute sample ``at``,
        belongs to an artefact known by then: its onset lies from 1 s before a segment
        to 1 s after its end (open segments have no end yet)."""
        for seg in self.segments:
            if seg.detected > at or onset < seg.start - MARGIN_S:
                continue
            if seg.ended is None or seg.ended > at or onset <= seg.end + MARGIN_S:  # type: ignore[operator]
                return True
        return False

    def drain(self) -> list[ArtifactEvent]:
        """Segment starts and ends since the last call."""
        events, self.events = self.events, []
        return events
