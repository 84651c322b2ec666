"""One side-by-side stereo swapchain, its framebuffers, and a private copy of the left eye.

Both eyes live in one swapchain image twice an eye's width (left eye on the left), so the
shared :class:`~engine.render.Renderer` uploads each batch once per frame and draws both
viewports. Each swapchain image gets its own framebuffer object sharing one depth buffer.
After drawing, the left eye is blitted into a private renderbuffer before the image is
released, so :meth:`StereoSwapchain.read_left` never touches an image the compositor owns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.errors import DisplayUnavailableError
from engine.render._gl import GL

_WAIT_NS = 2_000_000_000


class StereoSwapchain:
    """An ``(2 * eye_width) x eye_height`` colour swapchain with depth, and the capture copy.

    Parameters
    ----------
    xr
        The ``xr`` module.
    session
        The ``XrSession``.
    eye_size
        ``(width, height)`` of one eye in pixels.
    """

    def __init__(self, xr: Any, session: Any, eye_size: tuple[int, int]) -> None:
        self._xr = xr
        self.eye_size = eye_size
        w, h = eye_size
        formats = list(xr.enumerate_swapchain_formats(session))
        # sRGB storage without GL_FRAMEBUFFER_SRGB: the renderer's colours are stored as
        # written and the compositor decodes them as sRGB, as a desktop monitor would.
        self.format = next((f for f in (GL.GL_SRGB8_ALPHA8, GL.GL_RGBA8) if f in formats), None)
        if self.format is None:
            raise DisplayUnavailableError(
                f"the OpenXR runtime offers no RGBA8 swapchain format (has {formats})"
            )
        usage = xr.SwapchainUsageFlags.COLOR_ATTACHMENT_BIT | xr.SwapchainUsageFlags.SAMPLED_BIT
        self.handle = xr.create_swapchain(
            session,
            xr.SwapchainCreateInfo(
                usage_flags=usage,
                format=self.format,
                sample_count=1,
                width=2 * w,
                height=h,
                face_count=1,
                array_size=1,
                mip_count=1,
            ),
        )
        self._acquired = False
        self._fbos: list[int] = []
        self._rbos: list[int] = []
        try:
            images = xr.enumerate_swapchain_images(self.handle, xr.SwapchainImageOpenGLKHR)
            self._build_framebuffers([int(img.image) for img in images])
        except BaseException:
            self.destroy()
            raise

    def _build_framebuffers(self, textures: list[int]) -> None:
        w, h = self.eye_size
        depth, capture = (int(r) for r in GL.glGenRenderbuffers(2))
        self._rbos = [depth, capture]
        GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, depth)
        GL.glRenderbufferStorage(GL.GL_RENDERBUFFER, GL.GL_DEPTH_COMPONENT24, 2 * w, h)
        GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, capture)
        GL.glRenderbufferStorage(GL.GL_RENDERBUFFER, GL.GL_RGBA8, w, h)
        for texture in textures:
            fbo = int(GL.glGenFramebuffers(1))
            self._fbos.append(fbo)
            GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
            GL.glFramebufferTexture2D(
                GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D, texture, 0
            )
            GL.glFramebufferRenderbuffer(
                GL.GL_FRAMEBUFFER, GL.GL_DEPTH_ATTACHMENT, GL.GL_RENDERBUFFER, depth
            )
            _check_complete(f"swapchain image {texture}")
        self.capture_fbo = int(GL.glGenFramebuffers(1))
        self._fbos.append(self.capture_fbo)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self.capture_fbo)
        GL.glFramebufferRenderbuffer(
            GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_RENDERBUFFER, capture
        )
        _check_complete("left-eye capture")
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)

    @property
    def image_count(self) -> int:
        """Number of swapchain images."""
        return len(self._fbos) - 1

    def acquire(self) -> int:
        """Acquire and wait for the next image; bind its framebuffer; return its FBO."""
        xr = self._xr
        index = xr.acquire_swapchain_image(self.handle, xr.SwapchainImageAcquireInfo())
        self._acquired = True
        try:
            xr.wait_swapchain_image(self.handle, xr.SwapchainImageWaitInfo(timeout=_WAIT_NS))
        except xr.TimeoutExpired as exc:
            raise DisplayUnavailableError(
                f"swapchain image {index} was not released by the compositor within 2 s"
            ) from exc
        fbo = self._fbos[index]
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
        return int(fbo)

    def capture_and_release(self, fbo: int) -> None:
        """Copy the left eye of ``fbo`` to the capture buffer, then release the image."""
        w, h = self.eye_size
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, fbo)
        GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, self.capture_fbo)
        GL.glBlitFramebuffer(0, 0, w, h, 0, 0, w, h, GL.GL_COLOR_BUFFER_BIT, GL.GL_NEAREST)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        self.release()

    def release(self) -> None:
        """Release the acquired image (no-op if none is acquired)."""
        if self._acquired:
            self._acquired = False
            self._xr.release_swapchain_image(self.handle, self._xr.SwapchainImageReleaseInfo())

    def read_left(self) -> NDArray[np.uint8]:
        """The captured left eye, ``(h, w, 3)`` uint8 RGB, top row first."""
        w, h = self.eye_size
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, self.capture_fbo)
        GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
        raw = GL.glReadPixels(0, 0, w, h, GL.GL_RGB, GL.GL_UNSIGNED_BYTE)
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, 0)
        pixels = np.frombuffer(raw, np.uint8).reshape(h, w, 3)
        return np.ascontiguousarray(pixels[::-1])

    def destroy(self) -> None:
        """Free the framebuffers and the swapchain (GL context must be current)."""
        self.release()
        if self._fbos:
            GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
            GL.glDeleteFramebuffers(len(self._fbos), self._fbos)
            self._fbos = []
        if self._rbos:
            GL.glDeleteRenderbuffers(len(self._rbos), self._rbos)
            self._rbos = []
        if self.handle is not None:
            self._xr.destroy_swapchain(self.handle)
            self.handle = None


def _check_complete(what: str) -> None:
    status = GL.glCheckFramebufferStatus(GL.GL_FRAMEBUFFER)
    if status != GL.GL_FRAMEBUFFER_COMPLETE:
        raise DisplayUnavailableError(
            f"openxr display: {what} framebuffer incomplete ({status:#x})"
        )
