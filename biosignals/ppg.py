"""Causal, stateful PPG pulse detection and heart rate (finger, ear or wrist sensors).

:class:`PpgExtractor` takes photoplethysmogram chunks (any unit and polarity convention
where blood volume rises upward, 25-300 Hz) and returns one
:class:`~biosignals.ecg.HeartBeat` per detected pulse. Results do not depend on how the
signal is cut into chunks.

Method (slope sum function, Zong et al. 2003, with Pan-Tompkins style adaptive levels):

1. Butterworth band-pass 0.5-8 Hz (order 2, state carried): removes baseline wander and
   keeps the systolic upstroke and dicrotic notch.
2. Slope sum ``SSF[n] = sum of max(0, y[k] - y[k-1])`` over the last 128 ms: large on the
   systolic upstroke only.
3. A pulse starts where SSF rises through ``0.5 * SPK`` (SPK: running level of pulse SSF
   peaks, learnt from the first 2 s) outside a refractory period of
   ``max(0.25 s, 0.4 * RR)`` after the previous pulse (this skips the dicrotic wave); its
   SSF peak is the first local maximum after the crossing; it is decided then.
4. The pulse time is the point of maximal upstroke slope before the SSF peak, refined to
   sub-sample precision by a parabola (the most reproducible PPG fiducial for HRV).
5. Search-back: when no pulse came for ``max(1.66 * RR, 1 s)``, SPK is lowered (x0.6,
   then every 0.5 s, to 10 % of its usual level at least) and the samples since the last
   pulse are scanned again; after 6 s without a pulse SPK is learnt anew from the last
   2 s (sensor moved, amplitude changed).

The pulse time lags the R peak by the pulse arrival time (~150-300 ms finger, more at
the wrist) plus ~30 ms filter delay; a pulse is decided ~100-150 ms after its upstroke.
Heart rate uses the same RR artifact handling as the ECG (see :mod:`biosignals.ecg`).
"""

from __future__ import annotations

from collections import deque
from operator import attrgetter

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.signal import butter

from biosignals._stream import (
    FloatArray,
    History,
    SosState,
    as_chunk,
    causal_window,
    check_rate,
    fill_nonfinite,
    filter_and_difference,
    median_of_few,
    offline_indices,
)
from biosignals.ecg import HeartBeat, _RrCorrector

__all__ = ["PpgExtractor", "detect_pulses", "simulate_ppg"]

# History rows: band-passed signal, its first difference, SSF, time; the clipped difference
# (the SSF's input, whose past the sum reads in place).
_Y, _DER, _SSF, _TIME, _DU = 0, 1, 2, 3, 4
_THRESHOLD = 0.5
_FEW = 16  # crossings in fewer new samples are searched in Python floats


