"""Private: where a QRS candidate's R peak is and what it looks like, for
:mod:`biosignals._ecg_qrs`.

:class:`QrsPlacer` reads the raw samples kept in the detector's history. R is placed at the
maximum of |zero-phase 5-25 Hz band-pass| of the raw signal within 250 ms before the
candidate (the MIT-BIH annotation convention); that maximum is the candidate's amplitude.
Its high-frequency content is the largest |zero-phase 15-40 Hz band-pass| within 25 ms of
R: QRS edges have it, T and P waves, baseline wander and slow electrode motion have little.
A baseline step (the signal goes from one level to another instead of out and back) is
recognised by its shape. An R peak with few QRS edges for its amplitude may be an
electrode-motion bump merged with the QRS next to it into one candidate; a rival peak up to
450 ms before the candidate that is much more like the recent beats' shape takes R
(:meth:`QrsPlacer.rival`). The zero-phase filters are forward-backward Butterworth responses
as FIRs; samples after the decision's look-ahead are odd-extended, as ``filtfilt`` pads,
so results never depend on chunking.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from scipy.signal import butter, sosfilt

from biosignals._stream import FloatArray, History, extremes

Placed = tuple[int, float, float]  # R sample, amplitude, high-frequency content
STEP_CHANGE = 0.8
RIVAL_EDGES = 0.6  # an R peak with less QRS-edge content for its size than this (x the
# recent beats' ratio) may be a bump: a rival peak is sought
RIVAL_PRE_S = 0.450  # within this before the candidate,
RIVAL_GAP_S = 0.100  # at least this far from R,
RIVAL_AMP = 0.5  # at least this large (x the recent beats' amplitude),
RIVAL_COR = 0.15  # and this much more like the recent beats' shape
UNLIKE_COR = 0.5  # in noise, a peak less like the recent beats' shape also seeks a rival


def _zero_phase_kernel(fs: float, half: int, band: tuple[float, float] = (5.0, 25.0)) -> FloatArray:
    """FIR equal to forward-backward ``band`` Butterworth (order 2) filtering, +-``half``.

    The autocorrelation of the IIR impulse response, truncated and Hann-tapered, so one
    ``np.convolve`` on a short segment gives the zero-phase band-pass used to place R
    (5-25 Hz) or to measure a candidate's high-frequency content (15-40 Hz).
    """
    sos = butter(2, list(band), btype="bandpass", fs=fs, output="sos")
    impulse = np.zeros(4 * half + 1)
    impulse[0] = 1.0
    h = sosfilt(sos, impulse)
    k = np.correlate(h, h, mode="full")[h.size - 1 - half : h.size + half]
    return np.asarray(k * np.hanning(2 * half + 3)[1:-1], dtype=np.float64)


class QrsPlacer:
    """R placement and shape measures at sampling rate ``fs``; ``look`` samples after a
    candidate are known when it is decided; R is never placed within half the
    ``refractory`` period after the previous R; ``row`` is the raw samples' history row."""

    def __init__(self, fs: float, look: int, refractory: int, row: int) -> None:
        self._look, self._refractory, self._row = look, refractory, row
        self._ref_fir = _zero_phase_kernel(fs, round(0.200 * fs))[::-1].copy()
        self._refine_pre = round(0.250 * fs)
        self._ref_half = self._ref_fir.size // 2
        self._hf_fir = _zero_phase_kernel(fs, round(0.100 * fs), (15.0, min(40.0, 0.45 * fs)))
        self._hf_half = self._hf_fir.size // 2
        self._hf_win = max(1, round(0.025 * fs))
        self._step_half = round(0.120 * fs)
        self._step_avg = max(1, round(0.010 * fs))
        self._shape_pre, self._shape_post = round(0.080 * fs), round(0.100 * fs)
        self._floor_pre, self._floor_post = round(1.0 * fs), round(0.100 * fs)
        # Scratch for the R-placement window: raw samples up to the look-ahead (head), then
        # their odd extension (tail); 2 * the last raw sample as a 0-d operand.
        self._ref_buf = np.empty(self._refine_pre + self._ref_fir.size)
        head = self._refine_pre + self._ref_half + self._look + 1
        self._ref_head = self._ref_buf[: min(head, self._ref_buf.size)]
        self._ref_tail = self._ref_buf[head:]
        self._ref_two = np.zeros(())
        self._rival_gap = round(RIVAL_GAP_S * fs)
        self._rival_pre = round(RIVAL_PRE_S * fs)

    def place(
        self,
        hist: History,
        c: int,
        last_r: int | None,
        recent: tuple[Sequence[FloatArray], float, float] | None = None,
        noisy: bool = False,
    ) -> Placed:
        """R sample of candidate ``c``, its amplitude (largest |zero-phase 5-25 Hz
        band-pass|) and its high-frequency content: the largest |zero-phase 15-40 Hz
        band-pass| within 25 ms of R (QRS edges have it; T and P waves, baseline shifts
        and slow electrode motion have little). With the ``recent`` beats' shapes,
        amplitude and high-frequency content, a peak with too few edges for its size
        gives way to a rival much more like them (:meth:`rival`); in noise (``noisy``),
        so does a peak unlike them (:meth:`unlike`: a noise spike next to the QRS)."""
        r, amp = self.refine(hist, c, last_r)
        hf = self.edges(hist, c, r)
        if recent is not None and amp > 0.0:
            shapes, amp_ref, hf_ref = recent
            few_edges = hf * amp_ref < RIVAL_EDGES * amp * hf_ref
            if (
                shapes
                and amp_ref > 0.0
                and (few_edges or (noisy and self.unlike(hist, c, r, shapes)))
            ):
                better = self.rival(hist, c, r, last_r, recent)
                if better is not None:
                    r, amp, hf = better
        return r, amp, hf

    def unlike(self, hist: History, c: int, r: int, shapes: Sequence[FloatArray]) -> bool:
        """True if the shape at ``r`` (candidate ``c``) correlates under UNLIKE_COR with
        the recent ``shapes``, or is not known."""
        cor = self.correlation(hist, r, c + self._look, shapes)
        return cor is None or cor < UNLIKE_COR

    def edges(self, hist: History, c: int, r: int) -> float:
        """The largest |zero-phase 15-40 Hz band-pass| within 25 ms of ``r`` (samples
        known up to candidate ``c``'s look-ahead)."""
        start = hist.start
        raw = hist.data[self._row]
        stop = c + self._look + 1 - start  # samples known at the decision
        a = r - self._hf_win - self._hf_half - start
        b = r + self._hf_win + self._hf_half + 1 - start
        seg = raw[max(a, 0) : min(b, stop)]
        if seg.size < 2:
            return 0.0
        if b > stop:  # odd extension after the look-ahead, as in _refine
            ext = min(b - stop, seg.size - 1)
            seg = np.concatenate((seg, 2.0 * seg[-1] - seg[-2 : -2 - ext : -1]))
        if a < 0:  # odd extension before the stream's first sample
            ext = min(-a, seg.size - 1)
            seg = np.concatenate((2.0 * seg[0] - seg[ext:0:-1], seg))
        if seg.size < self._hf_fir.size:
            return 0.0
        y = np.correlate(seg, self._hf_fir, "valid")
        return float(np.abs(y).max())

    def rival(
        self,
        hist: History,
        c: int,
        r: int,
        last_r: int | None,
        recent: tuple[Sequence[FloatArray], float, float],
    ) -> Placed | None:
        """A better placement for candidate ``c`` than ``r``, or None: the largest other
        peak of |zero-phase 5-25 Hz band-pass| from RIVAL_PRE_S before ``c`` (over
        RIVAL_GAP_S from ``r``, after half the refractory period from ``last_r``), if it
        is at least RIVAL_AMP of the ``recent`` beats' amplitude and its shape correlates
        with theirs at least RIVAL_COR better than ``r``'s, or as well and it has their
        QRS edges for its size (RIVAL_EDGES). An electrode-motion bump as wide as a QRS,
        next to one, can be the larger and merge with it into one candidate; the QRS is
        the one shaped like the recent beats, with QRS edges."""
        shapes, amp_ref, hf_ref = recent
        lo = c - self._rival_pre
        if last_r is not None:
            lo = max(lo, last_r + self._refractory // 2)
        first = lo - self._ref_half - hist.start
        if first < 0 or c - lo < 2 * self._rival_gap:
            return None
        raw = hist.data[self._row]
        stop = c + self._look + 1 - hist.start
        seg = raw[first:stop]
        ext = c - lo + 1 + 2 * self._ref_half - seg.size  # odd extension, as in refine
        if ext > 0:
            seg = np.concatenate((seg, 2.0 * seg[-1] - raw[stop - 2 : stop - 2 - ext : -1]))
        y = np.abs(np.correlate(seg, self._ref_fir, "valid"))
        k = r - lo
        y[max(k - self._rival_gap, 0) : k + self._rival_gap + 1] = 0.0
        at = int(y.argmax())
        if y.item(at) < RIVAL_AMP * amp_ref:
            return None
        known = c + self._look
        mine = self.correlation(hist, r, known, shapes)
        theirs = self.correlation(hist, lo + at, known, shapes)
        if mine is None:
            mine = -1.0  # R too late for its shape to be known: an odd place for one
        if theirs is None or theirs < mine:
            return None
        amp, hf = y.item(at), self.edges(hist, c, lo + at)
        if theirs < mine + RIVAL_COR and hf * amp_ref < RIVAL_EDGES * amp * hf_ref:
            return None
        return lo + at, amp, hf

    def refine(self, hist: History, c: int, last_r: int | None) -> tuple[int, float]:
        """R sample: max |zero-phase 5-25 Hz band-pass| within 250 ms before ``c``; and
        that maximum (0 where there is no window)."""
        lo = max(c - self._refine_pre, 0)
        if last_r is not None:
            lo = max(lo, last_r + self._refractory // 2)
        half, start = self._ref_half, hist.start
        if c < lo or lo < start:
            return c, 0.0
        raw = hist.data[self._row]
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
            if lo > full:
                y = y[lo - full :]
            k = int(y.argmax())
            return lo + k, y.item(k)
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
        y = np.abs(np.correlate(seg, self._ref_fir, "valid"))
        k = int(y.argmax())
        return lo + k, y.item(k)

    def _refine_near_start(
        self, c: int, lo: int, seg: FloatArray, before: int
    ) -> tuple[int, float]:
        """:meth:`_refine` where the window starts ``before`` samples before the stream:
        odd extension there too."""
        half = self._ref_fir.size // 2
        if seg.size <= max(before, 1):
            return c, 0.0
        seg = np.concatenate((2.0 * seg[0] - seg[before:0:-1], seg))
        after = half - self._look
        if after > 0:
            seg = np.concatenate((seg, 2.0 * seg[-1] - seg[-2 : -2 - after : -1]))
        y = np.abs(np.correlate(seg[: c - lo + 1 + 2 * half], self._ref_fir, "valid"))
        k = int(y.argmax())
        return lo + k, y.item(k)

    def step_like(self, hist: History, r: int) -> bool:
        """True if the signal around ``r`` goes from one level to another instead of out
        and back (a QRS): the change from 120 ms before to 120 ms after (means of 10 ms) is
        over 80 % of the range in between: a baseline step (electrode pop, movement)."""
        start, w, k = hist.start, self._step_half, self._step_avg
        a, b = r - w - start, r + w + 1 - start
        if a < 0 or b > hist.end - start:
            return False
        seg = hist.data[self._row, a:b]
        # sum / k is what ndarray.mean computes, without its per-call set-up
        before, after = float(seg[:k].sum()) / k, float(seg[-k:].sum()) / k
        change = abs(after - before)
        # The range is at least R's distance from either mean: a QRS (far from both)
        # is told at once, without the extremes (a margin covers the means' rounding).
        peak = seg.item(w)
        if change < 0.99 * STEP_CHANGE * max(abs(peak - before), abs(peak - after)):
            return False
        low, high = extremes(seg)
        return change > STEP_CHANGE * (high - low)

    def unstepped_correlation(
        self, hist: History, r: int, known: int, recent: Iterable[FloatArray]
    ) -> float | None:
        """:meth:`correlation` of the :meth:`shape` at ``r`` with the level change across
        it removed (a ramp from 0 to the mean of its last 10 ms minus that of its first
        10 ms): a QRS riding an electrode pop is still shaped like the recent beats, a bare
        step is not."""
        x = self.shape(hist, r, known)
        if x is None or not recent:
            return None
        k = self._step_avg
        change = float(x[-k:].sum() - x[:k].sum()) / k
        x -= np.linspace(0.0, change, x.size)
        return likeness(x, recent)[0]

    def hf_floor(self, hist: History, r: int) -> float:
        """The median |zero-phase 15-40 Hz band-pass| from 1 s to 0.1 s before ``r``: the
        noise in the QRS-edge band (muscle noise; a QRS in the window barely moves the
        median); 0 where the window is not kept."""
        a = r - self._floor_pre - self._hf_half - hist.start
        b = r - self._floor_post + self._hf_half + 1 - hist.start
        if a < 0 or b > hist.end - hist.start:
            return 0.0
        y = np.correlate(hist.data[self._row, a:b], self._hf_fir, "valid")
        return float(np.median(np.abs(y)))

    def shape(self, hist: History, r: int, known: int) -> FloatArray | None:
        """A copy of the raw samples from 80 ms before to 100 ms after R; None unless all
        of them are known (up to sample ``known``, the decision's look-ahead: chunking
        never changes the result)."""
        a = r - self._shape_pre - hist.start
        b = r + self._shape_post + 1 - hist.start
        if a < 0 or b > known + 1 - hist.start:
            return None
        return hist.data[self._row, a:b].copy()

    def correlation(
        self, hist: History, r: int, known: int, recent: Iterable[FloatArray]
    ) -> float | None:
        """:func:`likeness`'s correlation of the :meth:`shape` at ``r`` with the ``recent``
        shapes; None if there are none or the shape is not known."""
        x = self.shape(hist, r, known)
        return None if x is None or not recent else likeness(x, recent)[0]


def likeness(x: FloatArray, recent: Iterable[FloatArray]) -> tuple[float, float, float]:
    """How like the ``recent`` shapes (:meth:`QrsPlacer.shape`) ``x`` is: the largest
    correlation coefficient with one of them, ``x``'s size (the norm of its deviations
    from its mean) and the median of theirs."""
    m = np.array(recent)
    m -= m.mean(axis=1, keepdims=True)
    sizes = np.sqrt(np.einsum("ij,ij->i", m, m))
    xc = x - x.mean()
    size = math.sqrt(float(xc @ xc))
    usual = float(np.median(sizes))
    scale = sizes * size
    if not size or not scale.all():
        return -1.0, size, usual
    return float(np.max((m @ xc) / scale)), size, usual
