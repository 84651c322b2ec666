"""Electrode-motion transients next to beats (issue 19).

Synthetic ECG at 360 Hz: a regular rhythm (RR 0.8 s) of one QRS-T shape. Electrode motion
adds bumps as wide as a QRS (Gaussian, sigma 20 ms, few QRS edges) that can be larger than
the QRS. Placed 160 ms after a beat, such a bump merges with it into one candidate; the
beat must still be placed on the QRS (the peak shaped like the recent beats), not on the
bump, which would count a false beat and a missed one.
"""

from __future__ import annotations

import numpy as np
import pytest
from ecg_synth import beat as _beat
from ecg_synth import gauss as _gauss

from biosignals.ecg import detect_r_peaks

FS = 360.0
RR = 0.8


def _record(after: float, amp: float, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """60 s of beats; from 10 s on, every third beat has a bump ``after`` s after R."""
    rng = np.random.default_rng(0)
    t = np.arange(round(60.0 * FS)) / FS
    x = 0.01 * rng.standard_normal(t.size)
    beats = np.arange(1.0, 59.0, RR)
    for b in beats:
        x += _beat(t - b)
    for b in beats[12:-1:3]:
        x += amp * _gauss(t - b - after, sigma)
    return x, np.round(beats * FS).astype(int)


def _found(det: np.ndarray, at: np.ndarray) -> np.ndarray:
    return np.array([np.min(np.abs(det - i)) <= 0.05 * FS for i in at])


@pytest.mark.parametrize(("after", "amp"), [(0.14, 1.6), (0.17, 2.5)])
def test_bump_merged_with_a_beat_does_not_take_its_place(after: float, amp: float) -> None:
    """A 20-ms bump 1.6-2.5 times the QRS, 140-170 ms after R (before the fix, R of all 20
    such beats went to the bump)."""
    x, beats = _record(after, amp, 0.02)
    det = detect_r_peaks(x, FS)
    assert _found(det, beats).all()
    assert det.size == beats.size