class PpgExtractor:
    """Streaming PPG pulse detector and heart-rate estimator.

    Parameters
    ----------
    sampling_rate : float
        Samples per second, 25-300 Hz.

    Raises
    ------
    SignalError
        If ``sampling_rate`` is not finite or outside 25-300 Hz.
    """

    def __init__(self, sampling_rate: float) -> None:
        fs = check_rate(sampling_rate, 25.0, 300.0, "PpgExtractor")
        self.sampling_rate = fs
        self._sos = butter(2, [0.5, 8.0], btype="bandpass", fs=fs, output="sos")
        self._w = max(2, round(0.128 * fs))
        self._kernel = np.ones(self._w)
        self._peak_h = max(1, round(0.06 * fs))  # SSF local max must dominate the next 60 ms
        self._look = round(0.35 * fs)  # longest wait for the SSF peak after the crossing
        self._learn_len = round(2.0 * fs)
        self._relearn = round(6.0 * fs)
        self._refr_min = round(0.25 * fs)
        self._zero = np.zeros(())  # 0-d operands: cheaper ufunc calls than Python floats
        self._thr = np.zeros(())
        self.reset()

    def reset(self) -> None:
        """Forget all state, as if newly constructed."""
        self._hist = History(5, round(8.0 * self.sampling_rate))
        self._bp = SosState(self._sos)
        self._last_value = 0.0
        self._last_time: float | None = None
        self._pos = 1  # next absolute index where an SSF crossing may be found
        self._spk: float | None = None
        self._spk_ref = 0.0
        self._refr_end = 0
        self._learn_due = self._learn_len
        self._decay_due = self._relearn_due = self._learn_len
        self._last_fid: int | None = None
        self._last_beat_time: float | None = None
        self._rrs: deque[float] = deque(maxlen=8)
        self._rr = _RrCorrector()
        self._out: list[HeartBeat] = []

    # ------------------------------------------------------------------ front end
    def update(self, samples: ArrayLike, timestamps: ArrayLike) -> list[HeartBeat]:
        """Consume one chunk and return the pulses decided during it.

        Parameters
        ----------
        samples : array_like
            1-D PPG samples. NaN/inf are held at the last finite value.
        timestamps : array_like
            1-D sample times in seconds, same length, non-decreasing.

        Returns
        -------
        list of HeartBeat
            Pulses in time order (``time`` = maximal upstroke slope, ``sample`` = nearest
            sample index counted from the first sample ever given).

        Raises
        ------
        SignalError
            If the arrays are not 1-D, differ in length or the timestamps are invalid.
        """
        x, t = as_chunk(samples, timestamps, self._last_time, "PpgExtractor.update")
        return self.update_checked(x, t)

    def update_checked(self, x: FloatArray, t: FloatArray) -> list[HeartBeat]:
        """:meth:`update` for a chunk already checked as :meth:`update` would: 1-D float64
        arrays of equal length, timestamps finite and non-decreasing from the previous
        chunk (:class:`~biosignals.pipeline.FeaturePipeline` checks them before). Nothing is
        checked again."""
        if x.size == 0:
            return []
        if self._bp.zi is None:
            finite = x[np.isfinite(x)]
            self._last_value = float(finite[0]) if finite.size else 0.0
            self._bp.start(self._last_value)
        x, self._last_value = fill_nonfinite(x, self._last_value)
        self._last_time = t.item(-1)
        self._front_end(x, t)
        self._out = []
        self._scan()
        return self._out

    def _front_end(self, x: FloatArray, t: FloatArray) -> None:
        """Append the chunk's band-pass, difference and SSF to the history."""
        buf, col = self._hist.block(x.size)
        end = col + x.size
        buf[_TIME, col:end] = t
        der = buf[_DER, col:end]
        filter_and_difference(buf, _Y, col, x, self._bp, der)
        np.maximum(der, self._zero, out=buf[_DU, col:end])
        win = causal_window(buf[_DU], col, end, self._w)
        buf[_SSF, col:end] = np.correlate(win, self._kernel, "valid")

    # ------------------------------------------------------------------ decisions
    def _scan(self) -> None:
        end = self._hist.end
        while True:
            if self._spk is None:
                if end < self._learn_due:
                    return
                if not self._learn_level(self._learn_due):
                    continue
            limit = min(end, self._decay_due, self._relearn_due)
            i = self._crossing(max(self._pos, self._refr_end), limit)
            if i is not None:
                if not self._decide(i):
                    self._pos = i
                    return
                continue
            self._pos = max(self._pos, limit)
            if limit == end:
                return
            self._timer(limit)

    def _learn_level(self, now: int) -> bool:
        """SPK from the SSF maximum of the 2 s before ``now``; False if the signal is flat."""
        ssf = self._hist.rows(_SSF, now - self._learn_len, now)
        raw = self._hist.rows(_Y, now - self._learn_len, now)
        peak = float(ssf.max()) if ssf.size else 0.0
        dust = 1e-9 * float(np.max(np.abs(raw), initial=0.0))
        if peak <= max(dust, 1e-12):  # flat (sensor off): try again 1 s later
            self._spk = None
            self._learn_due = now + round(1.0 * self.sampling_rate)
            return False
        self._spk = self._spk_ref = 0.8 * peak
        self._decay_due = now + round(2.0 * self.sampling_rate)
        self._relearn_due = now + self._relearn
        self._pos = max(self._pos, now - self._learn_len, self._hist.start + 1)
        return True

    def _timer(self, at: int) -> None:
        """No pulse for a while at absolute index ``at``: lower SPK (search back) or relearn."""
        assert self._spk is not None
        if at >= self._relearn_due:
            if not self._learn_level(at):
                return
        else:
            self._spk = max(0.6 * self._spk, 0.1 * self._spk_ref)
            self._decay_due = at + round(0.5 * self.sampling_rate)
        since = self._refr_end if self._last_fid is not None else self._hist.start + 1
        self._pos = max(since, at - round(3.0 * self.sampling_rate), self._hist.start + 1)

    def _crossing(self, lo: int, hi: int) -> int | None:
        """First absolute index in ``[lo, hi)`` where SSF rises through the threshold."""
        assert self._spk is not None
        start = self._hist.start
        lo = max(lo, start + 1)
        if hi <= lo:
            return None
        if hi - lo < _FEW:  # a frame's few samples: the same comparisons in Python floats
            return _crossing_few(
                self._hist.data, lo - 1 - start, hi - start, _THRESHOLD * self._spk, lo
            )
        self._thr[()] = _THRESHOLD * self._spk
        above = self._hist.data[_SSF, lo - 1 - start : hi - start] > self._thr
        if above.item(0):  # already above: the crossing comes after it falls below
            first = int(above.argmin())
            if above.item(first):
                return None
            j = first + int(above[first:].argmax())  # first above after [first]: a crossing
        else:
            j = int(above.argmax())
        return lo + j - 1 if above.item(j) else None

    def _decide(self, i: int) -> bool:
        """Place the pulse whose SSF crossed at ``i``; False if more samples are needed."""
        start, end = self._hist.start, self._hist.end
        stop = min(i + self._look + self._peak_h + 1, end)
        seg = self._hist.data[_SSF, i - start : stop - start]
        values = seg.tolist()
        p_rel = _first_peak(values, self._peak_h)
        if p_rel is None:
            if i + self._look + self._peak_h + 1 > end:
                return False
            p_rel = int(np.argmax(seg[: self._look + 1]))
        assert self._spk is not None
        level = values[p_rel]
        self._spk = 0.875 * self._spk + 0.125 * level
        self._spk_ref = 0.875 * self._spk_ref + 0.125 * level
        self._beat(i + p_rel)
        return True

    def _beat(self, p: int) -> None:
        """Record the pulse whose SSF peaked at ``p``: fiducial = max slope in (p - w, p]."""
        start = self._hist.start
        data = self._hist.data
        lo = max(p - self._w + 1, start + 1)  # so k - 1 is held (and k <= p is)
        k = lo + int(data[_DER, lo - start : p + 1 - start].argmax())
        j = k - start  # column of k
        delta = 0.0
        if j + 1 < data.shape[1]:
            d0, d1, d2 = data.item(_DER, j - 1), data.item(_DER, j), data.item(_DER, j + 1)
            den = d0 - 2.0 * d1 + d2
            delta = 0.5 * (d0 - d2) / den if den < 0.0 else 0.0
        delta = delta if delta > -0.5 else -0.5  # clipped to [-0.5, 0.5] (max, then min)
        delta = (delta if delta < 0.5 else 0.5) - 0.5  # der[k] is the slope between k-1 and k
        t0, t1 = data.item(_TIME, j - 1), data.item(_TIME, j)
        time = t1 + delta * (t1 - t0)
        rr = None if self._last_beat_time is None else time - self._last_beat_time
        hr = None if rr is None else self._rr.add(time, rr)
        if rr is not None and 0.27 <= rr <= 2.0:
            self._rrs.append(rr)
        self._out.append(HeartBeat(time, k, rr, hr))
        self._last_beat_time, self._last_fid = time, k
        rr_avg = median_of_few(self._rrs) if self._rrs else 1.0
        fs = self.sampling_rate
        self._refr_end = max(p + 1, k + max(self._refr_min, round(0.4 * rr_avg * fs)))
        self._pos = self._refr_end
        self._decay_due = k + round(max(1.66 * rr_avg, 1.0) * fs)
        self._relearn_due = k + self._relearn

    @property
    def heart_rate(self) -> float | None:
        """Smoothed heart rate in bpm (median of accepted RRs of the last 10 s of pulses), or
        None until known or after 10 s without a pulse."""
        return self._rr.current(self._last_beat_time, self._last_time)


