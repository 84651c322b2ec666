"""Tests of biosignals.eda on synthetic skin conductance with known SCRs."""

from __future__ import annotations

import numpy as np
import pytest

from biosignals.eda import EdaExtractor, SkinResponse, detect_scr
from biosignals.errors import SignalError


def _bateman(t: np.ndarray, tau1: float = 0.75, tau2: float = 2.0) -> np.ndarray:
    t = np.maximum(t, 0.0)
    b = np.exp(-t / tau2) - np.exp(-t / tau1)
    return b / b.max()


def _synthetic(
    fs: float, duration: float, seed: int, noise_us: float = 0.003
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(t, eda, tonic, onsets, amplitudes): slow tonic drift + Bateman SCRs + noise.

    The white noise has the same spectral density at every rate: ``noise_us`` SD at 32 Hz.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration * fs)) / fs
    tonic = 5.0 + 0.2 * np.sin(2 * np.pi * t / 600.0) + 0.0005 * t
    onsets = np.arange(10.0, duration - 15.0, 17.0)
    onsets = onsets + rng.uniform(-3.0, 3.0, size=onsets.size)
    amps = rng.uniform(0.05, 0.8, size=onsets.size)
    shape = _bateman(np.arange(int(60 * fs)) / fs)
    phasic = np.zeros_like(t)
    for onset, amp in zip(onsets, amps, strict=True):
        i = round(onset * fs)
        n = min(shape.size, t.size - i)
        phasic[i : i + n] += amp * shape[:n]
    eda = tonic + phasic + rng.normal(0.0, noise_us * np.sqrt(fs / 32.0), size=t.size)
    return t, eda, tonic, onsets, amps


@pytest.mark.parametrize("fs", [4.0, 32.0, 250.0, 1000.0])
def test_finds_known_scrs(fs: float) -> None:
    t, eda, _, onsets, amps = _synthetic(fs, 600.0, seed=int(fs))
    ext = EdaExtractor(fs)
    found = ext.update(eda, t)
    assert all(isinstance(r, SkinResponse) for r in found)
    got = np.asarray([r.onset for r in found])
    for onset, amp in zip(onsets, amps, strict=True):
        k = int(np.argmin(np.abs(got - onset)))
        assert abs(got[k] - onset) <= 1.0, onset
        assert found[k].amplitude_us == pytest.approx(amp, rel=0.2)
        assert 0.5 <= found[k].rise_time <= 5.0
        assert found[k].peak_time == pytest.approx(found[k].onset + found[k].rise_time)
        assert found[k].onset_sample == pytest.approx(found[k].onset * fs, abs=1)
    false = [r for r in found if np.min(np.abs(onsets - r.onset)) > 1.0]
    assert len(false) <= 1  # <= 1 false positive per 10 min


def test_no_scr_in_noise_only_signal() -> None:
    fs = 32.0
    rng = np.random.default_rng(7)
    t = np.arange(int(600 * fs)) / fs
    eda = 3.0 + 0.0004 * t + rng.normal(0.0, 0.003, size=t.size)
    assert EdaExtractor(fs).update(eda, t) == []


def test_chunk_sizes_give_identical_responses() -> None:
    fs = 32.0
    t, eda, _, _, _ = _synthetic(fs, 120.0, seed=3)
    eda += 0.03 * np.clip(t - 30.0, 0.0, 40.0)  # a tonic ramp too
    eda[500:520] = np.nan
    results = []
    for chunk in (1, 7, 1000):
        ext = EdaExtractor(fs)
        out: list[SkinResponse] = []
        for i in range(0, t.size, chunk):
            out.extend(ext.update(eda[i : i + chunk], t[i : i + chunk]))
        results.append((out, ext.scl))
    assert len(results[0][0]) >= 5
    assert results[0] == results[1] == results[2]


def test_scl_tracks_tonic_level() -> None:
    fs = 16.0
    t, eda, tonic, _, _ = _synthetic(fs, 600.0, seed=5)
    ext = EdaExtractor(fs)
    assert ext.scl is None
    step = int(30 * fs)
    for i in range(0, t.size, step):
        ext.update(eda[i : i + step], t[i : i + step])
        scl = ext.scl
        assert scl is not None
        assert abs(scl - tonic[min(i + step, t.size) - 1]) <= 0.05


def test_scr_rate_and_detect_scr() -> None:
    fs = 32.0
    t, eda, _, onsets, _ = _synthetic(fs, 300.0, seed=11)
    ext = EdaExtractor(fs)
    found = ext.update(eda, t)
    last = found[-1].peak_time
    in_window = sum(1 for r in found if last - 60.0 < r.peak_time <= last)
    assert ext.scr_rate(last) == pytest.approx(in_window)
    assert ext.scr_rate(last, window=120.0) == pytest.approx(
        sum(1 for r in found if last - 120.0 < r.peak_time <= last) / 2.0
    )
    idx = detect_scr(eda, fs)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx, [r.onset_sample for r in found])
    assert idx.size == onsets.size
    ext.reset()
    assert ext.scl is None and ext.scr_rate(last) == 0.0


def test_nan_burst_does_not_poison_state() -> None:
    fs = 32.0
    t, eda, _, onsets, _ = _synthetic(fs, 300.0, seed=13)
    eda[int(100 * fs) : int(104 * fs)] = np.nan
    found = EdaExtractor(fs).update(eda, t)
    later = onsets[onsets > 120.0]
    got = np.asarray([r.onset for r in found])
    assert all(np.min(np.abs(got - o)) <= 1.0 for o in later)


def test_empty_chunk_and_bad_input() -> None:
    ext = EdaExtractor(32.0)
    assert ext.update([], []) == []
    with pytest.raises(SignalError, match="lengths must match"):
        ext.update(np.ones(4), np.arange(3.0))
    with pytest.raises(SignalError, match="1-D"):
        ext.update(np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(SignalError, match="timestamps must be finite"):
        ext.update(np.ones(2), np.array([0.0, np.nan]))
    with pytest.raises(SignalError, match="window"):
        ext.scr_rate(10.0, window=0.0)
    for rate in (2.0, 5000.0, float("nan")):
        with pytest.raises(SignalError, match="sampling_rate"):
            EdaExtractor(rate)
    with pytest.raises(SignalError, match="scr_threshold_us"):
        EdaExtractor(32.0, scr_threshold_us=0.0)


def test_scrs_on_a_steep_tonic_ramp() -> None:
    """SCRs riding on a rising tonic level (0.04 µS/s, e.g. at an exposure step) are found."""
    fs = 32.0
    t = np.arange(int(180 * fs)) / fs
    tonic = 4.0 + 0.04 * np.clip(t - 40.0, 0.0, 90.0)
    onsets = np.array([20.0, 60.0, 80.0, 100.0, 120.0, 160.0])
    amps = np.array([0.2, 0.15, 0.3, 0.1, 0.25, 0.2])
    shape = _bateman(np.arange(int(40 * fs)) / fs)
    eda = tonic.copy()
    for onset, amp in zip(onsets, amps, strict=True):
        i = round(onset * fs)
        n = min(shape.size, t.size - i)
        eda[i : i + n] += amp * shape[:n]
    eda += np.random.default_rng(4).normal(0.0, 0.002, size=t.size)
    ext = EdaExtractor(fs)
    found = ext.update(eda, t)
    assert len(found) == onsets.size
    for r, onset, amp in zip(found, onsets, amps, strict=True):
        assert abs(r.onset - onset) <= 1.0
        assert r.amplitude_us == pytest.approx(amp, rel=0.2)
