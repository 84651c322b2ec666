"""What every display backend offers: input polling, presenting a frame, reading it back."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from therapies.head_pose import HeadPose
from therapies.scenes.base import DrawList

__all__ = ["Display", "FrameTiming", "HeadPose", "InputEvents", "PointerRay"]


@dataclass(frozen=True)
class PointerRay:
    """A ray into the scene from a pointer (a mouse click), world coordinates.

    Parameters
    ----------
    origin
        Where it starts (the eye it was cast from), metres.
    direction
        Unit direction.
    """

    origin: tuple[float, float, float]
    direction: tuple[float, float, float]


@dataclass(frozen=True)
class InputEvents:
    """Input since the previous :meth:`Display.poll`.

    Parameters
    ----------
    quit
        The window was closed.
    keys
        Keys pressed, as pygame key names (``"escape"``, ``"space"``, ``"up"``, ``"0"``...).
        Headset controllers arrive here too, as the same names (see the openxr display).
    head
        The head pose of the last presented frame, in scene coordinates, where the display
        has one (openxr: tracked; window: its camera and mouse look); else ``None``.
    clicks
        Pointer clicks (not drags) since the last poll, as rays into the scene (window).
    """

    quit: bool = False
    keys: tuple[str, ...] = ()
    head: HeadPose | None = None
    clicks: tuple[PointerRay, ...] = ()


@dataclass(frozen=True)
class FrameTiming:
    """What one :meth:`Display.present` cost.

    Parameters
    ----------
    cpu_ms
        CPU time of the calling thread inside ``present()`` (``time.thread_time``), in ms.
        It counts the Python code and whatever the GL driver does on this thread; it does
        not count time spent waiting (vsync) nor a software rasteriser's worker threads.
    frame_index
        0 for the first presented frame, then +1 per frame.
    """

    cpu_ms: float
    frame_index: int


@runtime_checkable
class Display(Protocol):
    """A place frames go. Only one GL-backed display may be open per process at a time."""

    name: str
    paced: bool
    """True when ``present()`` waits for vsync/the runtime; False: the caller paces."""

    @property
    def size(self) -> tuple[int, int]:
        """Framebuffer ``(width, height)`` in pixels (both eyes together when stereo)."""
        ...

    def poll(self) -> InputEvents:
        """Input since the last poll."""
        ...

    def present(self, draw_list: DrawList) -> FrameTiming:
        """Render ``draw_list`` (side-by-side stereo when stereo) and show it."""
        ...

    def screenshot(self, path: str | os.PathLike[str]) -> None:
        """Write the last presented frame as PNG to ``path``."""
        ...

    def read_pixels(self) -> NDArray[np.uint8]:
        """The last presented frame, ``(height, width, 3)`` uint8 RGB, top row first."""
        ...

    def close(self) -> None:
        """Release the display; idempotent. Another display may be opened afterwards."""
        ...
