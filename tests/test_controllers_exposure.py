"""Exposure controller: habituation by HR/SCL decline and SUDS, distress, variability."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from biosignals.features import FeatureSnapshot
from therapies.controllers import ControllerError, ExposureConfig, ExposureController

HIERARCHY = [{"intensity": v, "label": f"s{i}"} for i, v in enumerate((0.2, 0.4, 0.6, 0.8, 1.0))]


def config(**kw: object) -> ExposureConfig:
    base: dict[str, object] = {
        "hierarchy": HIERARCHY,
        "settle_time": 10.0,
        "min_dwell": 5.0,
        "habituation": {"hr_drop": 0.1, "scl_drop": None, "dwell": 20.0},
    }
    base.update(kw)
    return ExposureConfig.model_validate(base)


def snap(t: float, hr: float | None = 80.0, scl: float | None = 5.0, a: float = 0.5):
    return FeatureSnapshot(t, hr, scl, 1.0, a, valid=True)


def feed(ctrl: ExposureController, t0: float, hrs: list[float], scls: list[float] | None = None):
    """One tick per second; returns the decisions with their times."""
    out = []
    for i, hr in enumerate(hrs):
        scl = scls[i] if scls is not None else 5.0
        d = ctrl.tick(t0 + i, snap(t0 + i, hr, scl))
        if d is not None:
            out.append(d)
    return out


def test_hr_decline_from_step_peak_held_for_dwell_climbs() -> None:
    ctrl = ExposureController(config())
    ctrl.start(0.0)
    rise = [80.0 + 2 * i for i in range(11)]  # 80 -> 100 bpm in 10 s
    assert feed(ctrl, 0.0, rise) == []
    assert feed(ctrl, 11.0, [88.0] * 20) == []  # -12 % but held only 19 s
    decisions = feed(ctrl, 31.0, [88.0])
    assert len(decisions) == 1
    d = decisions[0]
    assert (d.previous, d.target, d.step) == (0.2, 0.4, 1)
    assert d.reason == "habituated (HR -12% from step peak 100 bpm, held 20 s) -> s1"


def test_small_hr_decline_or_a_rebound_does_not_climb() -> None:
    ctrl = ExposureController(config())
    ctrl.start(0.0)
    assert feed(ctrl, 0.0, [100.0] + [95.0] * 40) == []  # only 5 %
    # a rebound above the threshold restarts the dwell
    assert feed(ctrl, 41.0, [88.0] * 15 + [95.0] + [88.0] * 19) == []
    assert [d.time for d in feed(ctrl, 76.0, [88.0, 88.0])] == [77.0]  # 20 s after 57


def test_scl_decline_and_rise_reference() -> None:
    hab = {"hr_drop": None, "scl_drop": 0.3, "dwell": 5.0, "reference": "rise"}
    ctrl = ExposureController(config(habituation=hab))
    ctrl.start(0.0)
    scls = [4.0] * 3 + [6.0] * 5 + [5.2] * 6  # rest 4, peak 6, now 5.2: 40 % of the rise
    decisions = feed(ctrl, 0.0, [80.0] * len(scls), scls)
    assert len(decisions) == 1 and decisions[0].time == 13.0
    assert "SCL down 40% of its rise (rest 4.00, step peak 6.00 uS), held 5 s" in (
        decisions[0].reason
    )


def test_rise_reference_counts_no_response_as_habituated() -> None:
    hab = {"hr_drop": 0.3, "scl_drop": None, "dwell": 5.0, "reference": "rise"}
    ctrl = ExposureController(config(habituation=hab))
    ctrl.start(0.0)
    decisions = feed(ctrl, 0.0, [70.0, 71.0, 70.5] * 4)
    assert decisions and "no HR response on this step (rise 1 bpm)" in decisions[0].reason


def test_suds_below_threshold_climbs_and_only_counts_on_its_step() -> None:
    hab = {"hr_drop": None, "scl_drop": None, "suds_below": 40}
    ctrl = ExposureController(config(habituation=hab))
    ctrl.start(0.0)
    assert ctrl.on_answer(3.0, "suds", 30) is None
    assert feed(ctrl, 0.0, [90.0] * 10) == []  # settle_time (10 s) not reached
    decisions = feed(ctrl, 10.0, [90.0])
    assert decisions[0].reason == "habituated (SUDS 30) -> s1"
    # the answer belonged to the previous step: no further climb on the new one
    assert feed(ctrl, 11.0, [90.0] * 30) == []
    ctrl.on_answer(41.0, "suds", 45)
    assert feed(ctrl, 41.0, [90.0] * 5) == []


def test_require_all_needs_every_criterion() -> None:
    hab = {"hr_drop": 0.1, "scl_drop": None, "dwell": 5.0, "suds_below": 40, "require": "all"}
    ctrl = ExposureController(config(habituation=hab))
    ctrl.start(0.0)
    assert feed(ctrl, 0.0, [100.0] + [85.0] * 20) == []  # HR alone is not enough
    ctrl.on_answer(21.0, "suds", 20)
    decisions = feed(ctrl, 21.0, [85.0])
    assert (
        decisions[0].reason
        == "habituated (HR -15% from step peak 100 bpm, held 20 s; SUDS 20) -> s1"
    )


def test_over_arousal_still_steps_down() -> None:
    ctrl = ExposureController(config(start_step=2))
    ctrl.start(0.0)
    d = ctrl.tick(6.0, FeatureSnapshot(6.0, 120.0, 9.0, 5.0, 0.9, valid=True))
    assert d is not None and d.target == 0.4 and d.reason.startswith("over-aroused: arousal 0.90")


def test_high_suds_steps_down_at_once() -> None:
    ctrl = ExposureController(config(start_step=2, suds_step_down=80))
    ctrl.start(0.0)
    assert ctrl.on_answer(1.0, "suds", 79) is None
    d = ctrl.on_answer(2.0, "suds", 85)
    assert d is not None and d.step == 1 and d.reason == "distress: SUDS 85 at or above 80 -> s1"
    assert ctrl.on_answer(3.0, "nrs", 9) is None  # pain is not exposure's business


def test_answers_are_validated() -> None:
    ctrl = ExposureController(config())
    with pytest.raises(ControllerError, match=r"suds answer must be an integer 0\.\.100"):
        ctrl.on_answer(0.0, "suds", 101)
    with pytest.raises(ControllerError, match=r"nrs answer must be an integer 0\.\.10"):
        ctrl.on_answer(0.0, "nrs", 11)
    with pytest.raises(ControllerError, match="'mood' is not one of suds, nrs"):
        ctrl.on_answer(0.0, "mood", 3)


def climb_path(seed: int, variability: float, climbs: int = 40) -> list[int]:
    """Steps visited when every settle period ends in habituation (SUDS 10)."""
    hab = {"hr_drop": None, "scl_drop": None, "suds_below": 40}
    ctrl = ExposureController(config(habituation=hab, variability=variability), seed=seed)
    ctrl.start(0.0)
    path, t = [], 0.0
    for _ in range(climbs):
        ctrl.on_answer(t, "suds", 10)
        t += 10.0
        d = ctrl.tick(t, snap(t))
        if d is not None and d.step is not None:
            path.append(d.step)
        if ctrl.step == 4:  # top: start over from the bottom
            ctrl.lowest(t, "restart", "therapist")
            t += 0.001
    return path


def test_variability_is_deterministic_per_seed() -> None:
    assert climb_path(1, 0.3) == climb_path(1, 0.3)
    assert climb_path(1, 0.3) != climb_path(2, 0.3)
    plain = climb_path(1, 0.0)
    assert plain[:4] == [1, 2, 3, 4]  # without variability: always the next step


def test_variability_visits_other_steps_with_a_reason() -> None:
    hab = {"hr_drop": None, "scl_drop": None, "suds_below": 40}
    ctrl = ExposureController(config(habituation=hab, variability=0.3), seed=1)
    ctrl.start(0.0)
    visits = []
    t = 0.0
    for _ in range(60):
        ctrl.on_answer(t, "suds", 10)
        t += 10.0
        before = ctrl.step
        d = ctrl.tick(t, snap(t))
        if d is not None and d.step is not None and "variability visit" in d.reason:
            visits.append((before, d.step))
            assert d.step not in (before, before + 1) and d.step <= before + 2
        if ctrl.step == 4:
            ctrl.lowest(t, "restart", "therapist")
    assert 5 <= len(visits) <= 40  # about 30 % of climbs


def test_config_errors() -> None:
    with pytest.raises(ValidationError, match="give at least one of"):
        config(habituation={"hr_drop": None, "scl_drop": None})
    with pytest.raises(ValidationError, match=r"needs step_up\.when: habituated"):
        config(step_up={"when": "settled"})
    with pytest.raises(ValidationError, match=r"less than or equal to 0\.3"):
        config(variability=0.5)
    legacy = ExposureConfig.model_validate({"step_up": {"when": "habituated"}})
    assert legacy.climb_rule == "arousal" and config().climb_rule == "habituation"
