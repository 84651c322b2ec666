"""The therapist's desktop mirror of a headset session: the left eye, letterboxed in a window.

The openxr display already copies each frame's left eye into a capture framebuffer (for
screenshots); the mirror blits that copy, scaled to fit with black bars, into the desktop
window that owns the session's GLX context and swaps it. The swap interval is 0 (no vsync
on the desktop: the headset's runtime paces frames), and ``every`` > 1 refreshes the mirror
on every n-th frame only, to leave more of the frame budget to the headset. Internal to
:mod:`engine.display`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from OpenGL import GL

__all__ = ["DesktopMirror", "letterbox"]


def letterbox(source: tuple[int, int], window: tuple[int, int]) -> tuple[int, int, int, int]:
    """The largest rectangle of ``source``'s aspect centred in ``window``: (x0, y0, x1, y1)."""
    sw, sh = source
    ww, wh = window
    if sw <= 0 or sh <= 0 or ww <= 0 or wh <= 0:
        return (0, 0, 0, 0)
    scale = min(ww / sw, wh / sh)
    w, h = round(sw * scale), round(sh * scale)
    x0, y0 = (ww - w) // 2, (wh - h) // 2
    return (x0, y0, x0 + w, y0 + h)


class DesktopMirror:
    """Copy a captured eye into a window each ``every``-th frame.

    Parameters
    ----------
    swap
        Presents the window's back buffer (``pygame.display.flip``).
    window_size
        Returns the window's current drawable size (it may be resized).
    every
        Refresh on every ``every``-th call of :meth:`show` (1 = every frame).
    target
        Framebuffer to draw into (0: the window's default framebuffer).
    """

    def __init__(
        self,
        swap: Callable[[], None],
        window_size: Callable[[], tuple[int, int]],
        every: int = 1,
        target: int = 0,
    ) -> None:
        if every < 1:
            raise ValueError(f"mirror every must be >= 1, got {every}")
        self._swap, self._window_size = swap, window_size
        self.every, self.target = every, target
        self.frames = 0
        """Frames shown so far."""
        self.keep_pixels = False
        """Set True to keep a copy of each shown window image in :attr:`last_pixels`."""
        self.last_pixels: NDArray[np.uint8] | None = None
        """The window as last shown, ``(h, w, 3)`` RGB, top row first (``keep_pixels``)."""
        self._calls = 0

    def show(self, capture_fbo: int, eye_size: tuple[int, int]) -> bool:
        """Blit ``capture_fbo`` (``eye_size``) letterboxed into the window; True if shown."""
        self._calls += 1
        if (self._calls - 1) % self.every:
            return False
        size = self._window_size()
        x0, y0, x1, y1 = letterbox(eye_size, size)
        GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, self.target)
        GL.glViewport(0, 0, *size)
        GL.glDisable(GL.GL_SCISSOR_TEST)
        GL.glClearColor(0.0, 0.0, 0.0, 1.0)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT)
        if x1 > x0 and y1 > y0:
            GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, capture_fbo)
            GL.glBlitFramebuffer(
                0, 0, *eye_size, x0, y0, x1, y1, GL.GL_COLOR_BUFFER_BIT, GL.GL_LINEAR
            )
        if self.keep_pixels:
            GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, self.target)
            GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
            raw = GL.glReadPixels(0, 0, *size, GL.GL_RGB, GL.GL_UNSIGNED_BYTE)
            pixels = np.frombuffer(raw, np.uint8).reshape(size[1], size[0], 3)
            self.last_pixels = np.ascontiguousarray(pixels[::-1])
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        self._swap()
        self.frames += 1
        return True
