"""Causal heart-rate variability (RMSSD, SDNN) over sliding windows, and HR-stream smoothing.

:class:`HrvTracker` takes :class:`~biosignals.ecg.HeartBeat` events (from the ECG or PPG
extractor) and keeps the RR series of the last ``max_window`` seconds with each interval
classified as *normal* (NN) or not:

* an RR outside 0.27-2.0 s (30-220 bpm) is an artifact;
* an RR more than 20 % away from the median of the last 9 plausible RRs is ectopic or an
  artifact (the Malik 20 % rule; a premature beat makes a short RR followed by a long
  compensatory one, and both are excluded);
* the first RR after :meth:`HrvTracker.interrupt` (a quality fault) is excluded, since it
  spans the fault.

SDNN is the standard deviation (ddof 1) of the NN intervals whose beat lies in the window;
RMSSD is the root mean square of successive differences between *adjacent* NN intervals
only (a difference across an excluded beat is never formed). Both are in milliseconds and
``None`` when the window holds fewer than ``min_intervals`` usable values or less than
half of its RRs are normal. Results do not depend on how the beats are batched.

:class:`HrSmoother` serves heart-rate streams that already carry bpm (chest straps): the
median of the plausible values of the last few seconds.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from statistics import median

import numpy as np
from numpy.typing import ArrayLike

from biosignals._stream import median_of_few
from biosignals.ecg import HeartBeat
from biosignals.errors import SignalError

__all__ = ["HR_PLAUSIBLE_BPM", "HrSmoother", "HrvTracker"]

HR_PLAUSIBLE_BPM = (30.0, 220.0)
_RR_MIN_S = 60.0 / HR_PLAUSIBLE_BPM[1]
_RR_MAX_S = 60.0 / HR_PLAUSIBLE_BPM[0]
_NN_JUMP = 0.20
_REF_COUNT = 9


class HrvTracker:
    """Sliding-window RMSSD and SDNN from a causal beat series.

    Parameters
    ----------
    max_window : float
        Longest window (s) that will be asked for; older beats are forgotten.
    min_intervals : int
        Fewest NN intervals (SDNN) or successive NN differences (RMSSD) for a value.
    """

    def __init__(self, max_window: float = 60.0, min_intervals: int = 5) -> None:
        if not math.isfinite(max_window) or max_window <= 0.0 or min_intervals < 2:
            raise SignalError(
                "HrvTracker: need max_window > 0 and min_intervals >= 2, got "
                f"{max_window!r}, {min_intervals!r}"
            )
        self.max_window = float(max_window)
        self.min_intervals = int(min_intervals)
        self.reset()

    def reset(self) -> None:
        """Forget all beats."""
        # per RR, rows [lo, n) of preallocated columns: end time, rr (s), normal?; the NN
        # intervals and the successive differences between them (where one is formed) are
        # also kept packed in row order, with their counts before each row, so that a
        # window's values are one slice each
        self._cols = np.empty((2, 256))  # end time, rr (s)
        self._normal = np.zeros(256, dtype=bool)
        self._nn = np.empty(256)
        self._dd = np.empty(256)
        self._nn_before = [0]  # NN intervals in rows before row i (i = 0..n)
        self._dd_before = [0]  # differences in rows before row i
        self._lo = 0
        self._n = 0
        self._dropped = 0  # rows discarded from the front of the buffer so far
        self._ref: deque[float] = deque(maxlen=_REF_COUNT)
        self._last_time: float | None = None
        self._prev_nn: float | None = None
        self._broken = False
        # per window: (absolute first row, absolute end row) -> (rmssd, sdnn); a window's
        # values depend only on the rows it holds, which never change once added
        self._memo: dict[float, tuple[tuple[int, int], tuple[float | None, float | None]]] = {}
        # per window: the values up to the newest beat (``now`` None: the snapshot's look)
        # and the beat count they were computed at (they change only with a new beat)
        self._beats = 0
        self._latest: dict[float, tuple[int, tuple[float | None, float | None]]] = {}

    @property
    def last_beat_time(self) -> float | None:
        """Time of the newest beat given (None before any)."""
        return self._last_time

    def interrupt(self) -> None:
        """Mark a fault: the next RR spans it and is not used, nor paired across it."""
        self._broken = True
        self._prev_nn = None

    def update(self, beats: Iterable[HeartBeat]) -> None:
        """Add beats in time order (their ``time`` is what counts; ``rr`` is recomputed)."""
        for beat in beats:
            self._add(float(beat.time))

    def _add(self, time: float) -> None:
        self._beats += 1
        last, self._last_time = self._last_time, time
        if last is None:
            self._broken = False
            return
        rr = time - last
        plausible = _RR_MIN_S <= rr <= _RR_MAX_S
        normal = plausible and not self._broken
        if normal and len(self._ref) >= 3:
            ref = median_of_few(self._ref)
            normal = abs(rr - ref) <= _NN_JUMP * ref
        if plausible:
            self._ref.append(rr)
        self._broken = False
        diff = rr - self._prev_nn if normal and self._prev_nn is not None else math.nan
        self._prev_nn = rr if normal else None
        self._append(time, rr, normal, diff)
        cols, cutoff = self._cols, time - self.max_window
        while self._lo < self._n and cols[0, self._lo] < cutoff:
            self._lo += 1

    def _append(self, time: float, rr: float, normal: bool, diff: float) -> None:
        if self._n == self._cols.shape[1]:  # full: drop the forgotten rows, grow if still full
            self._compact()
        n = self._n
        self._cols[0, n] = time
        self._cols[1, n] = rr
        self._normal[n] = normal
        nn, dd = self._nn_before[-1], self._dd_before[-1]
        if normal:
            self._nn[nn] = rr
            nn += 1
        if not math.isnan(diff):
            self._dd[dd] = diff
            dd += 1
        self._nn_before.append(nn)
        self._dd_before.append(dd)
        self._n += 1

    def _compact(self) -> None:
        lo, held, size = self._lo, self._n - self._lo, self._cols.shape[1]
        if 2 * held > size:
            size *= 2
        cols, normal = np.empty((2, size)), np.zeros(size, dtype=bool)
        cols[:, :held] = self._cols[:, lo : self._n]
        normal[:held] = self._normal[lo : self._n]
        self._cols, self._normal = cols, normal
        self._nn, self._nn_before = _packed(self._nn, self._nn_before, lo, size)
        self._dd, self._dd_before = _packed(self._dd, self._dd_before, lo, size)
        self._dropped += lo
        self._n, self._lo = held, 0

    def _window(self, window: float, now: float | None) -> tuple[float | None, float | None]:
        if not 0.0 < window <= self.max_window:
            raise SignalError(
                f"HrvTracker: window must be within (0, {self.max_window:g}] s, got {window!r}"
            )
        if now is None:  # up to the newest beat: the same values until the next beat
            latest = self._latest.get(window)
            if latest is not None and latest[0] == self._beats:
                return latest[1]
            last = self._last_time
            values = (None, None) if last is None else self._window(window, last)
            self._latest[window] = (self._beats, values)
            return values
        end = now
        if self._n == self._lo:
            return None, None
        times = self._cols[0, self._lo : self._n]
        lo = self._lo + int(times.searchsorted(end - window, side="right"))
        hi = self._lo + int(times.searchsorted(end, side="right"))
        key = (self._dropped + lo, self._dropped + hi)
        memo = self._memo.get(window)
        if memo is not None and memo[0] == key:
            return memo[1]
        values = self._values(lo, hi)
        self._memo[window] = (key, values)
        return values

    def _values(self, lo: int, hi: int) -> tuple[float | None, float | None]:
        """(RMSSD, SDNN) in ms of buffer rows ``[lo, hi)``."""
        nn = self._nn[self._nn_before[lo] : self._nn_before[hi]]
        # a difference pairs an RR with the previous one: both must lie in the window (a
        # difference is only formed between normal RRs)
        diffs = self._dd[self._dd_before[min(lo + 1, hi)] : self._dd_before[hi]]
        enough = hi > lo and 2 * nn.size >= hi - lo
        sdnn = rmssd = None
        if enough and nn.size >= self.min_intervals:
            dev = nn - float(np.add.reduce(nn)) / nn.size
            sdnn = math.sqrt(float(dev @ dev) / (nn.size - 1)) * 1e3
        if enough and diffs.size >= self.min_intervals:
            rmssd = math.sqrt(float(diffs @ diffs) / diffs.size) * 1e3
        return rmssd, sdnn

    def rmssd_sdnn(
        self, window: float = 60.0, now: float | None = None
    ) -> tuple[float | None, float | None]:
        """``(rmssd(window, now), sdnn(window, now))`` from one look at the window.

        Raises
        ------
        SignalError
            If ``window`` is not within ``(0, max_window]``.
        """
        return self._window(window, now)

    def rmssd(self, window: float = 60.0, now: float | None = None) -> float | None:
        """RMSSD (ms) of the beats in ``(now - window, now]``; ``now`` defaults to the last beat.

        Raises
        ------
        SignalError
            If ``window`` is not within ``(0, max_window]``.
        """
        return self._window(window, now)[0]

    def sdnn(self, window: float = 60.0, now: float | None = None) -> float | None:
        """SDNN (ms) of the beats in ``(now - window, now]``; ``now`` defaults to the last beat.

        Raises
        ------
        SignalError
            If ``window`` is not within ``(0, max_window]``.
        """
        return self._window(window, now)[1]

    def nn_intervals(self, window: float = 60.0) -> list[float]:
        """NN intervals (s) whose beat lies in the last ``window`` seconds, oldest first."""
        end = self._last_time
        if end is None:
            return []
        rows = self._cols[:, self._lo : self._n]
        keep = self._normal[self._lo : self._n] & (end - window < rows[0]) & (rows[0] <= end)
        return [float(v) for v in rows[1, keep].tolist()]


def _packed(
    values: np.ndarray, before: list[int], lo: int, size: int
) -> tuple[np.ndarray, list[int]]:
    """Packed per-row values and their counts before each row, rows before ``lo`` dropped,
    in a buffer of ``size``."""
    first = before[lo]
    out = np.empty(size)
    out[: before[-1] - first] = values[first : before[-1]]
    return out, [b - first for b in before[lo:]]


class HrSmoother:
    """Validates and smooths a heart-rate stream that already carries bpm.

    Parameters
    ----------
    window : float
        Seconds of values whose median is :attr:`heart_rate`.
    """

    def __init__(self, window: float = 5.0) -> None:
        if not math.isfinite(window) or window <= 0.0:
            raise SignalError(f"HrSmoother: window must be > 0 s, got {window!r}")
        self.window = float(window)
        self._values: deque[tuple[float, float]] = deque()
        self._last_time: float | None = None

    def update(self, samples: ArrayLike, timestamps: ArrayLike) -> None:
        """Add bpm values; NaN/inf and values outside 30-220 bpm are not used.

        Raises
        ------
        SignalError
            If the arrays are not 1-D of equal length.
        """
        x = np.asarray(samples, dtype=np.float64)
        t = np.asarray(timestamps, dtype=np.float64)
        if x.ndim != 1 or x.shape != t.shape:
            raise SignalError(
                f"HrSmoother.update: need 1-D samples and timestamps of equal length, got "
                f"shapes {x.shape} and {t.shape}"
            )
        if x.size == 0:
            return
        lo, hi = HR_PLAUSIBLE_BPM
        ok = np.isfinite(x) & np.isfinite(t) & (x >= lo) & (x <= hi)
        self._values.extend(zip(t[ok].tolist(), x[ok].tolist(), strict=True))
        finite_t = t[np.isfinite(t)]
        if finite_t.size:
            self._last_time = max(self._last_time or -math.inf, float(finite_t.max()))
        self._trim()

    def _trim(self) -> None:
        if self._last_time is None:
            return
        while self._values and self._values[0][0] <= self._last_time - self.window:
            self._values.popleft()

    @property
    def heart_rate(self) -> float | None:
        """Median of the plausible values of the last ``window`` s (None if there are none)."""
        if not self._values:
            return None
        return float(median(v for _, v in self._values))
