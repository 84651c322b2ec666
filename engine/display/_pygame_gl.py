"""Shared machinery of the pygame + OpenGL backends (offscreen and window).

The scene is rendered into an off-screen framebuffer object (colour + depth renderbuffers)
so the last frame can always be read back; the window backend blits it to the window.
pygame supports one display per process, hence one GL display at a time: opening a second
while one is open raises :class:`~engine.errors.DisplayUnavailableError`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pygame
from numpy.typing import NDArray

from engine.display._gaze import PanelLayouts
from engine.display.base import FrameTiming, HeadsetFrame, InputEvents
from engine.errors import DisplayUnavailableError
from engine.render._gl import GL
from engine.render.camera import EyeRig, EyeView
from engine.render.renderer import Renderer
from therapies.prompt_gaze import PanelLayout
from therapies.scenes.base import DrawList, Overlay

GL_PACKAGES = "libgl1-mesa-dri libegl1"


@contextmanager
def sdl_video_driver(driver: str | None) -> Iterator[None]:
    """Set ``SDL_VIDEODRIVER`` (None: unset it) while pygame's display initialises."""
    old = os.environ.get("SDL_VIDEODRIVER")
    if driver is None:
        os.environ.pop("SDL_VIDEODRIVER", None)
    else:
        os.environ["SDL_VIDEODRIVER"] = driver
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("SDL_VIDEODRIVER", None)
        else:
            os.environ["SDL_VIDEODRIVER"] = old


def open_gl_surface(
    size: tuple[int, int], flags: int, *, driver: str | None, title: str, vsync: bool
) -> bool:
    """Initialise pygame's display with ``driver`` and make a GL 3.3 core context current.

    Returns whether vsync is on (asked for and granted).
    """
    if pygame.display.get_init():
        if pygame.display.get_surface() is not None:
            raise DisplayUnavailableError(
                "a GL display is already open in this process (pygame allows one); close it first"
            )
        got = pygame.display.get_driver()
        if driver is not None and got != driver:
            raise DisplayUnavailableError(
                f"pygame's display is already initialised with video driver {got!r}, this "
                f"display needs {driver!r}; call pygame.display.quit() first"
            )
    else:
        with sdl_video_driver(driver):
            try:
                pygame.display.init()
            except pygame.error as exc:
                raise DisplayUnavailableError(
                    f"pygame could not start video driver {driver or 'default'!r}: {exc}"
                ) from exc
    pygame.display.gl_set_attribute(pygame.GL_CONTEXT_MAJOR_VERSION, 3)
    pygame.display.gl_set_attribute(pygame.GL_CONTEXT_MINOR_VERSION, 3)
    pygame.display.gl_set_attribute(pygame.GL_CONTEXT_PROFILE_MASK, pygame.GL_CONTEXT_PROFILE_CORE)
    pygame.display.gl_set_attribute(pygame.GL_DEPTH_SIZE, 24)
    flags |= pygame.OPENGL | pygame.DOUBLEBUF
    try:
        try:
            pygame.display.set_mode(size, flags, vsync=int(vsync))
        except pygame.error:
            if not vsync:
                raise
            vsync = False  # some drivers refuse a swap interval; run unpaced rather than not
            pygame.display.set_mode(size, flags, vsync=0)
    except pygame.error as exc:
        pygame.display.quit()
        raise DisplayUnavailableError(
            f"no OpenGL 3.3 core context ({exc}); on Debian/Ubuntu install {GL_PACKAGES}"
        ) from exc
    pygame.display.set_caption(title)
    return vsync


class FrameTarget:
    """An FBO with colour and depth renderbuffers of a given size."""

    def __init__(self, size: tuple[int, int]) -> None:
        self.size = size
        self.fbo = int(GL.glGenFramebuffers(1))
        self._rbos = [int(r) for r in GL.glGenRenderbuffers(2)]
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self.fbo)
        for rbo, fmt, attach in zip(
            self._rbos,
            (GL.GL_RGBA8, GL.GL_DEPTH_COMPONENT24),
            (GL.GL_COLOR_ATTACHMENT0, GL.GL_DEPTH_ATTACHMENT),
            strict=True,
        ):
            GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, rbo)
            GL.glRenderbufferStorage(GL.GL_RENDERBUFFER, fmt, *size)
            GL.glFramebufferRenderbuffer(GL.GL_FRAMEBUFFER, attach, GL.GL_RENDERBUFFER, rbo)
        status = GL.glCheckFramebufferStatus(GL.GL_FRAMEBUFFER)
        if status != GL.GL_FRAMEBUFFER_COMPLETE:
            self.delete()
            raise DisplayUnavailableError(f"offscreen framebuffer incomplete (status {status:#x})")

    def read_rgb(self) -> NDArray[np.uint8]:
        """``(h, w, 3)`` uint8, top row first."""
        w, h = self.size
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, self.fbo)
        GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
        raw = GL.glReadPixels(0, 0, w, h, GL.GL_RGB, GL.GL_UNSIGNED_BYTE)
        pixels = np.frombuffer(raw, np.uint8).reshape(h, w, 3)
        return np.ascontiguousarray(pixels[::-1])

    def blit_to_window(self, window_size: tuple[int, int]) -> None:
        """Copy (scaled) onto the default framebuffer."""
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, self.fbo)
        GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, 0)
        GL.glBlitFramebuffer(
            0, 0, *self.size, 0, 0, *window_size, GL.GL_COLOR_BUFFER_BIT, GL.GL_LINEAR
        )

    def delete(self) -> None:
        """Free the GL objects."""
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        GL.glDeleteRenderbuffers(2, self._rbos)
        GL.glDeleteFramebuffers(1, [self.fbo])


