"""Causal, stateful electrodermal activity (EDA) extraction: tonic level and SCRs.

:class:`EdaExtractor` takes skin-conductance chunks in µS. The signal is low-passed
(Butterworth order 2 at 1 Hz, state carried between chunks). The tonic skin conductance
level (:attr:`EdaExtractor.scl`) is the causal lower envelope: the minimum of the
low-passed signal over the last 10 s. Its rise over the last 1 s (clipped at >= 0) is the
tonic ramp, which is subtracted from the signal's slope so that SCRs riding on a rising
tonic level (e.g. at an exposure step) still show a peak (trough-to-peak method on the
ramp-relative slope):

* a candidate onset is where the slope last rose above ``max(0.004, scr_threshold_us / 5)``
  µS/s (a small threshold, above realistic residual drift of ~0.1 µS/min);
* a rise starts when the slope exceeds ``max(0.008, scr_threshold_us / 2)`` µS/s, and its
  onset is the latest candidate onset;
* the peak is where the slope returns to <= 0; the SCR is reported then (about 1.5 s after
  onset for a typical 0.75/2 s Bateman response: at its peak plus the low-pass delay, not
  as soon as it crosses the amplitude threshold), if its amplitude (peak minus onset
  level, minus the tonic ramp over the rise) is ``>= scr_threshold_us`` and its rise time
  is within 0.5-5 s.

Results do not depend on how the signal is cut into chunks.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.ndimage import minimum_filter1d
from scipy.signal import butter

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
_ONSET_SLOPE = 0.004  # µS/s: above realistic tonic drift (~0.1 µS/min = 0.0017 µS/s)
_RISE_SLOPE = 0.008  # µS/s: a 0.05 µS SCR peaks at ~0.04 µS/s
_SCL_WINDOW_S = 10.0
_TONIC_SLOPE_LAG_S = 1.0
_RISE_MIN_S = 0.5
_RISE_MAX_S = 5.0
_RATE_MEMORY_S = 3600.0


@dataclass(frozen=True, slots=True)
class SkinResponse:
    """One skin conductance response.

    Attributes
    ----------
    onset : float
        SCR onset time (s).
    peak_time : float
        Time of the SCR peak (s).
    amplitude_us : float
        Peak minus onset level (µS).
    rise_time : float
        ``peak_time - onset`` (s).
    onset_sample : int
        Onset index counted from the first sample ever given.
    """

    onset: float
    peak_time: float
    amplitude_us: float
    rise_time: float
    onset_sample: int


class EdaExtractor:
    """Streaming SCR detector and tonic level (SCL) estimator.

    Parameters
    ----------
    sampling_rate : float
        Samples per second, 4-1000 Hz.
    scr_threshold_us : float
        Minimal SCR amplitude in µS (default 0.01).

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
        self._slope_onset = max(_ONSET_SLOPE, 0.2 * thr)
        self._slope_rise = max(_RISE_SLOPE, 0.5 * thr)
        self._sos = butter(2, _LOWPASS_HZ, btype="lowpass", fs=self.sampling_rate, output="sos")
        self._scl_len = max(1, round(_SCL_WINDOW_S * self.sampling_rate))
        self._lag = max(1, round(_TONIC_SLOPE_LAG_S * self.sampling_rate))
        self.reset()

    def reset(self) -> None:
        """Forget all state, as if newly constructed."""
        self._lp = SosState(self._sos)
        self._last_value = 0.0
        self._last_time: float | None = None
        self._n = 0
        self._prev_y = 0.0
        self._prev_t = 0.0
        self._prev_d = 0.0
        self._trough: tuple[int, float, float] | None = None  # (sample, time, level)
        self._onset: tuple[int, float, float] | None = None
        self._prev_r = 0.0
        self._hist = History(2, max(self._scl_len, self._lag) + 1)
        self._peaks: deque[float] = deque()

    def update(self, samples: ArrayLike, timestamps: ArrayLike) -> list[SkinResponse]:
        """Consume one chunk of skin conductance (µS) and return SCRs confirmed in it.

        Parameters
        ----------
        samples : array_like
            1-D skin conductance in µS. NaN/inf are held at the last finite value.
        timestamps : array_like
            1-D sample times in seconds, same length, non-decreasing.

        Returns
        -------
        list of SkinResponse
            SCRs whose peak was confirmed during this chunk, in time order.

        Raises
        ------
        SignalError
            If the arrays are not 1-D, differ in length or the timestamps are invalid.
        """
        x, t = as_chunk(samples, timestamps, self._last_time, "EdaExtractor.update")
        if x.size == 0:
            return []
        if self._lp.zi is None:
            finite = x[np.isfinite(x)]
            self._last_value = float(finite[0]) if finite.size else 0.0
            self._lp.start(self._last_value)
            self._prev_y = self._last_value
            self._prev_t = float(t[0])
        x, self._last_value = fill_nonfinite(x, self._last_value)
        y = self._lp.filter(x)
        scl, ramp = self._tonic(y)
        yy = np.concatenate(([self._prev_y], y))
        tt = np.concatenate(([self._prev_t], t))
        rr = np.concatenate(([self._prev_r], ramp))
        d = np.diff(yy) * self.sampling_rate - ramp  # slope relative to the tonic ramp
        dd = np.concatenate(([self._prev_d], d))
        out = self._scan(yy, tt, dd, rr)
        self._hist.append(y, scl)
        self._n += x.size
        self._prev_y, self._prev_t, self._prev_d = float(y[-1]), float(t[-1]), float(d[-1])
        self._prev_r = float(ramp[-1])
        self._last_time = float(t[-1])
        return out

    def _tonic(self, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Causal lower envelope (min over the last 10 s) and its rising slope (µS/s)."""
        n0 = self._hist.end
        old = self._hist.rows(0, n0 - self._scl_len + 1, n0)
        seg = np.concatenate((old, y))
        size = self._scl_len
        env = minimum_filter1d(seg, size, mode="nearest", origin=(size - 1) // 2)[old.size :]
        past = self._hist.rows(1, n0 - self._lag, n0)
        lagged = np.concatenate((past, env))
        if past.size < self._lag:  # stream start: the first level stands for the past
            lagged = np.concatenate((np.full(self._lag - past.size, lagged[0]), lagged))
        ramp = (lagged[self._lag :] - lagged[: -self._lag]) * (self.sampling_rate / self._lag)
        return env, np.maximum(ramp, 0.0)

    def _scan(
        self, yy: FloatArray, tt: FloatArray, dd: FloatArray, rr: FloatArray
    ) -> list[SkinResponse]:
        """Walk the slope events of one chunk (index i in ``dd`` = sample ``n0 + i - 1``)."""
        before, after = dd[:-1], dd[1:]
        up0 = (before <= self._slope_onset) & (after > self._slope_onset)
        upon = (before <= self._slope_rise) & (after > self._slope_rise)
        down0 = (before > 0.0) & (after <= 0.0)
        idx = np.flatnonzero(up0 | upon | down0)
        out: list[SkinResponse] = []
        n0 = self._n - 1  # absolute sample of yy[0]
        for i in idx.tolist():
            # slope between yy[i] and yy[i + 1] changed; yy[i] is the turning sample.
            if up0[i] and self._onset is None:
                self._trough = (n0 + i, float(tt[i]), float(yy[i]))
            if upon[i] and self._onset is None:
                self._onset = self._trough or (n0 + i, float(tt[i]), float(yy[i]))
            if down0[i] and self._onset is not None:
                scr = self._finish(self._onset, float(tt[i]), float(yy[i]), float(rr[i]))
                self._onset = None
                self._trough = None
                if scr is not None:
                    out.append(scr)
        return out

    def _finish(
        self,
        onset: tuple[int, float, float],
        peak_time: float,
        peak_level: float,
        ramp: float,
    ) -> SkinResponse | None:
        sample, time, level = onset
        rise = peak_time - time
        amplitude = peak_level - level - ramp * rise
        if amplitude < self.scr_threshold_us or not _RISE_MIN_S <= rise <= _RISE_MAX_S:
            return None
        self._peaks.append(peak_time)
        while self._peaks and self._peaks[0] < peak_time - _RATE_MEMORY_S:
            self._peaks.popleft()
        return SkinResponse(
            onset=time,
            peak_time=peak_time,
            amplitude_us=amplitude,
            rise_time=rise,
            onset_sample=max(sample, 0),
        )

    @property
    def scl(self) -> float | None:
        """Tonic skin conductance level (µS): minimum of the low-passed signal over the
        last 10 s; None before any sample."""
        if self._hist.end == 0:
            return None
        return float(self._hist.data[1, -1])

    def scr_rate(self, now: float, window: float = 60.0) -> float:
        """SCRs per minute whose peak lies in ``(now - window, now]``.

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
        count = sum(1 for p in self._peaks if now - window < p <= now)
        return count * 60.0 / window


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
