"""Signal-quality monitoring: NaN/inf, flatline, clipping, dropout, rate and range checks.

Each :class:`QualityMonitor` watches one stream and keeps a set of active flags with the
time each fault began; every flag start and end becomes a :class:`QualityEvent` for the
recording. Sample-based checks run on every chunk (vectorised, so the flags do not depend
on how the stream is cut into chunks); the time-based dropout check runs at ``check(now)``.

Flags (``QualityEvent.flag``):

``nan``
    a NaN/inf sample; on at the first one, off at the next finite sample.
``flatline``
    the signal did not move by more than ``flatline_epsilon`` for ``flatline_after``
    seconds; the event starts at the last movement, the flag ends at the next one.
    Coarse streams (below) allow longer holds.
``clipping``
    ``clip_samples`` consecutive identical samples at the running maximum or minimum of
    the stream (after a 1 s warm-up) or outside ``device_range``: saturation. Coarse
    streams need a longer run at a running extreme (below).
``dropout``
    no sample for ``dropout_after`` seconds (lead-off, lost connection); starts at the
    first missing sample, ends when samples come again.
``rate``
    the sampling rate seen in the timestamps (over >= 4 s, gaps excluded) differs from the
    nominal rate by more than 25 %.
``out_of_range`` / ``implausible``
    finite samples outside ``value_range`` (e.g. EDA outside 0.05-60 µS; a heart-rate
    stream outside 30-220 bpm), or a value judged outside (``flag_value``).
``format``
    a chunk that could not be used at all (wrong shape, channel count, lengths).
``artifact``
    a motion or muscle artefact: with :class:`BurstRules` given, a wide-band burst (the
    median range of the 0.1-s blocks of the last 0.5 s over 4 times its clean median and
    over a fraction of the beats' own block range; see :mod:`biosignals._quality_burst`);
    for EDA, a change faster than skin conductance can change, reported by the extractor
    (``flag_value``); for ECG, QRS-like complexes no heart makes are ``implausible`` (see
    the pipeline).

Coarsely quantised streams (a low-resolution ADC legitimately repeats values) get
longer holds before ``flatline`` and ``clipping``: see :mod:`biosignals._quality_coarse`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from itertools import islice
from operator import eq

import numpy as np

from biosignals._quality_burst import BurstRules, BurstTracker
from biosignals._quality_coarse import GRID_SLACK, CoarseRules, CoarseTracker
from biosignals._quality_flags import (
    ARTIFACT,
    CLIPPING,
    DROPOUT,
    FLATLINE,
    FORMAT,
    IMPLAUSIBLE,
    NAN,
    OUT_OF_RANGE,
    RATE,
    FlagBook,
    FloatArray,
    QualityEvent,
)
from biosignals._stream import FEW, extremes, finite_floats

__all__ = [
    "ARTIFACT",
    "CLIPPING",
    "DROPOUT",
    "FLATLINE",
    "FORMAT",
    "IMPLAUSIBLE",
    "NAN",
    "OUT_OF_RANGE",
    "RATE",
    "BurstRules",
    "CoarseRules",
    "QualityEvent",
    "QualityMonitor",
    "active_flags",
    "default_dropout_after",
]

_WARMUP_S = 1.0
_RATE_WINDOW_S = 4.0
_RATE_TOLERANCE = 0.25


def default_dropout_after(sampling_rate: float) -> float:
    """Seconds without samples before ``dropout``: max(0.4 s, 5 periods); 3 s if irregular."""
    if sampling_rate <= 0.0:
        return 3.0
    return max(0.4, 5.0 / sampling_rate)


class QualityMonitor(FlagBook):
    """Quality flags for one stream.

    Parameters
    ----------
    role : str
        Stream role, used in flag names.
    sampling_rate : float
        Nominal rate in Hz (0 for irregular streams: no flatline, clipping or rate check).
    dropout_after : float, optional
        Seconds without any sample before ``dropout``; default
        :func:`default_dropout_after`.
    flatline_after : float
        Seconds without movement before ``flatline`` (<= 0 disables the check).
    flatline_epsilon : float
        Largest sample-to-sample change that still counts as "not moving".
    clip_samples : int, optional
        Run of identical extreme samples that counts as clipping; default
        ``max(4, round(0.016 * sampling_rate))``; 0 disables the check.
    device_range : tuple of float, optional
        ADC/device limits; samples at or beyond them count as extreme at once.
    value_range : tuple of float, optional
        Plausible sample range; finite samples outside raise ``range_flag``.
    range_flag : str
        Flag name for ``value_range`` violations (``out_of_range`` or ``implausible``).
    rate_check : bool
        Compare the rate seen in the timestamps with ``sampling_rate`` (off for streams
        whose nominal rate is only indicative, e.g. one heart-rate value per beat).
    coarse : CoarseRules, optional
        Longer holds for coarsely quantised streams (module docstring); None: none.
    burst : BurstRules, optional
        Raise ``artifact`` on wide-band bursts (module docstring); None: no such check.
    """

    def __init__(
        self,
        role: str,
        sampling_rate: float,
        *,
        dropout_after: float | None = None,
        flatline_after: float = 0.4,
        flatline_epsilon: float = 0.0,
        clip_samples: int | None = None,
        device_range: tuple[float, float] | None = None,
        value_range: tuple[float, float] | None = None,
        range_flag: str = OUT_OF_RANGE,
        rate_check: bool = True,
        coarse: CoarseRules | None = None,
        burst: BurstRules | None = None,
    ) -> None:
        super().__init__(role)
        self.sampling_rate = float(sampling_rate)
        regular = self.sampling_rate > 0.0
        self.dropout_after = (
            default_dropout_after(self.sampling_rate) if dropout_after is None else dropout_after
        )
        self.flatline_after = flatline_after if regular else 0.0
        self.flatline_epsilon = flatline_epsilon
        if clip_samples is None:
            clip_samples = max(4, round(0.016 * self.sampling_rate)) if regular else 0
        self.clip_samples = clip_samples
        self.device_range = device_range
        self.value_range = value_range
        self.range_flag = range_flag
        self.rate_check = rate_check and regular
        self._first_time: float | None = None
        self._last_time: float | None = None
        self._last_finite: float | None = None
        self._moved_at = -np.inf
        self._break_at = -np.inf
        self._max = -np.inf
        self._min = np.inf
        self._rate_n = 0
        self._rate_span = 0.0
        self._gap = max(self.dropout_after, 5.0 / self.sampling_rate) if regular else math.inf
        checked = self.flatline_after > 0.0 or self.clip_samples > 0
        self._coarse = CoarseTracker(coarse, self.sampling_rate) if coarse and checked else None
        self._burst = BurstTracker(burst, self.sampling_rate) if burst and regular else None

    @property
    def last_sample_time(self) -> float | None:
        """Timestamp of the newest sample seen (None before any)."""
        return self._last_time

    # ------------------------------------------------------------------ checks
    def update(self, samples: FloatArray, timestamps: FloatArray) -> None:
        """Inspect one chunk: 1-D float64 samples and non-decreasing timestamps."""
        x = np.asarray(samples, dtype=np.float64).reshape(-1)
        t = np.asarray(timestamps, dtype=np.float64).reshape(-1)
        if x.size == 0 or x.size != t.size:
            return
        self.update_checked(x, t, ordered=False)

    def update_checked(self, x: FloatArray, t: FloatArray, *, ordered: bool = True) -> None:
        """:meth:`update` of a non-empty chunk already as it needs: 1-D float64 samples
        and as many timestamps, finite and non-decreasing where ``ordered`` (the
        pipeline's, checked before)."""
        if x.size <= FEW and self._clean_few(x, t, ordered):
            return
        t0 = t.item(0)
        if self._active:
            self._set(FORMAT, False, t0)
            self._set(DROPOUT, False, t0)
        if self._first_time is None:
            self._first_time = t0
        if self.rate_check:
            self._check_rate(t)
        self._last_time = t.item(-1)
        lo, hi = extremes(x)  # finite extremes: no NaN/inf (the usual case)
        if math.isfinite(lo) and math.isfinite(hi):
            if NAN in self._active:
                self._set(NAN, False, t0)
        else:
            finite = np.isfinite(x)
            self._track(NAN, ~finite, t)
            x, t = x[finite], t[finite]
            if x.size == 0:
                return
            lo, hi = extremes(x)
        self._check_samples(x, t, lo, hi)
        self._last_finite = float(x[-1])

    def _clean_few(self, x: FloatArray, t: FloatArray, ordered: bool) -> bool:
        """:meth:`update` of a short chunk (a frame's) of a fine stream with no flag on, in
        Python floats, where nothing is wrong in it: finite, ordered samples that move at
        every step, in range, no gap. Returns False, having changed nothing, for any other
        chunk (the vectorised checks then run as usual); the timestamps are checked unless
        ``ordered``. The same state and flags as those
        checks: a step of ordered timestamps is at most their span (rounding is monotone),
        so the span bounds the longest step; clipping needs a step of 0, so only the
        running extremes move."""
        prev, last = self._last_time, self._last_finite
        if self._active or self._coarse is not None or prev is None or last is None:
            return False
        xs = x.tolist()
        if not finite_floats(xs):
            return False
        if not ordered:
            ts = t.tolist()
            if not (finite_floats(ts) and ts == sorted(ts)):
                return False
        lo, hi = min(xs), max(xs)  # the first of equal values, as ``extremes``
        t0, t_end = t.item(0), t.item(-1)
        rate = self.rate_check
        if rate and not (t0 - prev <= self._gap and t_end - t0 <= self._gap):
            return False
        flat, clip = self.flatline_after > 0.0, self.clip_samples > 0
        if (flat or clip) and (self.flatline_epsilon != 0.0 or xs[0] == last or _repeats(xs)):
            return False  # a step of 0: a flatline or clipping run may be under way
        limits = self.value_range
        if limits is not None and not (limits[0] <= lo and hi <= limits[1]):
            return False
        if rate:  # the steps as :meth:`_check_rate` counts them
            self._rate_n += len(xs)
            self._rate_span += t_end - prev
            self._rate_window(t_end)
        self._last_time = t_end
        if flat:
            self._moved_at = t_end
        if clip:  # no two equal samples: no run of them at an extreme or limit
            self._max, self._min = max(self._max, hi), min(self._min, lo)
            self._break_at = t_end
        if self._burst is not None:
            for on, when in self._burst.update(x, t, lo, hi):
                self._set(ARTIFACT, on, when)
        self._last_finite = xs[-1]
        return True

    @property
    def is_coarse(self) -> bool:
        """True while the stream counts as coarsely quantised (or its resolution is unknown)."""
        return self._coarse is not None

    @property
    def resolution(self) -> float | None:
        """Smallest non-zero step seen while the stream counts as coarse; None before the
        first step and once the stream is fine (then no longer tracked)."""
        q = self._coarse.resolution if self._coarse is not None else math.inf
        return q if math.isfinite(q) else None

    def _check_samples(self, x: FloatArray, t: FloatArray, lo: float, hi: float) -> None:
        """Flatline, clipping and range checks of finite samples ``x``.

        The common clean chunk costs a few vectorised reductions: the smallest step (no
        flatline), the chunk's extremes (no new running extreme, inside the range); the
        per-sample transitions are only worked out when one of them says they may exist.
        Streams that may be coarse go through :meth:`_check_coarse` instead.
        """
        if self._coarse is not None:
            self._check_coarse(x, t, self._coarse)
        else:
            self._check_fine(x, t, lo, hi)
        if self._burst is not None:
            for on, when in self._burst.update(x, t, lo, hi):
                self._set(ARTIFACT, on, when)
        if self.value_range is not None:
            low, high = self.value_range
            if low <= lo and hi <= high:
                if self.range_flag in self._active:
                    self._set(self.range_flag, False, float(t[0]))
            else:
                self._track(self.range_flag, (x < low) | (x > high), t)

    def _check_fine(self, x: FloatArray, t: FloatArray, lo: float, hi: float) -> None:
        """Flatline and clipping of a stream known to be finely quantised."""
        steps: FloatArray | None = None
        if self.flatline_after > 0.0:
            if self._moving(x):  # moving all along
                self._moved_at = float(t[-1])
                if FLATLINE in self._active:
                    self._set(FLATLINE, False, float(t[0]))
            else:
                steps = self._steps(x)
                self._check_flatline(steps, t)
        if self.clip_samples > 0:
            if self.device_range is None and self._min < lo and hi < self._max:
                self._break_at = float(t[-1])  # nothing at a new extreme: no clipping run
                if CLIPPING in self._active:
                    self._set(CLIPPING, False, float(t[0]))
            else:
                self._check_clipping(x, self._steps(x) if steps is None else steps, t)

    def _moving(self, x: FloatArray) -> bool:
        """True if every step of the chunk (from the previous chunk's last sample) is larger
        than ``flatline_epsilon``; for the usual epsilon 0: no two equal neighbours."""
        if self.flatline_epsilon != 0.0:
            return self._min_step(x) > self.flatline_epsilon
        if self._last_finite is not None and x.item(0) == self._last_finite:
            return False
        if x.size < 2:
            return True
        differ = x[1:] != x[:-1]
        return bool(differ.item(differ.argmin()))

    def _min_step(self, x: FloatArray) -> float:
        """Smallest |x[i] - x[i-1]| of the chunk, the previous chunk's last sample included."""
        first = abs(float(x[0]) - self._last_finite) if self._last_finite is not None else math.inf
        if x.size < 2:
            return first
        steps = np.abs(x[1:] - x[:-1])
        return min(first, float(steps[steps.argmin()]))

    def _steps(self, x: FloatArray) -> FloatArray:
        """|x[i] - x[i-1]| with the previous chunk's last finite sample before x[0]."""
        d = np.empty_like(x)
        d[0] = abs(x[0] - self._last_finite) if self._last_finite is not None else np.inf
        np.abs(np.subtract(x[1:], x[:-1], out=d[1:]), out=d[1:])
        return d

    def _check_flatline(self, steps: FloatArray, t: FloatArray) -> None:
        moved = steps > self.flatline_epsilon
        moved_at = np.maximum.accumulate(np.where(moved, t, self._moved_at))
        self._moved_at = float(moved_at[-1])
        self._track(FLATLINE, t - moved_at >= self.flatline_after, t, moved_at)

    def _check_clipping(self, x: FloatArray, steps: FloatArray, t: FloatArray) -> None:
        hi = np.maximum.accumulate(np.maximum(x, self._max))
        lo = np.minimum.accumulate(np.minimum(x, self._min))
        self._max, self._min = float(hi[-1]), float(lo[-1])
        assert self._first_time is not None
        extreme = ((x >= hi) | (x <= lo)) & (t - self._first_time >= _WARMUP_S)
        if self.device_range is not None:
            extreme |= (x <= self.device_range[0]) | (x >= self.device_range[1])
        same = extreme & (steps == 0.0)
        break_at = np.maximum.accumulate(np.where(same, self._break_at, t))
        self._break_at = float(break_at[-1])
        # run of identical extreme samples: clip_samples samples = clip_samples-1 periods
        span = (self.clip_samples - 1.5) / self.sampling_rate
        self._track(CLIPPING, same & (t - break_at >= span), t, break_at)

    def _check_coarse(self, x: FloatArray, t: FloatArray, tracker: CoarseTracker) -> None:
        """Flatline and clipping, per sample, of a stream that may be coarsely quantised.

        The resolution, running extremes and coarse/fine verdict are worked out per sample
        (they change only at a movement, so a hold keeps the bound it started with); once
        the last sample is fine the stream is fine for good and takes the usual path.
        """
        steps = self._steps(x)
        q, coarse = tracker.samples(x, steps)
        # q never grows: equal ends mean one resolution, and one bound, for the chunk
        bound = tracker.rules.hold_after(q[:1] if q[0] == q[-1] else q)
        if self.flatline_after > 0.0:
            moved_at = np.maximum.accumulate(
                np.where(steps > self.flatline_epsilon, t, self._moved_at)
            )
            self._moved_at = float(moved_at[-1])
            flat = t - moved_at >= np.where(coarse, bound, self.flatline_after)
            onset = moved_at
            band = tracker.band_flat(x, t, q, coarse)
            if band is not None:  # flat since the last move, or the window's first sample
                banded, since = band
                onset = np.where(banded & ~(flat & (moved_at <= since)), since, moved_at)
                flat |= banded
            self._track(FLATLINE, flat, t, onset)
        lo, hi = extremes(x)
        if self.clip_samples > 0 and (
            self.device_range is not None or not (self._min < lo and hi < self._max)
        ):
            span = (self.clip_samples - 1.5) / self.sampling_rate
            need = np.where(coarse, bound, span)
            self._coarse_clipping(x, t, steps, np.where(coarse, q, 0.0), need)
        elif self.clip_samples > 0:  # nothing at a running extreme: no clipping run
            self._break_at = float(t[-1])
            if CLIPPING in self._active:
                self._set(CLIPPING, False, float(t[0]))
        self._max, self._min = max(self._max, hi), min(self._min, lo)
        if not coarse[-1]:
            self._coarse = None  # fine for good: q only shrinks, the range only grows

    def _coarse_clipping(
        self,
        x: FloatArray,
        t: FloatArray,
        steps: FloatArray,
        step: FloatArray,
        need: FloatArray,
    ) -> None:
        """Clipping with per-sample bounds: a run at a running extreme must last ``need``
        seconds; at a ``device_range`` limit (within ``step``: the resolution on coarse
        samples, else 0) ``clip_samples`` samples suffice."""
        assert self._first_time is not None
        top = np.maximum.accumulate(np.maximum(x, self._max))
        bottom = np.minimum.accumulate(np.minimum(x, self._min))
        extreme = ((x >= top) | (x <= bottom)) & (t - self._first_time >= _WARMUP_S)
        if self.device_range is not None:
            span = (self.clip_samples - 1.5) / self.sampling_rate
            tol = np.where(np.isfinite(step), step, 0.0) * GRID_SLACK
            at_limit = (x <= self.device_range[0] + tol) | (x >= self.device_range[1] - tol)
            extreme |= at_limit
            need = np.where(at_limit, span, need)
        same = extreme & (steps == 0.0)
        break_at = np.maximum.accumulate(np.where(same, self._break_at, t))
        self._break_at = float(break_at[-1])
        self._track(CLIPPING, same & (t - break_at >= need), t, break_at)

    def _check_rate(self, t: FloatArray) -> None:
        prev = self._last_time if self._last_time is not None else float(t[0])
        n = t.shape[0] if self._last_time is not None else t.shape[0] - 1
        if n <= 0:
            return
        inner = -math.inf
        if t.shape[0] > 1:
            dt = t[1:] - t[:-1]
            inner = float(dt[dt.argmax()])  # the longest step (nan if any)
        if float(t[0]) - prev <= self._gap and inner <= self._gap:  # common: no gap inside
            self._rate_n += n
            self._rate_span += float(t[-1]) - prev
        else:
            dt = np.empty(t.size)
            dt[0] = t[0] - prev
            np.subtract(t[1:], t[:-1], out=dt[1:])
            if self._last_time is None:
                dt = dt[1:]
            keep = dt <= self._gap
            self._rate_n += int(np.count_nonzero(keep))
            self._rate_span += float(dt[keep].sum())
        self._rate_window(float(t[-1]))

    def _rate_window(self, t_end: float) -> None:
        """Judge the rate once the counted steps span the window (at ``t_end``)."""
        if self._rate_span >= _RATE_WINDOW_S:
            seen = self._rate_n / self._rate_span
            off = abs(seen / self.sampling_rate - 1.0) > _RATE_TOLERANCE
            self._set(RATE, off, t_end)
            self._rate_n, self._rate_span = 0, 0.0

    def check(self, now: float) -> None:
        """Raise ``dropout`` if no sample arrived for ``dropout_after`` seconds."""
        if self._last_time is None:
            return
        if now - self._last_time > self.dropout_after:
            period = 1.0 / self.sampling_rate if self.sampling_rate > 0.0 else 0.0
            self._set(DROPOUT, True, self._last_time + period)


def _repeats(xs: list[float]) -> bool:
    """True if two neighbours of ``xs`` are equal (a step of 0)."""
    return any(map(eq, xs, islice(xs, 1, None)))


def active_flags(monitors: Iterable[QualityMonitor]) -> tuple[str, ...]:
    """All active flags of several monitors as ``"role:flag"``."""
    flags: tuple[str, ...] = ()
    for m in monitors:
        if m.flagged:  # the usual snapshot has none
            flags += tuple(f"{m.role}:{f}" for f in m.active)
    return flags
