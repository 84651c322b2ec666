"""The ECG/PPG fast paths equal the plain computations they replace (bit for bit).

Throughput work moved the extractors' front ends into the history buffer (filtered in
place, past samples read from the buffer instead of carried tails), replaced small numpy
calls by Python on a few values, and computes the R-placement window from a fixed start.
These tests pin each shortcut to the straightforward formula; none of them times anything.
"""

from __future__ import annotations

import statistics

import numpy as np
import pytest
from scipy.ndimage import maximum_filter1d
from scipy.signal import butter, sosfilt, sosfilt_zi

from biosignals import ppg
from biosignals._ecg_peaks import window_max
from biosignals._ecg_qrs import QrsDetector
from biosignals._stream import History, SosState, median_of_few
from biosignals.ecg import EcgExtractor
from biosignals.ppg import PpgExtractor, _first_peak, simulate_ppg
from biosignals.twin import TwinPhysiology, TwinProfile


def test_median_equals_statisticsmedian_of_few() -> None:
    rng = np.random.default_rng(0)
    for n in range(1, 12):
        values = rng.uniform(0.3, 1.5, n).tolist()
        assert median_of_few(values) == statistics.median(values)


def test_filter_in_place_on_history_rows_equals_sosfilt() -> None:
    sos = butter(2, [0.5, 8.0], btype="bandpass", fs=100.0, output="sos")
    x = np.random.default_rng(1).normal(size=700) + 2.0
    ref, _ = sosfilt(sos, x, zi=sosfilt_zi(sos) * x[0])
    hist = History(2, 50)  # small: forces compaction and a buffer regrowth
    state = SosState(sos)
    state.start(float(x[0]))
    got: list[np.ndarray] = []
    for size in (7, 1, 300, 13, 379):
        done = sum(g.size for g in got)
        chunk = x[done : done + size]
        buf, col = hist.block(chunk.size)
        buf[1, col : col + chunk.size] = chunk
        state.filter_in_place(buf[1:2, col : col + chunk.size])
        got.append(hist.data[1, -chunk.size :].copy())
        if len(got) > 1:  # the previous sample is still held just before the block
            assert buf[1, col - 1] == got[-2][-1]
    np.testing.assert_array_equal(np.concatenate(got), ref)


def test_window_max_equals_maximum_filter1d() -> None:
    rng = np.random.default_rng(2)
    for n in (1, 5, 61, 400):
        seg = rng.normal(size=n)
        seg[::7] = seg[0]  # ties
        want = maximum_filter1d(seg, 61, mode="constant", cval=-np.inf)
        np.testing.assert_array_equal(window_max(seg, 61, np.empty(n)), want)


def _plain_first_peak(seg: np.ndarray, h: int) -> int | None:
    """The vectorised rule the PPG decision used before (NaN-propagating maximum)."""
    n = seg.size - h
    if n <= 0:
        return None
    ahead = seg[1 : n + 1].copy()
    for j in range(2, h + 1):
        np.maximum(ahead, seg[j : j + n], out=ahead)
    ok = seg[:n] >= ahead
    ok[1:] &= seg[1:n] > seg[: n - 1]
    k = int(ok.argmax())
    return k if ok[k] else None


def test_first_peak_equals_the_vectorised_rule() -> None:
    rng = np.random.default_rng(3)
    for _ in range(3000):
        seg = np.round(rng.normal(size=int(rng.integers(1, 45))), 1)  # ties and plateaus
        if rng.random() < 0.1:
            seg[rng.integers(0, seg.size)] = np.nan
        h = int(rng.integers(1, 8))
        assert _first_peak(seg.tolist(), h) == _plain_first_peak(seg, h)


