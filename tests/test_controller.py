"""Exposure controller and safety layer: decisions and their reasons."""

from __future__ import annotations

import pytest

from biosignals.features import FeatureSnapshot
from therapies.commands import Command, CommandKind
from therapies.controllers import ExposureConfig, ExposureController
from therapies.safety import IntensityRamp, SafetyConfig, SafetyLayer

HIERARCHY = [{"intensity": v, "label": f"s{i}"} for i, v in enumerate((0.2, 0.4, 0.6, 0.8))]


def config(**kw: object) -> ExposureConfig:
    base: dict[str, object] = {"hierarchy": HIERARCHY, "settle_time": 10.0, "min_dwell": 5.0}
    base.update(kw)
    return ExposureConfig.model_validate(base)


def snap(
    t: float, arousal: float | None, hr: float = 80.0, flags: tuple[str, ...] = ()
) -> FeatureSnapshot:
    return FeatureSnapshot(t, hr, 5.0, 1.0, arousal, valid=not flags, flags=flags)


def run_ticks(ctrl: ExposureController, arousals: list[float], t0: float = 0.0) -> list:
    out = []
    for i, a in enumerate(arousals):
        d = ctrl.tick(t0 + i, snap(t0 + i, a))
        if d is not None:
            out.append(d)
    return out


def test_settled_arousal_climbs_one_step_with_reason() -> None:
    ctrl = ExposureController(config())
    first = ctrl.start(0.0)
    assert first.target == 0.2 and "s0" in first.reason
    decisions = run_ticks(ctrl, [0.5] * 12)
    assert len(decisions) == 1
    d = decisions[0]
    assert (d.previous, d.target, d.step) == (0.2, 0.4, 1)
    assert d.reason.startswith("settled: arousal 0.50 steady") and d.reason.endswith("-> s1")
    assert "0.20 -> 0.40 (step 2, controller): settled" in d.explain()


def test_rising_arousal_does_not_climb() -> None:
    ctrl = ExposureController(config())
    ctrl.start(0.0)
    assert run_ticks(ctrl, [0.3 + 0.03 * i for i in range(13)]) == []


def test_over_arousal_steps_down_after_min_dwell() -> None:
    ctrl = ExposureController(config(start_step=2))
    ctrl.start(0.0)
    decisions = run_ticks(ctrl, [0.9] * 7)
    assert len(decisions) == 1 and decisions[0].time == 5.0
    assert (
        decisions[0].target == 0.4
        and "over-aroused: arousal 0.90 above window" in decisions[0].reason
    )


def test_habituation_mode_needs_a_drop_from_peak() -> None:
    ctrl = ExposureController(config(step_up={"when": "habituated"}, habituation_drop=0.2))
    ctrl.start(0.0)
    assert run_ticks(ctrl, [0.6] * 15) == []
    decisions = run_ticks(ctrl, [0.45] * 2, t0=15.0)
    assert (
        len(decisions) == 1
        and "habituated: arousal 0.45, 25% below step peak 0.60" in decisions[0].reason
    )


def test_invalid_features_never_move() -> None:
    ctrl = ExposureController(config())
    ctrl.start(0.0)
    for i in range(30):
        assert ctrl.tick(float(i), snap(float(i), None, flags=("heart:dropout",))) is None


def test_top_step_holds() -> None:
    ctrl = ExposureController(config(start_step=3))
    ctrl.start(0.0)
    assert run_ticks(ctrl, [0.5] * 30) == []


def test_levels_without_hierarchy() -> None:
    cfg = ExposureConfig.model_validate({"step_up": {"by": 0.25}})
    assert cfg.levels() == (0.0, 0.25, 0.5, 0.75, 1.0)


def safety(policy: str = "lower", **kw: object) -> SafetyLayer:
    ctrl = ExposureController(config(start_step=2))
    cfg = SafetyConfig.model_validate({"on_signal_loss": policy, "max_heart_rate": 120, **kw})
    layer = SafetyLayer(ctrl, cfg, tick=1.0)
    layer.start(0.0)
    return layer


