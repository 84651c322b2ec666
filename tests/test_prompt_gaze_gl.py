"""Gaze answers on real OpenGL (Mesa, offscreen): the panel's scale is drawn where the gaze
geometry says, the cursor and the dwell highlight are drawn, and the window display's head
pose, mouse clicks and drag-look drive a real session."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pygame
import pytest

from engine.clock import ManualClock
from engine.display._gaze import head_pose, pixel_ray, rotation_quaternion
from engine.display.window import WindowDisplay
from engine.protocol import load_protocol, resolve_seed
from engine.render.text import TextStyle, panel_layout, render_coverage
from engine.session import Session
from therapies.head_pose import HeadPose, quat_rotation
from therapies.prompt_gaze import (
    CURSOR_FG,
    HOVER_BG,
    GazeSelector,
    PanelLayout,
    gaze_overlays,
    panel_overlay,
)
from therapies.prompts import Prompt, PromptConfig, PromptScheduler, PromptsConfig
from therapies.scenes import HeightsScene

pytestmark = pytest.mark.gl

SIZE = (640, 480)
FPS = 30.0
GAZE_PNG = Path("/tmp/vrt/gaze_cursor.png")


@pytest.fixture
def window() -> Iterator[WindowDisplay]:
    disp = WindowDisplay(size=SIZE, stereo=False, driver="offscreen")
    try:
        yield disp
    finally:
        disp.close()


def test_panel_layout_matches_the_rendered_image() -> None:
    prompts = PromptScheduler(PromptsConfig(suds=PromptConfig(), nrs=PromptConfig()))
    for kind in ("suds", "nrs"):
        prompts.request(kind, 0.0)
        prompt = prompts.open
        assert prompt is not None
        for size in (12, 30):
            style = TextStyle(size)
            layouts = set()
            for value, status in (
                (None, ""),
                (0, "\u00b7" * 10),
                (prompt.scale.high, "\u2022" * 10),
            ):
                overlay = panel_overlay(prompt, value, status, 0.2)
                assert overlay.gauge is not None
                layouts.add(panel_layout(overlay.text, style, overlay.gauge))
            assert len(layouts) == 1  # what the panel shows never moves its scale
            layout = layouts.pop()
            image = render_coverage(overlay.text, style, overlay.gauge)[..., 0]
            h, w = image.shape
            assert layout.aspect == pytest.approx(w / h)
            # the value marker (a disc at the scale's top value) sits on the last tick
            row = image[int((layout.gauge_top + layout.gauge_bottom) / 2 * h)]
            right = np.flatnonzero(row > 200).max()
            assert right / w == pytest.approx(layout.gauge_right + 0.3 * size / w, abs=1.5 / w)
        prompts.update(1.0, ("return",) if prompts.open is None else ("0", "return"))


def test_rotation_quaternion_round_trips() -> None:
    rng = np.random.default_rng(2)
    for q in rng.normal(size=(20, 4)):
        q = q / np.linalg.norm(q)
        back = np.array(rotation_quaternion(quat_rotation(q)))
        assert np.allclose(back, q) or np.allclose(back, -q)


def _aim(
    window: WindowDisplay,
    prompt: Prompt,
    panel_centre: tuple[float, float, float],
    u: float,
    v: float,
    camera: tuple[float, float],
) -> None:
    """Turn the window's look so the head-forward ray meets the panel at (u, v)."""
    layout = window.panel_layout(panel_overlay(prompt, None, "", 0.2))
    assert layout is not None
    head = head_pose(window.last_eyes)
    assert head is not None
    rot = head.rotation()
    centre, eye = np.array(panel_centre), np.array(head.position)
    depth = -float(np.dot(centre - eye, rot[:, 2]))
    size = 0.2 * 2 * depth / head.view_scale
    target = centre + rot[:, 0] * (u - 0.5) * size * layout.aspect + rot[:, 1] * (0.5 - v) * size
    d = target - eye
    yaw = math.degrees(math.atan2(-d[0], -d[2]))
    pitch = math.degrees(math.atan2(d[1], math.hypot(d[0], d[2])))
    window.look_yaw, window.look_pitch = yaw - camera[0], pitch - camera[1]


