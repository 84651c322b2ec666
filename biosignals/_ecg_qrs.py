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

import numpy as np
from scipy.ndimage import maximum_filter1d
from scipy.signal import butter, sosfilt

from biosignals._stream import FloatArray, History, SosState

# History rows.
_RAW, _DER, _MWI, _TIME = 0, 1, 2, 3
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
        self._w_mwi = max(1, round(0.150 * fs))
        self._mwi_b = np.full(self._w_mwi, 1.0 / self._w_mwi)
        self._look = max(1, round(LOOK_AHEAD_S * fs))
        self._ref_fir = _zero_phase_kernel(fs, round(0.200 * fs))
        self._refractory = round(0.200 * fs)
        self._twave = round(0.360 * fs)
        self._refine_pre = round(0.250 * fs)
        self._learn = round(2.0 * fs)
        self._relearn = round(3.5 * fs)
        self._rr_min = round(0.27 * fs)
        self._rr_max = round(2.0 * fs)
        self.reset()

    def reset(self) -> None:
        """Forget everything (filters, thresholds, RR history)."""
        self._hist = History(4, round(6.0 * self.fs) + 2 * self._look)
        self._bp = SosState(self._sos)
        self._sq_tail = np.zeros(self._w_mwi - 1)
        self._prev_bp = 0.0
        self._next_cand = 0
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
        self._irregular = 0
        self._sb_due: int | None = None
        self._relearn_due = self._learn
        self._out: list[tuple[int, float]] = []

    # ------------------------------------------------------------------ front end
    def _front_end(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        if self._bp.zi is None:
            self._bp.start(float(x[0]))
        bp = self._bp.filter(x)
        der = np.empty_like(bp)
        der[0] = bp[0] - self._prev_bp
        np.subtract(bp[1:], bp[:-1], out=der[1:])
        der *= self.fs
        self._prev_bp = float(bp[-1])
        sq = np.concatenate((self._sq_tail, der * der))
        mwi = np.convolve(sq, self._mwi_b, mode="valid")
        self._sq_tail = sq[sq.size - self._mwi_b.size + 1 :]
        return der, mwi

    def process(self, x: FloatArray, t: FloatArray) -> list[tuple[int, float]]:
        """Consume finite samples ``x`` at times ``t``; return decided beats (index, time)."""
        if x.size == 0:
            return []
        der, mwi = self._front_end(x)
        self._hist.append(x, der, mwi, t)
        self._out = []
        for c, v, slope in self._candidates():
            self._run_timers(c + self._look)
            self._on_candidate(c, v, slope)
        self._run_timers(self._hist.end - 1)
        return self._out

    def _candidates(self) -> list[tuple[int, float, float]]:
        """New MWI peaks that dominate +-look, with their value and preceding max |slope|."""
        hist = self._hist
        last = hist.end - 1 - self._look  # newest index that can be decided now
        if last < self._next_cand:
            return []
        lo = max(self._next_cand - max(self._look, self._w_mwi), hist.start)
        seg = hist.data[_MWI, lo - hist.start :]
        peak = maximum_filter1d(
            seg, 2 * self._look + 1, output=np.empty_like(seg), mode="constant", cval=-np.inf
        )
        first = self._next_cand - lo
        stop = last - lo + 1
        s = seg[first:stop]
        prev = seg[first - 1 : stop - 1] if first > 0 else np.concatenate(([-np.inf], s[:-1]))
        hit = ((s == peak[first:stop]) & (s > prev)).nonzero()[0]
        self._next_cand = last + 1
        if hit.size == 0:
            return []
        hit += first
        # Ignore rounding dust (e.g. filter tails while input is held flat): slopes below
        # 1e-9 of full scale per sample are not physiological at any gain.
        raw = np.abs(hist.data[_RAW, lo - hist.start :])
        dust = (1e-9 * self.fs * float(raw[raw.argmax()])) ** 2
        values = seg[hit]
        if not values[values.argmin()] > dust:
            keep = values > dust
            hit, values = hit[keep], values[keep]
        der = hist.data[_DER, lo - hist.start :]
        out = []
        for h, v in zip(hit.tolist(), values.tolist(), strict=True):
            d = der[max(h - self._w_mwi, 0) : h + 1]
            slope = max(float(d[d.argmax()]), -float(d[d.argmin()]))
            out.append((h + lo, v, slope))
        return out

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
        if self._last_c is not None and c - self._last_c < self._refractory:
            return
        if v > self._thr1() and not self._is_twave(c, slope):
            self._spki = 0.125 * v + 0.875 * self._spki
            self._beat(c, slope)
        else:
            self._npki = 0.125 * v + 0.875 * self._npki
            self._noise.append((c, v, slope))

    def _run_timers(self, now: int) -> None:
        while True:
            relearn, sb = self._relearn_due, self._sb_due
            if sb is not None and sb > now:
                sb = None
            if relearn is not None and relearn <= now and (sb is None or relearn <= sb):
                self._learn_thresholds(relearn)  # the earlier timer first; a tie: re-learn
            elif sb is not None:
                self._search_back()
            else:
                return

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
        self._noise = [n for n in self._noise if n[0] > c]
        rr2 = self._rr2()
        self._sb_due = None if rr2 is None else c + round(1.66 * rr2) + self._look
        self._relearn_due = c + self._relearn
        self._out.append((r, float(self._hist.data[_TIME, r - self._hist.start])))

    def _rr2(self) -> float | None:
        if self._rr_reg:
            return sum(self._rr_reg) / len(self._rr_reg)
        return None

    def _update_rr(self, rr: int) -> None:
        if not self._rr_min <= rr <= self._rr_max:
            return
        self._rr_all.append(rr)
        rr2 = self._rr2()
        if rr2 is None or 0.92 * rr2 <= rr <= 1.16 * rr2:
            self._rr_reg.append(rr)
            self._irregular = 0
        else:
            self._irregular += 1
            if self._irregular >= _RR_HISTORY:  # rhythm changed: adopt it
                self._rr_reg = deque(self._rr_all, maxlen=8)
                self._irregular = 0

    def _refine(self, c: int) -> int:
        """R sample: max |zero-phase 5-25 Hz band-pass| within 250 ms before ``c``."""
        lo = max(c - self._refine_pre, 0)
        if self._last_r is not None:
            lo = max(lo, self._last_r + self._refractory // 2)
        half = self._ref_fir.size // 2
        start = self._hist.start
        first = max(lo - half, start)
        if c < lo or lo < start:
            return c
        seg = self._hist.data[_RAW, first - start : c + self._look + 1 - start]
        # Odd extension (as filtfilt pads) before the stream's first sample and after the
        # look-ahead; both are fixed positions, so chunking never changes the result.
        before = first - (lo - half)
        if seg.size <= max(before, 1):
            return c
        if before > 0:
            seg = np.concatenate((2.0 * seg[0] - seg[before:0:-1], seg))
        after = half - self._look
        if after > 0:
            seg = np.concatenate((seg, 2.0 * seg[-1] - seg[-2 : -2 - after : -1]))
        y = np.convolve(seg[: c - lo + 1 + 2 * half], self._ref_fir, mode="valid")
        return lo + int(np.abs(y).argmax())
