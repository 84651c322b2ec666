"""Private: the per-sample feature rows of :class:`biosignals.eda.EdaExtractor`.

:class:`EdaFeatures` keeps the rows below for the samples seen so far (at least the last
``past`` of them) in one buffer whose columns are samples, and computes each new block of
samples in place after that past, so that every filter runs on one contiguous view: the
raw and low-passed signal, its noise level, the tonic level (SCL) and ramp, ``w``, its
shrunk slope, ``v``, the rise bound's base ``u``, the flag threshold and the slope dead
band (see :mod:`biosignals.eda` for the algorithm). Before the first sample the past
columns hold a signal at rest (where a look-back starts at the first sample: that
sample's value), so every block is computed the same way and results do not depend on
chunking.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy.signal import butter, sosfilt

from biosignals._stream import History, SosState, window_extreme

FloatArray = NDArray[np.float64]

_LOWPASS_HZ = 1.0
_SCL_WINDOW_S = 10.0
_TONIC_SLOPE_LAG_S = 1.0
_RAMP_HOLD_S = 1.5  # a tonic ramp counts once held this long
_PERSIST_S = 3.0  # a rise held by every 1-s slope over 3 s is tonic
_SLOPE_DEADBAND = 0.005  # µS/s: onset slopes within this of 0 count as "at rest" ...
_SLOPE_DEADBAND_K = 2.0  # ... or within 2 noise SDs of the slope
_NOISE_K = 7.0  # flag threshold >= 7 SDs of the low-passed noise
_NOISE_S = (2.0, 0.25)  # time constants of the noise estimate (the larger one counts)
_MAD2_TO_SD = 1.0 / (math.sqrt(2.0 / math.pi) * math.sqrt(6.0))  # mean |2nd diff| -> SD

ROW_X = 0  # raw sample (NaN/inf held)
ROW_Y = 1  # low-passed y
ROW_ENV = 2  # its envelope, the SCL
ROW_SEC = 3  # 1-s slope of y; SEC and RAMP are adjacent
ROW_RAMP = 4  # rise of the envelope over 1 s, >= 0 (raw ramp)
ROW_M0 = 5  # |2nd difference| of X, averaged (noise, short and long time constant)
ROW_M1 = 6
ROW_Z = 7  # tonic trend Z
ROW_W = 8  # w = y - Z
ROW_S = 9  # slope of w shrunk by the dead band
ROW_T = 10  # time
ROW_V = 11  # v = w' + w / tau (tau = 1 s, so w / tau is w)
ROW_U = 12  # w + min(slope, 0) * tau: the lowest start of an extrapolation from there
ROW_THR = 13  # flag threshold
ROW_BAND = 14  # slope dead band (half of it: the onset tolerance)
N_ROWS = 15


def trailing_min(row: FloatArray, lo: int, hi: int, size: int) -> FloatArray:
    """``min(row[i - size + 1 : i + 1])`` for columns ``i`` in ``[lo, hi)``; every window
    must lie inside ``row`` (``lo >= size - 1``)."""
    seg = row[lo - size + 1 : hi]
    if hi - lo == 1:  # one sample (a frame's): one reduction, not a filter's set-up
        return np.minimum.reduce(seg, keepdims=True)
    out = np.empty_like(seg)
    window_extreme(seg, size, out, maximum=False, mode="nearest", origin=(size - 1) // 2)
    return out[size - 1 :]


class _Constants(NamedTuple):
    """Constants as 0-d arrays (numpy takes them faster than Python floats)."""

    zero: FloatArray
    two: FloatArray
    fs: FloatArray
    gain: FloatArray  # sampling rate / samples in the 1-s lag
    thr: FloatArray  # the minimal flag threshold (µS)
    deadband: FloatArray
    noise_gain: FloatArray  # flag threshold per noise level
    band_gain: FloatArray  # slope dead band per noise level


class _Scalars(NamedTuple):
    """The constants of :class:`_Constants` that :meth:`EdaFeatures._add_one` uses, as
    Python floats."""

    fs: float
    gain: float
    thr: float
    deadband: float
    noise_gain: float
    band_gain: float


class EdaFeatures:
    """Feature rows at ``sampling_rate`` with flag threshold ``>= scr_threshold_us``,
    keeping at least ``past`` columns (>= ``look - 1``) before each new block."""

    def __init__(self, sampling_rate: float, scr_threshold_us: float, look: int) -> None:
        fs = sampling_rate
        self._scl_len = max(1, round(_SCL_WINDOW_S * fs))
        self._lag = max(1, round(_TONIC_SLOPE_LAG_S * fs))
        self._ramp_len = max(1, round(_RAMP_HOLD_S * fs))
        self._persist = max(1, round(_PERSIST_S * fs))
        self._sos = butter(2, _LOWPASS_HZ, btype="lowpass", fs=fs, output="sos")
        impulse = np.zeros(max(64, round(20.0 * fs)))
        impulse[0] = 1.0
        lp_gain = float(np.sqrt(np.sum(sosfilt(self._sos, impulse) ** 2)))
        slope_gain = float(np.sqrt(np.sum((np.diff(sosfilt(self._sos, impulse)) * fs) ** 2)))
        self._k = _Constants(
            zero=np.array(0.0),
            two=np.array(2.0),
            fs=np.array(fs),
            gain=np.array(fs / self._lag),
            thr=np.array(scr_threshold_us),
            deadband=np.array(_SLOPE_DEADBAND),
            noise_gain=np.array(_NOISE_K * _MAD2_TO_SD * lp_gain),
            band_gain=np.array(_SLOPE_DEADBAND_K * _MAD2_TO_SD * slope_gain),
        )
        k = self._k
        self._one = _Scalars(
            *(float(a) for a in (k.fs, k.gain, k.thr, k.deadband, k.noise_gain, k.band_gain))
        )
        alphas = [1.0 - math.exp(-1.0 / (tau * fs)) for tau in _NOISE_S]
        self._noise_sos = [np.array([[a, 0.0, 0.0, 1.0, a - 1.0, 0.0]]) for a in alphas]
        # every look-back fits in the kept past
        lens = (self._scl_len, self._ramp_len, self._persist, look)
        self.past = max(self._lag, *(n - 1 for n in lens))
        self.reset()

    def reset(self) -> None:
        """Forget all samples."""
        # low-pass and the two noise averages (started at the first sample)
        self._filters = [SosState(sos) for sos in (self._sos, *self._noise_sos)]
        # the ``past`` columns before the first sample, filled by :meth:`start`
        self._hist = History(N_ROWS, self.past)
        self.buf, self.c = self._hist.block(self.past)
        self.c += self.past  # column of the next sample

    def start(self, x0: float, t0: float) -> None:
        """Filter states and the columns before the first sample: at rest at ``x0``."""
        for filt, level in zip(self._filters, (x0, 0.0, 0.0), strict=True):
            filt.start(level)
        buf, c = self.buf, self.c
        buf[(ROW_X, ROW_W, ROW_V), :c] = x0
        buf[(ROW_Z, ROW_S), :c] = 0.0
        buf[ROW_T, :c] = t0
        buf[ROW_U, :c] = buf[ROW_W, :c] + np.minimum(buf[ROW_S, :c], 0.0)

    def add(self, x: FloatArray, t: FloatArray, first: bool) -> int:
        """Compute the rows of a block of samples ``x`` (finite) at times ``t``; return
        its first column. ``first``: the block starts the stream."""
        n = x.size
        self.buf, c = self._hist.block(n)  # keeps the last ``past`` columns before it
        if n == 1 and not first:  # a frame's one sample: in Python floats
            self._add_one(x.item(0), t.item(0), c)
            self.c = c + 1
            return c
        mad = self._lowpass(x, c, first)
        ramp = self._tonic(c, c + n, first)
        self._features(ramp, mad, t, c, c + n)
        self.c = c + n
        return c

    def _add_one(self, x: float, t: float, c: int) -> None:
        """:meth:`add` of one sample (not the first) in Python floats: the operations of
        :meth:`_lowpass`, :meth:`_tonic` and :meth:`_features`, in the same order (the
        same numbers; the window minima are the same reductions over the same columns)."""
        buf, f = self.buf, self._one
        y = self._filters[0].filter_one(x)
        d2 = abs(x - 2.0 * buf.item(ROW_X, c - 1) + buf.item(ROW_X, c - 2))
        m0, m1 = self._filters[1].filter_one(d2), self._filters[2].filter_one(d2)
        mad = max(m0, m1)
        lag, row_y = self._lag, buf[ROW_Y]
        row_y[c] = y
        env = float(np.minimum.reduce(row_y[c - self._scl_len + 1 : c + 1]))
        buf[ROW_SEC, c] = (y - row_y.item(c - lag)) * f.gain
        rise = (env - buf.item(ROW_ENV, c - lag)) * f.gain
        buf[ROW_RAMP, c] = max(rise, 0.0)
        steady = float(np.minimum.reduce(buf[ROW_RAMP, c - self._ramp_len + 1 : c + 1]))
        low = max(float(np.minimum.reduce(buf[ROW_SEC, c - self._persist + 1 : c + 1])), 0.0)
        ramp = max(steady, low)
        thr = max(f.thr, f.noise_gain * mad)
        band = max(f.deadband, f.band_gain * mad)
        z = buf.item(ROW_Z, c - 1) + ramp / f.fs
        w = y - z
        raw = (w - buf.item(ROW_W, c - 1)) * f.fs
        slope = raw - min(max(raw, -band), band)  # shrunk towards 0 by the dead band
        u = min(slope, 0.0) + w
        col = [x, y, env, buf.item(ROW_SEC, c), buf.item(ROW_RAMP, c), m0, m1, z, w, slope, t]
        buf[:, c] = [*col, raw + w, u, thr, band]

    def _lowpass(self, x: FloatArray, c: int, first: bool) -> FloatArray:
        """Write raw and low-passed samples; return the noise level (mean |2nd diff|)."""
        buf, e = self.buf, c + x.size
        buf[ROW_X : ROW_Y + 1, c:e] = x
        self._filters[0].filter_in_place(buf[ROW_Y : ROW_Y + 1, c:e])
        if first:  # the first level stands for the past
            buf[ROW_Y, :c] = buf[ROW_Y, c]
        raw = buf[ROW_X]
        d2 = np.subtract(raw[c:e], self._k.two * raw[c - 1 : e - 1], out=buf[ROW_M0, c:e])
        d2 += raw[c - 2 : e - 2]
        np.abs(d2, out=d2)
        buf[ROW_M1, c:e] = d2
        self._filters[1].filter_in_place(buf[ROW_M0 : ROW_M0 + 1, c:e])
        self._filters[2].filter_in_place(buf[ROW_M1 : ROW_M1 + 1, c:e])
        return np.maximum(d2, buf[ROW_M1, c:e])

    def _tonic(self, c: int, e: int, first: bool) -> FloatArray:
        """Tonic ramp: the larger of the envelope's rise held for 1.5 s and the rise held
        by all 1-s slopes of ``y`` over 3 s (writes the envelope, those slopes and the
        envelope's raw rise)."""
        buf, lag, k = self.buf, self._lag, self._k
        y, env = buf[ROW_Y], buf[ROW_ENV]
        env[c:e] = trailing_min(y, c, e, self._scl_len)
        if first:
            env[:c] = env[c]
        sec = np.subtract(y[c:e], y[c - lag : e - lag], out=buf[ROW_SEC, c:e])
        sec *= k.gain
        rise = np.subtract(env[c:e], env[c - lag : e - lag], out=buf[ROW_RAMP, c:e])
        rise *= k.gain
        np.maximum(rise, k.zero, out=rise)
        if first:
            buf[ROW_SEC : ROW_RAMP + 1, :c] = buf[ROW_SEC : ROW_RAMP + 1, c : c + 1]
        # a rise held for longer than the lag: a step of the envelope (an old minimum
        # leaving the window) is no tonic ramp
        steady = trailing_min(buf[ROW_RAMP], c, e, self._ramp_len)
        low = trailing_min(buf[ROW_SEC], c, e, self._persist)
        np.maximum(low, k.zero, out=low)
        return np.maximum(steady, low, out=steady)

    def _features(self, ramp: FloatArray, mad: FloatArray, t: FloatArray, c: int, e: int) -> None:
        """Write ``Z``, ``w``, shrunk slope, ``t``, ``v``, ``u``, the flag threshold and the
        slope dead band (tau = 1 s: ``w / tau`` is ``w``)."""
        buf, blk, k = self.buf, self.buf[:, c:e], self._k
        thr, band = blk[ROW_THR], blk[ROW_BAND]
        np.maximum(k.thr, np.multiply(k.noise_gain, mad, out=thr), out=thr)
        np.maximum(k.deadband, np.multiply(k.band_gain, mad, out=band), out=band)
        z = buf[ROW_Z, c - 1 : e]
        np.divide(ramp, k.fs, out=z[1:])
        np.add.accumulate(z, out=z)  # tonic trend Z
        w = np.subtract(blk[ROW_Y], z[1:], out=blk[ROW_W])
        raw = w - buf[ROW_W, c - 1 : e - 1]
        raw *= k.fs
        dead = np.maximum(raw, -band)  # slopes shrunk towards 0 by the dead band
        np.minimum(dead, band, out=dead)
        slope = np.subtract(raw, dead, out=blk[ROW_S])
        np.add(raw, w, out=blk[ROW_V])
        blk[ROW_T] = t
        # w + min(slope, 0) * tau: the lowest start of an extrapolation from a sample
        u = np.minimum(slope, k.zero, out=blk[ROW_U])
        u += w