def _colour_share(pixels: np.ndarray, rgb: tuple[float, ...], tol: int = 24) -> float:
    want = np.round(np.array(rgb[:3]) * 255)
    return float((np.abs(pixels.astype(int) - want).max(axis=2) <= tol).mean())


def test_window_session_gaze_cursor_highlight_and_answer(window: WindowDisplay) -> None:
    protocol = load_protocol(resolve_seed("protocols", "heights-demo"))
    config = PromptsConfig.model_validate({"suds": {"timeout": "30s"}})
    protocol = protocol.model_copy(update={"prompts": config})
    scene = HeightsScene(seed=1)
    answers: list[str] = []
    session = Session(
        protocol,
        clock=ManualClock(0.0),
        display=window,
        scene=scene,
        sources={},
        frame_rate=FPS,
        on_event=answers.append,
    )
    clock = session.clock
    assert isinstance(clock, ManualClock)
    camera = (scene.draw_list().camera_yaw, scene.draw_list().camera_pitch)

    def step(seconds: float, aim: tuple[float, float] | None = None) -> None:
        end = clock.now() + seconds
        while clock.now() < end - 1e-9:
            session.step(clock.now())
            prompt, centre = session.prompts.open, session.gaze.selector.centre
            if aim is not None and prompt is not None and centre is not None:
                _aim(window, prompt, centre, *aim, camera)
            clock.advance(1 / FPS)

    step(0.2)
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_s))
    step(0.5)
    idle = window.read_pixels()
    assert session.prompts.open is not None and session.gaze.selector.centre is not None
    h, w = idle.shape[:2]
    centre = idle[h // 2 - 12 : h // 2 + 12, w // 2 - 12 : w // 2 + 12]
    assert _colour_share(centre, CURSOR_FG, 40) * centre[..., 0].size >= 6  # yellow cursor
    assert _colour_share(idle, HOVER_BG) < 0.001  # nothing hovered yet (gaze on the question)
    layout = window.panel_layout(panel_overlay(session.prompts.open, None, "", 0.2))
    assert isinstance(layout, PanelLayout)
    u70 = layout.gauge_left + 0.7 * (layout.gauge_right - layout.gauge_left)
    v = (layout.gauge_top + layout.gauge_bottom) / 2
    step(1.0, (u70, v))
    hovered = window.read_pixels()
    GAZE_PNG.parent.mkdir(parents=True, exist_ok=True)
    window.screenshot(GAZE_PNG)
    assert session.prompts.open is not None
    assert _colour_share(hovered, HOVER_BG) > 0.05  # the highlighted panel
    centre = hovered[h // 2 - 12 : h // 2 + 12, w // 2 - 12 : w // 2 + 12]
    assert _colour_share(centre, CURSOR_FG, 40) * centre[..., 0].size >= 6
    assert _colour_share(hovered, CURSOR_FG, 40) * hovered[..., 0].size < 200  # only there
    step(1.2, (u70, v))
    assert session.prompts.open is None
    assert any("SUDS answered 70" in a and "(gaze)" in a for a in answers), answers

    # A mouse click on the 20 tick of the next prompt answers 20 (source mouse); the
    # drag-look still turns the view.
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_s))
    step(0.3)
    assert session.prompts.open is not None and session.gaze.selector.centre is not None
    head = head_pose(window.last_eyes)
    assert head is not None
    u20 = layout.gauge_left + 0.2 * (layout.gauge_right - layout.gauge_left)
    pixel = _pixel_of(window, session.gaze.selector.centre, head, layout, u20, v)
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=pixel))
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONUP, button=1, pos=pixel))
    step(2 / FPS)
    assert session.prompts.open is None
    assert any("SUDS answered 20" in a and "(mouse)" in a for a in answers), answers
    yaw = window.look_yaw
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=(10, 10)))
    pygame.event.post(
        pygame.event.Event(pygame.MOUSEMOTION, rel=(20, 0), pos=(30, 10), buttons=(1, 0, 0))
    )
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONUP, button=1, pos=(30, 10)))
    events = window.poll()
    assert events.clicks == () and window.look_yaw == pytest.approx(yaw - 3.0)


