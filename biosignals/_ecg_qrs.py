"""Causal streaming QRS detector (Pan-Tompkins family), private to :mod:`biosignals.ecg`.

Front end (vectorised per chunk, state carried between chunks): Butterworth band-pass
5-15 Hz (Pan & Tompkins 1985), first difference, squaring, 150 ms moving-window integration
(MWI). Candidates are MWI local maxima that dominate +-60 ms; each is decided exactly 60 ms
after it (fixed look-ahead, so decisions never depend on chunk boundaries). The MWI peak
lags the R peak by ~120-160 ms, so a beat is decided ~180-220 ms after its R peak.

Decision logic (per candidate, Pan & Tompkins 1985; Hamilton & Tompkins 1986):
adaptive signal/noise peak levels SPKI/NPKI with THR1 = NPKI + 0.25 (SPKI - NPKI) and
THR2 = THR1 / 2; 200 ms refractory; T-wave discrimination (a candidate within 360 ms of the
previous beat whose maximal slope is below half that beat's is noise); search-back with THR2
when no beat came for 166 % of the regular RR average (RR2: mean of the last 8 RRs within
92-116 % of it; adopted anew after 8 irregular RRs); a 2 s learning phase, repeated every
2 s once no beat was found for 3.5 s (e.g. after leads-off, a NaN burst or a sudden drop
in QRS amplitude), where a re-learn lowers SPKI at most 4-fold per step so that a sinus
pause of several seconds is not filled with noise "beats".

Each beat is placed on the R wave at the maximum of |zero-phase 5-25 Hz band-pass| of the
raw signal within 250 ms before the candidate (the MIT-BIH annotation convention). The
zero-phase filter is the forward-backward Butterworth response as a +-200 ms FIR; samples
after the look-ahead are odd-extended, as ``filtfilt`` pads.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import numpy as np
from scipy.signal import butter, sosfilt

from biosignals._stream import (
    FloatArray,
    History,
    SosState,
    causal_window,
    extremes,
    filter_and_difference,
    window_extreme,
)

# History rows: raw samples, derivative, MWI, time; band-pass and squared derivative (the
# front end's recursions read their past from the history instead of carrying tails).
_RAW, _DER, _MWI, _TIME, _BP, _SQ = 0, 1, 2, 3, 4, 5
LOOK_AHEAD_S = 0.060
_RR_HISTORY = 8


def _zero_phase_kernel(fs: float, half: int) -> FloatArray:
    """FIR equal to forward-backward 5-25 Hz Butterworth (order 2) filtering, +-``half``.

    The autocorrelation of the IIR impulse response, truncated and Hann-tapered, so one
    ``np.convolve`` on a short segment gives the zero-phase band-pass used to place R.
    """
    sos = butter(2, [5.0, 25.0], btype="bandpass", fs=fs, output="sos")
    impulse = np.zeros(4 * half + 1)
    impulse[0] = 1.0
    h = sosfilt(sos, impulse)
    k = np.correlate(h, h, mode="full")[h.size - 1 - half : h.size + half]
    return np.asarray(k * np.hanning(2 * half + 3)[1:-1], dtype=np.float64)


class QrsDetector:
    """Streaming R-peak decisions; feed finite samples with :meth:`process`."""

    def __init__(self, fs: float) -> None:
        self.fs = fs
        self._sos = butter(2, [5.0, 15.0], btype="bandpass", fs=fs, output="sos")
        self._fs = np.array(fs)  # 0-d operand: a cheaper ufunc call than a Python float
        self._w_mwi = max(1, round(0.150 * fs))
        # np.convolve(sq, b) is np.correlate(sq, b[::-1]): the same arithmetic, reversed once
        self._mwi_b = np.full(self._w_mwi, 1.0 / self._w_mwi)[::-1].copy()
        self._look = max(1, round(LOOK_AHEAD_S * fs))
        self._ref_fir = _zero_phase_kernel(fs, round(0.200 * fs))[::-1].copy()
        self._refractory = round(0.200 * fs)
        self._twave = round(0.360 * fs)
        self._refine_pre = round(0.250 * fs)
        self._ref_half = self._ref_fir.size // 2
        # Scratch for the R-placement window: raw samples up to the look-ahead (head), then
        # their odd extension (tail); 2 * the last raw sample as a 0-d operand.
        self._ref_buf = np.empty(self._refine_pre + self._ref_fir.size)
        head = self._refine_pre + self._ref_half + self._look + 1
        self._ref_head = self._ref_buf[: min(head, self._ref_buf.size)]
        self._ref_tail = self._ref_buf[head:]
        self._ref_two = np.zeros(())
        self._learn = round(2.0 * fs)
        self._relearn = round(3.5 * fs)
        self._rr_min = round(0.27 * fs)
        self._rr_max = round(2.0 * fs)
        self.reset()

    def reset(self) -> None:
        """Forget everything (filters, thresholds, RR history)."""
        self._hist = History(6, round(6.0 * self.fs) + 2 * self._look)
        self._bp = SosState(self._sos)
        self._next_cand = 0
        self._peak = np.empty(0)  # scratch for the MWI window maxima
        self._ready = False
        self._spki = 0.0
        self._npki = 0.0
        self._pending: list[tuple[int, float, float]] = []
        self._noise: list[tuple[int, float, float]] = []
        self._last_c: int | None = None
        self._last_r: int | None = None
        self._last_slope = 0.0
        self._rr_all: deque[int] = deque(maxlen=8)
        self._rr_reg: deque[int] = deque(maxlen=8)
        self._rr2: float | None = None  # RR2, the mean of _rr_reg (None while empty)
        self._irregular = 0
        self._sb_due: int | None = None
        self._relearn_due = self._learn
        self._out: list[tuple[int, float]] = []

    # ------------------------------------------------------------------ front end
    def _front_end(self, x: FloatArray, t: FloatArray) -> None:
        """Append the chunk with its band-pass derivative, square and MWI to the history."""
        if self._bp.zi is None:
            self._bp.start(float(x[0]))
        buf, col = self._hist.block(x.size)
        end = col + x.size
        buf[_RAW, col:end] = x
        buf[_TIME, col:end] = t
        der = buf[_DER, col:end]
        filter_and_difference(buf, _BP, col, x, self._bp, der)
        np.multiply(der, self._fs, out=der)
        np.multiply(der, der, out=buf[_SQ, col:end])
        win = causal_window(buf[_SQ], col, end, self._w_mwi)
        buf[_MWI, col:end] = np.correlate(win, self._mwi_b, "valid")

    def process(self, x: FloatArray, t: FloatArray) -> list[tuple[int, float]]:
        """Consume finite samples ``x`` at times ``t``; return decided beats (index, time)."""
        if x.size == 0:
            return []
        self._front_end(x, t)
        self._out = []
        for c, v, slope in self._candidates():
            self._run_timers(c + self._look)
            self._on_candidate(c, v, slope)
        self._run_timers(self._hist.end - 1)
        return self._out

    def _run_timers(self, now: int) -> None:
        """Fire the search-back and re-learn timers due by ``now``, in time order."""
        sb = self._sb_due
        if (sb is None or sb > now) and self._relearn_due > now:
            return  # nothing due (the common case)
        while True:
            relearn, sb = self._relearn_due, self._sb_due
            if sb is not None and sb > now:
                sb = None
            if relearn <= now and (sb is None or relearn <= sb):
                self._learn_thresholds(relearn)  # the earlier timer first; a tie: re-learn
            elif sb is not None:
                self._search_back()
            else:
                return

    def _candidates(self) -> Iterable[tuple[int, float, float]]:
        """New MWI peaks that dominate +-look, with their value and preceding max |slope|."""
        hist = self._hist
        start, look = hist.start, self._look
        last = hist.end - 1 - look  # newest index that can be decided now
        nxt = self._next_cand
        if last < nxt:
            return []
        self._next_cand = last + 1
        lo = max(nxt - look, start)  # the windows of the new indices start here
        seg = hist.data[_MWI, lo - start :]
        if self._peak.size < seg.size:
            self._peak = np.empty(2 * seg.size)
        peak = _window_max(seg, 2 * look + 1, self._peak[: seg.size])
        first, stop = nxt - lo, last - lo + 1
        s = seg[first:stop]
        top = (s == peak[first:stop]).nonzero()[0].tolist()  # few, unless the MWI is flat
        if len(top) > 8:
            prev = seg[first - 1 : stop - 1] if first else np.concatenate(([-np.inf], s[:-1]))
            top = (s > prev).nonzero()[0].tolist()
            hits = [h for h in top if s.item(h) == peak.item(first + h)]
        else:  # rising into the peak (the value before the first is -inf)
            hits = [h for h in top if h + first == 0 or s.item(h) > seg.item(first + h - 1)]
        if not hits:
            return []
        values = [s.item(h) for h in hits]
        hits = [h + nxt for h in hits]
        # Ignore rounding dust (e.g. filter tails while input is held flat): slopes below
        # 1e-9 of full scale per sample are not physiological at any gain.
        low, high = extremes(hist.data[_RAW, max(nxt - max(look, self._w_mwi), start) - start :])
        dust = (1e-9 * self.fs * max(high, -low)) ** 2  # the largest |raw|
        if not all(v > dust for v in values):
            kept = [(c, v) for c, v in zip(hits, values, strict=True) if v > dust]
            if not kept:
                return []
            hits, values = [c for c, _ in kept], [v for _, v in kept]
        # max |derivative| over [c - w, c] for each candidate c, in one reduction
        a0 = max(hits[0] - self._w_mwi, start)
        der = np.abs(hist.data[_DER, a0 - start : hits[-1] + 2 - start])
        bounds: list[int] = []
        for c in hits:
            bounds += (max(c - self._w_mwi, start) - a0, c + 1 - a0)
        slopes = np.maximum.reduceat(der, bounds)[::2].tolist()
        return zip(hits, values, slopes, strict=True)

    # ------------------------------------------------------------------ decisions
    def _thr1(self) -> float:
        return self._npki + 0.25 * (self._spki - self._npki)

    def _is_twave(self, c: int, slope: float) -> bool:
        return (
            self._last_c is not None
            and c - self._last_c < self._twave
            and slope < 0.5 * self._last_slope
        )

    def _on_candidate(self, c: int, v: float, slope: float) -> None:
        if not self._ready:
            self._pending.append((c, v, slope))
            return
        last_c = self._last_c
        if last_c is None:
            twave = False
        elif c - last_c < self._refractory:
            return
        else:  # _is_twave, inlined on this hot path
            twave = c - last_c < self._twave and slope < 0.5 * self._last_slope
        if not twave and v > self._npki + 0.25 * (self._spki - self._npki):  # THR1
            self._spki = 0.125 * v + 0.875 * self._spki
            self._beat(c, slope)
        else:
            self._npki = 0.125 * v + 0.875 * self._npki
            self._noise.append((c, v, slope))

    def _learn_thresholds(self, now: int) -> None:
        """(Re)initialise SPKI/NPKI from the last 2 s (start, or no beat for 3.5 s)."""
        mwi = self._hist.rows(_MWI, now - self._learn + 1, now + 1)
        self._relearn_due = now + self._learn
        self._sb_due = None
        self._noise.clear()
        peak = float(np.max(mwi))
        if peak <= 0.0 or not (self._ready or self._pending):
            self._pending.clear()  # flat input (e.g. leads not yet on): nothing to learn from
            return
        self._spki = 0.5 * peak if not self._ready else max(0.5 * peak, 0.25 * self._spki)
        self._npki = 0.5 * float(np.mean(mwi))
        if not self._ready:
            self._ready = True
            pending, self._pending = self._pending, []
            for cand in pending:
                self._on_candidate(*cand)

    def _search_back(self) -> None:
        self._sb_due = None
        thr2 = 0.5 * self._thr1()
        best: tuple[int, float, float] | None = None
        for c, v, slope in self._noise:
            if v > thr2 and not self._is_twave(c, slope) and (best is None or v > best[1]):
                best = (c, v, slope)
        if best is None:
            return
        c, v, slope = best
        self._noise = [n for n in self._noise if n[0] > c]
        self._spki = 0.25 * v + 0.75 * self._spki
        self._beat(c, slope)

    def _beat(self, c: int, slope: float) -> None:
        r = self._refine(c)
        if self._last_r is not None:
            self._update_rr(r - self._last_r)
        self._last_c, self._last_r, self._last_slope = c, r, slope
        if self._noise:
            self._noise = [n for n in self._noise if n[0] > c]
        rr2 = self._rr2
        self._sb_due = None if rr2 is None else c + round(1.66 * rr2) + self._look
        self._relearn_due = c + self._relearn
        self._out.append((r, self._hist.data.item(_TIME, r - self._hist.start)))

    def _update_rr(self, rr: int) -> None:
        if not self._rr_min <= rr <= self._rr_max:
            return
        self._rr_all.append(rr)
        rr2 = self._rr2
        if rr2 is None or 0.92 * rr2 <= rr <= 1.16 * rr2:
            self._rr_reg.append(rr)
            self._irregular = 0
        else:
            self._irregular += 1
            if self._irregular < _RR_HISTORY:
                return
            self._rr_reg = deque(self._rr_all, maxlen=8)  # rhythm changed: adopt it
            self._irregular = 0
        self._rr2 = sum(self._rr_reg) / len(self._rr_reg)

    def _refine(self, c: int) -> int:
        """R sample: max |zero-phase 5-25 Hz band-pass| within 250 ms before ``c``."""
        lo = max(c - self._refine_pre, 0)
        if self._last_r is not None:
            lo = max(lo, self._last_r + self._refractory // 2)
        half, start = self._ref_half, self._hist.start
        if c < lo or lo < start:
            return c
        raw = self._hist.data[_RAW]
        stop = c + self._look + 1 - start  # row index after the look-ahead
        full = c - self._refine_pre  # where lo usually is (not after a very short RR)
        if full - half >= start and self._ref_tail.size:
            # The usual case: the full window into preallocated views. Each output depends
            # on its own input window only, so computing from ``full`` and skipping to
            # ``lo`` gives the same values as computing from ``lo``.
            self._ref_head[:] = raw[full - half - start : stop]
            self._ref_two[()] = 2.0 * raw.item(stop - 1)
            ext = self._ref_tail.size
            np.subtract(self._ref_two, raw[stop - 2 : stop - 2 - ext : -1], out=self._ref_tail)
            y = np.correlate(self._ref_buf, self._ref_fir, "valid")
            np.abs(y, out=y)
            return lo + int((y[lo - full :] if lo > full else y).argmax())
        first = lo - half - start  # row index of the window's first sample
        if first < 0:  # near the stream's first sample
            return self._refine_near_start(c, lo, raw[:stop], -first)
        # Odd extension (as filtfilt pads) after the look-ahead, a fixed position, so
        # chunking never changes the result.
        n = stop - first
        seg = self._ref_buf[: c - lo + 1 + 2 * half]
        seg[:n] = raw[first:stop]
        if seg.size > n:
            ext = seg.size - n
            np.subtract(
                2.0 * float(raw[stop - 1]), raw[stop - 2 : stop - 2 - ext : -1], out=seg[n:]
            )
        return lo + int(np.abs(np.correlate(seg, self._ref_fir, "valid")).argmax())

    def _refine_near_start(self, c: int, lo: int, seg: FloatArray, before: int) -> int:
        """:meth:`_refine` where the window starts ``before`` samples before the stream:
        odd extension there too."""
        half = self._ref_fir.size // 2
        if seg.size <= max(before, 1):
            return c
        seg = np.concatenate((2.0 * seg[0] - seg[before:0:-1], seg))
        after = half - self._look
        if after > 0:
            seg = np.concatenate((seg, 2.0 * seg[-1] - seg[-2 : -2 - after : -1]))
        y = np.correlate(seg[: c - lo + 1 + 2 * half], self._ref_fir, "valid")
        return lo + int(np.abs(y).argmax())


def _window_max(seg: FloatArray, size: int, out: FloatArray) -> FloatArray:
    """``maximum_filter1d(seg, size, mode="constant", cval=-inf)`` (centred window) into
    ``out`` (same length)."""
    return window_extreme(seg, size, out, maximum=True, mode="constant", cval=-np.inf)
