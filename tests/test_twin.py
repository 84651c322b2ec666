"""The simulated patient's physiology model (pure: no LSL, driven by a ManualClock)."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pydantic
import pytest
import yaml

from biosignals.errors import SignalError
from biosignals.twin_model import TwinChunk, TwinPhysiology, TwinProfile
from engine.clock import ManualClock

FIELDS = ("ecg", "ecg_t", "eda", "eda_t", "beat_times", "scr_onsets")


def run(
    profile: TwinProfile,
    schedule: dict[float, float],
    duration: float,
    step: float,
    seed: int = 0,
    start: float = 1000.0,
) -> tuple[dict[str, np.ndarray], TwinPhysiology]:
    """Advance a twin in ``step`` s with a ManualClock; ``schedule``: {elapsed s: intensity}."""
    clock = ManualClock(start)
    twin = TwinPhysiology(profile, start_time=start, seed=seed)
    chunks: list[TwinChunk] = []
    for k in range(round(duration / step)):
        elapsed = round(k * step, 9)
        if elapsed in schedule:
            twin.set_intensity(schedule[elapsed])
        clock.set(start + (k + 1) * step)
        chunks.append(twin.advance(clock.now()))
    joined = {f: np.concatenate([getattr(c, f) for c in chunks]) for f in FIELDS}
    return joined, twin


def hr_trace(profile: TwinProfile, schedule: dict[float, float], duration: float) -> np.ndarray:
    """True heart rate once per second."""
    twin = TwinPhysiology(profile, start_time=0.0, seed=3)
    out = []
    for k in range(round(duration)):
        if float(k) in schedule:
            twin.set_intensity(schedule[float(k)])
        twin.advance(k + 1.0)
        out.append(twin.true_heart_rate)
    return np.asarray(out)


def test_same_seed_same_samples_other_seed_differs() -> None:
    a, _ = run(TwinProfile(), {0.0: 0.3}, 20.0, 0.5, seed=7)
    b, _ = run(TwinProfile(), {0.0: 0.3}, 20.0, 0.5, seed=7)
    c, _ = run(TwinProfile(), {0.0: 0.3}, 20.0, 0.5, seed=8)
    for f in FIELDS:
        np.testing.assert_array_equal(a[f], b[f])
    assert not np.array_equal(a["ecg"], c["ecg"])
    assert not np.array_equal(a["beat_times"], c["beat_times"])


def test_chunk_invariance_10ms_vs_1s_steps() -> None:
    schedule = {0.0: 0.1, 10.0: 0.8, 20.0: 0.4}
    coarse, tc = run(TwinProfile(), schedule, 30.0, 1.0, seed=5)
    fine, tf = run(TwinProfile(), schedule, 30.0, 0.01, seed=5)
    for f in FIELDS:
        np.testing.assert_array_equal(coarse[f], fine[f], err_msg=f)
    assert tc.arousal == tf.arousal and tc.true_heart_rate == tf.true_heart_rate
    assert coarse["ecg"].size == 30 * 500 and coarse["eda"].size == 30 * 32
    np.testing.assert_allclose(np.diff(coarse["ecg_t"]), 1 / 500, atol=1e-9)
    assert coarse["beat_times"].size > 30 and coarse["scr_onsets"].size >= 1


def test_uneven_steps_match_too() -> None:
    a, _ = run(TwinProfile(), {0.0: 0.5}, 12.0, 0.037, seed=2)
    twin = TwinPhysiology(TwinProfile(), start_time=1000.0, seed=2)
    twin.set_intensity(0.5)
    whole = twin.advance(1000.0 + round(12.0 / 0.037) * 0.037)
    np.testing.assert_array_equal(a["ecg"], whole.ecg)
    np.testing.assert_array_equal(a["eda"], whole.eda)


def test_heart_rate_rises_after_the_lag_then_habituates() -> None:
    profile = TwinProfile(hrv_rsa_bpm=0.0, hrv_sd_bpm=0.0)  # lag 8 s, habituation 240 s
    hr = hr_trace(profile, {0.0: 0.0, 60.0: 0.8}, 660.0)
    rest = hr[50:60].mean()
    assert rest == pytest.approx(70.0, abs=0.1)
    assert hr[61] - rest < 0.3 * 45 * 0.8  # not there yet one second after the step
    peak = hr[60:120].max()
    assert peak > rest + 25  # about 45 * 0.8 * (habituated a little) bpm up
    assert int(np.argmax(hr[60:120])) > 8  # the peak comes after ~ the response lag
    late = hr[600:660].mean()
    assert late < peak - 8  # habituated over minutes...
    assert late > rest + 0.5 * 45 * 0.8 * 0.9  # ...toward the floor, not back to rest


def test_step_up_re_raises_a_habituated_response() -> None:
    profile = TwinProfile(hrv_rsa_bpm=0.0, hrv_sd_bpm=0.0)
    hr = hr_trace(profile, {0.0: 0.4, 600.0: 0.8}, 700.0)
    assert hr[650:700].mean() > hr[590:600].mean() + 15


def test_beats_match_the_true_heart_rate() -> None:
    twin = TwinPhysiology(TwinProfile(), start_time=0.0, seed=11)
    twin.set_intensity(0.5)
    twin.advance(60.0)  # settle
    beats, true_hr = [], []
    for k in range(1, 3001):  # 60 s in 20 ms steps (a runner's period)
        beats.append(twin.advance(60.0 + k * 0.02).beat_times)
        true_hr.append(twin.true_heart_rate)
    r = np.concatenate(beats)
    measured = 60.0 * (r.size - 1) / (r[-1] - r[0])
    assert measured == pytest.approx(np.mean(true_hr), abs=1.0)
    assert 80 < measured < 110


def test_ecg_morphology_r_peaks_at_beat_times() -> None:
    twin = TwinPhysiology(TwinProfile(ecg_noise_mv=0.0), start_time=0.0, seed=4)
    chunk = twin.advance(20.0)
    for r in chunk.beat_times[1:-1]:
        near = np.abs(chunk.ecg_t - r) <= 0.05
        top = chunk.ecg_t[near][np.argmax(chunk.ecg[near])]
        assert abs(top - r) <= 0.002
        assert 1.0 < chunk.ecg[near].max() < 1.4
        qrs = np.abs(chunk.ecg_t - r) <= 0.06
        assert chunk.ecg[qrs].min() < -0.1  # Q/S deflections
        t_wave = (chunk.ecg_t > r + 0.15) & (chunk.ecg_t < r + 0.4)
        assert 0.15 < chunk.ecg[t_wave].max() < 0.45
        above_half = chunk.ecg_t[qrs][chunk.ecg[qrs] > 0.6]
        assert np.ptp(above_half) < 0.03  # a narrow R spike


def test_skin_conductance_level_rises_with_intensity() -> None:
    twin = TwinPhysiology(TwinProfile(), start_time=0.0, seed=1)
    rest = twin.advance(60.0)
    assert twin.true_scl == pytest.approx(4.0, abs=0.01)
    twin.set_intensity(1.0)
    twin.advance(120.0)
    high = twin.advance(180.0)
    assert twin.true_scl > 6.0
    assert np.median(high.eda) > np.median(rest.eda) + 1.5


def test_scr_onsets_increase_with_arousal() -> None:
    calm, _ = run(TwinProfile(), {0.0: 0.0}, 600.0, 10.0, seed=9)
    aroused, twin = run(TwinProfile(habituation_floor=1.0), {0.0: 1.0}, 600.0, 10.0, seed=9)
    assert twin.arousal > 0.95
    assert calm["scr_onsets"].size < 20  # ~1 per minute
    assert aroused["scr_onsets"].size > 50  # ~8 per minute
    assert np.all(np.isin(aroused["scr_onsets"], aroused["eda_t"]))


def test_bad_input_is_refused() -> None:
    twin = TwinPhysiology(TwinProfile(), start_time=5.0)
    with pytest.raises(SignalError, match=r"0\.\.1"):
        twin.set_intensity(1.5)
    twin.advance(6.0)
    with pytest.raises(SignalError, match="back in time"):
        twin.advance(5.5)
    empty = twin.advance(6.0)
    assert empty.ecg.size == 0 and empty.eda.size == 0


def test_profile_validation_and_seed_file() -> None:
    with pytest.raises(pydantic.ValidationError, match="resting_hr"):
        TwinProfile.model_validate({"resting_hr": 300})
    with pytest.raises(pydantic.ValidationError, match="extra"):
        TwinProfile.model_validate({"resting_bpm": 60})
    with pytest.raises(pydantic.ValidationError, match="scr_rate_max"):
        TwinProfile(scr_rate_rest=5, scr_rate_max=2)
    text = (resources.files("vrtherapy_seeds") / "patients" / "typical.yaml").read_text()
    profile = TwinProfile.model_validate(yaml.safe_load(text))
    assert profile.name == "typical"
    documented = {line.split(":")[0] for line in text.splitlines() if line and line[0].isalpha()}
    assert documented == set(TwinProfile.model_fields)
