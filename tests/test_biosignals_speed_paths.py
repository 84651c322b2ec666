"""The fast paths of the biosignal pipeline give the same results as the exact ones.

Throughput work replaced reductions and recomputation by shortcuts (first-NaN look-ups,
per-window memos, a cached flag tuple, skipped repairs of clean chunks). These tests pin
the shortcuts to the plain computations they stand for; none of them times anything.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from biosignals import quality
from biosignals._stream import (
    all_finite,
    all_true,
    as_chunk,
    extremes,
    fill_nonfinite,
    in_order,
)
from biosignals.ecg import HeartBeat
from biosignals.errors import SignalError
from biosignals.hrv import HrvTracker
from biosignals.pipeline import FeaturePipeline
from biosignals.quality import BurstRules, QualityMonitor


def _plain_hrv(times: list[float], broken: set[int], window: float, end: float) -> tuple:
    """RMSSD/SDNN (ms) recomputed from scratch with the documented rules."""
    rows = []  # (time, rr, normal, diff)
    ref: list[float] = []
    prev_nn = None
    for i in range(1, len(times)):
        rr = times[i] - times[i - 1]
        plausible = 60.0 / 220.0 <= rr <= 2.0
        normal = plausible and i not in broken
        if normal and len(ref) >= 3:
            med = float(np.median(ref[-9:]))
            normal = abs(rr - med) <= 0.2 * med
        if plausible:
            ref.append(rr)
        diff = rr - prev_nn if normal and prev_nn is not None else math.nan
        prev_nn = rr if normal else None
        rows.append((times[i], rr, normal, diff))
    sel = [r for r in rows if end - window < r[0] <= end]
    nn = np.array([r[1] for r in sel if r[2]])
    diffs = np.array([r[3] for r in sel[1:] if not math.isnan(r[3])])
    enough = bool(sel) and 2 * nn.size >= len(sel)
    sdnn = float(np.std(nn, ddof=1)) * 1e3 if enough and nn.size >= 5 else None
    rmssd = float(np.sqrt(np.mean(diffs**2))) * 1e3 if enough and diffs.size >= 5 else None
    return rmssd, sdnn


def test_hrv_memo_matches_a_fresh_computation_as_beats_arrive() -> None:
    rng = np.random.default_rng(3)
    rr = 0.8 + 0.05 * rng.standard_normal(400)
    rr[::37] *= 0.6  # ectopic-like short intervals
    times = np.cumsum(rr).tolist()
    broken = {50, 51, 200}
    tracker = HrvTracker(60.0)
    compared = 0
    for i, t in enumerate(times):
        if i in broken:
            tracker.interrupt()
        tracker.update([HeartBeat(t, i, None, None)])
        if i % 7 == 0:
            for window in (10.0, 60.0):
                for now in (None, t + 0.3, t + 5.0):
                    got = tracker.rmssd_sdnn(window, now)
                    assert got == (tracker.rmssd(window, now), tracker.sdnn(window, now))
                    want = _plain_hrv(times[: i + 1], broken, window, t if now is None else now)
                    for g, w in zip(got, want, strict=True):
                        assert (g is None) == (w is None)
                        if g is not None and w is not None:
                            assert g == pytest.approx(w, rel=1e-9)
                            compared += 1
    assert compared > 300
    nn = tracker.nn_intervals(60.0)
    assert nn and all(0.27 <= v <= 2.0 for v in nn)


def test_reduction_shortcuts_match_numpy() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        x = rng.standard_normal(int(rng.integers(1, 50)))
        if rng.random() < 0.3:
            x[rng.integers(0, x.size)] = rng.choice([np.nan, np.inf, -np.inf])
        lo, hi = extremes(x)
        if np.isnan(x).any():
            assert math.isnan(lo) and math.isnan(hi)
        else:
            assert (lo, hi) == (x.min(), x.max())
        assert all_finite(x) == bool(np.isfinite(x).all())
        mask = x > 0.0
        assert all_true(mask) == bool(mask.all())


def test_order_and_finiteness_shortcuts_of_short_chunks() -> None:
    """Short chunks are checked in Python floats: a NaN inside, an infinity, sums that
    overflow, signed zeros and ties get the answers of the vectorised checks."""
    rng = np.random.default_rng(2)
    for _ in range(2000):
        n = int(rng.integers(1, 40))
        t = np.sort(rng.choice([-0.0, 0.0, 1.0, 2.0, 1e308, -1e308], n))
        if rng.random() < 0.5:
            t = np.cumsum(rng.uniform(-0.1, 1.0, n))
        if rng.random() < 0.3:
            t[rng.integers(0, n)] = rng.choice([np.nan, np.inf, -np.inf])
        finite = bool(np.isfinite(t).all())
        want = finite and (n < 2 or bool((t[1:] >= t[:-1]).all()))
        assert in_order(t, None) == want
        assert all_finite(t) == finite


def test_fill_nonfinite_and_as_chunk_keep_their_contract() -> None:
    x = np.array([1.0, np.nan, 3.0, np.inf, -np.inf, 6.0])
    filled, last = fill_nonfinite(x, 0.5)
    assert filled.tolist() == [1.0, 1.0, 3.0, 3.0, 3.0, 6.0] and last == 6.0
    big = np.array([1e308, 1e308])  # overflowing sum, finite values: unchanged
    assert fill_nonfinite(big, 0.0)[0].tolist() == big.tolist()
    t = np.arange(5.0)
    assert as_chunk(np.zeros(5), t, None, "w")[1] is not None
    with pytest.raises(SignalError, match="finite"):
        as_chunk(np.zeros(5), np.array([0.0, 1.0, np.nan, 3.0, 4.0]), None, "w")
    with pytest.raises(SignalError, match="finite"):
        as_chunk(np.zeros(3), np.array([0.0, 1.0, np.inf]), None, "w")
    with pytest.raises(SignalError, match="non-decreasing"):
        as_chunk(np.zeros(3), np.array([0.0, 2.0, 1.0]), None, "w")
    with pytest.raises(SignalError, match="non-decreasing"):
        as_chunk(np.zeros(3), np.array([0.0, 1.0, 2.0]), 0.5, "w")


def _events(monitor: QualityMonitor, x: np.ndarray, t: np.ndarray, chunk: int) -> list:
    out = []
    for i in range(0, x.size, chunk):
        monitor.update(x[i : i + chunk], t[i : i + chunk])
        out += monitor.drain_events()
    return out


def test_quality_flags_do_not_depend_on_chunking_with_every_fault() -> None:
    fs = 100.0
    t = np.arange(3000) / fs
    x = np.sin(2 * np.pi * 1.3 * t) + 0.01 * np.random.default_rng(1).standard_normal(t.size)
    x[500:560] = 0.25  # flatline
    x[900:920] = x[:2000].max() + 1.0  # clipping at a new maximum
    x[1200:1203] = np.nan
    x[1500] = np.inf
    x[2999] = np.nan  # the last sample is bad: the flag must stay up
    t[2200:] += 1.0  # a gap (rate check)
    results = []
    for chunk in (1, 7, 1000):
        monitor = QualityMonitor("ppg", fs, value_range=(-5.0, 5.0))
        results.append(_events(monitor, x, t, chunk))
    assert results[0] == results[1] == results[2]
    flags = {e.flag for e in results[0]}
    assert {"flatline", "clipping", "nan"} <= flags
    monitor = QualityMonitor("ppg", fs)
    _events(monitor, x, t, 1000)
    assert monitor.active == ("nan",) and monitor.flagged


@pytest.mark.parametrize("checked", [False, True])
@pytest.mark.parametrize("device_range", [None, (-7.0, 7.0)])
def test_frame_sized_chunks_take_the_flags_of_the_vectorised_checks(
    monkeypatch: pytest.MonkeyPatch, device_range: tuple[float, float] | None, checked: bool
) -> None:
    """Chunks of 1-16 samples, checked in Python floats while nothing is wrong, raise and
    clear every flag as the vectorised checks of the same chunks do: a burst, a rate that
    drifts off and back, a gap, equal neighbours, new extremes, out of range, flatline."""
    fs = 250.0
    rng = np.random.default_rng(4)
    dt = np.full(12000, 1.0 / fs)
    dt[3000:5000] = 1.0 / (0.6 * fs)  # 8 s at 60 % of the rate
    dt[7000] = 2.0  # a gap
    t = 50.0 + np.cumsum(dt)
    x = np.sin(2 * np.pi * 1.2 * t) + 0.002 * rng.standard_normal(t.size)
    x[6000:6400] += rng.uniform(-3.0, 3.0, 400)  # a wide-band burst
    x[8000:8004] = x[8000]  # a short hold (no flatline)
    x[1500:1510] = 0.9  # a hold below the running maximum: no clipping
    x[9000:9100] = 7.0  # out of range, then clipping at the new maximum
    x[10000:10200] = 0.0  # a flatline
    x[11000] = np.nan
    sizes = rng.integers(1, 17, 12000).tolist()
    results = []
    for few in (quality.FEW, 0):  # 0: every chunk vectorised
        monkeypatch.setattr(quality, "FEW", few)
        monitor = QualityMonitor(
            "heart",
            fs,
            value_range=(-6.0, 6.0),
            device_range=device_range,
            burst=BurstRules(peak_fraction=0.3),
        )
        out, i = [], 0
        for k in sizes:
            if checked:  # as the pipeline calls it (non-empty, timestamps in order)
                if i < x.size:
                    monitor.update_checked(x[i : i + k], t[i : i + k])
            else:
                monitor.update(x[i : i + k], t[i : i + k])
            out += monitor.drain_events()
            i += k
        results.append((out, monitor.active, monitor.raised))
    assert results[0] == results[1]
    flags = {e.flag for e in results[0][0]}
    assert {"artifact", "rate", "out_of_range", "clipping", "flatline", "nan"} <= flags


def test_pipeline_repairs_out_of_order_chunks_as_before() -> None:
    pipe = FeaturePipeline({"eda": 32.0})
    t = np.arange(64) / 32.0
    x = np.full(64, 5.0) + 0.01 * np.sin(t)
    pipe.update("eda", x[:32], t[:32])
    out = pipe.update("eda", x[32:], t[32:] - 0.5)  # clock jumped back: repaired, not raised
    assert pipe.eda is not None and pipe.eda.scl is not None
    assert all(e.flag != "format" for e in out.quality)
    bad = pipe.update("eda", x[:4], np.array([3.0, np.nan, 3.1, 3.2]))
    assert "non-finite" in pipe.errors["eda"]
    assert any(e.flag == "format" for e in bad.quality)


def test_both_filter_paths_give_the_same_features(monkeypatch: pytest.MonkeyPatch) -> None:
    """SosState filters short chunks in Python floats and long ones with SciPy's sosfilt
    (biosignals._sos); all one way, all the other or mixed (the default: 1-s ECG chunks
    through SciPy, PPG and EDA in Python), the features are identical."""
    import biosignals._sos as sos
    from biosignals.ppg import simulate_ppg
    from biosignals.twin_model import TwinPhysiology, TwinProfile

    twin = TwinPhysiology(TwinProfile(), start_time=0.0, seed=4)
    twin.set_intensity(0.7)
    c = twin.advance(40.0)
    pt, ppg, _ = simulate_ppg(c.beat_times, 100.0, 40.0, noise=0.03, seed=4)
    streams = {"heart": (c.ecg, c.ecg_t), "ppg": (ppg, pt), "eda": (c.eda, c.eda_t)}

    def run(python_max: int) -> list[tuple[object, ...]]:
        monkeypatch.setattr(sos, "PYTHON_FILTER_MAX", python_max)
        pipe = FeaturePipeline({"heart": 500.0, "ppg": 100.0, "eda": 32.0})
        out: list[tuple[object, ...]] = []
        for k in range(1, 41):
            for role, (x, t) in streams.items():
                sel = (t > k - 1) & (t <= k)
                o = pipe.update(role, x[sel], t[sel])
                out += [(role, b.time, b.sample, b.hr_bpm) for b in o.beats]
                out += [(r.onset, r.amplitude_us) for r in o.responses]
            s = pipe.snapshot(float(k))
            out.append((s.hr_bpm, s.scl_us, s.scr_rate, s.rmssd_ms, s.sdnn_ms))
        return out

    mixed = run(sos.PYTHON_FILTER_MAX)
    assert run(0) == mixed  # every chunk through scipy.signal.sosfilt
    assert run(10**9) == mixed  # every chunk in Python floats
    assert len([v for v in mixed if v[0] == "heart"]) > 40  # beats were found
    assert len([v for v in mixed if v[0] == "ppg"]) > 40
