"""Thumbnails of the patient's view for a therapist console: small JPEG (or PNG) ``data:``
URLs, made on a worker thread so that encoding never costs a frame.

The session reads a frame back (:meth:`engine.display.base.Display.read_pixels`) only when
a thumbnail is due (2-5 per second, protocol key ``console.thumbnail_fps``);
:class:`ThumbnailWorker` takes it, scales it to :data:`THUMBNAIL_WIDTH` pixels wide
(nearest pixel), encodes it with pygame (JPEG where pygame has SDL_image, else PNG) and
hands the URL on. While it is busy, newer frames are dropped, never queued.
"""

from __future__ import annotations

import base64
import contextlib
import io
import queue
import threading
from collections.abc import Callable
from typing import Final

import numpy as np
from numpy.typing import NDArray

__all__ = ["THUMBNAIL_WIDTH", "ThumbnailWorker", "thumbnail_data_url"]

THUMBNAIL_WIDTH: Final = 320
"""Width of a thumbnail in pixels (the height keeps the frame's aspect)."""


def thumbnail_data_url(pixels: NDArray[np.uint8], width: int = THUMBNAIL_WIDTH) -> str:
    """``pixels`` (``(h, w, 3)`` RGB, top row first) as a ``width``-pixel-wide image URL."""
    import pygame

    h, w = pixels.shape[:2]
    width = min(width, w)
    height = max(1, round(h * width / w))
    ys = np.arange(height) * h // height
    xs = np.arange(width) * w // width
    small = np.ascontiguousarray(pixels[ys][:, xs, :3], np.uint8)
    surface = pygame.image.frombuffer(small.tobytes(), (width, height), "RGB")
    buffer = io.BytesIO()
    jpeg = pygame.image.get_extended()
    pygame.image.save(surface, buffer, "thumbnail.jpg" if jpeg else "thumbnail.png")
    mime = "image/jpeg" if jpeg else "image/png"
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


class ThumbnailWorker:
    """Encodes offered frames one at a time on its own thread (see the module docstring).

    Parameters
    ----------
    push
        Called with ``(data_url, timestamp)`` for every thumbnail made (on the worker).
    """

    def __init__(self, push: Callable[[str, float], None]) -> None:
        self._push = push
        self._slot: queue.Queue[tuple[NDArray[np.uint8], float] | None] = queue.Queue(maxsize=1)
        self.offered = 0
        """Frames offered so far."""
        self.made = 0
        """Thumbnails handed on so far."""
        self.dropped = 0
        """Frames offered while the worker was busy."""
        self._thread = threading.Thread(target=self._run, name="thumbnails", daemon=True)
        self._thread.start()

    def offer(self, pixels: NDArray[np.uint8], timestamp: float) -> None:
        """Encode ``pixels`` unless the worker is still busy (never blocks)."""
        self.offered += 1
        try:
            self._slot.put_nowait((pixels, timestamp))
        except queue.Full:
            self.dropped += 1

    def _run(self) -> None:
        while True:
            item = self._slot.get()
            if item is None:
                return
            pixels, timestamp = item
            self._push(thumbnail_data_url(pixels), timestamp)
            self.made += 1

    def close(self) -> None:
        """Finish the frame being encoded, then stop."""
        while True:
            try:
                self._slot.put_nowait(None)
                break
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._slot.get_nowait()
        self._thread.join(timeout=5.0)
