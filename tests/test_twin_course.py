"""A twin over a course of treatment, and its deterministic mean response.

Between-session learning (reactivity falling from session to session) and per-session
resting shifts change nothing with their defaults; the mean response
(:mod:`biosignals.twin_mean`) is exactly the twin's noise-free state at the twin's own
tick, and close to it on the fit's coarser grid.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pydantic
import pytest

from biosignals.eda import EdaExtractor
from biosignals.twin_mean import SCL_NOISE_MIN, IntensityCourse, MeanParams, mean_response
from biosignals.twin_model import TwinChunk, TwinPhysiology, TwinProfile

FIELDS = ("ecg", "ecg_t", "eda", "eda_t", "beat_times", "scr_onsets", "ectopic_times")
SCHEDULE = ((0.0, 0.0), (40.0, 0.3), (100.0, 0.8), (170.0, 0.2), (230.0, 1.0), (300.0, 0.0))


def play(profile: TwinProfile, seconds: float = 360.0, **kwargs: object):
    """Chunks, arousal and tonic SCL every 1/32 s under :data:`SCHEDULE` (0.5 s frames)."""
    twin = TwinPhysiology(profile, start_time=0.0, seed=5, **kwargs)  # type: ignore[arg-type]
    chunks: list[TwinChunk] = []
    arousal, scl = [], []
    frames = np.arange(0.0, seconds, 0.5)
    for t in frames:
        level = [v for start, v in SCHEDULE if start <= t][-1]
        twin.set_intensity(level)
        for sub in range(16):
            chunks.append(twin.advance(t + (sub + 1) / 32))
            arousal.append(twin.arousal)
            scl.append(twin.true_scl)
    intensity = np.asarray([[v for s, v in SCHEDULE if s <= t][-1] for t in frames])
    return chunks, np.asarray(arousal), np.asarray(scl), frames, intensity


def same(a: list[TwinChunk], b: list[TwinChunk]) -> bool:
    return all(
        np.array_equal(getattr(x, f), getattr(y, f))
        for x, y in zip(a, b, strict=True)
        for f in FIELDS
    )


def test_course_defaults_leave_the_twin_bit_identical() -> None:
    plain = TwinProfile()
    assert plain.in_session() is plain
    first_of_course = TwinProfile(between_session_rate=0.4)  # session 0: nothing learned yet
    assert same(play(plain, 60.0)[0], play(first_of_course, 60.0)[0])


def test_reactivity_falls_from_session_to_session() -> None:
    course = TwinProfile(reactivity=1.5, between_session_rate=0.2, session=2)
    assert course.in_session().reactivity == pytest.approx(1.5 * 0.8**2)
    by_hand = TwinProfile(reactivity=1.5 * 0.8**2)
    assert same(play(course, 60.0)[0], play(by_hand, 60.0)[0])
    peaks = [play(course.model_copy(update={"session": s}), 200.0)[1].max() for s in range(4)]
    assert peaks == sorted(peaks, reverse=True) and peaks[3] < 0.7 * peaks[0]


def test_resting_shifts_apply_to_their_session_only() -> None:
    course = TwinProfile(resting_hr_shifts=(0.0, 6.0), resting_scl_shifts=(0.0, -1.0))
    second = course.in_session(1)
    assert (second.resting_hr, second.resting_scl) == (76.0, 3.0)
    assert second.in_session() == second  # the course fields are spent
    assert course.in_session(2).resting_hr == 70.0  # beyond the list: no shift
    twin = TwinPhysiology(course.model_copy(update={"session": 1}), start_time=0.0)
    assert twin.profile.resting_hr == 76.0 and twin.true_scl == 3.0


def test_course_fields_are_validated() -> None:
    with pytest.raises(pydantic.ValidationError, match="session 1: shift 55"):
        TwinProfile(resting_hr_shifts=(0.0, 55.0))
    with pytest.raises(pydantic.ValidationError, match="between_session_rate"):
        TwinProfile(between_session_rate=0.95)


def test_without_ecg_everything_else_is_unchanged() -> None:
    full = play(TwinProfile(), 60.0)[0]
    lean = play(TwinProfile(), 60.0, ecg=False)[0]
    assert sum(c.ecg.size for c in lean) == 0 and sum(c.ecg.size for c in full) > 0
    for f in ("eda", "eda_t", "beat_times", "scr_onsets"):
        assert all(
            np.array_equal(getattr(x, f), getattr(y, f)) for x, y in zip(full, lean, strict=True)
        )


@pytest.mark.parametrize(
    "profile",
    [
        TwinProfile(),
        TwinProfile(reactivity=2.5, response_lag=3.0, habituation_tau=60.0, habituation_floor=0.2),
        TwinProfile(reactivity=1.2, between_session_rate=0.1, session=3, scl_lag=40.0),
    ],
)
def test_mean_response_is_the_twins_state(profile: TwinProfile) -> None:
    _, arousal, scl, frames, intensity = play(profile)
    t = np.arange(1, arousal.size + 1) / 32
    p = MeanParams.from_profile(profile)
    exact = mean_response(IntensityCourse.from_samples(frames, intensity, 360.0, 1 / 32), p)
    np.testing.assert_allclose(exact.arousal, arousal, atol=1e-9)
    np.testing.assert_allclose(exact.scl, scl, atol=1e-9)
    coarse = mean_response(IntensityCourse.from_samples(frames, intensity, 360.0, 0.25), p)
    assert np.max(np.abs(np.interp(t, coarse.t, coarse.arousal) - arousal)) < 0.02
    assert np.max(np.abs(np.interp(t, coarse.t, coarse.scl) - scl)) < 0.05


def test_mean_features_follow_the_extractors_windows() -> None:
    course = IntensityCourse.from_samples(np.asarray([0.0, 100.0]), np.asarray([0.0, 0.6]), 300.0)
    m = mean_response(course, MeanParams(response_lag=0.5, habituation_floor=1.0, hr_variance=0.0))
    hr = m.hr_feature(np.asarray([99.0, 104.0, 112.0, 200.0]))
    assert hr[0] == pytest.approx(70.0) and hr[3] == pytest.approx(70.0 + 45.0 * 0.6, rel=1e-3)
    assert 70.0 < hr[1] < hr[2] <= hr[3] + 1e-9  # 10 s of beats behind
    scr = m.scr_feature(np.asarray([30.0, 99.0, 250.0]))
    assert scr[0] == pytest.approx(0.5, rel=0.02)  # half a minute of 1/min so far
    assert scr[1] == pytest.approx(1.0, rel=0.02) and scr[2] > 4.5  # 1 + 7 * 0.6, less merged
    assert m.suds(np.asarray([200.0]))[0] == pytest.approx(60.0, rel=1e-3)


def test_the_scl_envelope_lies_below_the_tonic_level_by_the_noises_share() -> None:
    """The EDA extractor's SCL (a 10 s minimum of the low-passed signal) of a constant level
    with white noise lies ``SCL_NOISE_MIN`` noise SDs below it; the mean model says so."""
    fs, sd, seconds = 32.0, 0.02, 2000
    x = 5.0 + sd * np.random.default_rng(11).standard_normal(int(fs * seconds))
    t = np.arange(x.size) / fs
    extractor, scl = EdaExtractor(fs), []
    for k in range(0, x.size, int(fs)):
        extractor.update(x[k : k + int(fs)], t[k : k + int(fs)])
        if t[k] > 30.0 and extractor.scl is not None:
            scl.append(extractor.scl)
    assert (5.0 - np.mean(scl)) / sd == pytest.approx(SCL_NOISE_MIN, rel=0.05)
    course = IntensityCourse.from_samples(np.asarray([0.0]), np.asarray([0.0]), 120.0)
    quiet = mean_response(course, MeanParams(eda_noise_us=0.0)).scl_feature(np.asarray([100.0]))
    noisy = mean_response(course, MeanParams(eda_noise_us=sd)).scl_feature(np.asarray([100.0]))
    assert quiet[0] - noisy[0] == pytest.approx(SCL_NOISE_MIN * sd)


def _extractor_scl(profile: TwinProfile, schedule: list[tuple[float, float]], seconds: float):
    """The EDA extractor's SCL, once a second, of the twin played under ``schedule``."""
    twin = TwinPhysiology(profile, start_time=0.0, seed=3, ecg=False)
    extractor, times, scl = EdaExtractor(32.0), [], []
    for t in np.arange(1.0, seconds + 0.5, 1.0):
        twin.set_intensity([v for start, v in schedule if start < t][-1])
        chunk = twin.advance(float(t))
        extractor.update(chunk.eda, chunk.eda_t)
        times.append(t)
        scl.append(extractor.scl)
    return np.asarray(times), np.asarray(scl, dtype=np.float64)


