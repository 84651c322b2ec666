"""Private: QRS candidates of the streaming detector (:mod:`biosignals._ecg_qrs`).

A candidate is a local maximum of the moving-window integral (MWI) that dominates the
look-ahead on either side (+-60 ms), found once all its look-ahead samples are known, so
chunking never changes the candidates. Each comes with its MWI value and the largest
|derivative| over the MWI window before it (the slope used for T-wave discrimination).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from biosignals._stream import FloatArray, History, any_peak, extremes, window_extreme

_FEW = 64  # new indices up to which new() looks for a local maximum first


class MwiPeaks:
    """Candidates at sampling rate ``fs`` with ``look`` samples of look-ahead and an MWI
    of ``w_mwi`` samples; ``rows``: the history rows of the raw samples, the derivative
    and the MWI."""

    def __init__(self, fs: float, look: int, w_mwi: int, rows: tuple[int, int, int]) -> None:
        self.fs, self._look, self._w_mwi = fs, look, w_mwi
        self._raw, self._der, self._mwi = rows
        self._next = 0  # the first index not yet searched
        self._peak = np.empty(0)  # scratch for the MWI window maxima

    def new(self, hist: History) -> Iterable[tuple[int, float, float]]:
        """New candidates in ``hist``: MWI peaks that dominate +-look, with their value and
        the largest |derivative| over the MWI window before them."""
        start, look = hist.start, self._look
        last = hist.end - 1 - look  # newest index that can be decided now
        nxt = self._next
        if last < nxt:
            return []
        self._next = last + 1
        lo = max(nxt - look, start)  # the windows of the new indices start here
        seg = hist.data[self._mwi, lo - start :]
        if last - nxt < _FEW and not any_peak(seg, nxt - lo, last - lo + 1):
            return []
        if self._peak.size < seg.size:
            self._peak = np.empty(2 * seg.size)
        peak = window_max(seg, 2 * look + 1, self._peak[: seg.size])
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
        low, high = extremes(
            hist.data[self._raw, max(nxt - max(look, self._w_mwi), start) - start :]
        )
        dust = (1e-9 * self.fs * max(high, -low)) ** 2  # the largest |raw|
        if not all(v > dust for v in values):
            kept = [(c, v) for c, v in zip(hits, values, strict=True) if v > dust]
            if not kept:
                return []
            hits, values = [c for c, _ in kept], [v for _, v in kept]
        # max |derivative| over [c - w, c] for each candidate c, in one reduction
        a0 = max(hits[0] - self._w_mwi, start)
        der = np.abs(hist.data[self._der, a0 - start : hits[-1] + 2 - start])
        bounds: list[int] = []
        for c in hits:
            bounds += (max(c - self._w_mwi, start) - a0, c + 1 - a0)
        slopes = np.maximum.reduceat(der, bounds)[::2].tolist()
        return zip(hits, values, slopes, strict=True)


def window_max(seg: FloatArray, size: int, out: FloatArray) -> FloatArray:
    """``maximum_filter1d(seg, size, mode="constant", cval=-inf)`` (centred window) into
    ``out`` (same length)."""
    return window_extreme(seg, size, out, maximum=True, mode="constant", cval=-np.inf)