def _crossing_few(data: FloatArray, a: int, b: int, thr: float, lo: int) -> int | None:
    """:meth:`PpgExtractor._crossing` over the SSF columns ``[a, b)`` (``a`` holds the
    sample before ``lo``) in Python floats: the first rise through ``thr`` after the
    first sample (after the run above it, if it starts above)."""
    values = data[_SSF, a:b].tolist()
    n, k = len(values), 0
    if values[0] > thr:  # already above: the crossing comes after it falls below
        while k < n and values[k] > thr:
            k += 1
    while k < n and not values[k] > thr:
        k += 1
    return lo + k - 1 if k < n else None


def _first_peak(seg: list[float], h: int) -> int | None:
    """First ``k`` with ``seg[k] > seg[k - 1]`` (any ``seg[0]``) and ``seg[k] >= seg[k + j]``
    for ``j = 1..h``, among the ``k`` followed by ``h`` values; None if there is none.

    Pure Python on the few SSF values after a crossing: cheaper there than array calls.
    A NaN fails every comparison, as in ``seg[k] >= max(...)`` with NaN-propagating max.
    """
    for k in range(len(seg) - h):
        v = seg[k]
        if (k and not v > seg[k - 1]) or not v >= seg[k + 1]:
            continue  # not rising into k, or still rising after it (the usual rejections)
        for w in seg[k + 2 : k + h + 1]:
            if not v >= w:
                break
        else:
            return k
    return None


