"""The therapist's desktop mirror on a real OpenXR runtime (Monado), GLX on an X server.

Runs in the xr tier (``scripts/xr-tests.sh``). With the null compositor the harness has no X
server, so the test starts its own Xvfb (installed in the harness); with
``XR_COMPOSITOR=xvfb`` it uses the harness's (``$DISPLAY``), and the eye is no longer 4:3.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from waiting import wait_for
from xr_tier import XR_TIER

from engine.errors import DisplayUnavailableError

pytestmark = XR_TIER


@pytest.fixture
def x_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``$DISPLAY`` of a running X server: the harness's, or a private Xvfb."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    xvfb = shutil.which("Xvfb")
    assert xvfb is not None, "the xr harness installs Xvfb; it is missing"
    number = 97
    proc = subprocess.Popen(
        [xvfb, f":{number}", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    socket = Path(f"/tmp/.X11-unix/X{number}")
    wait_for(
        lambda: socket.exists() or proc.poll() is not None, 5.0, what=f"Xvfb's socket {socket}"
    )
    assert proc.poll() is None and socket.exists(), "Xvfb did not start"
    monkeypatch.setenv("DISPLAY", f":{number}")
    try:
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_mirror_shows_the_left_eye_and_takes_the_therapists_keys(x_server: str) -> None:
    import pygame

    from engine.display import open_display
    from engine.display._xr_mirror import letterbox
    from engine.display.openxr import MIRROR_SIZE, OpenXRDisplay
    from therapies.scenes import HeightsScene

    display = open_display("openxr", title="vrtherapy-mirror-test", mirror=True)
    assert isinstance(display, OpenXRDisplay) and display.mirror is not None
    try:
        display.mirror.keep_pixels = True
        scene = HeightsScene(seed=0)
        scene.update(0.6, 0.05)
        for _ in range(60):
            display.poll()
            display.present(scene.draw_list())
            if display.mirror.frames >= 3:
                break
        assert display.mirror.frames >= 3
        window = display.mirror.last_pixels
        assert window is not None and window.shape == (MIRROR_SIZE[1], MIRROR_SIZE[0], 3)
        eye = display.read_pixels()  # the left eye the headset was sent
        # the window shows the eye scaled into its letterbox (the null compositor's 4:3 eye
        # fills it; the Xvfb compositor's taller eye leaves bars): compare both at the
        # centres of a grid of eye pixels
        h, w = eye.shape[:2]
        x0, y0, x1, y1 = letterbox((w, h), MIRROR_SIZE)
        ex, ey = (np.arange(48) * w) // 48, (np.arange(36) * h) // 36
        wx = x0 + ((ex + 0.5) * (x1 - x0) / w).astype(int)
        wy = y0 + ((ey + 0.5) * (y1 - y0) / h).astype(int)
        difference = window[np.ix_(wy, wx)].astype(int) - eye[np.ix_(ey, ex)].astype(int)
        assert np.abs(difference).mean() < 2.0, (w, h, np.abs(difference).mean())
        assert eye.std() > 5  # a real picture, not a blank one

        # the therapist's keyboard and closing the window reach the session
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_UP))
        assert "up" in display.poll().keys
        pygame.event.post(pygame.event.Event(pygame.QUIT))
        assert display.poll().quit is True
    finally:
        display.close()


def test_mirror_without_a_window_is_refused_clearly() -> None:
    from engine.display.openxr import OpenXRDisplay

    with pytest.raises(DisplayUnavailableError, match="mirror needs a window"):
        OpenXRDisplay(graphics="egl", mirror=True)
