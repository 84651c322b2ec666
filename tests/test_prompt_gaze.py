"""Gaze answers on a world-locked prompt panel: exact geometry and dwell (pure)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from engine.clock import ManualClock
from therapies.head_pose import HeadPose, quat_rotation, yaw_pitch_quaternion
from therapies.prompt_gaze import (
    GazeSelector,
    GazeState,
    PanelLayout,
    gaze_overlays,
    scale_values,
)
from therapies.prompts import SCALES, PromptConfig, PromptScheduler, PromptsConfig

# A panel 3 wide per 1 tall whose 11 ticks span u 0.05..0.95 (spacing 0.09) on the row v 0.4..0.6.
LAYOUT = PanelLayout(3.0, 0.05, 0.95, 0.4, 0.6, 0.1)
SUDS, NRS = SCALES["suds"], SCALES["nrs"]
IDENTITY = (0.0, 0.0, 0.0, 1.0)
# height 0.2 of a view with scale 1 at 1.5 m: the panel is 0.6 m tall and 1.8 m wide.
SIZE, WIDTH = 0.6, 1.8
# Opening gaze lands on the title (v 0.1): the centre is 0.4 * 0.6 m below the gaze point.
CENTRE_Y = -0.24


def head_at(x: float = 0.0, y: float = 0.0, quat: tuple[float, ...] = IDENTITY) -> HeadPose:
    q = tuple(float(c) for c in quat)
    return HeadPose((x, y, 0.0), (q[0], q[1], q[2], q[3]))


def looking_at(u: float, v: float = 0.5) -> HeadPose:
    """A head translated (not turned) so its forward ray meets panel point (u, v)."""
    return head_at((u - 0.5) * WIDTH, CENTRE_Y + (0.5 - v) * SIZE)


def placed(dwell: float = 2.0) -> GazeSelector:
    gaze = GazeSelector(dwell, height=0.2, distance=1.5)
    assert gaze.place("p", head_at(), LAYOUT) == pytest.approx((0.0, CENTRE_Y, -1.5))
    return gaze


def test_quaternions_turn_the_head_as_the_scene_conventions_say() -> None:
    assert np.allclose(quat_rotation(IDENTITY), np.eye(3))
    left = HeadPose((0.0, 0.0, 0.0), yaw_pitch_quaternion(90.0, 0.0))
    assert np.allclose(left.forward, [-1.0, 0.0, 0.0])  # positive yaw turns left
    up = HeadPose((0.0, 0.0, 0.0), yaw_pitch_quaternion(0.0, 30.0))
    assert np.allclose(up.forward, [0.0, 0.5, -math.sqrt(3) / 2])
    with pytest.raises(ValueError, match="no direction"):
        quat_rotation((0.0, 0.0, 0.0, 0.0))


def test_panel_opens_in_front_with_the_gaze_on_the_question() -> None:
    gaze = placed()
    assert gaze.locate(head_at(), LAYOUT) == pytest.approx((0.5, 0.1))
    # a still head sits on the question, off the scale: it answers nothing however long
    clock = ManualClock(0.0)
    for _ in range(100):
        state = gaze.update(clock.now(), "p", SUDS, head_at(), LAYOUT)
        assert state.hovered is None and state.answer is None
        clock.advance(0.1)


def test_each_tick_is_hovered_where_it_is_drawn() -> None:
    gaze = placed()
    for i, value in enumerate(scale_values(SUDS)):
        u = 0.05 + 0.09 * i
        assert gaze.locate(looking_at(u), LAYOUT) == pytest.approx((u, 0.5))
        assert gaze.value_at(u, 0.5, LAYOUT, SUDS) == value == 10 * i
        assert gaze.value_at(u, 0.5, LAYOUT, NRS) == i


def test_scale_edges_and_band() -> None:
    at = GazeSelector.value_at
    eps = 1e-6
    # each tick owns half a spacing either side; the end ticks as much outwards
    assert at(0.05 - 0.045 + eps, 0.5, LAYOUT, SUDS) == 0
    assert at(0.05 - 0.045 - eps, 0.5, LAYOUT, SUDS) is None
    assert at(0.95 + 0.045 - eps, 0.5, LAYOUT, SUDS) == 100
    assert at(0.95 + 0.045 + eps, 0.5, LAYOUT, SUDS) is None
    assert at(0.05 + 0.045 - eps, 0.5, LAYOUT, SUDS) == 0
    assert at(0.05 + 0.045 + eps, 0.5, LAYOUT, SUDS) == 10
    # vertically: the scale's row and half a row (0.1) above and below
    assert at(0.5, 0.3 + eps, LAYOUT, SUDS) == 50
    assert at(0.5, 0.3 - eps, LAYOUT, SUDS) is None
    assert at(0.5, 0.7 - eps, LAYOUT, SUDS) == 50
    assert at(0.5, 0.7 + eps, LAYOUT, SUDS) is None
    # through the head's ray, at the panel's own edge
    gaze = placed()
    assert gaze.locate(looking_at(0.0), LAYOUT) == pytest.approx((0.0, 0.5))
    assert gaze.locate(looking_at(-0.01), LAYOUT) is None  # off the panel


def test_turning_the_head_hovers_values_at_the_exact_angles() -> None:
    gaze = placed()
    # Head at the centre's height, turned by yaw t: the panel (facing the head, same share
    # of the view) is met at u = 0.5 - tan(t) * 1.5 / 1.8.
    for i, value in enumerate(scale_values(SUDS)):
        u = 0.05 + 0.09 * i
        yaw = math.degrees(math.atan((0.5 - u) * 1.8 / 1.5))
        head = head_at(0.0, CENTRE_Y, yaw_pitch_quaternion(yaw, 0.0))
        assert gaze.locate(head, LAYOUT) == pytest.approx((u, 0.5))
        assert gaze.update(0.0, "p", SUDS, head, LAYOUT).hovered == value
    behind = head_at(0.0, CENTRE_Y, yaw_pitch_quaternion(180.0, 0.0))
    assert gaze.locate(behind, LAYOUT) is None


def test_a_pointer_ray_hits_the_value_under_it() -> None:
    gaze = placed()
    head = head_at()
    target = np.array([(0.05 + 0.09 * 8 - 0.5) * WIDTH, CENTRE_Y, -1.5])  # tick of 80
    origin = np.array([0.032, 0.0, 0.0])  # an eye beside the head centre
    hit = gaze.locate(head, LAYOUT, origin, (target - origin) / np.linalg.norm(target - origin))
    assert hit is not None and hit == pytest.approx((0.05 + 0.09 * 8, 0.5))
    assert gaze.value_at(hit[0], hit[1], LAYOUT, SUDS) == 80
    assert gaze.locate(head, LAYOUT, origin, (0.0, 0.0, 1.0)) is None  # pointing away


def test_dwell_answers_once_after_the_dwell_time() -> None:
    clock = ManualClock(10.0)
    gaze = placed(dwell=2.0)
    on_70 = looking_at(0.05 + 0.09 * 7)
    states = []
    for _ in range(25):
        states.append(gaze.update(clock.now(), "p", SUDS, on_70, LAYOUT))
        clock.advance(0.1)
    assert [s.hovered for s in states] == [70] * 25
    assert states[10].progress == pytest.approx(0.5)
    answers = [(round(10.0 + 0.1 * k, 6), s.answer) for k, s in enumerate(states) if s.answer]
    assert answers == [(12.0, 70)]  # at 2.0 s of dwell, once


def test_looking_away_or_at_another_value_restarts_the_dwell() -> None:
    clock = ManualClock(0.0)
    gaze = placed(dwell=2.0)
    on_30, on_40 = looking_at(0.05 + 0.09 * 3), looking_at(0.05 + 0.09 * 4)
    assert gaze.update(clock.now(), "p", SUDS, on_30, LAYOUT).hovered == 30
    clock.advance(1.9)
    away = gaze.update(clock.now(), "p", SUDS, head_at(), LAYOUT)
    assert (away.hovered, away.progress, away.answer) == (None, 0.0, None)  # dwell gone
    clock.advance(0.1)
    assert gaze.update(clock.now(), "p", SUDS, on_30, LAYOUT).progress == 0.0
    clock.advance(1.5)
    assert gaze.update(clock.now(), "p", SUDS, on_40, LAYOUT).progress == 0.0  # new value
    clock.advance(1.99)
    assert gaze.update(clock.now(), "p", SUDS, on_40, LAYOUT).answer is None
    clock.advance(0.01)
    assert gaze.update(clock.now(), "p", SUDS, on_40, LAYOUT).answer == 40


def test_a_new_prompt_gets_a_new_panel_where_the_head_looks_now() -> None:
    gaze = placed()
    turned = head_at(0.0, 0.0, yaw_pitch_quaternion(90.0, 0.0))
    state = gaze.update(0.0, "next", NRS, turned, LAYOUT)
    assert gaze.key == "next"
    assert state.centre == pytest.approx((-1.5, CENTRE_Y, 0.0))
    # looking down at the floor, the opening gaze still lands on the question, off the scale
    down = head_at(0.0, 0.0, yaw_pitch_quaternion(30.0, -80.0))
    gaze.place("floor", down, LAYOUT)
    assert gaze.locate(down, LAYOUT) == pytest.approx((0.5, 0.1))
    assert gaze.update(0.0, "floor", NRS, down, LAYOUT).hovered is None
    gaze.close()
    assert gaze.centre is None and gaze.locate(down, LAYOUT) is None


def test_panel_is_drawn_where_it_is_in_the_view_and_waits_at_the_edge() -> None:
    gaze = placed()
    assert gaze.update(0.0, "p", SUDS, head_at(), LAYOUT).anchor == pytest.approx(
        (0.5, 0.5 - 0.24 / 1.5 / 2)
    )  # 0.24 m below at 1.5 m with a view scale of 1
    # turned 30 degrees right: the panel is tan(30) view half-widths to the left
    right = head_at(0.0, CENTRE_Y, yaw_pitch_quaternion(-30.0, 0.0))
    state = gaze.update(0.1, "p", SUDS, right, LAYOUT)
    assert state.anchor == pytest.approx(((1 - math.tan(math.radians(30))) / 2, 0.5))
    assert state.cursor == (0.5, 0.5)
    away = head_at(0.0, CENTRE_Y, yaw_pitch_quaternion(-80.0, 0.0))
    assert gaze.update(0.2, "p", SUDS, away, LAYOUT).anchor == pytest.approx((0.0, 0.5))  # edge
    behind = head_at(0.0, CENTRE_Y, yaw_pitch_quaternion(170.0, 0.0))
    assert gaze.anchor(behind) == (1.0, 0.5)  # turned left past it: it is on the right
    # an off-centre view (asymmetric frustum): the cursor stays on the forward ray
    shifted = HeadPose((0.0, 0.0, 0.0), IDENTITY, (1.0, 0.0, 1.2, -0.1))
    assert shifted.cursor_anchor == pytest.approx((0.5, 0.55))
    assert shifted.view_anchor((0.0, 0.0, -2.0)) == pytest.approx((0.5, 0.55))


def test_gaze_overlays_show_hover_progress_and_a_cursor() -> None:
    prompts = PromptScheduler(PromptsConfig(suds=PromptConfig()))
    prompts.request("suds", 0.0)
    prompt = prompts.open
    assert prompt is not None
    state = GazeState((0.0, 1.0, -2.0), (0.4, 0.3), (0.5, 0.6), 60, 0.5)
    panel, cursor = gaze_overlays(prompt, state)
    assert panel.world is None and panel.anchor == (0.4, 0.3) and panel.gauge is not None
    assert panel.gauge.value == pytest.approx(0.6) and "<    60    >" in panel.text
    assert "\u2022" * 5 + "\u00b7" * 5 in panel.text
    assert cursor.world is None and cursor.anchor == (0.5, 0.6) and cursor.text == "+"
    idle, _ = gaze_overlays(prompt, GazeState((0.0, 1.0, -2.0)))
    assert idle.gauge is not None and idle.gauge.value is None and idle.bg != panel.bg
    assert idle.text.count("\n") == panel.text.count("\n")  # same lines: same layout


def test_gaze_config_is_validated() -> None:
    config = PromptsConfig.model_validate({"gaze": {"dwell": "1500ms"}})
    assert config.gaze.dwell == 1.5 and config.gaze.enabled
    assert PromptsConfig().gaze.dwell == 2.0
    with pytest.raises(ValidationError, match=r"greater than or equal to 0\.5"):
        PromptsConfig.model_validate({"gaze": {"dwell": "100ms"}})
    with pytest.raises(ValidationError, match="less than or equal to 10"):
        PromptsConfig.model_validate({"gaze": {"dwell": "1min"}})
    with pytest.raises(ValidationError, match="stare"):
        PromptsConfig.model_validate({"gaze": {"stare": "2s"}})
    with pytest.raises(ValueError, match="aim"):
        GazeSelector(aim="middle")  # type: ignore[arg-type]


def test_timeout_still_closes_a_prompt_nobody_looks_at() -> None:
    prompts = PromptScheduler(PromptsConfig(suds=PromptConfig(timeout=20.0)))
    gaze = GazeSelector(2.0)
    clock = ManualClock(0.0)
    prompts.request("suds", clock.now())
    events = []
    while prompts.open is not None:
        prompt = prompts.open
        state = gaze.update(clock.now(), prompt.asked_at, prompt.scale, head_at(), LAYOUT)
        assert state.answer is None
        clock.advance(0.5)
        events += prompts.update(clock.now())
    assert [(e.event, e.time) for e in events] == [("timeout", 20.0)]
