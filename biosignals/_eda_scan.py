"""Private: the vectorised onset search of :class:`biosignals.eda.EdaExtractor`.

The functions take the feature buffer of :mod:`biosignals._eda_features` (columns are
samples) and *column* indices. For the chunk samples that may flag, :func:`first_hit`
finds each one's candidate onset (:func:`find_onsets`, not before the top of ``v`` after
the last flag, :func:`vpeak_floor`) and returns the first whose rise above the
extrapolated decay reaches the threshold. Everything is deterministic per sample, so
results do not depend on chunking.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from biosignals._eda_features import ROW_BAND, ROW_S, ROW_T, ROW_THR, ROW_V, ROW_W, FloatArray

IndexArray = NDArray[np.intp]

BLOCK_ROWS = 2048  # samples evaluated at once (bounds memory at high rates)


def vpeak_floor(
    v: FloatArray, t: FloatArray, first: int, stop: int, vpeak: tuple[float, int, float]
) -> int | IndexArray:
    """For columns ``first``..``stop - 1``: the column of the top of ``v`` after the last
    flag (onsets are not searched before it); one int if the same for all. ``vpeak``: the
    running maximum of ``v`` before ``first``, its column and the end of the second after
    the flag."""
    peak_v, peak_at, until = vpeak
    if until < t[first]:
        return peak_at
    last = np.arange(first, stop)
    seg = np.where(t[first:stop] <= until, v[first:stop], -np.inf)
    run = np.maximum.accumulate(seg)
    np.maximum(run, peak_v, out=run)  # the running maximum, peak_v included
    return np.maximum.accumulate(np.where(seg >= run, last, peak_at))


def find_onsets(
    v: FloatArray, tol: FloatArray, last: IndexArray, floor: int | IndexArray, back: IndexArray
) -> IndexArray:
    """Candidate onset column for the samples at (increasing) columns ``last``: the latest
    point of the window ``last - back`` below everything after it and within ``tol`` of
    the window's minimum, not before ``floor`` (the sample itself if there is none)."""
    idx = last[:, None] - back
    vr = v[idx]  # column c: back[c] samples back
    if isinstance(floor, int):
        if floor > last[0] - back[-1]:
            vr[idx < floor] = np.inf
    else:
        vr[idx < floor[:, None]] = np.inf
    # the latest point within tol of the minimum: everything after it lies higher
    near = vr <= (np.minimum.reduce(vr, axis=1) + tol)[:, None]
    return last - back[near.argmax(axis=1)]


def first_hit(
    buf: FloatArray,
    cols: IndexArray,
    first: int,
    stop: int,
    vpeak: tuple[float, int, float],
    back: IndexArray,
) -> tuple[int, int, float] | None:
    """First of the (increasing) columns ``cols``, within ``[first, stop)``, whose rise
    reaches the threshold from a new onset: (column, onset column, rise), or None.

    ``vpeak`` as for :func:`vpeak_floor`, ``back`` as for :func:`find_onsets`. Onsets
    are never before the top of ``v`` after the last flag, so never at or before the
    last flagged onset.
    """
    w, slope, t, v = buf[ROW_W], buf[ROW_S], buf[ROW_T], buf[ROW_V]
    floor = vpeak_floor(v, t, first, stop, vpeak)
    for a in range(0, cols.size, BLOCK_ROWS):
        last = cols[a : a + BLOCK_ROWS]
        below = floor if isinstance(floor, int) else floor[last - first]
        onset = find_onsets(v, 0.5 * buf[ROW_BAND][last], last, below, back)
        # the rise above w_on + s_on * tau * (1 - exp(-(t_last - t_on) / tau)), tau = 1 s;
        # computed as a sum with expm1 of the negative age, which rounds exactly the same
        e = w[last] - w[onset] + slope[onset] * np.expm1(t[onset] - t[last])
        ok = e >= buf[ROW_THR][last]
        q = int(ok.argmax())
        if ok[q]:
            return int(last[q]), int(onset[q]), float(e[q])
    return None


def first_hit_one(
    buf: FloatArray, c: int, vpeak: tuple[float, int, float], back: IndexArray
) -> tuple[int, int, float] | None:
    """:func:`first_hit` of the one column ``c`` (a frame's sample) with scalars where the
    vectorised search takes rows of columns: the same operations, the same numbers."""
    v, t = buf[ROW_V], buf[ROW_T]
    peak_v, peak_at, until = vpeak
    tc = t.item(c)
    floor = peak_at  # as vpeak_floor
    if not until < tc:
        seg = v.item(c) if tc <= until else -np.inf
        run = seg if seg >= peak_v or seg != seg else peak_v  # np.maximum keeps a NaN
        floor = c if seg >= run else peak_at
    idx = c - back  # as find_onsets
    vr = v[idx]
    if floor > c - back[-1]:
        vr[idx < floor] = np.inf
    k = int((vr <= np.minimum.reduce(vr) + 0.5 * buf.item(ROW_BAND, c)).argmax())
    onset = c - int(back[k])
    w, slope = buf[ROW_W], buf[ROW_S]
    e = w.item(c) - w.item(onset) + slope.item(onset) * float(np.expm1(t.item(onset) - tc))
    return (c, onset, e) if e >= buf.item(ROW_THR, c) else None
