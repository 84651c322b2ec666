"""GL texture cache: RGBA8 (or RG8) textures uploaded from numpy, by key, freed on close.

Needs a current OpenGL 3.3 core context. Images are ``(h, w, 4)`` uint8 RGBA (as
:func:`engine.render.text.render_text` makes them) or ``(h, w, 2)`` uint8 two-channel
coverage (:func:`engine.render.text.render_coverage`), top row first; they are uploaded
as-is, so texture coordinate ``v = 0`` is the image's *top* row (shaders flip ``v``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engine.render._gl import GL
from engine.render.shaders import RenderError


@dataclass(frozen=True)
class Texture:
    """A live GL texture.

    Parameters
    ----------
    name
        GL texture name.
    width, height
        Size in pixels.
    """

    name: int
    width: int
    height: int

    @property
    def aspect(self) -> float:
        """Width over height."""
        return self.width / self.height


def _check_image(key: Hashable, image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (2, 4):
        raise RenderError(
            f"texture {key!r}: image must be (h, w, 4) uint8 RGBA or (h, w, 2) uint8 RG, got "
            f"{image.shape} {image.dtype}"
        )
    h, w = image.shape[:2]
    limit = int(GL.glGetIntegerv(GL.GL_MAX_TEXTURE_SIZE))
    if not (0 < h <= limit and 0 < w <= limit):
        raise RenderError(f"texture {key!r}: size {w}x{h} outside 1..{limit} pixels")
    return np.ascontiguousarray(image)


class TextureCache:
    """Textures by key, least recently used deleted beyond ``capacity``.

    Parameters
    ----------
    capacity
        Most textures kept alive; the oldest unused one is deleted when exceeded.

    Notes
    -----
    Create, use and :meth:`close` it with the same GL context current.
    """

    def __init__(self, capacity: int = 64) -> None:
        if capacity < 1:
            raise ValueError(f"TextureCache capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._textures: OrderedDict[Hashable, Texture] = OrderedDict()
        self._closed = False

    def __len__(self) -> int:
        return len(self._textures)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._textures

    def get(self, key: Hashable) -> Texture | None:
        """The texture stored under ``key`` (marking it recently used), or ``None``."""
        texture = self._textures.get(key)
        if texture is not None:
            self._textures.move_to_end(key)
        return texture

    def upload(self, key: Hashable, image: NDArray[np.uint8], mipmaps: bool = False) -> Texture:
        """Upload ``image`` under ``key`` (replacing any texture there) and return it.

        Parameters
        ----------
        key
            Any hashable identifier.
        image
            ``(h, w, 4)`` uint8 RGBA (stored RGBA8) or ``(h, w, 2)`` uint8 (stored RG8), top
            row first.
        mipmaps
            Build a mipmap chain and filter trilinearly (for textures seen minified).

        Raises
        ------
        RenderError
            The cache is closed, or the image has the wrong shape, type or size.
        """
        if self._closed:
            raise RenderError(f"TextureCache.upload({key!r}) after close()")
        pixels = _check_image(key, image)
        h, w = pixels.shape[:2]
        self.delete(key)
        name = int(GL.glGenTextures(1))
        GL.glBindTexture(GL.GL_TEXTURE_2D, name)
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
        internal, layout = (
            (GL.GL_RGBA8, GL.GL_RGBA) if pixels.shape[2] == 4 else (GL.GL_RG8, GL.GL_RG)
        )
        GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, internal, w, h, 0, layout, GL.GL_UNSIGNED_BYTE, pixels)
        minify = GL.GL_LINEAR_MIPMAP_LINEAR if mipmaps else GL.GL_LINEAR
        if mipmaps:
            GL.glGenerateMipmap(GL.GL_TEXTURE_2D)
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, minify)
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MAG_FILTER, GL.GL_LINEAR)
        for wrap in (GL.GL_TEXTURE_WRAP_S, GL.GL_TEXTURE_WRAP_T):
            GL.glTexParameteri(GL.GL_TEXTURE_2D, wrap, GL.GL_CLAMP_TO_EDGE)
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
        texture = Texture(name, w, h)
        self._textures[key] = texture
        while len(self._textures) > self.capacity:
            _, old = self._textures.popitem(last=False)
            GL.glDeleteTextures(1, [old.name])
        return texture

    def delete(self, key: Hashable) -> None:
        """Delete the texture under ``key``, if any."""
        texture = self._textures.pop(key, None)
        if texture is not None:
            GL.glDeleteTextures(1, [texture.name])

    def close(self) -> None:
        """Delete every texture (the context must still be current). Idempotent."""
        if self._closed:
            return
        self._closed = True
        names = [t.name for t in self._textures.values()]
        if names:
            GL.glDeleteTextures(len(names), names)
        self._textures.clear()
