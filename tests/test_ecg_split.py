"""A complex between two beats at the regular RR (issue 19): noise and a large bump are
dropped, a large interpolated ectopic beat (the next beat delayed) is kept; premature
complexes in muscle-noise bursts are not beats.

Synthetic ECG at 360 Hz: a regular rhythm (RR 0.8 s) of one QRS-T shape, and every fourth
RR an extra complex 0.45 RR after the beat, the next beat on time (no compensatory pause).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from ecg_synth import beat as _beat
from ecg_synth import gauss as _gauss
from scipy.signal import butter, sosfilt

from biosignals.ecg import detect_r_peaks

FS = 360.0
RR = 0.8


def _burst(u: np.ndarray) -> np.ndarray:
    """A muscle-noise-like burst: 22 Hz oscillation in a 30 ms Gaussian envelope."""
    return np.sin(2.0 * np.pi * 22.0 * u) * _gauss(u, 0.03)


def _ectopic(u: np.ndarray) -> np.ndarray:
    """An inverted, wider complex of another shape (an ectopic beat)."""
    return -(_gauss(u, 0.018) - 0.4 * _gauss(u - 0.04, 0.02))


def _bump(u: np.ndarray) -> np.ndarray:
    """An electrode-motion bump: a 20 ms Gaussian, few QRS edges."""
    return _gauss(u, 0.02)


def _record(
    extra: Callable[[np.ndarray], np.ndarray], amp: float, delay: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``delay``: the beat after each extra complex comes this much (x RR) late."""
    rng = np.random.default_rng(0)
    t = np.arange(round(60.0 * FS)) / FS
    x = 0.01 * rng.standard_normal(t.size)
    beats = np.arange(1.0, 59.0, RR)
    beats[11:-1:4] += delay * RR
    for b in beats:
        x += _beat(t - b)
    odd = beats[10:-2:4] + 0.45 * RR
    for b in odd:
        x += amp * extra(t - b)
    return x, np.round(beats * FS).astype(int), np.round(odd * FS).astype(int)


def _found(det: np.ndarray, at: np.ndarray) -> np.ndarray:
    return np.array([np.min(np.abs(det - i)) <= 0.05 * FS for i in at])


def test_noise_between_regular_beats_is_not_a_beat() -> None:
    x, beats, odd = _record(_burst, 0.9)
    det = detect_r_peaks(x, FS)
    assert _found(det, beats).all()
    assert odd.size >= 10
    assert not _found(det, odd).any()
    assert det.size == beats.size


def test_large_interpolated_ectopic_beat_is_kept() -> None:
    """An interpolated ectopic beat delays the next sinus beat (concealed conduction)."""
    x, beats, odd = _record(_ectopic, 1.3, delay=0.08)
    det = detect_r_peaks(x, FS)
    assert _found(det, beats).all()
    assert _found(det, odd).all()


def test_large_blunt_bump_between_beats_on_time_is_not_a_beat() -> None:
    """An electrode-motion bump twice the beats' size, the next beat on time."""
    x, beats, odd = _record(_bump, 2.0)
    det = detect_r_peaks(x, FS)
    assert _found(det, beats).all()
    assert not _found(det, odd).any()


def test_muscle_noise_bursts_add_few_false_beats() -> None:
    """3-s bursts of 10-150 Hz noise every 6 s (RMS 0.5 mV against 1 mV R waves): premature
    complexes there, unlike the beats and with no pause after them, are noise (18 false
    beats before the rule, 6 with it)."""
    rng = np.random.default_rng(1)
    t = np.arange(round(120.0 * FS)) / FS
    x = 0.01 * rng.standard_normal(t.size)
    beats = np.arange(1.0, 119.0, RR)
    for b in beats:
        x += _beat(t - b)
    emg = sosfilt(
        butter(4, [10.0, 150.0], btype="bandpass", fs=FS, output="sos"), rng.standard_normal(t.size)
    )
    x += 0.5 * emg / emg.std() * (((t % 6.0) > 3.0) & (t > 20.0))
    det = detect_r_peaks(x, FS)
    assert _found(det, np.round(beats * FS).astype(int)).mean() >= 0.97
    false = [d for d in det if np.min(np.abs(beats * FS - d)) > 0.05 * FS]
    assert len(false) <= 8
