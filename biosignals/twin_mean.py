"""The twin's deterministic mean response: a pure, fast function of the intensity shown.

:class:`~biosignals.twin_model.TwinPhysiology` draws beats, SCRs and noise around a
deterministic core: habituation ``h``, arousal ``a``, the tonic skin conductance level.
This module computes that core, vectorised, on a coarse grid (default 0.25 s) for a whole
session at once, and what the engine's feature pipeline reports of it — so a twin can be
fitted to a recording by least squares (:mod:`engine.twinfit`), where the model is
evaluated thousands of times.

Grid: step ``k`` covers ``(t_k, t_k + dt]`` with the intensity ``I_k`` in effect then (the
last one set at or before ``t_k``). With ``u = I * h`` (the unhabituated part of the
intensity), each step does what the twin does at its ticks::

    u <- u + max(I_k - I_{k-1}, 0)                 # a rise is fresh
    u <- u * I_k / I_{k-1}      (on a fall)          # h is kept
    u <- f I_k + (u - f I_k) exp(-dt / tau)          # habituation toward the floor
    a <- a + (min(1, R u) - a) (1 - exp(-dt / lag))  # arousal follows its target
    scl <- scl + (scl_rest + G a - scl) (1 - exp(-dt / scl_lag))

``u`` is a first-order linear recursion between falls (solved with ``scipy.signal.lfilter``),
the arousal and the SCL are linear filters of their inputs: one evaluation of a 40-minute
session costs about a millisecond.

What the features stream reports (:class:`MeanTrace` ``*_feature``):

* heart rate: the mean of ``resting_hr + max_hr_gain * a`` over the 10 s of beats before
  the tick, one RR (:data:`BEAT_DELAY`) late (the ECG extractor's median RR of the last
  10 s; the RR of a beat is set at the beat before), plus ``hr_variance / HR``: beats
  come faster when the rate is up, so a beat-weighted average of a rate that swings with
  RSA and HRV (variance ``hrv_rsa_bpm**2 / 2 + hrv_sd_bpm**2``) lies that much above the
  time average;
* SCL: the minimum of the tonic level over the last 10 s (the EDA extractor's lower
  envelope), :data:`SCL_DELAY` late (its low-pass), plus the phasic floor the envelope
  keeps when SCRs overlap:
  ``scr_amplitude * SCL_FLOOR_GAIN * r ** SCL_FLOOR_POWER`` at ``r`` SCRs per minute
  (measured on the twin with the real extractor: 0.007 µS at 4/min, 0.07 µS at 16/min for
  0.3 µS SCRs);
  while the tonic level moves, SCRs also shift *where* in the window the minimum lies:
  when a response covers the window's start, the minimum of a rising level lies at the
  first quiet moment after it (later, higher), and that of a falling level at the last
  quiet moment before the window's end (earlier, higher). At ``r`` SCRs per minute the
  window is taken as ``[t - 10 + SCL_RISE_SKIP(r), t - SCL_FALL_SKIP(r)]``
  (:func:`envelope_skips`; measured on the twin's SCRs with the real extractor: 1.4 s
  and 0.5 s at 1/min, 4 s and 2 s at 8/min). Without it the model's SCL ran 1-3 s late
  on every change of arousal, and fits took that out of the response lag (20-30 % short
  in a fifth of the benchmark's courses);
  less the noise's share of the minimum, ``SCL_NOISE_MIN * eda_noise_us``: the minimum
  of the low-passed white noise over the window lies that far below its mean (the
  extractor fed pure noise: 0.597 SDs of the raw noise at the twin's 32 Hz; its 1 Hz
  low-pass leaves 0.12 SDs, and a 10 s minimum of that lies 5 of those below the mean).
  Left out, the fitted resting SCL of a course was 0.04 % low with the default noise of
  0.005 µS and 0.3 % low with 0.03 µS, the same in every session;
* SCR rate: the expected number of SCR onsets detected in the last 60 s: of the
  ``r = scr_rate_rest + (scr_rate_max - scr_rate_rest) * a`` per minute, the EDA
  extractor sees ``r * exp(-r * SCR_DEAD_TIME / 60)`` (SCRs closer than about 0.7 s
  merge; measured on the twin: 8 % missed at 8/min, 25 % at 24/min);
* SUDS: ``100 * min(1, suds_scale * a)``.

RSA, HRV, noise, ectopic beats, sensor faults and pain average out or are not modelled.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import minimum_filter1d
from scipy.signal import lfilter

from biosignals.errors import SignalError
from biosignals.twin_profile import TwinProfile

__all__ = [
    "BEAT_DELAY",
    "HR_WINDOW",
    "SCL_DELAY",
    "SCL_FALL_SKIP",
    "SCL_FLOOR_GAIN",
    "SCL_FLOOR_POWER",
    "SCL_NOISE_MIN",
    "SCL_RISE_SKIP",
    "SCL_WINDOW",
    "SCR_DEAD_TIME",
    "SCR_WINDOW",
    "IntensityCourse",
    "MeanParams",
    "MeanTrace",
    "envelope_skips",
    "mean_response",
]

HR_WINDOW = 10.0
"""Seconds of beats behind the features' heart rate (:mod:`biosignals.ecg`)."""
BEAT_DELAY = 0.85
"""Seconds a beat's heart rate reaches the features late (one RR at about 70 bpm)."""
SCL_WINDOW = 10.0
"""Seconds of the EDA extractor's lower envelope (its SCL)."""
SCR_WINDOW = 60.0
"""Seconds over which the features count SCRs (:class:`biosignals.arousal.ArousalWeights`)."""
SCL_DELAY = 0.5
"""Seconds the SCL envelope lags the tonic level (the EDA extractor's 1 Hz low-pass)."""
SCL_FLOOR_GAIN, SCL_FLOOR_POWER = 0.00244, 1.65
"""Phasic floor of the SCL envelope per µS of SCR amplitude, ``gain * rate ** power``."""
SCL_NOISE_MIN = 0.597
"""Mean of the SCL envelope below the tonic level per µS of white EDA noise (raw samples at
32 Hz, :class:`~biosignals.eda.EdaExtractor`'s 1 Hz low-pass and 10 s minimum; measured
by feeding it pure noise, scale-free: the filter is linear and the minimum scales)."""
SCL_RISE_SKIP = (1.39, 0.50, -0.31)
"""``(gain, rate power, slope power)``: seconds after the start of the SCL window where
the envelope of a rising tonic level finds its minimum, ``gain * r ** rate_power *
(s / 0.01) ** slope_power`` at ``r`` SCRs per minute and a rise of ``s`` µS/s. Measured
on the twin's SCRs (0.3 µS) with the real extractor at 0.5-12 SCRs/min and 0.005-0.02
µS/s (fits within 0.3 s below 8/min, 1 s at 12/min)."""
SCL_FALL_SKIP = (0.47, 0.78, -0.52)
"""As :data:`SCL_RISE_SKIP`, for the seconds before the end of the window where the
envelope of a falling tonic level finds its minimum."""
SCR_DEAD_TIME = 0.7
"""Seconds within which the EDA extractor merges two SCR onsets (measured on the twin)."""