def _pixel_of(
    window: WindowDisplay,
    centre: tuple[float, float, float],
    head: HeadPose,
    layout: PanelLayout,
    u: float,
    v: float,
) -> tuple[int, int]:
    """Window pixel (top-left origin) of panel point (u, v) in the last frame."""
    rot = head.rotation()
    c, eye = np.array(centre), np.array(head.position)
    depth = -float(np.dot(c - eye, rot[:, 2]))
    size = 0.2 * 2 * depth / head.view_scale
    point = c + rot[:, 0] * (u - 0.5) * size * layout.aspect + rot[:, 1] * (0.5 - v) * size
    view = window.last_eyes[0]
    clip = view.projection @ view.view @ np.append(point, 1.0)
    x, y, vw, vh = view.viewport
    px = x + (clip[0] / clip[3] + 1) / 2 * vw
    py = y + (clip[1] / clip[3] + 1) / 2 * vh
    ray = pixel_ray(window.last_eyes, px, py)
    assert ray is not None
    gaze = GazeSelector(2.0)
    gaze._centre = c  # a selector with that panel, to check the ray lands on (u, v)
    hit = gaze.locate(head, layout, ray.origin, ray.direction)
    assert hit == pytest.approx((u, v), abs=1e-3)
    return (int(px), int(SIZE[1] - py))


def test_hovered_disc_is_drawn_under_the_gaze(window: WindowDisplay) -> None:
    """Render only the panel (no cursor) hovered at 70 with the head on the 70 tick: the
    value disc is drawn at the centre of the view, where the gaze ray is."""
    prompts = PromptScheduler(PromptsConfig(suds=PromptConfig()))
    prompts.request("suds", 0.0)
    prompt = prompts.open
    assert prompt is not None
    scene = HeightsScene(seed=1)
    scene.update(0.0, 0.0)
    dl = scene.draw_list()
    window.present(dl)
    head = head_pose(window.last_eyes)
    assert head is not None
    overlay = panel_overlay(prompt, 70, "", 0.2)
    layout = window.panel_layout(overlay)
    assert layout is not None
    gaze = GazeSelector(2.0)
    gaze.place("p", head, layout)
    camera = (dl.camera_yaw, dl.camera_pitch)
    u70 = layout.gauge_left + 0.7 * (layout.gauge_right - layout.gauge_left)
    v = (layout.gauge_top + layout.gauge_bottom) / 2
    state = None
    for _ in range(6):
        assert gaze.centre is not None
        _aim(window, prompt, gaze.centre, u70, v, camera)
        window.present(dl)  # the eyes follow the new look
        head = head_pose(window.last_eyes)
        assert head is not None
        state = gaze.update(0.0, "p", prompt.scale, head, layout)
        panel, _cursor = gaze_overlays(prompt, state)
        window.present(dataclasses.replace(dl, overlays=(panel,)))
    assert state is not None and state.hovered == 70
    assert gaze.locate(head, layout) == pytest.approx((u70, v), abs=2e-3)
    pixels = window.read_pixels().astype(int)
    h, w = pixels.shape[:2]
    row = pixels[h // 2, w // 2 - 40 : w // 2 + 41]
    bright = np.flatnonzero(row.min(axis=1) > 200) - 40  # the off-white disc around x = 0
    assert bright.size >= 3 and abs(float(bright.mean())) <= 1.5, bright