def test_heart_rate_ceiling_lowers_within_one_second() -> None:
    layer = safety()
    out = layer.update(0.5, snap(0.5, 0.5, hr=130.0))
    assert [d.target for d in out.decisions] == [0.4]
    assert out.decisions[0].source == "safety"
    assert "heart rate 130 bpm above ceiling 120" in out.decisions[0].reason
    # still above: not again before ceiling_repeat, then again
    assert layer.update(2.0, snap(2.0, 0.5, hr=130.0)).decisions == []
    assert [d.target for d in layer.update(5.6, snap(5.6, 0.5, hr=131.0)).decisions] == [0.2]


@pytest.mark.parametrize(
    ("policy", "target", "stops"),
    [("lower", 0.2, False), ("hold", 0.6, False), ("stop", 0.6, True)],
)
def test_signal_loss_policies(policy: str, target: float, stops: bool) -> None:
    layer = safety(policy)
    out = layer.update(1.0, snap(1.0, None, flags=("heart:dropout",)))
    assert layer.controller.target == target
    assert (out.stop_reason is not None) == stops
    if policy == "hold":
        assert "holding intensity" in out.notes[0]
    # applied once per loss episode, then a note when the signal returns
    assert layer.update(1.1, snap(1.1, None, flags=("heart:dropout",))).decisions == []
    if not stops:
        assert "signal restored" in layer.update(2.0, snap(2.0, 0.5)).notes[0]


def test_therapist_override_and_stop_win() -> None:
    layer = safety()
    out = layer.update(0.1, snap(0.1, 0.5), (Command(CommandKind.STEP_DOWN, "keyboard"),))
    assert out.decisions[0].source == "therapist" and layer.controller.target == 0.4
    out = layer.update(0.2, snap(0.2, 0.5, hr=200.0), (Command(CommandKind.STOP, "keyboard"),))
    assert out.stop_reason == "stop requested (emergency stop key)"


def test_ramp_limits_rises_not_falls() -> None:
    ramp = IntensityRamp(max_up_per_second=0.1)
    ramp.advance(0.0, 0.0)
    assert ramp.advance(1.0, 2.0) == pytest.approx(0.2)
    assert ramp.advance(0.0, 2.5) == pytest.approx(0.0)


def test_step_down_while_ramping_up_never_keeps_rising() -> None:
    """Ramping 0.2 -> 0.6 slowly; at 0.3 HR crosses the ceiling: intensity must not rise."""
    layer = safety(max_step_per_minute=6.0)  # 0.1 per second
    layer.controller.move(0.0, -2, "start low", "therapist")  # target 0.2
    layer.intensity(0.0)
    layer.ramp.value = 0.2
    layer.controller.move(0.0, 2, "climb", "controller")  # target 0.6
    assert layer.intensity(1.0) == pytest.approx(0.3)
    out = layer.update(1.0, snap(1.0, 0.5, hr=130.0))
    assert out.decisions[0].target == 0.4  # still above the 0.3 shown
    shown = [layer.intensity(1.0 + 0.1 * i) for i in range(1, 20)]
    assert max(shown) <= 0.3 + 1e-9
    layer.controller.move(3.0, 1, "climb again", "controller")
    assert layer.intensity(4.0) > 0.3  # a later step up releases the hold


def test_controller_cannot_climb_while_heart_rate_is_over_the_ceiling() -> None:
    layer = safety()
    layer.controller.lowest(0.0, "start at the bottom", "therapist")
    notes: list[str] = []
    for i in range(1, 40):  # settled arousal would climb after 10 s, but HR is 125 > 120
        out = layer.update(float(i), snap(float(i), 0.5, hr=125.0))
        assert all(d.target <= d.previous for d in out.decisions)
        notes += out.notes
    assert layer.controller.target == 0.2
    assert any("refused: heart rate 125 bpm above ceiling 120" in n for n in notes), notes
