"""The null display: renders nothing, for dry-runs and simulations paced by a clock."""

from __future__ import annotations

import os
import time

import numpy as np
from numpy.typing import NDArray

from engine.display.base import FrameTiming, HeadsetFrame, InputEvents
from engine.display.capabilities import NULL
from engine.errors import DisplayUnavailableError
from therapies.prompt_gaze import PanelLayout
from therapies.scenes.base import DrawList, Overlay


class NullDisplay:
    """Accepts frames and draws none; ``present`` only counts and times them.

    Parameters
    ----------
    size, stereo, title
        Recorded for symmetry with the real backends; nothing is drawn.
    """

    name = "null"
    capabilities = NULL
    paced = False
    last_frame: HeadsetFrame | None = None

    def __init__(
        self, size: tuple[int, int] = (1280, 720), stereo: bool = True, title: str = "vrtherapy"
    ) -> None:
        self._size = (int(size[0]), int(size[1]))
        self.stereo = stereo
        self.title = title
        self._frames = 0
        self._closed = False

    @property
    def size(self) -> tuple[int, int]:
        """The nominal framebuffer size."""
        return self._size

    @property
    def frames(self) -> int:
        """Frames presented so far."""
        return self._frames

    def poll(self) -> InputEvents:
        """No input ever arrives."""
        return InputEvents()

    def present(self, draw_list: DrawList) -> FrameTiming:
        """Count the frame; the draw list is checked for type only."""
        start = time.thread_time()
        if self._closed:
            raise DisplayUnavailableError("the null display was closed")
        if not isinstance(draw_list, DrawList):
            raise TypeError(f"present() needs a DrawList, got {type(draw_list).__name__}")
        index = self._frames
        self._frames += 1
        return FrameTiming((time.thread_time() - start) * 1000.0, index)

    def screenshot(self, path: str | os.PathLike[str]) -> None:
        """Always raises: there is no image."""
        raise DisplayUnavailableError("the null display renders nothing")

    def read_pixels(self) -> NDArray[np.uint8]:
        """Always raises: there is no image."""
        raise DisplayUnavailableError("the null display renders nothing")

    def close(self) -> None:
        """Mark closed."""
        self._closed = True

    def panel_layout(self, overlay: Overlay) -> PanelLayout | None:
        """Nothing is drawn, so no panel has a place."""
        return None

    def set_prompt_key(self, key: str) -> None:
        """No controller buttons."""
