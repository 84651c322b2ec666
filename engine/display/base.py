"""What every display backend offers: input polling, presenting a frame, reading it back."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from therapies.head_pose import HeadPose
from therapies.prompt_gaze import PanelLayout
from therapies.scenes.base import DrawList, Overlay

__all__ = [
    "Display",
    "DisplayCapabilities",
    "FrameTiming",
    "HeadPose",
    "HeadsetFrame",
    "InputEvents",
    "PointerRay",
]


@dataclass(frozen=True)
class DisplayCapabilities:
    """What a display backend has, declared once in its registry entry
    (:data:`engine.display.BACKENDS`); the CLI, the live wiring and the session read these,
    never backend names.

    Parameters
    ----------
    paces_itself
        ``present()`` waits for vsync or the runtime, so the caller need not pace frames
        (the instance's :attr:`Display.paced` says whether it really does, e.g. a driver
        that refused a swap interval).
    draws
        It renders pixels (the null display does not: the session may reuse a draw list).
    head_pose
        It reports a tracked head pose and headset frame timing (recorded per frame).
    audio
        A person is in front of it: live sessions play the scene's sound by default.
    mirror
        It can mirror its view into a desktop window for the therapist (``--mirror``).
    needs_desktop
        It needs a desktop session (``$DISPLAY``/``$WAYLAND_DISPLAY``).
    default_size
        Framebuffer ``(width, height)`` for a session (both eyes when stereo).
    default_rate
        Frames per second of a live session when the display does not pace itself.
    description
        One line for ``--help``.
    """

    paces_itself: bool
    draws: bool
    head_pose: bool
    audio: bool
    mirror: bool
    needs_desktop: bool
    default_size: tuple[int, int]
    default_rate: float
    description: str


class HeadsetFrame(Protocol):
    """Timing and head pose of one headset frame (the openxr display's ``last_frame``)."""

    @property
    def predicted_display_period_ns(self) -> int: ...

    @property
    def late(self) -> bool: ...

    @property
    def should_render(self) -> bool: ...

    @property
    def skipped_periods(self) -> int: ...

    @property
    def head_pose_valid(self) -> bool: ...

    @property
    def head_position(self) -> tuple[float, float, float]: ...

    @property
    def head_orientation(self) -> tuple[float, float, float, float]: ...

    @property
    def display_time_monotonic_s(self) -> float | None: ...


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
    capabilities: DisplayCapabilities
    """What this backend has (the same object as its registry entry's)."""
    paced: bool
    """True when ``present()`` waits for vsync/the runtime; False: the caller paces."""
    last_frame: HeadsetFrame | None
    """The last presented frame's headset timing and head pose (``None`` without a
    headset)."""

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

    def panel_layout(self, overlay: Overlay) -> PanelLayout | None:
        """Where ``overlay``'s rating scale sits on its panel as this display draws it (for
        gaze and click answers); ``None`` where nothing is drawn."""
        ...

    def set_prompt_key(self, key: str) -> None:
        """The key a headset controller's menu button sends (asks a prompt); displays
        without such a button ignore it."""
        ...
