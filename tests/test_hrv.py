"""Tests of biosignals.hrv: sliding-window RMSSD/SDNN with ectopic exclusion; HR streams."""

from __future__ import annotations

import numpy as np
import pytest

from biosignals.ecg import HeartBeat
from biosignals.errors import SignalError
from biosignals.hrv import HrSmoother, HrvTracker


def _beats(rr: np.ndarray, start: float = 1.0) -> list[HeartBeat]:
    times = start + np.concatenate(([0.0], np.cumsum(rr)))
    return [HeartBeat(float(t), i, None, None) for i, t in enumerate(times)]


def test_clean_series_matches_textbook_formulas() -> None:
    rng = np.random.default_rng(0)
    rr = 0.85 + 0.04 * np.sin(np.arange(200) / 3.0) + 0.01 * rng.standard_normal(200)
    hrv = HrvTracker()
    hrv.update(_beats(rr))
    last = np.asarray(hrv.nn_intervals(60.0))
    assert last.size > 60
    assert hrv.sdnn(60.0) == pytest.approx(np.std(last, ddof=1) * 1e3)
    assert hrv.rmssd(60.0) == pytest.approx(np.sqrt(np.mean(np.diff(last) ** 2)) * 1e3)
    ten = np.asarray(hrv.nn_intervals(10.0))
    assert hrv.rmssd(10.0) == pytest.approx(np.sqrt(np.mean(np.diff(ten) ** 2)) * 1e3)


def test_ectopic_beats_are_excluded_from_successive_differences() -> None:
    rr = np.full(120, 0.8)
    rr[::2] += 0.005  # RMSSD of the clean alternation: 5 ms
    rr[60], rr[61] = 0.45, 1.15  # premature beat + compensatory pause
    rr[90] = 2.5  # missed beats (implausible)
    hrv = HrvTracker()
    hrv.update(_beats(rr))
    assert hrv.rmssd(60.0) == pytest.approx(5.0, abs=1e-6)
    assert hrv.sdnn(60.0) == pytest.approx(2.5, abs=0.1)


def test_interrupt_drops_the_interval_across_a_fault() -> None:
    rr = np.full(40, 0.8)
    rr[::2] += 0.01
    beats = _beats(rr)
    a, b = HrvTracker(), HrvTracker()
    a.update(beats)
    b.update(beats[:20])
    b.interrupt()
    b.update(beats[20:])
    assert len(b.nn_intervals()) == len(a.nn_intervals()) - 1
    assert b.rmssd(60.0) == pytest.approx(10.0) and a.rmssd(60.0) == pytest.approx(10.0)


def test_batching_does_not_change_results() -> None:
    rng = np.random.default_rng(1)
    rr = 0.7 + 0.05 * rng.standard_normal(300)
    rr[100] = 0.3
    beats = _beats(rr)
    whole, single = HrvTracker(), HrvTracker()
    whole.update(beats)
    for beat in beats:
        single.update([beat])
    for w in (10.0, 60.0):
        assert whole.rmssd(w) == single.rmssd(w) and whole.sdnn(w) == single.sdnn(w)


def test_too_few_beats_give_none_and_bad_windows_raise() -> None:
    hrv = HrvTracker()
    assert hrv.rmssd() is None and hrv.sdnn() is None
    hrv.update(_beats(np.full(3, 0.8)))
    assert hrv.rmssd(10.0) is None
    with pytest.raises(SignalError, match="window"):
        hrv.rmssd(120.0)
    with pytest.raises(SignalError):
        HrvTracker(max_window=0.0)


def test_hr_smoother_takes_the_median_of_plausible_values() -> None:
    hr = HrSmoother(window=5.0)
    assert hr.heart_rate is None
    hr.update([70, 72, 300, np.nan, 71, 10], [0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    assert hr.heart_rate == 71.5  # 70 (t=0) left the 5 s window
    hr.update([90, 91, 92, 93, 94], [6.0, 7.0, 8.0, 9.0, 10.0])
    assert hr.heart_rate == 92.0
    with pytest.raises(SignalError, match="1-D"):
        hr.update(np.zeros((2, 2)), [0.0, 1.0])
