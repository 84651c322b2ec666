"""The session answers prompts from a display's head pose (gaze dwell), mouse clicks and a
controller's select while gazing; answers are recorded with their source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import pyxdf
from session_helpers import make_session

from engine.clock import ManualClock
from engine.display.base import FrameTiming, InputEvents, PointerRay
from engine.display.null import NullDisplay
from engine.protocol import load_protocol, resolve_seed
from engine.session import Session
from therapies.head_pose import HeadPose
from therapies.prompt_gaze import PanelLayout
from therapies.prompts import PromptsConfig
from therapies.scenes.base import DrawList, Overlay

FPS = 15.0
LAYOUT = PanelLayout(3.0, 0.05, 0.95, 0.4, 0.6, 0.1)
# GazeSelector defaults: height 0.2, 1.5 m; a view scale of 1: the panel is 0.6 x 1.8 m,
# centred 0.24 m below the opening gaze point.
SIZE, WIDTH, CENTRE_Y = 0.6, 1.8, -0.24
ACTIVE = 22.0  # seconds after start: the demo protocol's baseline is 20 s


def head_on(u: float | None) -> HeadPose:
    """A head (translated, not turned) looking at panel point (u, 0.5); None: straight on."""
    if u is None:
        return HeadPose((0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0))
    return HeadPose(((u - 0.5) * WIDTH, CENTRE_Y, 0.0), (0.0, 0.0, 0.0, 1.0))


class HeadDisplay(NullDisplay):
    """A display that reports a head pose (and keys/clicks) per frame, and lays out panels
    with a fixed layout; it records the overlays it was asked to present."""

    draws = True

    def __init__(self) -> None:
        super().__init__()
        self.head: HeadPose | None = head_on(None)
        self.keys: tuple[str, ...] = ()
        self.clicks: tuple[PointerRay, ...] = ()
        self.overlays: tuple[Overlay, ...] = ()

    def poll(self) -> InputEvents:
        keys, clicks, self.keys, self.clicks = self.keys, self.clicks, (), ()
        return InputEvents(keys=keys, head=self.head, clicks=clicks)

    def panel_layout(self, overlay: Overlay) -> PanelLayout:
        assert overlay.gauge is not None
        return LAYOUT

    def present(self, draw_list: DrawList) -> FrameTiming:
        self.overlays = draw_list.overlays
        return super().present(draw_list)


def make(tmp_path: Path, display: HeadDisplay, **prompts: object):
    protocol = load_protocol(resolve_seed("protocols", "heights-demo"))
    config = PromptsConfig.model_validate({"suds": {"timeout": "20s"}, **prompts})
    protocol = protocol.model_copy(update={"prompts": config})
    session, _, recorder = make_session(tmp_path, protocol, display=display, fps=FPS)
    return session, recorder


def run_until(session: Session, t: float) -> None:
    clock = session.clock
    assert isinstance(clock, ManualClock)
    while clock.now() < 100.0 + t - 1e-9:
        session.step(clock.now())
        clock.advance(1 / FPS)


def suds_markers(path: Path) -> list[dict[str, object]]:
    streams, _ = pyxdf.load_xdf(str(path))
    return [
        json.loads(m[0])
        for s in streams
        if s["info"]["name"][0] == "vrtherapy-markers"
        for m in s["time_series"]
        if json.loads(m[0])["event"] == "suds"
    ]


def test_gaze_dwell_answers_the_value_looked_at_and_records_source_gaze(tmp_path: Path) -> None:
    display = HeadDisplay()
    session, recorder = make(tmp_path, display)
    run_until(session, ACTIVE)
    display.keys = ("s",)  # on demand: the panel opens where the head looks (the question)
    run_until(session, ACTIVE + 1.0)
    panel, cursor = display.overlays[-2:]
    assert (
        session.gaze.selector.centre == pytest.approx((0.0, CENTRE_Y, -1.5)) and cursor.text == "+"
    )
    assert panel.anchor == pytest.approx((0.5, 0.5 + CENTRE_Y / 1.5 / 2))
    assert session.prompts.open is not None  # a still head answered nothing
    display.head = head_on(0.05 + 0.09 * 7)  # the 70 tick
    run_until(session, ACTIVE + 2.0)
    panel = display.overlays[-2]
    assert panel.gauge is not None and panel.gauge.value == pytest.approx(0.7)
    assert "\u2022" in panel.text  # the dwell is filling
    run_until(session, ACTIVE + 3.2)
    recorder.close()
    assert session.prompts.open is None
    assert [(kind, value) for _, kind, value in session.summary.answers] == [("suds", 70)]
    answered = [m for m in suds_markers(tmp_path / "rec.xdf") if m["kind"] == "answered"]
    assert len(answered) == 1 and answered[0]["value"] == 70 and answered[0]["source"] == "gaze"
    assert answered[0]["latency"] == pytest.approx(3.0, abs=0.1)  # 1 s reading + 2 s dwell
    assert all(o.text != "+" for o in display.overlays)  # panel and cursor gone


def test_a_prompt_nobody_looks_at_times_out(tmp_path: Path) -> None:
    display = HeadDisplay()
    session, recorder = make(tmp_path, display)
    run_until(session, ACTIVE)
    display.keys = ("s",)
    run_until(session, ACTIVE + 21.0)
    recorder.close()
    assert session.summary.answers == []
    assert [m["kind"] for m in suds_markers(tmp_path / "rec.xdf")] == ["asked", "timeout"]


def test_mouse_click_and_select_while_gazing_answer_at_once(tmp_path: Path) -> None:
    display = HeadDisplay()
    session, recorder = make(tmp_path, display)
    run_until(session, ACTIVE)
    display.keys = ("s",)
    run_until(session, ACTIVE + 0.5)
    # a click ray from the head through the 20 tick
    target = ((0.05 + 0.09 * 2 - 0.5) * WIDTH, CENTRE_Y, -1.5)
    norm = sum(c * c for c in target) ** 0.5
    direction = (target[0] / norm, target[1] / norm, target[2] / norm)
    display.clicks = (PointerRay((0.0, 0.0, 0.0), direction),)
    run_until(session, ACTIVE + 0.6)
    assert session.prompts.open is None
    # the next prompt: gaze on 90 and the controller's select (Enter) confirms at once
    display.keys = ("s",)
    run_until(session, ACTIVE + 1.0)
    display.head = head_on(0.05 + 0.09 * 9)
    run_until(session, ACTIVE + 1.3)
    display.keys = ("return",)
    run_until(session, ACTIVE + 1.4)
    recorder.close()
    answered = [m for m in suds_markers(tmp_path / "rec.xdf") if m["kind"] == "answered"]
    assert [(m["value"], m["source"]) for m in answered] == [(20, "mouse"), (90, "gaze+confirm")]
    assert session.summary.decisions[-1].source != "therapist"  # Enter moved no exposure


def test_gaze_disabled_keeps_the_head_locked_panel(tmp_path: Path) -> None:
    display = HeadDisplay()
    session, recorder = make(tmp_path, display, gaze={"enabled": False})
    run_until(session, ACTIVE)
    display.keys = ("s",)
    display.head = head_on(0.5)
    run_until(session, ACTIVE + 5.0)
    recorder.close()
    assert session.prompts.open is not None and session.summary.answers == []
    assert display.overlays[-1].text.startswith("How anxious")
    assert display.overlays[-1].anchor == (0.5, 0.42)  # the head-locked prompt panel


def test_null_display_has_no_head_and_keeps_the_head_locked_panel(tmp_path: Path) -> None:
    class Keys(NullDisplay):
        draws = True
        seen: tuple[Overlay, ...] = ()

        def poll(self) -> InputEvents:
            return InputEvents(keys=("s",) if self.frames == int(ACTIVE * FPS) else ())

        def present(self, draw_list: DrawList) -> FrameTiming:
            self.seen = draw_list.overlays
            return super().present(draw_list)

    display = Keys()
    session, recorder = make(tmp_path, display)  # type: ignore[arg-type]
    run_until(session, ACTIVE + 1.0)
    recorder.close()
    assert session.prompts.open is not None
    assert len(display.seen) == 1 and display.seen[0].anchor == (0.5, 0.42)
