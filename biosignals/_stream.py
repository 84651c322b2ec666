"""Private helpers shared by the streaming extractors (ECG, PPG, EDA).

Input validation for ``update(samples, timestamps)`` chunks, non-finite sample repair,
filtering into buffer rows (:class:`~biosignals._sos.SosState`) and a sliding history
buffer with absolute sample indices (written in place block by block). Everything here
is deterministic per sample, so results do not depend on how a signal is cut into chunks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from biosignals._sos import SosState
from biosignals.errors import SignalError

FloatArray = NDArray[np.float64]


def window_extreme(
    seg: FloatArray,
    size: int,
    out: FloatArray,
    *,
    maximum: bool,
    mode: str,
    cval: float = 0.0,
    origin: int = 0,
) -> FloatArray:
    """``scipy.ndimage.maximum_filter1d`` (or ``minimum_filter1d``) of the 1-D ``seg`` into
    ``out`` with the given ``mode`` (``"nearest"`` or ``"constant"``), ``cval`` and
    ``origin``. Returns ``out``."""
    filt = maximum_filter1d if maximum else minimum_filter1d
    filt(seg, size, output=out, mode=mode, cval=cval, origin=origin)
    return out


def filter_and_difference(
    buf: FloatArray, row: int, col: int, x: FloatArray, state: SosState, out: FloatArray
) -> None:
    """Filter ``x`` into ``buf[row, col : col + x.size]`` (state carried) and write its first
    difference into ``out``; the sample before the block is the row's previous one, held
    just before ``col`` (:meth:`History.block`), or 0 before the stream's first block."""
    end = col + x.size
    y = buf[row, col:end]
    state.filter_into(x, y)
    if col:
        np.subtract(y, buf[row, col - 1 : end - 1], out=out)
    else:
        out[0] = y[0] - 0.0
        np.subtract(y[1:], y[:-1], out=out[1:])


def causal_window(row: FloatArray, col: int, end: int, taps: int) -> FloatArray:
    """``row[col - taps + 1 : end]`` for a ``taps``-long causal FIR over columns
    ``[col, end)``; zeros stand for the samples before the stream."""
    w = taps - 1
    return row[col - w : end] if col >= w else np.concatenate((np.zeros(w - col), row[:end]))


