"""Causal, stateful electrodermal activity (EDA) extraction: tonic level and SCRs.

:class:`EdaExtractor` takes skin-conductance chunks in µS. The signal ``y`` is low-passed
(Butterworth order 2 at 1 Hz, state carried between chunks). The tonic skin conductance
level (:attr:`EdaExtractor.scl`) is the causal lower envelope: the minimum of ``y`` over
the last 10 s. The tonic ramp ``r`` is the larger of (a) the envelope's rise over 1 s,
held for 1.5 s (a step of the envelope, an old minimum leaving the window, is no ramp)
and (b) the smallest 1-s slope of ``y`` over the last 3 s (a rise held that long is
tonic, not the start of an SCR); ``Z``, the running integral of ``r``, is removed:
``w = y - Z``.

SCR detection is trough-to-peak scoring with the earlier response's course
extrapolated (decomposition methods such as Benedek & Kaernbach 2010 separate
overlapping responses by their decay; this is a causal, local version of that idea):

* the *decay-compensated slope* ``v = w' + w / tau`` (``tau`` = 1 s, shorter than any
  SCR recovery) is constant on an exponential decay with time constant ``tau``, falls
  on the slower decays and late rises of real responses, and jumps up where a new
  response starts, also on top of an earlier one that is still rising or decaying;
* the candidate onset for a sample is the latest point of the last 0.75 s (searched on
  a grid of at most 32 Hz) where ``v`` is below all later values and within about one
  noise SD of the window's minimum; after a flag, not before the top of ``v`` in the
  second after it (that belongs to the flagged response);
* from the onset ``(t0, w0, w0')`` the signal without a new response is extrapolated as
  ``w0 + s * tau * (1 - exp(-(t - t0) / tau))``, where ``s`` is ``w0'`` shrunk towards 0
  by a dead band of two noise SDs of the slope (slope noise at rest is no decay). The
  rise ``e`` of ``w`` above that extrapolation is the response so far;
* the SCR is *flagged* (returned by :meth:`EdaExtractor.update`) at the first sample
  where ``e`` reaches ``max(scr_threshold_us, 7 * noise)``, ``noise`` being the
  low-passed signal's noise SD, estimated causally from the mean absolute second
  difference of the raw samples (the larger of 2 s and 0.25 s averages, so that noise
  bursts raise the bar at once);
* it is *completed* (peak time, amplitude = maximal ``e``, rise time) once ``e`` has
  fallen from its maximum by ``max(10 %, threshold / 2)``, when the next SCR is flagged,
  or 5 s after its onset, whichever comes first; completed SCRs are collected with
  :meth:`EdaExtractor.drain_completed`.

The extrapolated decay is deliberately conservative (it falls more slowly than real
recoveries), so amplitudes of responses on an earlier one's decay are underestimated,
never overestimated. Results do not depend on how the signal is cut into chunks.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.ndimage import minimum_filter1d
from scipy.signal import butter, sosfilt

from biosignals._stream import (
    FloatArray,
    History,
    SosState,
    as_chunk,
    check_rate,
    fill_nonfinite,
)
from biosignals.errors import SignalError

__all__ = ["EdaExtractor", "SkinResponse", "detect_scr"]

_LOWPASS_HZ = 1.0
_SCL_WINDOW_S = 10.0
_TONIC_SLOPE_LAG_S = 1.0
_RAMP_HOLD_S = 1.5  # a tonic ramp counts once held this long
_PERSIST_S = 3.0  # a rise held by every 1-s slope over 3 s is tonic
_ONSET_WINDOW_S = 0.75  # onsets are searched in the last 0.75 s ...
_ONSET_GRID_HZ = 32.0  # onsets are searched on a grid of at most 32 Hz
_BLOCK_ROWS = 2048  # samples evaluated at once (bounds memory at high rates)
_VPEAK_S = 1.0  # ... after the top of v within 1 s after the last flag
_DECAY_S = 1.0  # tau of the decay extrapolation (< any SCR recovery time constant)
_SLOPE_DEADBAND = 0.005  # µS/s: onset slopes within this of 0 count as "at rest" ...
_SLOPE_DEADBAND_K = 2.0  # ... or within 2 noise SDs of the slope
_NOISE_K = 7.0  # flag threshold >= 7 SDs of the low-passed noise
_NOISE_S = (2.0, 0.25)  # time constants of the noise estimate (the larger one counts)
_ONSET_MAX_S = 5.0  # an SCR is completed at most 5 s after its onset
_PEAK_DROP = 0.1  # peak confirmed after a fall of 10 % of the amplitude (or thr / 2)
_RATE_MEMORY_S = 3600.0

try:  # SciPy's compiled kernel behind minimum_filter1d, without the per-call checks
    from scipy.ndimage import _nd_image
    from scipy.ndimage._ni_support import _extend_mode_to_code

    _NEAREST = _extend_mode_to_code("nearest")
except ImportError:  # pragma: no cover - other SciPy layouts use the public function
    _nd_image = None
    _NEAREST = 0

_MAD2_TO_SD = 1.0 / (math.sqrt(2.0 / math.pi) * math.sqrt(6.0))  # mean |2nd diff| -> SD


@dataclass(frozen=True, slots=True)
class SkinResponse:
    """One skin conductance response, flagged early and completed at its peak.

    Attributes
    ----------
    onset : float
        SCR onset time (s).
    onset_sample : int
        Onset index counted from the first sample ever given.
    flag_time : float
        Time of the sample at which the rise since the onset reached the threshold (s).
    amplitude_us : float
        Rise above the extrapolated pre-onset course (µS): at ``flag_time`` while
        incomplete, at the peak once complete.
    peak_time : float or None
        Time of the SCR peak (s); None until complete.
    rise_time : float or None
        ``peak_time - onset`` (s); None until complete.
    complete : bool
        Whether the peak has been confirmed.
    """

    onset: float
    onset_sample: int
    flag_time: float
    amplitude_us: float
    peak_time: float | None = None
    rise_time: float | None = None
    complete: bool = False


@dataclass(slots=True)
class _Candidate:
    """A candidate onset: absolute sample, time, ``w`` and shrunk slope there."""

    sample: int
    time: float
    w: float
    slope: float


@dataclass(slots=True)
class _Open:
    """The flagged, not yet complete response and its running maximum rise."""

    start: _Candidate
    response: SkinResponse
    best: float
    best_time: float


class EdaExtractor:
    """Streaming SCR detector and tonic level (SCL) estimator.

    Parameters
    ----------
    sampling_rate : float
        Samples per second, 4-1000 Hz.
    scr_threshold_us : float
        Minimal SCR amplitude in µS (default 0.01): the rise since the onset at which an
        SCR is flagged.

    Raises
    ------
    SignalError
        If ``sampling_rate`` is outside 4-1000 Hz or the threshold is not positive.
    """

    def __init__(self, sampling_rate: float, scr_threshold_us: float = 0.01) -> None:
        self.sampling_rate = check_rate(sampling_rate, 4.0, 1000.0, "EdaExtractor")
        thr = float(scr_threshold_us)
        if not math.isfinite(thr) or thr <= 0.0:
            raise SignalError(
                "EdaExtractor: scr_threshold_us must be a positive number, "
                f"got {scr_threshold_us!r}"
            )
        self.scr_threshold_us = thr
        fs = self.sampling_rate
        self._sos = butter(2, _LOWPASS_HZ, btype="lowpass", fs=fs, output="sos")
        impulse = np.zeros(max(64, round(20.0 * fs)))
        impulse[0] = 1.0
        lp_gain = float(np.sqrt(np.sum(sosfilt(self._sos, impulse) ** 2)))
        slope_gain = float(np.sqrt(np.sum((np.diff(sosfilt(self._sos, impulse)) * fs) ** 2)))
        self._noise_gain = _NOISE_K * _MAD2_TO_SD * lp_gain
        self._band_gain = _SLOPE_DEADBAND_K * _MAD2_TO_SD * slope_gain
        alphas = [1.0 - math.exp(-1.0 / (tau * fs)) for tau in _NOISE_S]
        self._noise_sos = [np.array([[a, 0.0, 0.0, 1.0, a - 1.0, 0.0]]) for a in alphas]
        self._scl_len = max(1, round(_SCL_WINDOW_S * fs))
        self._lag = max(1, round(_TONIC_SLOPE_LAG_S * fs))
        self._ramp_len = max(1, round(_RAMP_HOLD_S * fs))
        self._look = max(2, round(_ONSET_WINDOW_S * fs))
        self._stride = max(1, round(fs / _ONSET_GRID_HZ))
        self._persist = max(1, round(_PERSIST_S * fs))
        self._persist_noise = 0.0 * math.sqrt(2.0) * _MAD2_TO_SD * lp_gain / _TONIC_SLOPE_LAG_S
        self.reset()

    def reset(self) -> None:
        """Forget all state, as if newly constructed."""
        self._lp = SosState(self._sos)
        self._noise = [SosState(sos) for sos in self._noise_sos]
        self._last_value = 0.0
        self._last_time: float | None = None
        self._n = 0
        self._x2 = np.zeros(2)  # last two raw samples
        self._prev = np.zeros(4)  # w, time, shrunk slope, trend Z of the last sample
        self._virtual = np.zeros(4)  # (w, slope, time, v) before the first sample
        self._flagged_sample = -(1 << 62)  # onset sample of the last flagged SCR
        # max of v within 1 s after the last flag, its sample, and the end of that second
        self._vpeak = (math.inf, -(1 << 62), -math.inf)
        self._open: _Open | None = None
        keep = max(self._scl_len, self._lag, self._ramp_len, self._look) + 1
        keep = max(keep, self._lag + self._persist)
        # rows: y, scl, raw ramp, w, shrunk slope, t, v, 1-s slope of y
        self._hist = History(8, keep)
        self._onsets: deque[float] = deque()
        self._completed: list[SkinResponse] = []

    def update(self, samples: ArrayLike, timestamps: ArrayLike) -> list[SkinResponse]:
        """Consume one chunk of skin conductance (µS) and return the SCRs flagged in it.

        An SCR is flagged as soon as its rise since the onset reaches the threshold;
        the returned :class:`SkinResponse` is incomplete (``complete`` False, no peak).
        Its completed version follows from :meth:`drain_completed` once the peak is
        confirmed.

        Parameters
        ----------
        samples : array_like
            1-D skin conductance in µS. NaN/inf are held at the last finite value.
        timestamps : array_like
            1-D sample times in seconds, same length, non-decreasing.

        Returns
        -------
        list of SkinResponse
            SCRs flagged during this chunk, in time order.

        Raises
        ------
        SignalError
            If the arrays are not 1-D, differ in length or the timestamps are invalid.
        """
        x, t = as_chunk(samples, timestamps, self._last_time, "EdaExtractor.update")
        if x.size == 0:
            return []
        if self._lp.zi is None:
            self._start(x, float(t[0]))
        x, self._last_value = fill_nonfinite(x, self._last_value)
        y = self._lp.filter(x)
        x3 = np.concatenate((self._x2, x))
        self._x2 = x3[-2:].copy()
        d2 = np.abs(x3[2:] - 2.0 * x3[1:-1] + x3[:-2])
        mad = np.maximum(self._noise[0].filter(d2), self._noise[1].filter(d2))
        scl, ramp, raw_ramp = self._tonic(y)
        sec_slope, persist = self._persistent_rise(y, mad)
        ramp = np.maximum(ramp, persist)
        w, slope, thr, v, tol = self._features(y, t, ramp, mad)
        ext = np.concatenate((self._past(), np.stack((w, slope, t, v))), axis=1)
        flagged = self._scan(ext[0], ext[1], ext[2], ext[3], thr, tol)
        self._hist.append(y, scl, raw_ramp, w, slope, t, v, sec_slope)
        self._n += x.size
        self._last_time = float(t[-1])
        return flagged

    def drain_completed(self) -> list[SkinResponse]:
        """Return (and forget) the SCRs completed since the last call, in time order.

        Each is the completed version (``complete`` True, with peak time, amplitude at
        the peak and rise time) of an SCR returned earlier by :meth:`update`.
        """
        out, self._completed = self._completed, []
        return out

    def _start(self, x: FloatArray, t0: float) -> None:
        finite = x[np.isfinite(x)]
        self._last_value = float(finite[0]) if finite.size else 0.0
        self._lp.start(self._last_value)
        for ema in self._noise:
            ema.start(0.0)
        self._x2[:] = self._last_value
        self._prev[:] = (self._last_value, t0, 0.0, 0.0)
        self._virtual[:] = (self._last_value, 0.0, t0, self._last_value / _DECAY_S)

    def _tonic(self, y: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Causal lower envelope (min over the last 10 s), its held rising slope (µS/s)
        and the raw rising slope (kept in the history)."""
        n0 = self._hist.end
        old = self._hist.rows(0, n0 - self._scl_len + 1, n0)
        seg = np.concatenate((old, y))
        size = self._scl_len
        env = _trailing_min(seg, size)[old.size :]
        past = self._hist.rows(1, n0 - self._lag, n0)
        lagged = np.concatenate((past, env))
        if past.size < self._lag:  # stream start: the first level stands for the past
            lagged = np.concatenate((np.full(self._lag - past.size, lagged[0]), lagged))
        ramp = (lagged[self._lag :] - lagged[: -self._lag]) * (self.sampling_rate / self._lag)
        # a rise held for longer than the lag: a step of the envelope (an old minimum
        # leaving the window) is no tonic ramp
        held = self._hist.rows(2, n0 - self._ramp_len + 1, n0)
        seg = np.concatenate((held, np.maximum(ramp, 0.0)))
        size = self._ramp_len
        steady = _trailing_min(seg, size)
        return env, steady[held.size :], seg[held.size :]

    def _persistent_rise(self, y: FloatArray, mad: FloatArray) -> tuple[FloatArray, FloatArray]:
        """1-s slopes of ``y`` and the rise held by all of them over the last 3 s (less
        their noise): a rise that long is tonic, not the start of an SCR."""
        n0, lag = self._hist.end, self._lag
        past = self._hist.rows(0, n0 - lag, n0)
        yy = np.concatenate((past, y))
        if past.size < lag:
            yy = np.concatenate((np.full(lag - past.size, yy[0]), yy))
        sec = (yy[lag:] - yy[:-lag]) * (self.sampling_rate / lag)
        held = self._hist.rows(7, n0 - self._persist + 1, n0)
        seg = np.concatenate((held, sec))
        size = self._persist
        low = _trailing_min(seg, size)[held.size :]
        return sec, np.maximum(low - self._persist_noise * mad, 0.0)

    def _features(
        self, y: FloatArray, t: FloatArray, ramp: FloatArray, mad: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
        """Per-sample ``w``, shrunk slope, flag threshold, ``v`` and onset tolerance."""
        fs = self.sampling_rate
        thr = np.maximum(self.scr_threshold_us, self._noise_gain * mad)
        band = np.maximum(_SLOPE_DEADBAND, self._band_gain * mad)
        z = np.cumsum(np.concatenate(([self._prev[3]], ramp / fs)))  # tonic trend Z
        w = y - z[1:]
        raw = np.empty_like(w)
        raw[0] = w[0] - self._prev[0]
        np.subtract(w[1:], w[:-1], out=raw[1:])
        raw *= fs
        slope = _shrink(raw, band)
        self._prev[:] = (w[-1], t[-1], slope[-1], z[-1])
        return w, slope, thr, raw + w / _DECAY_S, 0.5 * band

    def _past(self) -> FloatArray:
        """``w``, shrunk slope, time and ``v`` of the ``look - 1`` samples before the
        chunk (before the first sample: the virtual values of a signal at rest)."""
        hist, need = self._hist, self._look - 1
        got = hist.data[3:7, max(hist.end - need - hist.start, 0) :]
        if got.shape[1] < need:
            fill = np.repeat(self._virtual[:, None], need - got.shape[1], axis=1)
            got = np.concatenate((fill, got), axis=1)
        return got

    def _scan(
        self,
        w: FloatArray,
        slope: FloatArray,
        t: FloatArray,
        v: FloatArray,
        thr: FloatArray,
        tol: FloatArray,
    ) -> list[SkinResponse]:
        """Flag and complete SCRs in one chunk.

        ``w``, ``slope``, ``t`` and ``v`` hold the ``look - 1`` samples before the chunk
        and the chunk; ``thr`` the chunk only. Index ``j`` is sample ``n0 - look + 1 + j``.
        """
        size = self._look
        k = thr.size
        base = self._n - size + 1  # sample of index 0
        # an upper bound of the rise from any onset in the window: rows below it cannot
        # flag and are skipped
        low = _trailing_min(w + np.minimum(slope, 0.0) * _DECAY_S, size)
        rows = np.flatnonzero(w[size - 1 :] - low[size - 1 :] >= thr)
        out: list[SkinResponse] = []
        start = 0
        while start < k:
            rows = rows[rows >= start]
            hit = self._first_hit(w, slope, t, v, thr, tol, rows, start)
            stop = hit[0] if hit is not None else k
            self._follow(
                t[size - 1 + start : size - 1 + stop], w[size - 1 + start : size - 1 + stop]
            )
            self._track_vpeak(
                v[size - 1 + start : size - 1 + stop],
                t[size - 1 + start : size - 1 + stop],
                base + size - 1 + start,
            )
            if hit is None:
                break
            self._close()
            j, i = hit[1], size - 1 + stop
            cand = _Candidate(base + j, float(t[j]), float(w[j]), float(slope[j]))
            resp = SkinResponse(
                onset=cand.time,
                onset_sample=max(cand.sample, 0),
                flag_time=float(t[i]),
                amplitude_us=hit[2],
            )
            self._open = _Open(cand, resp, resp.amplitude_us, resp.flag_time)
            self._flagged_sample = cand.sample
            self._vpeak = (float(v[i]), base + i, resp.flag_time + _VPEAK_S)
            self._remember(cand.time)
            out.append(resp)
            start = stop + 1
        return out

    def _first_hit(
        self,
        w: FloatArray,
        slope: FloatArray,
        t: FloatArray,
        v: FloatArray,
        thr: FloatArray,
        tol: FloatArray,
        rows: NDArray[np.intp],
        start: int,
    ) -> tuple[int, int, float] | None:
        """First chunk position among ``rows`` (all >= ``start``) whose rise reaches the
        threshold from a new onset: (position, onset index, rise), or None."""
        if rows.size == 0:
            return None
        size = self._look
        base = self._n - size + 1
        floor = self._floor(v, t, start)
        for a in range(0, rows.size, _BLOCK_ROWS):
            pos = rows[a : a + _BLOCK_ROWS]
            onset = self._find_onsets(v, tol[pos], pos + size - 1, floor[pos - start])
            age = t[pos + size - 1] - t[onset]
            e = w[pos + size - 1] - w[onset] - slope[onset] * _DECAY_S * -np.expm1(-age / _DECAY_S)
            ok = np.flatnonzero((e >= thr[pos]) & (onset + base > self._flagged_sample))
            if ok.size:
                q = int(ok[0])
                return int(pos[q]), int(onset[q]), float(e[q])
        return None

    def _floor(self, v: FloatArray, t: FloatArray, start: int) -> NDArray[np.intp]:
        """For chunk positions ``start``..: the index of the top of ``v`` after the last
        flag (onsets are not searched before it)."""
        size = self._look
        base = self._n - size + 1
        peak_v, peak_at, until = self._vpeak
        last = np.arange(start + size - 1, v.size)
        if until < t[last[0]]:
            return np.full(last.size, peak_at - base)
        seg = np.where(t[last] <= until, v[last], -np.inf)
        run = np.maximum.accumulate(np.concatenate(([peak_v], seg)))[1:]
        return np.maximum.accumulate(np.where(seg >= run, last, peak_at - base))

    def _find_onsets(
        self, v: FloatArray, tol: FloatArray, last: NDArray[np.intp], floor: NDArray[np.intp]
    ) -> NDArray[np.intp]:
        """Candidate onset index for the samples at indices ``last``: the latest point of
        the window (every ``stride``-th sample back) below everything after it and near
        the window's minimum, not before ``floor``."""
        back = np.arange(0, self._look, self._stride)
        idx = last[:, None] - back
        vr = v[idx]  # column c: c * stride samples back
        vr[idx < floor[:, None]] = np.inf
        after = np.minimum.accumulate(vr, axis=1)
        low = (vr <= after) & (vr <= after[:, -1:] + tol[:, None])
        return np.asarray(last - back[np.argmax(low, axis=1)], dtype=np.intp)

    def _track_vpeak(self, v: FloatArray, t: FloatArray, first_sample: int) -> None:
        """Carry the maximum of ``v`` after the last flag over samples just scanned."""
        peak_v, _, until = self._vpeak
        v = v[t <= until]
        if v.size == 0:
            return
        j = int(np.argmax(v))
        if v[j] >= peak_v:
            self._vpeak = (float(v[j]), first_sample + j, until)

    def _follow(self, t: FloatArray, w: FloatArray) -> None:
        """Track the open SCR's rise over ``t``; complete it at its confirmed peak."""
        op = self._open
        if op is None or t.size == 0:
            return
        s = op.start
        age = t - s.time
        e = w - s.w - s.slope * _DECAY_S * -np.expm1(-age / _DECAY_S)
        best = np.maximum.accumulate(np.concatenate(([op.best], e)))[1:]
        drop = np.maximum(_PEAK_DROP * best, 0.5 * self.scr_threshold_us)
        done = np.flatnonzero((e <= best - drop) | (age > _ONSET_MAX_S))
        stop = int(done[0]) if done.size else t.size
        if stop > 0:
            seg = e[:stop]
            k = int(np.argmax(seg))
            if seg[k] > op.best:
                op.best, op.best_time = float(seg[k]), float(t[k])
        if done.size:
            self._close()

    def _close(self) -> None:
        """Complete the open SCR at its best rise so far."""
        op = self._open
        if op is None:
            return
        self._completed.append(
            dataclasses.replace(
                op.response,
                amplitude_us=op.best,
                peak_time=op.best_time,
                rise_time=op.best_time - op.start.time,
                complete=True,
            )
        )
        self._open = None

    def _remember(self, onset: float) -> None:
        self._onsets.append(onset)
        while self._onsets and self._onsets[0] < onset - _RATE_MEMORY_S:
            self._onsets.popleft()

    @property
    def scl(self) -> float | None:
        """Tonic skin conductance level (µS): minimum of the low-passed signal over the
        last 10 s; None before any sample."""
        if self._hist.end == 0:
            return None
        return float(self._hist.data[1, -1])

    def scr_rate(self, now: float, window: float = 60.0) -> float:
        """SCRs per minute flagged so far whose onset lies in ``(now - window, now]``.

        Parameters
        ----------
        now : float
            Current time on the timestamps' clock (s).
        window : float
            Window length in seconds, 0 < window <= 3600.

        Raises
        ------
        SignalError
            If ``window`` is not within (0, 3600] or ``now`` is not finite.
        """
        if not math.isfinite(now) or not 0.0 < window <= _RATE_MEMORY_S:
            raise SignalError(
                f"EdaExtractor.scr_rate: need finite now and 0 < window <= "
                f"{_RATE_MEMORY_S:g} s, got now={now!r}, window={window!r}"
            )
        count = sum(1 for p in self._onsets if now - window < p <= now)
        return count * 60.0 / window


def _trailing_min(seg: FloatArray, size: int) -> FloatArray:
    """``out[i] = min(seg[i - size + 1 : i + 1])``, the first value standing for the past."""
    if _nd_image is None:  # pragma: no cover
        return np.asarray(
            minimum_filter1d(seg, size, mode="nearest", origin=(size - 1) // 2), dtype=np.float64
        )
    out = np.empty_like(seg)
    _nd_image.min_or_max_filter1d(seg, size, 0, out, _NEAREST, 0.0, (size - 1) // 2, 1)
    return out


def _shrink(slope: FloatArray, band: FloatArray) -> FloatArray:
    """Slopes shrunk towards 0 by the dead band (noise at rest is no decay)."""
    return slope - np.minimum(np.maximum(slope, -band), band)


def detect_scr(eda: ArrayLike, sampling_rate: float) -> NDArray[np.int64]:
    """Run :class:`EdaExtractor` over a whole recording and return SCR onset indices.

    Parameters
    ----------
    eda : array_like
        1-D skin conductance in µS.
    sampling_rate : float
        Samples per second, 4-1000 Hz.

    Returns
    -------
    numpy.ndarray
        int64 onset sample indices, increasing.
    """
    x = np.asarray(eda, dtype=np.float64)
    ext = EdaExtractor(sampling_rate)
    t = np.arange(x.shape[0] if x.ndim == 1 else 0) / ext.sampling_rate
    if x.ndim != 1:
        ext.update(x, t)  # raises the SignalError naming the shape
    chunk = max(1, round(10.0 * ext.sampling_rate))
    out: list[int] = []
    for i in range(0, x.size, chunk):
        out.extend(r.onset_sample for r in ext.update(x[i : i + chunk], t[i : i + chunk]))
    return np.asarray(out, dtype=np.int64)