def _errors(model, times: np.ndarray, scl: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Mean squared error of ``model``'s SCL feature shifted by each of ``shifts`` (s; < 0:
    the model's value from later) against the extractor's SCL."""
    keep = times > 30.0
    return np.asarray(
        [np.mean((scl[keep] - model.scl_feature(times[keep] - s)) ** 2) for s in shifts]
    )


def test_the_scl_feature_keeps_time_with_the_extractor_while_scrs_come() -> None:
    """While SCRs come, the envelope's minimum of a rising (falling) tonic level lies later
    (earlier) than the window's start (end): the mean model's SCL keeps time with the real
    extractor's, where the plain trailing minimum ran about 1 s late and fitted worse."""
    profile = TwinProfile(scr_rate_rest=3.0, scr_rate_max=10.0, habituation_tau=600.0)
    steps = (0.15, 0.3, 0.45, 0.3)  # a graded ladder, up and down
    schedule = [(0.0, 0.0)] + [(60.0 + 90.0 * k, steps[k % 4]) for k in range(13)]
    times, scl = _extractor_scl(profile, schedule, 1260.0)
    start, level = (np.asarray(x) for x in zip(*schedule, strict=True))
    course = IntensityCourse.from_samples(start, level, 1260.0)
    model = mean_response(course, MeanParams.from_profile(profile))
    plain = dataclasses.replace(model, scl_skips=None)
    shifts = np.arange(-3.0, 3.01, 0.25)
    new, old = _errors(model, times, scl, shifts), _errors(plain, times, scl, shifts)
    assert abs(shifts[int(np.argmin(new))]) <= 0.5
    assert shifts[int(np.argmin(old))] <= -0.75
    at_zero = int(np.argmin(np.abs(shifts)))
    assert new[at_zero] < 0.8 * old[at_zero]