def median_of_few(values: Iterable[float]) -> float:
    """``statistics.median`` of a few floats, without its generality (same result)."""
    data = sorted(values)
    n = len(data)
    if n % 2:
        return data[n // 2]
    return (data[n // 2 - 1] + data[n // 2]) / 2


def check_rate(sampling_rate: float, low: float, high: float, where: str) -> float:
    """Return ``sampling_rate`` as float, or raise SignalError if outside ``[low, high]``."""
    try:
        rate = float(sampling_rate)
    except (TypeError, ValueError) as exc:
        raise SignalError(
            f"{where}: sampling_rate must be a number, got {sampling_rate!r}"
        ) from exc
    if not math.isfinite(rate) or rate < low or rate > high:
        raise SignalError(
            f"{where}: sampling_rate must be finite and within [{low:g}, {high:g}] Hz, "
            f"got {sampling_rate!r}"
        )
    return rate


def as_chunk(
    samples: ArrayLike, timestamps: ArrayLike, last_time: float | None, where: str
) -> tuple[FloatArray, FloatArray]:
    """Validate one ``update`` chunk and return it as two float64 arrays.

    Raises
    ------
    SignalError
        If the arrays are not 1-D, differ in length, timestamps are not finite or go
        backwards (within the chunk or relative to ``last_time``).
    """
    try:
        x = np.asarray(samples, dtype=np.float64)
        t = np.asarray(timestamps, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SignalError(f"{where}: samples and timestamps must be numeric arrays") from exc
    if x.ndim != 1 or t.ndim != 1:
        raise SignalError(
            f"{where}: samples and timestamps must be 1-D, got shapes {x.shape} and {t.shape}"
        )
    if x.shape[0] != t.shape[0]:
        raise SignalError(
            f"{where}: {x.shape[0]} samples but {t.shape[0]} timestamps; lengths must match"
        )
    if t.size and not in_order(t, last_time):  # slow path only to say what is wrong
        if not np.all(np.isfinite(t)):
            raise SignalError(f"{where}: timestamps must be finite")
        raise SignalError(f"{where}: timestamps must be non-decreasing (monotonic clock)")
    return x, t


def all_true(mask: NDArray[np.bool_]) -> bool:
    """``mask.all()`` for a non-empty 1-D mask, without a ufunc reduction (a few times faster
    on the short arrays of one chunk: ``argmin`` finds the first False)."""
    return bool(mask[mask.argmin()])


def extremes(x: FloatArray) -> tuple[float, float]:
    """(min, max) of a non-empty 1-D array; NaN if it holds one (as ``np.min``/``np.max``).

    ``argmin``/``argmax`` return the first NaN and skip the ufunc-reduction set-up, which
    dominates for chunk-sized arrays.
    """
    return float(x[x.argmin()]), float(x[x.argmax()])


FEW = 16
"""Chunks up to this long (a frame's) are checked in Python floats first."""


def finite_floats(xs: list[float]) -> bool:
    """True if the Python floats' sum is finite: then none is NaN or infinite (either
    would make the sum one). False also when only the sum overflows: check another way."""
    return math.isfinite(sum(xs))


def all_finite(x: FloatArray) -> bool:
    """True if the non-empty 1-D array holds no NaN or infinity (its extremes are finite).

    A short array (a frame's) is first checked by :func:`finite_floats`; only an
    overflowing sum needs the extremes.
    """
    if x.shape[0] <= FEW and finite_floats(x.tolist()):
        return True
    lo, hi = extremes(x)
    return math.isfinite(lo) and math.isfinite(hi)


def in_order(t: FloatArray, last_time: float | None) -> bool:
    """True if the (non-empty) timestamps are finite and non-decreasing from ``last_time``.

    One vectorised comparison: NaN fails every comparison, and a non-decreasing series
    with finite ends has no infinity inside.
    """
    first, last = t.item(0), t.item(-1)
    if not (math.isfinite(first) and math.isfinite(last)):
        return False
    if last_time is not None and first < last_time:
        return False
    if t.shape[0] <= FEW:  # a frame's: finite, and sorted is ordered
        ts = t.tolist()
        if finite_floats(ts):
            return ts == sorted(ts)
    return t.shape[0] < 2 or all_true(t[1:] >= t[:-1])


def fill_nonfinite(x: FloatArray, last: float) -> tuple[FloatArray, float]:
    """Replace NaN/inf samples by the last finite value (``last`` before the chunk).

    Returns the repaired chunk and the last finite value after it.
    """
    if x.size and not all_finite(x):
        bad = ~np.isfinite(x)
        idx = np.where(bad, -1, np.arange(x.size))
        idx = np.maximum.accumulate(idx)
        padded = np.concatenate(([last], x))
        x = padded[idx + 1]
    if x.size:
        last = x.item(-1)
    return x, last


class History:
    """Rows of per-sample values for (at least) the last ``keep`` samples.

    ``data`` (a view, shape ``(rows, held)``) holds the newest samples; ``start`` is the
    absolute index of its column 0. Samples are written into a preallocated buffer; when it
    is full, all but the last ``keep`` are dropped before the new block is written, so any
    look-up within ``keep`` samples before the newest block, or inside it, is independent
    of chunk sizes, and adding a block costs O(block) amortised.
    """

    def __init__(self, rows: int, keep: int) -> None:
        self.keep = keep
        self._buf = np.zeros((rows, 4 * keep))
        self._len = 0
        self.start = 0
        self.data: FloatArray = self._buf[:, :0]

    @property
    def end(self) -> int:
        """Absolute index one past the newest sample."""
        return self.start + self._len

    def block(self, n: int) -> tuple[FloatArray, int]:
        """Add ``n`` samples, not yet written; return the whole preallocated buffer (``data``
        is its first columns) and the column of the first new sample. The caller writes every
        row of columns ``[col, col + n)`` before reading them.

        The previous ``keep`` samples stay in the buffer just before ``col`` (fewer only if
        fewer were appended), so per-sample recursions can read their past in place. The
        buffer may be replaced by the next call: do not keep it across calls.
        """
        self._make_room(n)
        col = self._len
        self._len += n
        self.data = self._buf[:, : self._len]
        return self._buf, col

    def _make_room(self, n: int) -> None:
        """Drop all but the last ``keep`` samples if ``n`` more would not fit."""
        if self._len + n > self._buf.shape[1]:
            held = min(self._len, self.keep)
            drop = self._len - held
            if held + n > self._buf.shape[1]:
                buf = np.empty((self._buf.shape[0], held + n + 3 * self.keep))
                buf[:, :held] = self._buf[:, drop : self._len]
                self._buf = buf
            else:
                self._buf[:, :held] = self._buf[:, drop : self._len].copy()
            self._len = held
            self.start += drop

    def rows(self, row: int, lo: int, hi: int) -> FloatArray:
        """Values of ``row`` for absolute indices ``[lo, hi)``, clipped to what is held."""
        a = max(lo, self.start) - self.start
        b = max(min(hi, self.end) - self.start, a)
        return self.data[row, a:b]


class ChunkConsumer(Protocol):
    """An extractor: a sampling rate and ``update(samples, timestamps)`` returning events."""

    sampling_rate: float

    def update(self, samples: ArrayLike, timestamps: ArrayLike) -> Sequence[Any]: ...


def offline_indices(
    ext: ChunkConsumer, signal: ArrayLike, chunk_s: float, index: Callable[[Any], int]
) -> NDArray[np.int64]:
    """Stream a whole recording through ``ext`` in ``chunk_s``-second chunks (sample ``i``
    at ``i / sampling_rate`` s) and return ``index(event)`` of every event, as int64.

    A signal that is not 1-D goes to ``ext.update`` once, whose SignalError names its shape.
    """
    x = np.asarray(signal, dtype=np.float64)
    t = np.arange(x.shape[0] if x.ndim == 1 else 0) / ext.sampling_rate
    if x.ndim != 1:
        ext.update(x, t)
    chunk = max(1, round(chunk_s * ext.sampling_rate))
    out: list[int] = []
    for i in range(0, x.size, chunk):
        out.extend(index(e) for e in ext.update(x[i : i + chunk], t[i : i + chunk]))
    return np.asarray(out, dtype=np.int64)


def any_peak(seg: FloatArray, first: int, stop: int) -> bool:
    """False if no index in ``[first, stop)`` of ``seg`` rises into a local maximum (above
    the value before it, or the first of ``seg``; at least the value after it): no
    candidate there, so the window maxima need not be computed (a frame's few samples)."""
    v = seg[first - 1 if first else 0 : stop + 1].tolist()
    if not first and v[0] >= v[1]:
        return True
    for i in range(1, len(v) - 1):  # noqa: SIM110 (a loop costs less than a generator)
        if v[i] > v[i - 1] and v[i] >= v[i + 1]:
            return True
    return False
