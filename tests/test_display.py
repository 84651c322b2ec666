"""Display backends: names, errors, the null display, and opening real GL in sequence."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pygame
import pytest

from engine.display import (
    BACKENDS,
    Display,
    FrameTiming,
    InputEvents,
    default_display_name,
    open_display,
)
from engine.display.null import NullDisplay
from engine.errors import DisplayUnavailableError
from therapies.scenes import DrawList, HeightsScene


def _draw_list() -> DrawList:
    scene = HeightsScene()
    scene.update(0.3, 0.0)
    return scene.draw_list()


def test_unknown_display_lists_allowed_names() -> None:
    with pytest.raises(
        DisplayUnavailableError, match="'nope' is not one of null, offscreen, window, openxr"
    ):
        open_display("nope")


def test_backends_are_module_class_paths() -> None:
    assert set(BACKENDS) == {"null", "offscreen", "window", "openxr"}
    assert all(":" in backend.target for backend in BACKENDS.values())


def test_importing_the_packages_loads_no_gl() -> None:
    code = (
        "import sys, engine.display, engine.render, therapies.scenes;"
        "print(sorted(m for m in ('pygame', 'OpenGL') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_null_display_times_frames_and_has_no_image(tmp_path: Path) -> None:
    display = open_display("null", size=(320, 200))
    assert isinstance(display, NullDisplay) and isinstance(display, Display)
    assert display.paced is False and display.size == (320, 200)
    assert display.poll() == InputEvents(quit=False, keys=())
    timings = [display.present(_draw_list()) for _ in range(3)]
    assert [t.frame_index for t in timings] == [0, 1, 2]
    assert all(isinstance(t, FrameTiming) and t.cpu_ms >= 0 for t in timings)
    with pytest.raises(DisplayUnavailableError, match="null display renders nothing"):
        display.read_pixels()
    with pytest.raises(DisplayUnavailableError, match="null display renders nothing"):
        display.screenshot(tmp_path / "x.png")
    display.close()
    with pytest.raises(DisplayUnavailableError, match="closed"):
        display.present(_draw_list())


def test_default_display_name_follows_desktop_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert default_display_name() == "offscreen"
    monkeypatch.setenv("DISPLAY", ":0")
    assert default_display_name() == "window"
    monkeypatch.delenv("DISPLAY")
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert default_display_name() == "window"


def test_window_without_desktop_suggests_offscreen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(DisplayUnavailableError, match="--display offscreen"):
        open_display("window")


def test_missing_pygame_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    for mod in ("engine.display.offscreen", "engine.display._pygame_gl"):
        monkeypatch.delitem(sys.modules, mod, raising=False)
    monkeypatch.setitem(sys.modules, "pygame", None)
    with pytest.raises(DisplayUnavailableError, match="needs the Python package pygame"):
        open_display("offscreen")


@pytest.mark.gl
def test_offscreen_reopens_and_refuses_a_second_at_once() -> None:
    first = open_display("offscreen", size=(64, 48), stereo=False)
    try:
        assert first.paced is False
        with pytest.raises(DisplayUnavailableError, match="already open"):
            open_display("offscreen", size=(64, 48))
        first.present(_draw_list())
        assert first.read_pixels().shape == (48, 64, 3)
    finally:
        first.close()
    first.close()  # idempotent
    with pytest.raises(DisplayUnavailableError, match="closed"):
        first.read_pixels()
    second = open_display("offscreen", size=(80, 40))
    try:
        with pytest.raises(DisplayUnavailableError, match="no frame"):
            second.read_pixels()
        timing = second.present(_draw_list())
        assert timing.frame_index == 0 and timing.cpu_ms > 0
        pixels = second.read_pixels()
        assert pixels.shape == (40, 80, 3) and pixels.dtype == np.uint8
        assert second.poll() == InputEvents()
    finally:
        second.close()


@pytest.mark.gl
def test_window_refuses_a_headless_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", ":4242")  # no X server there; SDL falls back to offscreen
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(DisplayUnavailableError, match="--display offscreen"):
        open_display("window", size=(64, 48))


@pytest.mark.gl
def test_window_code_path_on_the_offscreen_driver() -> None:
    from engine.display.window import WindowDisplay

    window = WindowDisplay(size=(96, 64), stereo=True, driver="offscreen")
    try:
        assert window.paced is True
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE))
        pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=(5, 5)))
        pygame.event.post(
            pygame.event.Event(pygame.MOUSEMOTION, rel=(10, -4), pos=(15, 1), buttons=(1, 0, 0))
        )
        pygame.event.post(pygame.event.Event(pygame.QUIT))
        events = window.poll()
        assert events.quit and events.keys == ("escape",)
        assert window.look_yaw == pytest.approx(-1.5) and window.look_pitch == pytest.approx(0.6)
        window.present(_draw_list())  # FBO, blit to the default framebuffer, flip
        assert window.read_pixels().shape == (64, 96, 3)
    finally:
        window.close()


@pytest.mark.gl
def test_offscreen_refuses_pygame_started_with_another_driver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    pygame.display.init()
    try:
        with pytest.raises(DisplayUnavailableError, match="already initialised with video driver"):
            open_display("offscreen", size=(32, 32))
    finally:
        pygame.display.quit()


def test_no_gl_context_names_the_debian_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise pygame.error("Could not create GL context")

    monkeypatch.setattr(pygame.display, "set_mode", refuse)
    with pytest.raises(DisplayUnavailableError, match="libgl1-mesa-dri libegl1"):
        open_display("offscreen", size=(32, 32))
    assert not pygame.display.get_init()
