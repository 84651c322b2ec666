"""Distraction controller: engagement rises with pain or arousal, falls slowly when calm."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from biosignals.features import FeatureSnapshot
from therapies.controllers import DistractionConfig, DistractionController


def ctrl(**kw: object) -> DistractionController:
    base: dict[str, object] = {"start": 0.4, "raise_every": 10.0, "lower_after": 60.0}
    base.update(kw)
    c = DistractionController(DistractionConfig.model_validate(base))
    c.start(0.0)
    return c


def snap(t: float, a: float | None = 0.4, valid: bool = True) -> FeatureSnapshot:
    return FeatureSnapshot(t, 80.0, 5.0, 1.0, a, valid=valid)


def ticks(c: DistractionController, t0: float, n: int, a: float = 0.4) -> list:
    return [d for i in range(n) if (d := c.tick(t0 + i, snap(t0 + i, a))) is not None]


def test_levels_labels_and_start() -> None:
    cfg = DistractionConfig.model_validate({"minimum": 0.2, "step": 0.1, "start": 0.42})
    assert cfg.levels() == (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    assert cfg.label(2) == "engagement 0.40" and cfg.start_step() == 2
    c = DistractionController(cfg)
    first = c.start(5.0)
    assert first.target == 0.4 and first.reason == "distraction starts at engagement 0.40"


def test_high_pain_answer_raises_at_once_then_every_raise_every() -> None:
    c = ctrl()
    d = c.on_answer(15.0, "nrs", 7)
    assert d is not None and (d.previous, d.target) == (0.4, 0.5)
    assert d.reason == "pain NRS 7 >= 5 (just answered)"
    raised = ticks(c, 16.0, 30)
    assert [r.time for r in raised] == [25.0, 35.0, 45.0]
    assert raised[0].reason == "pain NRS 7 >= 5 (answered 10 s ago)"
    assert c.target == pytest.approx(0.8)


def test_arousal_above_window_raises() -> None:
    c = ctrl()
    raised = ticks(c, 10.0, 1, a=0.85)
    assert raised and raised[0].reason == "arousal 0.85 above window 0.30-0.70"


def test_pain_answer_expires() -> None:
    c = ctrl(answer_valid=30.0)
    c.on_answer(0.0, "nrs", 8)  # too soon after start for a raise (raise_every 10 s)
    assert [r.time for r in ticks(c, 1.0, 40)] == [10.0, 20.0, 30.0]  # then it is stale


def test_lowers_slowly_when_pain_low_and_calm() -> None:
    c = ctrl()
    c.on_answer(0.0, "nrs", 2)
    assert ticks(c, 1.0, 60) == []  # calm since the first tick (1 s), not for 60 s yet
    lowered = ticks(c, 61.0, 1)
    assert lowered and (lowered[0].previous, lowered[0].target) == (0.4, 0.3)
    assert lowered[0].reason.startswith("calm for 60 s: pain NRS 2 <= 3")
    assert ticks(c, 62.0, 59) == []  # one level per lower_after
    assert len(ticks(c, 121.0, 1)) == 1


def test_a_tense_moment_restarts_the_calm_wait() -> None:
    c = ctrl()
    c.on_answer(0.0, "nrs", 1)
    ticks(c, 1.0, 30)
    ticks(c, 31.0, 1, a=0.65)  # in the window but above its low edge: still calm (pain low)
    c.on_answer(32.0, "nrs", 4)  # moderate pain: not calm
    assert ticks(c, 32.0, 40) == []
    c.on_answer(72.0, "nrs", 2)
    assert ticks(c, 72.0, 60) == [] and len(ticks(c, 132.0, 1)) == 1


def test_without_pain_rating_calm_needs_low_arousal() -> None:
    c = ctrl()
    assert ticks(c, 1.0, 100, a=0.5) == []  # in the window: hold
    lowered = ticks(c, 101.0, 61, a=0.1)
    assert len(lowered) == 1 and "no recent pain rating, arousal 0.10 below window" in (
        lowered[0].reason
    )


def test_invalid_features_hold_and_bounds() -> None:
    c = ctrl()
    c.on_answer(0.0, "nrs", 9)
    assert all(c.tick(float(t), snap(float(t), None, valid=False)) is None for t in range(60))
    top = ctrl(start=1.0)
    top.on_answer(20.0, "nrs", 9)
    assert ticks(top, 20.0, 30) == [] and top.target == 1.0
    lowest = top.lowest(60.0, "signal lost", "safety")
    assert lowest is not None and lowest.target == 0.1


def test_config_errors() -> None:
    with pytest.raises(ValidationError, match=r"pain_low \(5\) must be below pain_threshold \(5\)"):
        DistractionConfig.model_validate({"pain_low": 5, "pain_threshold": 5})
    with pytest.raises(ValidationError, match=r"start \(0\.05\) must be >= minimum"):
        DistractionConfig.model_validate({"start": 0.05})
