"""Prompts in a real OpenXR session (Monado's simulated HMD): controller actions are
created, bound, attached and synced every frame, the tracked head pose reaches the session,
and a gaze dwell on the world-locked panel answers the prompt.

Run through ``scripts/xr-tests.sh``; elsewhere left out (no OpenXR runtime). Monado's
simulated HMD has no controllers (nothing is ever pressed), and its head is not still: it
wobbles around straight ahead (measured over 15 s: yaw -11.5..+2.7 deg at up to 2.8 deg/s,
pitch -1.8..+1.8 deg, position x -0.2..0 m and y -0.07..+0.02 m at up to 0.075 m/s). A
patient holding a gaze for the default 2 s is steadier than that; the session test below
therefore uses the shortest dwell a protocol may set (0.5 s) and a far panel (20 m, the
same size in view) so that the simulated head's sway stays within one scale value.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest
from xr_tier import XR_TIER, open_display

from engine.clock import ManualClock
from engine.display._xr_actions import SIMPLE_PROFILE
from engine.display.openxr import OpenXRDisplay
from engine.protocol import load_protocol, resolve_seed
from engine.render.renderer import head_frame
from engine.session import Session
from therapies.head_pose import quat_rotation
from therapies.prompt_gaze import GazeSelector, PanelLayout, panel_overlay
from therapies.prompts import PromptsConfig
from therapies.scenes import HeightsScene

pytestmark = XR_TIER


@pytest.fixture
def display() -> Iterator[OpenXRDisplay]:
    yield from open_display("vrtherapy-prompt-tests")


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    cos = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
    return math.degrees(math.acos(min(max(cos, -1.0), 1.0)))


def test_controller_actions_sync_and_head_pose_reaches_input_events(
    display: OpenXRDisplay,
) -> None:
    assert SIMPLE_PROFILE in display.controllers.profiles
    scene = HeightsScene(seed=2)
    scene.update(0.0, 0.0)
    dl = scene.draw_list()
    assert dl.camera_yaw == 0.0  # scene space = tracking space turned by nothing
    heads = []
    for _ in range(40):
        events = display.poll()
        assert events.quit is False and events.keys == ()  # no controller, nothing pressed
        if events.head is not None and display.session_state == "FOCUSED":
            frame = display.last_frame
            assert frame is not None and frame.head_pose_valid
            tracked = -quat_rotation(frame.head_orientation)[:, 2]
            assert _angle_deg(events.head.forward, tracked) < 0.5
            _, _, projection = head_frame(display.last_eyes)
            assert events.head.view_scale == pytest.approx(projection[1, 1])
            heads.append(events.head)
        display.present(dl)
    assert display.controllers.syncs >= 30  # synced every focused frame, without error
    assert len(heads) >= 30
    forwards = np.array([h.forward for h in heads])
    assert np.all(forwards[:, 2] < -0.98)  # the simulated head looks (about) straight ahead


def test_gaze_dwell_answers_in_a_real_session(display: OpenXRDisplay) -> None:
    protocol = load_protocol(resolve_seed("protocols", "heights-demo"))
    prompts = PromptsConfig.model_validate(
        {"suds": {"every": "5min", "timeout": "60s"}, "gaze": {"dwell": "500ms"}}
    )
    protocol = protocol.model_copy(update={"prompts": prompts, "baseline": 0.5})
    events: list[str] = []
    clock = ManualClock(0.0)
    session = Session(
        protocol,
        clock=clock,
        display=display,
        scene=HeightsScene(seed=2),
        sources={},
        on_event=events.append,
    )

    def run(seconds: float) -> None:
        end = clock.now() + seconds
        while clock.now() < end - 1e-9:
            session.step(clock.now())
            frame = display.last_frame
            period = frame.predicted_display_period_ns / 1e9 if frame is not None else 0.05
            clock.advance(period)  # session time follows the runtime's frames

    dwell = protocol.prompts.gaze.dwell
    assert session.gaze.selector.dwell == dwell == 0.5
    session.gaze.selector = GazeSelector(dwell, distance=20.0)
    run(1.5)
    assert session.prompts.open is not None, events  # asked when the active phase began
    assert session.gaze.selector.centre is not None  # placed in the world from the tracked head
    head = display.poll().head
    assert (
        head is not None
        and session.gaze.selector.locate(head, _layout(display, session)) is not None
    )
    # The panel opened with the gaze on its question: the swaying head answers nothing.
    assert session.summary.answers == []
    assert display.controllers.syncs > 0
    # Place the panel again with the opening gaze on the middle of the scale: the head
    # now dwells on 50 and answers it.
    session.gaze.selector = GazeSelector(dwell, distance=20.0, aim="gauge")
    run(0.25)
    state = session.gaze.state
    assert state is not None and state.hovered == 50 and 0.2 < state.progress < 0.8
    run(0.5)
    assert session.prompts.open is None, events
    assert [(kind, value) for _, kind, value in session.summary.answers] == [("suds", 50)]
    assert any("SUDS answered 50" in e and "(gaze)" in e for e in events), events


def _layout(display: OpenXRDisplay, session: Session) -> PanelLayout:
    prompt = session.prompts.open
    assert prompt is not None
    layout = display.panel_layout(panel_overlay(prompt, None, "", session.gaze.selector.height))
    assert layout is not None
    return layout