@dataclass(frozen=True)
class IntensityCourse:
    """One session's intensity on the mean model's grid (computed once per session).

    Attributes
    ----------
    dt
        Grid step, s.
    level
        ``I_k``, the intensity in effect over step ``k`` (``(k dt, (k + 1) dt]``).
    rise
        ``max(I_k - I_{k-1}, 0)`` (``I_{-1} = 0``).
    falls
        Steps where the intensity falls, and ``I_k / I_{k-1}`` there.
    """

    dt: float
    level: np.ndarray
    rise: np.ndarray
    falls: tuple[tuple[int, float], ...]

    @property
    def duration(self) -> float:
        """Seconds the grid covers."""
        return self.level.size * self.dt

    @property
    def end_times(self) -> np.ndarray:
        """``t_{k+1}``: when step ``k``'s state is reached, s from the start."""
        return (np.arange(self.level.size) + 1.0) * self.dt

    @classmethod
    def from_samples(
        cls, times: np.ndarray, values: np.ndarray, duration: float, dt: float = 0.25
    ) -> IntensityCourse:
        """The grid of an intensity recorded as ``(times, values)`` (s from the start).

        Before the first sample the intensity is 0; values are clipped to 0..1 and
        non-finite ones skipped.

        Raises
        ------
        SignalError
            ``duration`` or ``dt`` not > 0, or the arrays of unequal length.
        """
        t = np.asarray(times, dtype=np.float64)
        x = np.asarray(values, dtype=np.float64)
        if t.shape != x.shape or t.ndim != 1:
            raise SignalError(f"intensity times and values differ in shape ({t.shape}, {x.shape})")
        if not (math.isfinite(duration) and duration > 0 and math.isfinite(dt) and dt > 0):
            raise SignalError(f"intensity course needs duration > 0 and dt > 0 ({duration}, {dt})")
        keep = np.isfinite(t) & np.isfinite(x)
        t, x = t[keep], np.clip(x[keep], 0.0, 1.0)
        order = np.argsort(t, kind="stable")
        t, x = t[order], x[order]
        starts = np.arange(max(1, math.ceil(duration / dt - 1e-9))) * dt
        index = np.searchsorted(t, starts + 1e-9, side="right") - 1
        level = np.where(index >= 0, x[np.maximum(index, 0)], 0.0)
        before = np.concatenate(([0.0], level[:-1]))
        rise = np.maximum(level - before, 0.0)
        fell = np.nonzero(level < before)[0]
        falls = tuple((int(k), float(level[k] / before[k])) for k in fell)
        return cls(float(dt), level, rise, falls)


