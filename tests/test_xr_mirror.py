"""The desktop mirror: letterbox geometry, and a real GL blit read back from a framebuffer."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from engine.display._xr_mirror import DesktopMirror, letterbox


def test_letterbox_keeps_the_aspect_and_centres() -> None:
    assert letterbox((320, 240), (640, 480)) == (0, 0, 640, 480)
    assert letterbox((320, 240), (1000, 480)) == (180, 0, 820, 480)  # bars left and right
    assert letterbox((320, 240), (640, 1000)) == (0, 260, 640, 740)  # bars top and bottom
    assert letterbox((320, 240), (0, 480)) == (0, 0, 0, 0)


@pytest.fixture
def gl() -> Iterator[None]:
    from engine.display.offscreen import OffscreenDisplay

    display = OffscreenDisplay(size=(64, 64))
    try:
        yield
    finally:
        display.close()


@pytest.mark.gl
def test_mirror_blits_the_eye_letterboxed_and_swaps_every_nth_frame(gl: None) -> None:
    from OpenGL import GL

    from engine.display._pygame_gl import FrameTarget

    eye = FrameTarget((40, 30))  # the captured left eye: left half red, right half green
    GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, eye.fbo)
    GL.glEnable(GL.GL_SCISSOR_TEST)
    for x, colour in ((0, (1.0, 0.0, 0.0, 1.0)), (20, (0.0, 1.0, 0.0, 1.0))):
        GL.glScissor(x, 0, 20, 30)
        GL.glClearColor(*colour)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT)
    GL.glDisable(GL.GL_SCISSOR_TEST)
    window = FrameTarget((200, 100))  # stands in for the window's default framebuffer
    GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, window.fbo)
    GL.glClearColor(1.0, 1.0, 1.0, 1.0)
    GL.glClear(GL.GL_COLOR_BUFFER_BIT)
    swaps: list[int] = []
    mirror = DesktopMirror(lambda: swaps.append(1), lambda: (200, 100), every=2, target=window.fbo)
    try:
        assert mirror.show(eye.fbo, (40, 30)) is True
        assert mirror.show(eye.fbo, (40, 30)) is False  # every 2nd frame only
        assert mirror.show(eye.fbo, (40, 30)) is True
        assert (len(swaps), mirror.frames) == (2, 2)
        px = window.read_rgb().astype(int)  # top row first
        x0, _, x1, _ = letterbox((40, 30), (200, 100))  # 33..167: black bars either side
        assert (px[:, : x0 - 1] == 0).all() and (px[:, x1 + 1 :] == 0).all()
        middle = px[50]
        assert (middle[x0 + 5] == [255, 0, 0]).all()  # left half of the eye is red
        assert (middle[x1 - 5] == [0, 255, 0]).all()  # right half green
        assert np.array_equal(px[10, x0 + 5], [255, 0, 0])
    finally:
        eye.delete()
        window.delete()
