"""Private: the front end of the streaming QRS detector (:mod:`biosignals._ecg_qrs`).

Butterworth band-pass 5-15 Hz (Pan & Tompkins 1985), first difference, squaring and
150 ms moving-window integration (MWI), vectorised per chunk; the recursions read their
past from the detector's history rows instead of carrying tails, so results never depend
on how the signal is cut into chunks.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter

from biosignals._stream import (
    FloatArray,
    History,
    SosState,
    causal_window,
    filter_and_difference,
)

# History rows: raw samples, derivative, MWI, time; band-pass and squared derivative.
RAW, DER, MWI, TIME, BP, SQ = 0, 1, 2, 3, 4, 5
ROWS = 6
BAND_HZ = (5.0, 15.0)
BAND_ORDER = 2
_FEW = 16  # chunks up to this long run in Python floats


class QrsFrontEnd:
    """Band-pass derivative, square and MWI at sampling rate ``fs``."""

    def __init__(self, fs: float) -> None:
        self.fs = fs
        self._sos = butter(BAND_ORDER, BAND_HZ, btype="bandpass", fs=fs, output="sos")
        self._fs = np.array(fs)  # 0-d operand: a cheaper ufunc call than a Python float
        self.w_mwi = max(1, round(0.150 * fs))
        # np.convolve(sq, b) is np.correlate(sq, b[::-1]): the same arithmetic, reversed once
        self._mwi_b = np.full(self.w_mwi, 1.0 / self.w_mwi)[::-1].copy()
        self.reset()

    def reset(self) -> None:
        """Forget the band-pass state (it starts again at the next sample)."""
        self._bp = SosState(self._sos)

    def append(self, hist: History, x: FloatArray, t: FloatArray) -> None:
        """Append the chunk ``x`` (times ``t``) with its band-pass derivative, square and
        MWI to ``hist``."""
        if self._bp.zi is None:
            self._bp.start(float(x[0]))
        buf, col = hist.block(x.size)
        end = col + x.size
        if col and x.size <= _FEW:  # a frame's: the same numbers in Python floats
            ys = self._bp.filter_list(x.tolist())
            prev, fs = buf.item(BP, col - 1), self.fs
            der = []
            for y in ys:
                der.append((y - prev) * fs)
                prev = y
            buf[RAW : DER + 1, col:end] = (x, der)
            buf[TIME : SQ + 1, col:end] = (t, ys, [d * d for d in der])
        else:
            buf[RAW, col:end] = x
            buf[TIME, col:end] = t
            block = buf[DER, col:end]
            filter_and_difference(buf, BP, col, x, self._bp, block)
            np.multiply(block, self._fs, out=block)
            np.multiply(block, block, out=buf[SQ, col:end])
        win = causal_window(buf[SQ], col, end, self.w_mwi)
        buf[MWI, col:end] = np.correlate(win, self._mwi_b, "valid")
