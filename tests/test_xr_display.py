"""The openxr display against a real OpenXR runtime (Monado's simulated HMD).

Run through ``scripts/xr-tests.sh`` (the project's harness, ``scripts/xr/harness.sh``):
inside its Monado chroot ``XR_HARNESS=monado``; anywhere else the ordinary test run leaves
these tests out (``-m xr`` there skips them): there is no OpenXR runtime to talk to. The
harness uses Monado's null compositor by default (20 Hz, 320x240 per eye), so frame counts
are kept small.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from xr_tier import XR_TIER, open_display

from engine.display.openxr import OpenXRDisplay
from engine.errors import DisplayUnavailableError
from therapies.scenes import HeightsScene

pytestmark = XR_TIER

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def display() -> Iterator[OpenXRDisplay]:
    yield from open_display("vrtherapy-tests")


def _present(display: OpenXRDisplay, scene: HeightsScene, intensity: float, frames: int) -> None:
    """Present until ``frames`` more frames were submitted (the runtime may ask for none
    while a new session becomes visible)."""
    target = display.stats.submitted + frames
    for _ in range(frames + 20):
        assert display.poll().quit is False
        scene.update(intensity, 0.05)
        display.present(scene.draw_list())
        if display.stats.submitted >= target:
            return
    raise AssertionError(f"only {display.stats} after {frames + 20} frames")


def test_heights_scene_reaches_the_headset_and_intensity_changes_it(
    display: OpenXRDisplay,
) -> None:
    assert display.paced is True and display.name == "openxr"
    assert display.session_state in ("READY", "SYNCHRONIZED", "VISIBLE", "FOCUSED")
    w, h = display.eye_size
    assert display.size == (2 * w, h)
    with pytest.raises(DisplayUnavailableError, match="no frame"):
        display.read_pixels()
    scene = HeightsScene(seed=3)
    _present(display, scene, 0.0, 6)
    low = display.read_pixels()
    scene = HeightsScene(seed=3)
    _present(display, scene, 1.0, 6)
    high = display.read_pixels()
    assert low.shape == high.shape == (h, w, 3) and low.dtype == np.uint8
    for image in (low, high):  # a lit scene, not one clear colour
        assert image.reshape(-1, 3).std(axis=0).max() > 10.0
    # Stored bytes are the renderer's colours (sRGB swapchain, no second encoding), top row
    # first: 60 m up, looking level, the top of the view is open sky.
    sky = np.round(np.array(scene.draw_list().sky_color) * 255)
    assert (np.abs(high[0].astype(int) - sky).max(axis=1) <= 2).mean() > 0.9
    changed = np.abs(low.astype(int) - high.astype(int)).max(axis=2) > 8
    assert changed.mean() > 0.05, "2 m vs 60 m balcony should change much of the view"
    stats = display.stats
    assert stats.submitted == 12 and stats.frames >= 12


def test_eyes_differ_by_the_tracked_eye_offset(display: OpenXRDisplay) -> None:
    scene = HeightsScene()
    _present(display, scene, 0.5, 3)
    left, right = display.last_eyes
    offset = right.position - left.position
    assert 0.04 < float(np.linalg.norm(offset)) < 0.09  # an adult IPD, metres
    centre = (left.position + right.position) / 2
    dl = scene.draw_list()
    assert np.allclose(centre, dl.camera_position, atol=0.05)  # head anchored on the scene
    assert left.viewport == (0, 0, *display.eye_size)
    assert right.viewport == (display.eye_size[0], 0, *display.eye_size)
    assert not np.allclose(left.view, right.view)
    # Canted/asymmetric per-eye frusta are mirror images: x offsets of opposite sign or equal.
    assert left.projection[0, 2] == pytest.approx(-right.projection[0, 2], abs=1e-3)


def test_mono_puts_both_eyes_at_the_head_centre() -> None:
    mono = OpenXRDisplay(stereo=False)
    try:
        _present(mono, HeightsScene(), 0.5, 2)
        left, right = mono.last_eyes
        assert np.allclose(left.position, right.position, atol=1e-5)
    finally:
        mono.close()


def test_head_pose_is_tracked_and_valid(display: OpenXRDisplay) -> None:
    _present(display, HeightsScene(), 0.2, 3)
    frame = display.last_frame
    assert frame is not None and frame.head_pose_valid and frame.should_render and frame.submitted
    assert all(math.isfinite(v) for v in frame.head_position + frame.head_orientation)
    assert abs(math.sqrt(sum(v * v for v in frame.head_orientation)) - 1.0) < 1e-3
    assert frame.index == display.stats.frames - 1


def test_frame_times_are_on_the_monotonic_clock(display: OpenXRDisplay) -> None:
    _present(display, HeightsScene(), 0.2, 2)
    frame = display.last_frame
    assert frame is not None and frame.margin_ms is not None
    assert frame.display_time_monotonic_s is not None
    # Predicted display time is a frame or two ahead of "now" on CLOCK_MONOTONIC (the LSL clock).
    assert abs(frame.display_time_monotonic_s - time.monotonic()) < 1.0


def test_runtime_driven_exit_reports_quit_and_submits_nothing(display: OpenXRDisplay) -> None:
    scene = HeightsScene()
    _present(display, scene, 0.2, 2)
    display.request_exit()
    for _ in range(100):  # STOPPING -> (ended here) -> IDLE -> EXITING
        if display.poll().quit:
            break
        display.present(scene.draw_list())
    assert display.poll().quit is True
    assert display.session_state == "EXITING"
    before = display.stats
    display.present(scene.draw_list())  # no session: returns without a frame, no hang
    assert display.stats == before


def test_frames_are_paced_by_the_runtime(display: OpenXRDisplay) -> None:
    scene = HeightsScene()
    times, periods, waited = [], [], 0.0
    for _ in range(10):
        scene.update(0.3, 0.05)
        display.present(scene.draw_list())
        frame = display.last_frame
        assert frame is not None
        times.append(frame.predicted_display_time_ns)
        periods.append(frame.predicted_display_period_ns)
        waited += frame.wait_ms
    diffs = np.diff(times)
    assert np.all(diffs >= 0.9 * min(periods)), "each frame targets a later display slot"
    if os.environ.get("XR_COMPOSITOR", "null") == "null":  # Monado's fixed 20 Hz
        assert all(45e6 < p < 55e6 for p in periods)
        steps = diffs / periods[-1]
        assert np.allclose(steps, np.round(steps), atol=0.2), "display times on a 50 ms grid"
    assert waited > 0.0  # xrWaitFrame blocked: the runtime, not the caller, sets the pace
    assert display.stats.frames == 10


def test_close_mid_session_then_reopen_in_the_same_process(tmp_path: Path) -> None:
    first = OpenXRDisplay()
    _present(first, HeightsScene(), 0.4, 3)
    assert first.session_state in ("VISIBLE", "FOCUSED")
    first.close()
    first.close()  # idempotent
    assert first.poll().quit is True
    with pytest.raises(DisplayUnavailableError, match="closed"):
        first.present(HeightsScene().draw_list())
    second = OpenXRDisplay()
    try:
        _present(second, HeightsScene(), 0.4, 3)
        assert second.stats.submitted == 3 and second.last_frame is not None
        second.screenshot(tmp_path / "left.png")
        assert (tmp_path / "left.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        second.close()


def test_invalid_runtime_json_is_a_clear_display_error(tmp_path: Path) -> None:
    code = (
        "from engine.display.openxr import OpenXRDisplay\n"
        "from engine.errors import DisplayUnavailableError\n"
        "try:\n"
        "    OpenXRDisplay()\n"
        "except DisplayUnavailableError as exc:\n"
        "    print('DisplayUnavailableError:', exc)\n"
    )
    env = dict(os.environ, XR_RUNTIME_JSON=str(tmp_path / "no_such_runtime.json"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "DisplayUnavailableError:" in result.stdout
    assert "XR_RUNTIME_JSON" in result.stdout and "Monado" in result.stdout
