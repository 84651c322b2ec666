"""Shipped patient-twin profiles behave as named; faults, ectopy, pain, paced breathing."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest
import yaml

from biosignals.errors import SignalError
from biosignals.twin_model import TwinChunk, TwinPhysiology, TwinProfile
from therapies.controllers import oscillation_amplitude

PATIENTS = resources.files("vrtherapy_seeds") / "patients"
NAMES = (
    "typical",
    "fast-habituator",
    "slow-habituator",
    "high-anxiety",
    "non-responder",
    "noisy-sensors",
    "ectopic-beats",
    "chronic-pain",
)
FIELDS = ("ecg", "ecg_t", "eda", "eda_t", "beat_times", "scr_onsets", "ectopic_times")


def profile(name: str) -> TwinProfile:
    return TwinProfile.model_validate(yaml.safe_load((PATIENTS / f"{name}.yaml").read_text()))


def joined(chunks: list[TwinChunk]) -> dict[str, np.ndarray]:
    return {f: np.concatenate([getattr(c, f) for c in chunks]) for f in FIELDS}


def run(p: TwinProfile, intensity: float, seconds: float, step: float, seed: int = 1):
    twin = TwinPhysiology(p, start_time=0.0, seed=seed)
    twin.set_intensity(intensity)
    n = round(seconds / step)
    return joined([twin.advance((k + 1) * step) for k in range(n)]), twin


@pytest.mark.parametrize("name", NAMES)
def test_every_profile_loads_and_names_itself(name: str) -> None:
    p = profile(name)
    assert p.name == name
    text = (PATIENTS / f"{name}.yaml").read_text()
    assert text.startswith("#")  # a comment says who this patient is


def arousal_trace(name: str, seconds: int = 900) -> np.ndarray:
    twin = TwinPhysiology(profile(name), start_time=0.0, seed=2)
    twin.set_intensity(0.5)
    out = []
    for k in range(1, seconds + 1):
        twin.advance(float(k))
        out.append(twin.arousal)
    return np.asarray(out)


def test_slow_habituator_decays_slower_than_fast() -> None:
    fast, slow, typical = (
        arousal_trace(n) for n in ("fast-habituator", "slow-habituator", "typical")
    )
    kept = {n: tr[600] / tr.max() for n, tr in (("fast", fast), ("slow", slow), ("typ", typical))}
    assert kept["fast"] < 0.4 < kept["typ"] < 0.75 < kept["slow"]


def test_non_responder_heart_rate_barely_rises() -> None:
    rises = {}
    for name in ("non-responder", "typical", "high-anxiety"):
        twin = TwinPhysiology(profile(name), start_time=0.0, seed=4)
        rest = twin.true_heart_rate - twin._rsa(0.0)
        twin.set_intensity(0.8)
        twin.advance(40.0)
        rises[name] = twin.profile.max_hr_gain * twin.arousal
        assert twin.arousal > 0.4  # non-responder still feels it (SUDS), the body barely shows
        assert rest == pytest.approx(twin.profile.resting_hr, abs=3)
    assert rises["non-responder"] < 4 < 25 < rises["typical"] < rises["high-anxiety"]


def test_noisy_sensors_have_gaps_and_artefacts_and_stay_chunk_invariant() -> None:
    p = profile("noisy-sensors")
    coarse, _ = run(p, 0.3, 900.0, 1.0, seed=5)
    fine, _ = run(p, 0.3, 900.0, 0.037 * 27, seed=5)  # uneven chunking, same samples
    uneven, _ = run(p, 0.3, 900.0, 0.25, seed=5)
    for f in FIELDS:
        np.testing.assert_array_equal(coarse[f], uneven[f], err_msg=f)
    n = min(coarse["ecg_t"].size, fine["ecg_t"].size)
    np.testing.assert_array_equal(coarse["ecg_t"][: n // 2], fine["ecg_t"][: n // 2])
    for key, rate in (("ecg_t", 500.0), ("eda_t", 32.0)):
        gaps = np.diff(coarse[key])
        long = gaps[gaps > 1.0]
        assert long.size >= 2, key  # ~20 dropouts/hour per stream over 15 min
        assert np.all((long > 6.0) & (long < 13.0))  # 6 s each (two may overlap)
        assert coarse[key].size < 900 * rate * 0.99
    clean, _ = run(profile("typical"), 0.3, 900.0, 1.0, seed=5)
    assert np.abs(coarse["ecg"]).max() > np.abs(clean["ecg"]).max() + 0.5  # motion artefacts
    assert coarse["beat_times"].size == pytest.approx(clean["beat_times"].size, rel=0.05)


def test_ectopic_beats_are_early_wide_and_followed_by_a_pause() -> None:
    p = profile("ectopic-beats").model_copy(update={"ecg_noise_mv": 0.0, "hrv_sd_bpm": 0.5})
    data, _ = run(p, 0.0, 300.0, 1.0, seed=6)
    beats, pvcs = data["beat_times"], data["ectopic_times"]
    assert 10 <= pvcs.size <= 35  # ~4 per minute over 5 min
    assert np.all(np.isin(pvcs, beats))
    rr = np.diff(beats)
    sinus_rr = np.median(rr)
    idx = np.searchsorted(beats, pvcs)
    inner = idx[(idx > 0) & (idx < beats.size - 1)]
    before, after = rr[inner - 1], rr[inner]
    assert np.all(before < 0.75 * sinus_rr)  # premature
    assert np.all(after > sinus_rr)  # compensatory pause
    np.testing.assert_allclose(before + after, 2 * sinus_rr, rtol=0.12)
    ecg, t = data["ecg"], data["ecg_t"]

    def width(r: float) -> float:
        near = np.abs(t - r) <= 0.15
        return float(np.ptp(t[near][ecg[near] > 0.5 * ecg[near].max()]))

    normal = [b for b in beats[5:40] if b not in pvcs][:5]
    assert min(width(v) for v in pvcs[:5]) > 2 * max(width(b) for b in normal)
    again, _ = run(p, 0.0, 300.0, 0.25, seed=6)
    np.testing.assert_array_equal(data["ecg"], again["ecg"])
    np.testing.assert_array_equal(pvcs, again["ectopic_times"])


def test_pain_falls_with_engagement_and_ratings_are_pure() -> None:
    twin = TwinPhysiology(profile("chronic-pain"), start_time=0.0, seed=7)
    twin.advance(60.0)
    assert twin.pain_nrs() == 7
    tense = twin.arousal
    assert tense > 0.3  # pain makes the patient tense
    twin.set_intensity(1.0)
    twin.advance(300.0)
    assert twin.pain_nrs() == 3  # 7 * (1 - 0.6) = 2.8
    assert twin.pain_nrs() == twin.pain_nrs() and twin.suds() == twin.suds()
    assert TwinPhysiology(TwinProfile(), start_time=0.0).pain_nrs() == 0


def test_suds_maps_arousal() -> None:
    for name in ("typical", "high-anxiety"):
        twin = TwinPhysiology(profile(name), start_time=0.0, seed=8)
        assert twin.suds() == 0
        twin.set_intensity(0.5)
        twin.advance(60.0)
        expected = round(100 * min(1.0, twin.profile.suds_scale * twin.arousal))
        assert twin.suds() == expected and 0 < expected <= 100


def beat_hr_amplitude(paced: float | None, intensity: float, adherence: float | None = None):
    twin = TwinPhysiology(TwinProfile(hrv_sd_bpm=0.5), start_time=0.0, seed=9)
    twin.set_intensity(intensity)
    if paced is not None:
        twin.set_paced_breathing(paced, adherence)
    beats = twin.advance(120.0).beat_times[-80:]
    hr = 60.0 / np.diff(beats)
    fit = oscillation_amplitude(beats[1:], hr, 6.0)
    assert fit is not None
    return fit[0], twin


def test_paced_breathing_raises_rsa_at_the_pacer_rate() -> None:
    free, _ = beat_hr_amplitude(None, 0.0)
    paced, twin = beat_hr_amplitude(6.0, 0.0)
    rewarded, twin_r = beat_hr_amplitude(6.0, 1.0)
    off_resonance, _ = beat_hr_amplitude(9.0, 1.0)
    ignored, _ = beat_hr_amplitude(6.0, 1.0, adherence=0.0)
    assert free < 1.0 and ignored < 1.0
    assert 3.0 < paced < rewarded  # more reward shown, deeper breathing
    assert off_resonance < 1.5  # measured at 6/min: a 9/min rhythm barely registers
    assert twin.paced_breathing == (6.0, 0.8)
    assert twin_r.arousal < 0.01  # the pacer scene is not a threat
    with pytest.raises(SignalError, match=r"2\.\.30"):
        twin.set_paced_breathing(40.0)
    with pytest.raises(SignalError, match="adherence"):
        twin.set_paced_breathing(6.0, 1.5)
    twin.set_paced_breathing(None)
    assert twin.paced_breathing is None
