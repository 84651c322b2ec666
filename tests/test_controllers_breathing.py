"""Breathing biofeedback: reward from heart-rate oscillation at the pacer frequency."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from biosignals.features import FeatureSnapshot
from therapies.controllers import BreathingConfig, BreathingController, oscillation_amplitude


def hr_at(t: float, amplitude: float, rate_per_min: float) -> float:
    return 72.0 + 0.02 * t + amplitude * math.sin(2 * math.pi * rate_per_min / 60.0 * t + 0.7)


def run(amplitude: float, rate_per_min: float, seconds: int = 90) -> BreathingController:
    """Tick once per second with snapshots whose HR oscillates as given."""
    c = BreathingController(BreathingConfig())
    c.start(0.0)
    for k in range(1, seconds + 1):
        t = float(k)
        c.tick(t, FeatureSnapshot(t, hr_at(t, amplitude, rate_per_min), 5.0, 1.0, 0.4, True))
    return c


def test_amplitude_estimate_at_pacer_rate_only() -> None:
    rng = np.random.default_rng(0)
    t = np.cumsum(rng.uniform(0.7, 1.0, 80))  # beat-like irregular sampling, ~60 s
    at_pacer = [hr_at(x, 5.0, 6.0) for x in t]
    amp, share = oscillation_amplitude(t, at_pacer, 6.0) or (0.0, 0.0)
    assert amp == pytest.approx(5.0, abs=0.1) and share > 0.95
    other = [hr_at(x, 5.0, 12.0) for x in t]  # the same swing at spontaneous breathing rate
    amp_other, share_other = oscillation_amplitude(t, other, 6.0) or (9.9, 9.9)
    assert amp_other < 0.6 and share_other < 0.05
    assert oscillation_amplitude(t[:5], at_pacer[:5], 6.0) is None  # too few samples


def test_reward_grows_with_oscillation_at_the_pacer_frequency() -> None:
    rewards = [run(a, 6.0).target for a in (0.5, 1.5, 3.0, 4.5, 8.0)]
    assert rewards == sorted(rewards) and rewards[0] <= 0.1 and rewards[-1] == 1.0
    assert run(3.0, 6.0).target == pytest.approx(0.5)
    assert run(6.0, 12.0).target <= 0.1  # large swing, wrong rhythm: (almost) no reward
    assert run(6.0, 3.0).target <= 0.15


def test_reason_and_quantisation() -> None:
    c = BreathingController(BreathingConfig(resolution=0.1))
    c.start(0.0)
    decisions = []
    for k in range(1, 91):
        t = float(k)
        d = c.tick(t, FeatureSnapshot(t, hr_at(t, 4.0, 6.0), 5.0, 1.0, 0.4, True))
        if d is not None:
            decisions.append(d)
    assert decisions[0].time >= 48.0  # 80 % of the 60 s window must be covered first
    last = decisions[-1]
    assert last.target == pytest.approx(0.7) and last.step == 7
    assert last.reason.startswith("HR oscillation 4.0 bpm at 6/min (target 6 bpm, ")
    assert "tick HR over 60 s) -> reward 0.70" in last.reason
    assert len(decisions) <= 10  # only when the quantised reward changes


def test_beat_to_beat_input_is_preferred() -> None:
    c = BreathingController(BreathingConfig())
    c.start(0.0)
    beats = np.arange(0.0, 70.0, 0.8)
    c.observe_hr(beats, [hr_at(b, 6.0, 6.0) for b in beats])
    flat = FeatureSnapshot(70.0, 72.0, 5.0, 1.0, 0.4, True)  # a 10-s median sees no swing
    d = c.tick(70.0, flat)
    assert d is not None and d.target == 1.0 and "beat-to-beat HR" in d.reason
    assert c.amplitude == pytest.approx(6.0, abs=0.2)


def test_invalid_features_hold_and_levels() -> None:
    c = BreathingController(BreathingConfig())
    c.start(0.0)
    for k in range(1, 91):
        assert c.tick(float(k), FeatureSnapshot(float(k), None, None, None, None, False)) is None
    cfg = BreathingConfig()
    assert cfg.levels()[:3] == (0.0, 0.05, 0.1) and len(cfg.levels()) == 21
    assert cfg.label(4) == "reward 0.20" and cfg.arousal_window == (0.3, 0.7)
    assert c.on_answer(1.0, "suds", 50) is None


def test_window_must_hold_two_breaths() -> None:
    with pytest.raises(ValidationError, match="must hold at least 2 breaths"):
        BreathingConfig(window=20.0, pacer_rate=4.0)
