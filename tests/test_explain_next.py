""" "What happens next", explained: each controller's ``explain_next`` and the safety
layer's name a rule and a time, and the controller (or safety layer) really does that
then. Every test drives the real controller tick by tick, reads the explanation after
each tick, and checks the prediction against the decision that follows."""

from __future__ import annotations

import math
import random
import re

import pytest

from biosignals.features import FeatureSnapshot
from therapies.commands import Command, CommandKind
from therapies.controllers import (
    BreathingConfig,
    BreathingController,
    DistractionConfig,
    DistractionController,
    ExposureConfig,
    ExposureController,
)
from therapies.controllers.base import IntensityDecision
from therapies.safety import SafetyConfig, SafetyLayer

HIERARCHY = [
    {"intensity": 0.1, "label": "far"},
    {"intensity": 0.3, "label": "near"},
    {"intensity": 0.5, "label": "close"},
    {"intensity": 0.7, "label": "touching"},
]
WAIT = re.compile(r"(?:for|in|-) (\d+(?:\.\d+)?) s (?:more|if)")


def snap(t: float, arousal: float | None, hr: float = 80.0, scl: float = 5.0) -> FeatureSnapshot:
    return FeatureSnapshot(t, hr, scl, 1.0, arousal, arousal is not None)


def predicted(text: str, now: float) -> float:
    """The time ``text`` says the decision falls."""
    found = WAIT.search(text)
    assert found is not None, text
    return now + float(found.group(1))


@pytest.mark.parametrize("seed", range(6))
def test_settled_climb_falls_when_next_says(seed: int) -> None:
    """Arousal wanders, then stays put: from then on every explanation names the tick at
    which the controller climbs, and it climbs exactly then."""
    rng = random.Random(seed)
    c = ExposureController(ExposureConfig(hierarchy=HIERARCHY, settle_time=30, min_dwell=10))
    c.start(0.0)
    wander = rng.randint(3, 40)
    arousal = [round(rng.uniform(0.2, 0.65), 2) for _ in range(wander)]
    arousal += [arousal[-1]] * 80
    said: dict[float, float] = {}
    climbed_at = None
    for t, a in enumerate(arousal, start=1):
        d = c.tick(float(t), snap(t, a))
        if d is not None:
            assert d.target > d.previous and d.step == 1
            climbed_at = float(t)
            break
        text = c.explain_next(float(t), snap(t, a))
        assert text.startswith("climbs to step 2 (near) when arousal stays steady")
        said[float(t)] = predicted(text, t)
    assert climbed_at is not None
    steady_from = float(wander)  # the last value is repeated from this tick on
    after = {t: when for t, when in said.items() if t >= steady_from}
    assert after, "the controller climbed before arousal settled: nothing to check"
    assert set(after.values()) == {climbed_at}, (after, climbed_at)


def test_explanation_numbers_are_the_controllers_state() -> None:
    c = ExposureController(ExposureConfig(hierarchy=HIERARCHY, settle_time=30, min_dwell=10))
    c.start(0.0)
    for t in range(1, 13):
        c.tick(float(t), snap(t, 0.4))
    text = c.explain_next(12.0, snap(12, 0.4))
    assert "for 18 s more (steady 11 of 30 s)" in text  # ticks 1..12 steady; climb at 30
    assert "at or below 0.70" in text and "spread within 0.10" in text


def test_step_down_falls_when_next_says() -> None:
    """Over the window right after a step: ``from N s on`` is when the step down falls."""
    c = ExposureController(ExposureConfig(hierarchy=HIERARCHY, start_step=2, min_dwell=10))
    c.start(0.0)
    text = c.explain_next(3.0, snap(3, 0.5))
    found = re.search(r"steps down if arousal exceeds 0\.70 \(from (\d+) s on\)", text)
    assert found is not None, text
    due = 3.0 + float(found.group(1))
    t, d = 3.0, None
    while d is None:
        t += 1.0
        d = c.tick(t, snap(t, 0.9))
    assert t == due and d.target < d.previous and "over-aroused" in d.reason


def test_suds_rule_is_named_and_acts() -> None:
    c = ExposureController(ExposureConfig(hierarchy=HIERARCHY, start_step=2, suds_step_down=70))
    c.start(0.0)
    c.tick(1.0, snap(1, 0.4))
    text = c.explain_next(1.0, snap(1, 0.4))
    assert "or at once on a SUDS of 70 or more" in text
    assert c.on_answer(2.0, "suds", 69) is None
    d = c.on_answer(2.5, "suds", 70)
    assert d is not None and d.step == 1


def test_arousal_drop_climb_falls_when_next_says() -> None:
    cfg = ExposureConfig(
        hierarchy=HIERARCHY, settle_time=20, step_up={"when": "habituated"}, habituation_drop=0.2
    )
    c = ExposureController(cfg)
    c.start(0.0)
    for t, a in [(1, 0.6), (2, 0.55)]:
        c.tick(float(t), snap(t, a))
    text = c.explain_next(2.0, snap(2, 0.55))
    assert "once arousal at or below 0.48 (20% under the step peak 0.60; now 0.55)" in text
    assert "not before 18 s" in text
    c.tick(3.0, snap(3, 0.45))  # now below: the climb waits only for settle_time
    text = c.explain_next(3.0, snap(3, 0.45))
    when = predicted(text, 3.0)
    t, d = 3.0, None
    while d is None:
        t += 1.0
        d = c.tick(t, snap(t, 0.45))
    assert t == when == 20.0 and "habituated" in d.reason