@dataclass(frozen=True)
class MeanParams:
    """The parameters of the mean response (fields of :class:`TwinProfile`, same units)."""

    resting_hr: float = 70.0
    max_hr_gain: float = 45.0
    resting_scl: float = 4.0
    max_scl_gain: float = 4.0
    scl_lag: float = 15.0
    scr_rate_rest: float = 1.0
    scr_rate_max: float = 8.0
    reactivity: float = 1.0
    response_lag: float = 8.0
    habituation_tau: float = 240.0
    habituation_floor: float = 0.5
    suds_scale: float = 1.0
    scr_amplitude: float = 0.3
    eda_noise_us: float = 0.005
    """SD of the white noise on the raw EDA samples, µS (lowers the SCL envelope)."""
    hr_variance: float = 4.0**2 / 2.0 + 1.5**2
    """Variance of the beat-to-beat rate around its mean (RSA and HRV), bpm²."""

    @classmethod
    def from_profile(cls, profile: TwinProfile, session: int | None = None) -> MeanParams:
        """The mean-response parameters of ``profile`` in session ``session`` of its course."""
        p = profile.in_session(session)
        values = {
            name: float(getattr(p, name))
            for name in cls.__dataclass_fields__
            if name != "hr_variance"
        }
        return cls(**values, hr_variance=p.hrv_rsa_bpm**2 / 2.0 + p.hrv_sd_bpm**2)