def _plain_refine(q: QrsDetector, c: int, lo: int) -> tuple[int, float]:
    """Argmax and max of |zero-phase band-pass| over [lo, c], computed from lo with
    concatenations."""
    raw = q._hist.data[0]
    half = q._placer._ref_half
    seg = raw[lo - half - q._hist.start : c + q._look + 1 - q._hist.start]
    after = half - q._look
    seg = np.concatenate((seg, 2.0 * seg[-1] - seg[-2 : -2 - after : -1]))
    y = np.abs(np.convolve(seg[: c - lo + 1 + 2 * half], q._placer._ref_fir[::-1], mode="valid"))
    return lo + int(y.argmax()), float(y.max())


def test_refine_from_the_fixed_window_start_equals_refining_from_lo() -> None:
    twin = TwinPhysiology(TwinProfile(), start_time=0.0, seed=4)
    c = twin.advance(20.0)
    ext = EcgExtractor(500.0)
    ext.update(c.ecg, c.ecg_t)
    q = ext._qrs
    rng = np.random.default_rng(4)
    for cand in rng.integers(2000, c.ecg.size - 200, 40).tolist():
        pre = q._placer._refine_pre
        for clip in (0, 30, 90, pre):  # lo after a short RR: later than usual
            last_r = cand - pre + clip - q._refractory // 2
            lo = max(cand - pre, last_r + q._refractory // 2)
            assert q._placer.refine(q._hist, cand, last_r) == _plain_refine(q, cand, lo)


@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_ppg_clean_and_faulty_chunks_match_one_call(chunk: int) -> None:
    beats = np.cumsum(np.full(60, 0.8))
    t, x, _ = simulate_ppg(beats, 100.0, 50.0, noise=0.03, seed=5)
    x[1200:1300] = np.nan
    x[2000:2600] = x[1999]  # held flat: sensor off
    whole = [(b.time, b.sample) for b in PpgExtractor(100.0).update(x, t)]
    ext = PpgExtractor(100.0)
    parts = []
    for i in range(0, x.size, chunk):
        parts += [(b.time, b.sample) for b in ext.update(x[i : i + chunk], t[i : i + chunk])]
    assert parts == whole and len(whole) > 40


def test_ppg_crossing_in_python_floats_equals_the_vectorised_search(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Crossings searched over a few samples in Python floats (frame-sized chunks) are
    the vectorised search's: the same pulses, with a flat stretch and a dropout."""
    beats = np.cumsum(0.8 + 0.1 * np.sin(np.arange(80)))
    t, x, _ = simulate_ppg(beats, 100.0, 60.0, noise=0.05, seed=6)
    x[1500:1560] = np.nan
    x[3000:3500] = x[2999]
    sizes = np.random.default_rng(6).integers(1, 12, x.size).tolist()
    results = []
    for few in (ppg._FEW, 0):  # 0: every crossing vectorised
        monkeypatch.setattr(ppg, "_FEW", few)
        ext, out, i = PpgExtractor(100.0), [], 0
        for k in sizes:
            out += [(b.time, b.sample, b.rr) for b in ext.update(x[i : i + k], t[i : i + k])]
            i += k
        results.append(out)
    assert results[0] == results[1] and len(results[0]) > 50


def _plain_crossing(values: np.ndarray, thr: float, lo: int) -> int | None:
    """The vectorised crossing search of ``PpgExtractor._crossing``."""
    above = values > thr
    if above.item(0):
        first = int(above.argmin())
        if above.item(first):
            return None
        j = first + int(above[first:].argmax())
    else:
        j = int(above.argmax())
    return lo + j - 1 if above.item(j) else None


def test_ppg_crossing_few_equals_the_vectorised_rule() -> None:
    rng = np.random.default_rng(7)
    found = 0
    for _ in range(5000):
        n = int(rng.integers(2, 18))
        values = rng.choice([0.0, 0.4, 0.5, 0.6, 1.0, np.nan], n)
        data = np.zeros((5, n + 3))
        data[ppg._SSF, 3:] = values
        want = _plain_crossing(values, 0.5, 100)
        assert ppg._crossing_few(data, 3, n + 3, 0.5, 100) == want
        found += want is not None
    assert 1000 < found < 4900
