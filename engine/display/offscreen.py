"""Offscreen display: a real OpenGL context with no window (SDL ``offscreen`` driver).

Works without X or Wayland (Mesa llvmpipe through EGL). Frames go into an FBO; read them
back with :meth:`~engine.display._pygame_gl.PygameGLDisplay.read_pixels`. Not paced: the
caller paces by its clock.
"""

from __future__ import annotations

from engine.display._pygame_gl import PygameGLDisplay, open_gl_surface
from engine.display.capabilities import OFFSCREEN


class OffscreenDisplay(PygameGLDisplay):
    """Render to an invisible framebuffer.

    Parameters
    ----------
    size
        Framebuffer ``(width, height)``; with ``stereo`` each eye gets half the width.
    stereo
        Side-by-side left/right eyes, else one centred eye.
    title
        Unused (no window); kept for a uniform constructor.
    fov_deg
        Vertical field of view per eye in degrees.

    Raises
    ------
    DisplayUnavailableError
        Another GL display is open, pygame was initialised with another video driver,
        or no OpenGL 3.3 core context could be created (message names the packages).
    """

    name = "offscreen"
    capabilities = OFFSCREEN
    paced = False

    def __init__(
        self,
        size: tuple[int, int] = (1280, 720),
        stereo: bool = True,
        title: str = "vrtherapy",
        fov_deg: float = 90.0,
    ) -> None:
        super().__init__(size, stereo, fov_deg)
        open_gl_surface(self.size, 0, driver="offscreen", title=title, vsync=False)
        self._start()