def detect_pulses(ppg: ArrayLike, sampling_rate: float) -> NDArray[np.int64]:
    """Run :class:`PpgExtractor` over a whole recording and return pulse sample indices.

    Parameters
    ----------
    ppg : array_like
        1-D PPG signal.
    sampling_rate : float
        Samples per second, 25-300 Hz.

    Returns
    -------
    numpy.ndarray
        int64 sample indices of the pulses' maximal upstroke slope, increasing.
    """
    return offline_indices(PpgExtractor(sampling_rate), ppg, 10.0, attrgetter("sample"))


def simulate_ppg(
    beat_times: ArrayLike,
    sampling_rate: float,
    duration: float,
    *,
    start: float = 0.0,
    transit: float = 0.2,
    noise: float = 0.02,
    wander: float = 0.5,
    seed: int = 0,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Synthetic PPG for known heart beats: systolic wave, dicrotic notch and wave.

    Each beat at ``b`` gives a pulse whose foot is at ``b + transit``: a systolic Gaussian
    (amplitude 1, peak 0.16 s after the foot, sigma 0.06 s) and a diastolic Gaussian
    (0.45, ``0.38 * sqrt(RR)`` s after the foot, sigma 0.08 s) with a notch between them,
    plus respiratory (0.25 Hz) and slow (0.03 Hz) baseline wander and white noise.

    Returns
    -------
    t, ppg, pulse_times : numpy.ndarray
        Sample times, samples, and the true time of maximal upstroke slope per beat.
    """
    rng = np.random.default_rng(seed)
    beats = np.asarray(beat_times, dtype=np.float64)
    t = start + np.arange(round(duration * sampling_rate)) / sampling_rate
    x = np.zeros(t.size)
    rr = np.diff(beats, prepend=beats[0] - 0.8) if beats.size else beats
    waves = ((0.16, 1.0, 0.06), (0.38, 0.45, 0.08))
    for b, r in zip(beats.tolist(), rr.tolist(), strict=True):
        for j, (delay, amp, sigma) in enumerate(waves):
            centre = b + transit + (delay * np.sqrt(min(max(r, 0.3), 2.0)) if j else delay)
            lo = int(np.searchsorted(t, centre - 4 * sigma))
            hi = int(np.searchsorted(t, centre + 4 * sigma))
            z = (t[lo:hi] - centre) / sigma
            x[lo:hi] += amp * np.exp(-0.5 * z * z)
    phase = rng.uniform(0.0, 2.0 * np.pi, 2)
    x += wander * (0.6 * np.sin(2 * np.pi * 0.25 * t + phase[0]))
    x += wander * np.sin(2 * np.pi * 0.03 * t + phase[1])
    x += noise * rng.standard_normal(t.size)
    # max slope of the systolic Gaussian: one sigma before its peak
    pulse_times = beats + transit + 0.16 - 0.06
    return t, x, pulse_times