def test_habituation_block_climb_falls_when_next_says() -> None:
    cfg = ExposureConfig(
        hierarchy=HIERARCHY,
        settle_time=10,
        habituation={"hr_drop": 0.1, "scl_drop": None, "dwell": 25},
    )
    c = ExposureController(cfg)
    c.start(0.0)
    c.tick(1.0, snap(1, 0.5, hr=100.0))
    text = c.explain_next(1.0, snap(1, 0.5, hr=100.0))
    assert "HR at or below 90 bpm (10% under the step peak 100 bpm; now 100 bpm) for 25 s" in text
    c.tick(2.0, snap(2, 0.5, hr=89.0))  # the criterion is met from here
    text = c.explain_next(2.0, snap(2, 0.5, hr=89.0))
    assert "held 0 of 25 s" in text
    when = predicted(text, 2.0)
    t, d = 2.0, None
    while d is None:
        t += 1.0
        d = c.tick(t, snap(t, 0.5, hr=89.0))
    assert t == when == 27.0 and "held 25 s" in d.reason


def test_top_of_the_hierarchy_says_it_stays() -> None:
    c = ExposureController(ExposureConfig(hierarchy=HIERARCHY, start_step=3))
    c.start(0.0)
    assert "the top of the hierarchy: stays" in c.explain_next(1.0, snap(1, 0.4))
    assert "holds until the arousal index is valid" in c.explain_next(1.0, snap(1, None))


def _distraction(**kw: object) -> DistractionController:
    cfg = DistractionConfig(start=0.5, raise_every=20, lower_after=30, **kw)  # type: ignore[arg-type]
    c = DistractionController(cfg)
    c.start(0.0)
    return c


def test_distraction_lowering_falls_when_next_says() -> None:
    c = _distraction()
    for t in range(1, 6):  # no pain rating, arousal below the window: calm from tick 1
        assert c.tick(float(t), snap(t, 0.1)) is None
    text = c.explain_next(5.0, snap(5, 0.1))
    assert "lowers to 0.40" in text and "(calm 4 of 30 s)" in text
    when = predicted(text, 5.0)
    t, d = 5.0, None
    while d is None:
        t += 1.0
        d = c.tick(t, snap(t, 0.1))
    assert t == when == 31.0 and d.target < d.previous


def test_distraction_raise_falls_when_next_says() -> None:
    c = _distraction()
    c.on_answer(2.0, "nrs", 7)  # too soon after the start to raise at once (raise_every 20)
    assert c.tick(3.0, snap(3, 0.5)) is None
    text = c.explain_next(3.0, snap(3, 0.5))
    assert "raises to 0.60" in text and "pain NRS 7 >= 5" in text
    when = predicted(text, 3.0)
    t, d = 3.0, None
    while d is None:
        t += 1.0
        d = c.tick(t, snap(t, 0.5))
    assert t == when == 20.0 and d.target > d.previous


def test_breathing_says_when_the_reward_starts_to_follow() -> None:
    cfg = BreathingConfig(window=40)
    c = BreathingController(cfg)
    c.start(0.0)
    text = ""
    t = 0
    decision: IntensityDecision | None = None
    while decision is None:
        t += 1
        hr = 70.0 + 5.0 * math.sin(2 * math.pi * 0.1 * t)
        decision = c.tick(float(t), snap(t, 0.4, hr=hr))
        if decision is None:
            text = c.explain_next(float(t), snap(t, 0.4, hr=hr))
            assert "once 32 s are covered" in text
            covered = float(re.search(r"\((\d+) s now\)", text).group(1))  # type: ignore[union-attr]
            assert covered == t - 1  # samples from tick 1 to t
    assert covered < 32 <= t - 1  # the reward moved at the first tick the coverage was reached
    text = c.explain_next(float(t), snap(t, 0.4))
    assert "reward" in text and "bpm at 6/min" in text


def _safety(policy: str = "lower") -> SafetyLayer:
    ctl = ExposureController(ExposureConfig(hierarchy=HIERARCHY, start_step=2))
    layer = SafetyLayer(ctl, SafetyConfig(max_heart_rate=140, on_signal_loss=policy), 1.0)  # type: ignore[arg-type]
    layer.start(0.0)
    return layer


def test_safety_ceiling_acts_where_it_says() -> None:
    layer = _safety()
    text = layer.explain_next(snap(0.5, 0.4, hr=96.0))
    found = re.search(r"steps down if heart rate exceeds (\d+) bpm \(now 96\)", text)
    assert found is not None, text
    ceiling = float(found.group(1))
    assert "on signal loss: lowers to the first step" in text
    at = layer.update(0.6, snap(0.6, 0.4, hr=ceiling))
    assert at.decisions == []
    over = layer.update(0.7, snap(0.7, 0.4, hr=ceiling + 1))
    assert [d.source for d in over.decisions] == ["safety"]
    text = layer.explain_next(snap(0.8, 0.4, hr=ceiling + 1))
    assert "above the ceiling 140: steps down every 5 s" in text


def test_safety_says_hold_and_signal_loss() -> None:
    layer = _safety("hold")
    layer.command(1.0, Command(CommandKind.HOLD, "console", operator="dr.lee"))
    lost = FeatureSnapshot(1.0, None, None, None, None, False, ("heart:dropout",))
    text = layer.explain_next(lost)
    assert text.startswith("controller held by dr.lee: only safety acts")
    assert "signal lost (heart:dropout): holds the intensity" in text
