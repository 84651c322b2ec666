"""Tests of biosignals.pipeline: best heart-rate source, HRV fields, bad input never raises."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from biosignals.errors import SignalError
from biosignals.pipeline import FeaturePipeline
from biosignals.ppg import simulate_ppg
from biosignals.twin_model import TwinPhysiology, TwinProfile

FRAME = 1.0 / 60.0


@cache
def _signals(seconds: float = 20.0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    twin = TwinPhysiology(TwinProfile(), start_time=0.0, seed=8)
    c = twin.advance(seconds)
    pt, ppg, _ = simulate_ppg(c.beat_times, 100.0, seconds, seed=9)
    hr_t = c.beat_times[1:]
    return {
        "heart": (c.ecg, c.ecg_t),
        "ppg": (ppg, pt),
        "hr": (60.0 / np.diff(c.beat_times) + 0.5, hr_t),  # offset tells the sources apart
        "eda": (c.eda, c.eda_t),
    }


RATES = {"heart": 500.0, "ppg": 100.0, "hr": 1.0, "eda": 32.0}


def _run(pipe: FeaturePipeline, until: float, drop: tuple[str, ...] = (), after: float = 12.0):
    sig = _signals()
    pos = dict.fromkeys(pipe.monitors, 0)
    now = 0.0
    for k in range(1, round(until / 0.25) + 1):  # 4 pulls per second
        now = k * 0.25
        for role in pipe.monitors:
            x, t = sig[role]
            j = int(np.searchsorted(t, now, side="right"))
            if not (role in drop and now > after):
                pipe.update(role, x[pos[role] : j], t[pos[role] : j])
            pos[role] = j
        pipe.check(now)
    return pipe.snapshot(now)


def test_heart_rate_comes_from_the_best_clean_source() -> None:
    snap = _run(FeaturePipeline(RATES), 14.0)
    assert snap.valid and snap.hr_source == "heart" and not snap.flags
    assert snap.rmssd_ms is not None and snap.sdnn_ms is not None
    assert snap.rmssd_10s_ms is not None and 0.0 < snap.rmssd_ms < 200.0
    assert snap.arousal_detail is not None and snap.arousal_detail.valid
    snap = _run(FeaturePipeline(RATES), 14.0, drop=("heart",))
    assert snap.valid and snap.hr_source == "ppg" and "heart:dropout" in snap.flags
    assert snap.rmssd_ms is not None
    snap = _run(FeaturePipeline(RATES), 14.0, drop=("heart", "ppg"))
    assert snap.valid and snap.hr_source == "hr" and snap.rmssd_ms is None
    hr_values = _signals()["hr"][0][(_signals()["hr"][1] > 9.0) & (_signals()["hr"][1] <= 14.0)]
    assert snap.hr_bpm == pytest.approx(np.median(hr_values))
    snap = _run(FeaturePipeline(RATES), 20.0, drop=("heart", "ppg", "hr"))
    assert not snap.valid and snap.hr_bpm is None and snap.arousal is None


def test_ecg_and_ppg_heart_rates_agree() -> None:
    a = _run(FeaturePipeline({"heart": 500.0}), 14.0)
    b = _run(FeaturePipeline({"ppg": 100.0}), 14.0)
    assert a.hr_bpm is not None and b.hr_bpm is not None
    assert abs(a.hr_bpm - b.hr_bpm) < 2.0


@pytest.mark.parametrize(
    ("samples", "timestamps"),
    [
        (np.zeros((10, 3)), np.arange(10.0)),  # three channels
        (np.zeros(10), np.arange(9.0)),  # lengths differ
        (["a", "b"], [0.0, 1.0]),  # not numeric
        (np.zeros((2, 5, 1)), np.arange(10.0)),  # 3-D
        (np.full(10, np.nan), np.arange(10.0)),  # all NaN
        (np.zeros(3), [np.nan, np.inf, 1.0]),  # bad timestamps
        (np.zeros(5), [5.0, 4.0, 3.0, 2.0, 1.0]),  # backwards
        (5.0, 1.0),  # scalars
        ([], []),
    ],
)
def test_bad_input_is_flagged_not_raised(samples: object, timestamps: object) -> None:
    pipe = FeaturePipeline(RATES)
    for role in RATES:
        out = pipe.update(role, samples, timestamps)  # type: ignore[arg-type]
        assert isinstance(out.quality, list)
    pipe.check(100.0)
    snap = pipe.snapshot(100.0)
    assert not snap.valid


def test_wrong_channel_count_raises_format_flag_until_good_data() -> None:
    pipe = FeaturePipeline({"heart": 500.0})
    events = pipe.update("heart", np.zeros((10, 2)), np.arange(10) / 500.0).quality
    assert [e.flag for e in events] == ["format"] and "heart" in pipe.errors
    x, t = _signals()["heart"]
    ok = pipe.update("heart", x[:500].reshape(-1, 1), t[:500]).quality  # (n, 1) is fine
    assert [(e.flag, e.end is not None) for e in ok] == [("format", True)]


def test_wrong_sampling_rate_is_flagged() -> None:
    x, t = _signals()["heart"]
    pipe = FeaturePipeline({"heart": 250.0})  # declared 250 Hz, data is 500 Hz
    events = []
    for i in range(0, 3000, 100):
        events += pipe.update("heart", x[i : i + 100], t[i : i + 100]).quality
    assert "rate" in [e.flag for e in events]


def test_unknown_role_and_bad_rates_raise() -> None:
    with pytest.raises(SignalError, match="unknown stream role"):
        FeaturePipeline({"brain": 256.0})
    pipe = FeaturePipeline({"eda": 32.0})
    with pytest.raises(SignalError, match="not in this pipeline"):
        pipe.update("heart", np.zeros(3), np.arange(3.0))
    with pytest.raises(SignalError, match="sampling_rate"):
        FeaturePipeline({"ppg": 5.0})
    with pytest.raises(SignalError, match="hr"):
        FeaturePipeline({"hr": -1.0})


def test_baseline_and_arousal_through_the_pipeline() -> None:
    pipe = FeaturePipeline({"heart": 500.0, "eda": 32.0})
    sig = _signals()
    for k in range(1, 81):
        now = k * 0.25
        for role in ("heart", "eda"):
            x, t = sig[role]
            sel = (t > now - 0.25) & (t <= now)
            pipe.update(role, x[sel], t[sel])
        pipe.check(now)
        snap = pipe.snapshot(now)
        if k % 4 == 0:
            pipe.collect_baseline(snap)
    base = pipe.arousal.fix_baseline()
    assert base.hr_bpm is not None and base.scl_us is not None and base.scr_rate is not None
    assert 15 <= base.samples <= 19  # the first seconds have no heart rate yet
    snap = pipe.snapshot(20.0)
    assert snap.valid and snap.arousal is not None and 0.0 <= snap.arousal < 0.3
    assert snap.arousal_detail is not None and snap.arousal_detail.hr_part is not None


def test_snapshot_without_hrv_keeps_everything_else() -> None:
    import numpy as np

    from biosignals.pipeline import FeaturePipeline
    from biosignals.twin import TwinPhysiology, TwinProfile

    twin = TwinPhysiology(TwinProfile(), start_time=0.0, seed=2)
    pipe = FeaturePipeline({"heart": 500.0, "eda": 32.0})
    chunk = twin.advance(90.0)
    pipe.update("heart", chunk.ecg, chunk.ecg_t)
    pipe.update("eda", chunk.eda, chunk.eda_t)
    full, lean = pipe.snapshot(90.0), pipe.snapshot(90.0, with_hrv=False)
    assert full.rmssd_ms is not None and lean.rmssd_ms is None and lean.sdnn_10s_ms is None
    assert (lean.hr_bpm, lean.scl_us, lean.arousal, lean.valid) == (
        full.hr_bpm,
        full.scl_us,
        full.arousal,
        full.valid,
    )
    assert np.isfinite(full.rmssd_ms)
