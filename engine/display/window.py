"""Desktop window display: pygame window with vsync, resizable, ESC/close surfaced by poll().

Dragging with the left mouse button looks around (added to the scene's camera yaw/pitch);
a left click that does not drag is reported as a :class:`~engine.display.base.PointerRay`
(answers a prompt by clicking its scale). :meth:`WindowDisplay.poll` also reports the head
pose of the last frame (camera plus mouse look), so prompts can be answered by gaze too.
Needs a desktop session (``$DISPLAY`` or ``$WAYLAND_DISPLAY``).
"""

from __future__ import annotations

import os

import pygame

from engine.display._gaze import head_pose, pixel_ray
from engine.display._pygame_gl import PygameGLDisplay, open_gl_surface
from engine.display.base import InputEvents, PointerRay
from engine.display.capabilities import WINDOW
from engine.errors import DisplayUnavailableError

MOUSE_DEGREES_PER_PIXEL = 0.15
CLICK_SLOP_PX = 4
"""A press and release with less mouse travel than this (pixels) is a click, not a drag."""
_HEADLESS = ("offscreen", "dummy")


class WindowDisplay(PygameGLDisplay):
    """Render into a desktop window; ``present()`` blocks on vsync (``paced``).

    Where the driver refuses a swap interval the window still opens, with ``paced`` False.

    Parameters
    ----------
    size
        Render resolution ``(width, height)``; the window may be resized, the frame is
        scaled to it.
    stereo
        Side-by-side left/right eyes, else one centred eye.
    title
        Window caption.
    fov_deg
        Vertical field of view per eye in degrees.
    driver
        SDL video driver to ask for (``"x11"``, ``"wayland"``...); ``None`` lets SDL choose
        among the desktop ones. ``"offscreen"`` runs this backend's code without a visible
        window (used by the tests on machines without a desktop).

    Raises
    ------
    DisplayUnavailableError
        No desktop session, another GL display open, or no OpenGL 3.3 core context.
    """

    name = "window"
    capabilities = WINDOW
    paced = True

    def __init__(
        self,
        size: tuple[int, int] = (1280, 720),
        stereo: bool = True,
        title: str = "vrtherapy",
        fov_deg: float = 90.0,
        driver: str | None = None,
    ) -> None:
        if driver is None and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise DisplayUnavailableError(
                "the window display needs a desktop session ($DISPLAY or $WAYLAND_DISPLAY is "
                "unset); use --display offscreen"
            )
        super().__init__(size, stereo, fov_deg)
        if driver is None:
            env = os.environ.get("SDL_VIDEODRIVER")
            # A test/CI default of offscreen/dummy must not hide the window.
            driver = None if env in ("offscreen", "dummy") else env
            vsync = open_gl_surface(
                self.size, pygame.RESIZABLE, driver=driver, title=title, vsync=True
            )
            got = pygame.display.get_driver()
            if got in _HEADLESS:
                pygame.display.quit()
                raise DisplayUnavailableError(
                    f"no desktop video driver could open a window (SDL fell back to {got!r}; "
                    "is $DISPLAY/$WAYLAND_DISPLAY reachable?); use --display offscreen"
                )
        else:
            vsync = open_gl_surface(
                self.size, pygame.RESIZABLE, driver=driver, title=title, vsync=True
            )
        self.paced = vsync  # False only where the driver refused a swap interval
        self._window_size = self.size
        self._dragging = False
        self._travel = 0
        self._start()

    def poll(self) -> InputEvents:
        """Quit (window closed), key names, resize, mouse-drag look, clicks and head pose."""
        quit_, keys, clicks = False, [], []
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                quit_ = True
            elif event.type == pygame.KEYDOWN:
                keys.append(pygame.key.name(event.key))
            elif event.type == pygame.VIDEORESIZE:
                self._window_size = (max(int(event.w), 1), max(int(event.h), 1))
            elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
                self._dragging, self._travel = True, 0
            elif event.type == pygame.MOUSEBUTTONUP and event.button == 1:
                if self._dragging and self._travel < CLICK_SLOP_PX:
                    ray = self.click_ray(event.pos)
                    if ray is not None:
                        clicks.append(ray)
                self._dragging = False
            elif event.type == pygame.MOUSEMOTION and self._dragging:
                dx, dy = event.rel
                self._travel += abs(int(dx)) + abs(int(dy))
                self.look_yaw -= dx * MOUSE_DEGREES_PER_PIXEL
                self.look_pitch = min(max(self.look_pitch - dy * MOUSE_DEGREES_PER_PIXEL, -85), 85)
        return InputEvents(quit_, tuple(keys), head_pose(self.last_eyes), tuple(clicks))

    def click_ray(self, pos: tuple[int, int]) -> PointerRay | None:
        """The scene ray under window pixel ``pos`` (top-left origin) in the last frame."""
        if not self.last_eyes:
            return None
        (w, h), (ww, wh) = self.size, self._window_size
        x = (float(pos[0]) + 0.5) * w / ww
        y = (wh - float(pos[1]) - 0.5) * h / wh
        return pixel_ray(self.last_eyes, x, y)

    def _show(self) -> None:
        if self._target is not None:
            self._target.blit_to_window(self._window_size)
        pygame.display.flip()