@dataclass(frozen=True)
class MeanTrace:
    """The mean response on the grid; ``t`` are the grid's end times (s from the start)."""

    t: np.ndarray
    arousal: np.ndarray
    heart_rate: np.ndarray
    scl: np.ndarray
    scr_per_min: np.ndarray  #: SCRs per minute the EDA extractor detects
    suds_scale: float
    hr_variance: float = 0.0
    scl_floor: np.ndarray | None = None  #: phasic floor of the SCL envelope on the grid, µS
    scl_noise: float = 0.0  #: how far the noise lowers the SCL envelope, µS
    scl_skips: tuple[np.ndarray, np.ndarray] | None = None
    """Per grid step, seconds the SCL envelope's window starts late and ends early
    (:func:`envelope_skips`); ``None``: the plain 10 s trailing window."""

    def _integral(self, values: np.ndarray, at: np.ndarray) -> np.ndarray:
        """``int_0^at values dt`` (piecewise constant per step; 0 before the start)."""
        dt = float(self.t[0])
        cum = np.concatenate(([0.0], np.cumsum(values) * dt))
        grid = np.concatenate(([0.0], self.t))
        return np.interp(np.clip(at, 0.0, grid[-1]), grid, cum)

    def _window_mean(self, values: np.ndarray, at: np.ndarray, width: float, late: float):
        hi = np.maximum(np.asarray(at, dtype=np.float64) - late, 1e-6)
        lo = np.maximum(hi - width, 0.0)
        span = np.maximum(hi - lo, 1e-6)
        return (self._integral(values, hi) - self._integral(values, lo)) / span

    def hr_feature(self, at: np.ndarray) -> np.ndarray:
        """The features' heart rate at times ``at`` (s), bpm."""
        mean = self._window_mean(self.heart_rate, at, HR_WINDOW, BEAT_DELAY)
        return mean + self.hr_variance / mean

    def scl_feature(self, at: np.ndarray) -> np.ndarray:
        """The features' SCL at times ``at``: the tonic minimum over the last 10 s, less
        the window's ends that SCRs cover (:func:`envelope_skips`), plus the phasic floor,
        less the noise's share of the minimum, µS."""
        if self.scl_skips is None:
            n = max(1, round(SCL_WINDOW / float(self.t[0])))
            low = minimum_filter1d(self.scl, n, mode="nearest", origin=(n - 1) // 2)
        else:
            early, late = self.scl_skips
            low = _window_min(self.t, self.scl, self.t - SCL_WINDOW + early, self.t - late)
        if self.scl_floor is not None:
            low = low + self.scl_floor
        low = low - self.scl_noise
        return np.interp(np.asarray(at, dtype=np.float64) - SCL_DELAY, self.t, low)

    def scr_feature(self, at: np.ndarray, live: np.ndarray | None = None) -> np.ndarray:
        """The features' SCR rate at times ``at``: expected onsets in the last 60 s.

        ``live``: per grid step, the share of it in which the extractor could count SCRs
        (0 where a motion artefact or a dropout hid them); ``None``: all of it.
        """
        at = np.asarray(at, dtype=np.float64)
        rate = self.scr_per_min if live is None else self.scr_per_min * live
        lo = np.maximum(at - SCR_WINDOW, 0.0)
        return (self._integral(rate, at) - self._integral(rate, lo)) / 60.0

    def suds(self, at: np.ndarray) -> np.ndarray:
        """SUDS (0-100) the twin would answer at times ``at``."""
        a = np.interp(at, self.t, self.arousal)
        return 100.0 * np.clip(self.suds_scale * a, 0.0, 1.0)


def envelope_skips(
    rate_at_start: np.ndarray,
    rate_at_end: np.ndarray,
    slope: np.ndarray,
    scr_amplitude: float = 0.3,
) -> tuple[np.ndarray, np.ndarray]:
    """Seconds the SCL envelope's window starts late and ends early (module docstring).

    ``rate_at_start`` and ``rate_at_end``: SCRs per minute at the window's two ends;
    ``slope``: the tonic level's mean change over the window, µS/s (its size counts).
    Larger SCRs cover the minimum as a steeper level would be uncovered: the laws hold
    for 0.3 µS, and the slope counts per 0.3 µS of ``scr_amplitude``. The two skips
    together never exceed the window: where they would (a level that hardly moves, where
    the minimum's place does not matter), both are scaled down to meet.
    """
    per = 0.3 / max(scr_amplitude, 1e-6)
    size = np.maximum(np.abs(np.asarray(slope, dtype=np.float64)) * per, 1e-4) / 0.01
    early = _skip(SCL_RISE_SKIP, rate_at_start, size)
    late = _skip(SCL_FALL_SKIP, rate_at_end, size)
    scale = np.minimum(1.0, SCL_WINDOW / np.maximum(early + late, 1e-12))
    return early * scale, late * scale


def _skip(law: tuple[float, float, float], rate: np.ndarray, size: np.ndarray) -> np.ndarray:
    gain, rate_power, slope_power = law
    r = np.maximum(np.asarray(rate, dtype=np.float64), 0.0)
    return np.asarray(gain * r**rate_power * size**slope_power)


def _window_ago(x: np.ndarray, dt: float, before: float) -> np.ndarray:
    """``x`` one SCL window earlier on the grid (``before`` before the start)."""
    n = min(x.size, max(1, round(SCL_WINDOW / dt)))
    return np.concatenate((np.full(n, before), x[: x.size - n]))


def _window_min(t: np.ndarray, y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Minimum of ``y`` (linear between the grid's end times ``t = dt, 2 dt, ...``,
    ``y[0]`` at 0) over ``[lo_k, hi_k]`` for each ``k``: the smaller of the two ends and
    of the grid points strictly inside. Those are a range-minimum query: the smaller of
    two overlapping minima over the largest power-of-two width that fits (a sparse table).
    """
    values = np.concatenate(([y[0]], y))
    index = np.arange(values.size, dtype=np.float64)
    lo = np.clip(lo / float(t[0]), 0.0, index[-1])  # in grid steps
    hi = np.clip(np.maximum(hi / float(t[0]), lo), 0.0, index[-1])
    out = np.minimum(np.interp(lo, index, values), np.interp(hi, index, values))
    first = np.floor(lo + 1e-9).astype(np.int64) + 1
    width = np.ceil(hi - 1e-9).astype(np.int64) - first  # grid points strictly inside
    if not (width > 0).any():
        return out
    level = np.log2(np.maximum(width, 1)).astype(np.int64)
    ahead, span = values, 1  # ahead[j] = min(values[j : j + span])
    for lv in range(int(level.max()) + 1):
        if lv:
            ahead = np.concatenate((np.minimum(ahead[:-span], ahead[span:]), ahead[-span:]))
            span *= 2
        rows = np.nonzero((level == lv) & (width > 0))[0]
        if rows.size:
            f = first[rows]
            inner = np.minimum(ahead[f], ahead[f + width[rows] - span])
            out[rows] = np.minimum(out[rows], inner)
    return out


def _unhabituated(course: IntensityCourse, tau: float, floor: float) -> np.ndarray:
    """``u = I h`` after each step (module docstring), solved between falls by lfilter."""
    lam = math.exp(-course.dt / tau)
    drive = lam * course.rise + floor * (1.0 - lam) * course.level
    out = np.empty_like(course.level)
    bounds = [0, *(k for k, _ in course.falls), course.level.size]
    scales = dict(course.falls)
    previous = 0.0
    for start, stop in itertools.pairwise(bounds):
        if stop <= start:
            continue
        zi = [lam * scales.get(start, 1.0) * previous]
        out[start:stop], _ = lfilter([1.0], [1.0, -lam], drive[start:stop], zi=zi)
        previous = float(out[stop - 1])
    return out


def _lag(target: np.ndarray, start: float, dt: float, tau: float) -> np.ndarray:
    """First-order lag: ``y <- y + (x - y)(1 - exp(-dt/tau))`` per step from ``start``."""
    lam = math.exp(-dt / tau)
    y, _ = lfilter([1.0 - lam], [1.0, -lam], target, zi=[lam * start])
    return np.asarray(y)


def mean_response(course: IntensityCourse, p: MeanParams) -> MeanTrace:
    """The twin's deterministic response to ``course`` with parameters ``p``.

    Pure and vectorised; the state starts at rest (``h = 1``, ``a = 0``, SCL at rest).
    """
    u = _unhabituated(course, p.habituation_tau, p.habituation_floor)
    target = np.minimum(1.0, p.reactivity * u)
    arousal = _lag(target, 0.0, course.dt, p.response_lag)
    scl_target = p.resting_scl + p.max_scl_gain * arousal
    scl = _lag(scl_target, p.resting_scl, course.dt, p.scl_lag)
    rate = p.scr_rate_rest + (p.scr_rate_max - p.scr_rate_rest) * arousal
    return MeanTrace(
        course.end_times,
        arousal,
        np.clip(p.resting_hr + p.max_hr_gain * arousal, 30.0, 200.0),
        scl,
        rate * np.exp(-rate * (SCR_DEAD_TIME / 60.0)),
        p.suds_scale,
        p.hr_variance,
        p.scr_amplitude * SCL_FLOOR_GAIN * np.maximum(rate, 0.0) ** SCL_FLOOR_POWER,
        SCL_NOISE_MIN * max(p.eda_noise_us, 0.0),
        envelope_skips(
            _window_ago(rate, course.dt, p.scr_rate_rest),
            rate,
            (scl - _window_ago(scl, course.dt, p.resting_scl)) / SCL_WINDOW,
            p.scr_amplitude,
        ),
    )
