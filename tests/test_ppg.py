"""Tests of biosignals.ppg: causal pulse detection on synthetic PPG with known beats."""

from __future__ import annotations

import numpy as np
import pytest

from biosignals.errors import SignalError
from biosignals.hrv import HrvTracker
from biosignals.ppg import PpgExtractor, detect_pulses, simulate_ppg
from biosignals.twin_model import TwinPhysiology, TwinProfile


def _beats(seconds: float = 120.0, seed: int = 0) -> np.ndarray:
    """Beat times with the heart rate sweeping 55 -> 170 -> 55 bpm and 3 % jitter."""
    rng = np.random.default_rng(seed)
    times = [0.4]
    while times[-1] < seconds:
        hr = 55.0 + 115.0 * np.sin(np.pi * times[-1] / seconds) ** 2
        times.append(times[-1] + 60.0 / hr * (1.0 + 0.03 * rng.standard_normal()))
    return np.asarray(times)


def _score(found: np.ndarray, truth: np.ndarray, lo: float, hi: float) -> tuple[int, int, int]:
    truth = truth[(truth > lo) & (truth < hi)]
    found = found[(found > lo) & (found < hi)]
    tp = sum(1 for p in truth if np.min(np.abs(found - p)) < 0.15)
    return tp, found.size - tp, truth.size - tp


@pytest.mark.parametrize("fs", [25.0, 100.0, 300.0])
def test_finds_every_pulse_with_notch_wander_noise_and_amplitude_change(fs: float) -> None:
    beats = _beats()
    t, x, truth = simulate_ppg(beats, fs, 120.0, noise=0.05, seed=1)
    # vasoconstriction: pulses 70 % smaller from 40 to 80 s (5 s ramps)
    x = x * (1.0 - 0.7 * np.clip(np.minimum(t - 40.0, 80.0 - t) / 5.0 + 0.5, 0.0, 1.0))
    ext = PpgExtractor(fs)
    found = np.asarray([b.time for b in ext.update(x, t)])
    tp, fp, fn = _score(found, truth, 3.0, 117.0)
    assert fp == 0 and fn == 0, (tp, fp, fn)
    matched = [found[np.argmin(np.abs(found - p))] - p for p in truth[(truth > 3) & (truth < 117)]]
    assert abs(np.mean(matched)) < 0.05 and np.std(matched) < 0.015


def test_chunk_sizes_give_identical_pulses_and_hrv() -> None:
    twin = TwinPhysiology(TwinProfile(), start_time=0.0, seed=2)
    twin.set_intensity(0.7)
    c = twin.advance(90.0)
    t, x, _ = simulate_ppg(c.beat_times, 100.0, 90.0, noise=0.05, seed=3)
    x[4000:4040] = np.nan
    results = []
    for chunk in (1, 7, 1000):
        ext, hrv = PpgExtractor(100.0), HrvTracker()
        beats = []
        for i in range(0, x.size, chunk):
            new = ext.update(x[i : i + chunk], t[i : i + chunk])
            hrv.update(new)
            beats += new
        results.append((beats, ext.heart_rate, hrv.rmssd(60.0), hrv.sdnn(10.0)))
    assert results[0] == results[1] == results[2]
    assert len(results[0][0]) > 100


def test_heart_rate_tracks_truth() -> None:
    twin = TwinPhysiology(TwinProfile(), start_time=0.0, seed=4)
    c = twin.advance(60.0)
    t, x, _ = simulate_ppg(c.beat_times, 64.0, 60.0, seed=5)
    ext = PpgExtractor(64.0)
    ext.update(x, t)
    true_hr = 60.0 / np.median(np.diff(c.beat_times[c.beat_times > 50.0]))
    assert ext.heart_rate is not None and abs(ext.heart_rate - true_hr) < 3.0


def test_flat_and_noise_only_signals_give_no_pulses() -> None:
    t = np.arange(3000) / 100.0
    assert detect_pulses(np.zeros(3000), 100.0).size == 0
    ext = PpgExtractor(100.0)
    assert ext.update(np.full(3000, 5.0), t) == [] and ext.heart_rate is None


def test_nan_burst_recovers_and_detect_pulses_matches_streaming() -> None:
    beats = _beats(60.0, seed=6)
    t, x, truth = simulate_ppg(beats, 100.0, 60.0, seed=7)
    x[2000:2300] = np.nan
    idx = detect_pulses(x, 100.0)
    assert idx.dtype == np.int64 and np.all(np.diff(idx) > 0)
    _, fp, fn = _score(t[idx], truth, 27.0, 57.0)
    assert fp == 0 and fn == 0


@pytest.mark.parametrize("rate", [0.0, 10.0, 1000.0, float("nan")])
def test_bad_rate_raises(rate: float) -> None:
    with pytest.raises(SignalError, match="sampling_rate"):
        PpgExtractor(rate)


def test_bad_chunks_raise_signal_error() -> None:
    ext = PpgExtractor(100.0)
    with pytest.raises(SignalError, match="1-D"):
        ext.update(np.zeros((10, 2)), np.arange(10.0))
    with pytest.raises(SignalError, match="lengths must match"):
        ext.update(np.zeros(10), np.arange(9.0))
    assert ext.update([], []) == []
