"""Scene events: every scene declares what a therapist can make happen, each event shows for
a few seconds and then the scene is as it would have been; the events with a sound fire
their cue. Rendered through real offscreen OpenGL: an event changes what is seen.

Method: two scenes of one seed get the same updates; one of them has the event fired.
Frames are pure functions of their state (tests/test_scenes_render.py), so every pixel
that differs between the two renders is the event. Thresholds: at least 0.05% of the
480x270 stereo frame (65 pixels) changes by more than 8 grey levels, in both eyes; the
smallest event measured (a cough in the audience) changes 0.19%.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pygame
import pytest

from therapies.scenes import create_scene, scene_events, scene_names

EVENTS = {
    "public_speaking": ("cough", "phone_ring", "hostile_question", "audience_yawns"),
    "flying": ("turbulence_burst", "announcement"),
    "spiders": ("spider_approaches",),
    "heights": ("gust_of_wind",),
    "snow": ("bonus_wave",),
    "breathing": ("sunshine",),
}
CUES = {
    "cough": ("cough",),
    "phone_ring": ("ring",),
    "hostile_question": ("shuffle",),
    "turbulence_burst": ("jolt",),
    "announcement": ("chime",),
    "gust_of_wind": ("gust",),
    "bonus_wave": ("reward",),
    "sunshine": ("reward",),
}
CASES = [(scene, event) for scene, events in EVENTS.items() for event in events]
SIZE = (480, 270)
DT = 0.05


def _pair(name: str, event: str) -> tuple[Any, Any]:
    """Two settled scenes of one seed; the second has ``event`` fired."""
    control, fired = create_scene(name, seed=0), create_scene(name, seed=0)
    for scene in (control, fired):
        scene.update(0.5, 0.0)
        for _ in range(20):
            scene.update(0.5, 0.25)
        scene.soundscape()  # collect the cues so far
    fired.trigger(event)
    return control, fired


def _advance(scenes: tuple[Any, Any], seconds: float) -> None:
    for _ in range(round(seconds / DT)):
        for scene in scenes:
            scene.update(0.5, DT)


def test_every_scene_declares_its_events() -> None:
    assert set(EVENTS) == set(scene_names())
    for name, events in EVENTS.items():
        assert scene_events(name) == events
        assert create_scene(name).events == events
    with pytest.raises(ValueError, match="no event 'earthquake'"):
        create_scene("heights").trigger("earthquake")


@pytest.mark.parametrize(("name", "event"), CASES)
def test_an_event_sounds_and_then_ends(name: str, event: str) -> None:
    control, fired = _pair(name, event)
    assert fired.soundscape().cues == CUES.get(event, ())
    duration = fired._events.durations[event]
    assert 2.0 <= duration <= 10.0  # "for a few seconds"
    _advance((control, fired), duration + DT)
    assert fired._events.running == ()
    after, before = fired.draw_list(), control.draw_list()
    for a, b in zip(after.batches, before.batches, strict=True):
        np.testing.assert_array_equal(a.transforms, b.transforms)
        np.testing.assert_array_equal(a.colors, b.colors)
    np.testing.assert_array_equal(after.camera_position, before.camera_position)
    assert (after.camera_yaw, after.sky_color) == (before.camera_yaw, before.sky_color)


@pytest.fixture(scope="module")
def display() -> Iterator[Any]:
    from engine.display import HEADLESS, open_display

    d = open_display(HEADLESS, size=SIZE, stereo=True)
    yield d
    d.close()


def _render(display: Any, scene: Any, path: Path) -> np.ndarray:
    display.present(scene.draw_list())
    display.screenshot(path)
    surface = pygame.image.load(str(path))
    return pygame.surfarray.array3d(surface).transpose(1, 0, 2).astype(np.int16)


@pytest.mark.gl
@pytest.mark.parametrize(("name", "event"), CASES)
def test_an_event_changes_what_is_seen(display: Any, tmp_path: Path, name: str, event: str) -> None:
    control, fired = _pair(name, event)
    _advance((control, fired), 0.6 * fired._events.durations[event])
    before = _render(display, control, tmp_path / "control.png")
    after = _render(display, fired, tmp_path / "event.png")
    again = _render(display, control, tmp_path / "again.png")
    np.testing.assert_array_equal(again, before)  # the control renders the same
    changed = np.abs(after - before).max(axis=2) > 8
    assert changed.mean() > 0.0005, f"{changed.mean():.4%}"
    half = SIZE[0] // 2
    assert changed[:, :half].sum() > 20 and changed[:, half:].sum() > 20  # both eyes see it