class PygameGLDisplay:
    """Base of the GL backends: context, renderer, FBO, stereo eyes, read-back.

    Subclasses open the surface (:func:`open_gl_surface`) and call :meth:`_start`, and may
    override :meth:`_show` (what happens after the FBO holds the frame) and :meth:`poll`.
    """

    name = "gl"
    paced = False
    last_frame: HeadsetFrame | None = None

    def __init__(self, size: tuple[int, int], stereo: bool, fov_deg: float = 90.0) -> None:
        self._size = (int(size[0]), int(size[1]))
        if self._size[0] < 2 or self._size[1] < 1:
            raise DisplayUnavailableError(f"display size {size} is too small")
        self.stereo = stereo
        self.fov_deg = fov_deg
        self.look_yaw = 0.0
        self.look_pitch = 0.0
        self._frames = 0
        self._presented = False
        self._renderer: Renderer | None = None
        self._target: FrameTarget | None = None
        self._open = False
        self._rig: EyeRig | None = None
        self.last_eyes: tuple[EyeView, ...] = ()
        """The eye views of the last presented frame (world space), left then right."""
        self._layouts: PanelLayouts | None = None

    def _start(self) -> None:
        version = GL.glGetIntegerv(GL.GL_MAJOR_VERSION) * 10 + GL.glGetIntegerv(GL.GL_MINOR_VERSION)
        if version < 33:
            pygame.display.quit()
            raise DisplayUnavailableError(
                f"OpenGL {version // 10}.{version % 10} < 3.3; install {GL_PACKAGES} (Mesa)"
            )
        self._open = True
        try:
            self._renderer = Renderer()
            self._target = FrameTarget(self._size)
        except BaseException:
            self.close()
            raise

    @property
    def size(self) -> tuple[int, int]:
        """Framebuffer size in pixels."""
        return self._size

    def eye_views(self, dl: DrawList) -> tuple[EyeView, ...]:
        """The eyes :meth:`present` uses for ``dl`` (left then right when stereo)."""
        w, h = self._size
        yaw, pitch = dl.camera_yaw + self.look_yaw, dl.camera_pitch + self.look_pitch
        rig = self._rig
        if rig is None or rig.key != (yaw, pitch, w, h, self.stereo):
            rig = EyeRig(yaw, pitch, width=w, height=h, stereo=self.stereo, fov_deg=self.fov_deg)
            self._rig = rig
        return rig.eyes(dl.camera_position)

    def poll(self) -> InputEvents:
        """Drain pygame's event queue."""
        quit_, keys = False, []
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                quit_ = True
            elif event.type == pygame.KEYDOWN:
                keys.append(pygame.key.name(event.key))
        return InputEvents(quit_, tuple(keys))

    def present(self, draw_list: DrawList) -> FrameTiming:
        """Render into the FBO, then :meth:`_show` it."""
        start = time.thread_time()
        if self._renderer is None or self._target is None:
            raise DisplayUnavailableError(f"the {self.name} display is closed")
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self._target.fbo)
        self.last_eyes = self.eye_views(draw_list)
        self._renderer.render(draw_list, self.last_eyes)
        self._show()
        self._presented = True
        index = self._frames
        self._frames += 1
        return FrameTiming((time.thread_time() - start) * 1000.0, index)

    def _show(self) -> None:
        GL.glFlush()

    def set_prompt_key(self, key: str) -> None:
        """No controller buttons: the keyboard's own key asks prompts."""

    def panel_layout(self, overlay: Overlay) -> PanelLayout | None:
        """Where ``overlay``'s scale sits on its panel as this display draws it (gaze input)."""
        if self._layouts is None:
            self._layouts = PanelLayouts()
        return self._layouts.get(overlay, self._size[1])

    def read_pixels(self) -> NDArray[np.uint8]:
        """The last presented frame, ``(h, w, 3)`` uint8 RGB, top row first."""
        if self._target is None:
            raise DisplayUnavailableError(f"the {self.name} display is closed")
        if not self._presented:
            raise DisplayUnavailableError("no frame has been presented yet")
        return self._target.read_rgb()

    def screenshot(self, path: str | os.PathLike[str]) -> None:
        """Write the last presented frame as PNG (temp file + rename)."""
        pixels = self.read_pixels()
        dest = Path(path)
        tmp = dest.with_name(f".{dest.stem}.tmp.png")
        surface = pygame.image.frombuffer(
            pixels.tobytes(), (pixels.shape[1], pixels.shape[0]), "RGB"
        )
        pygame.image.save(surface, str(tmp))
        os.replace(tmp, dest)

    def close(self) -> None:
        """Free GL objects and shut pygame's display down; idempotent."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        if self._target is not None:
            self._target.delete()
            self._target = None
        if self._open:
            self._open = False
            pygame.display.quit()
