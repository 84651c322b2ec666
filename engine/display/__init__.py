"""Display backends, chosen by name and imported only when opened.

========== ============================================ =======
name       what                                         paced
========== ============================================ =======
null       draws nothing (dry-runs, simulations)        no
offscreen  real OpenGL, no window (SDL offscreen, EGL)  no
window     desktop window with vsync                    yes
openxr     any OpenXR headset/runtime (pyopenxr, extra  yes
           ``xr``); frame loop paced by xrWaitFrame
========== ============================================ =======

Only one GL display (offscreen or window) may be open per process at a time, because
pygame has one display; ``close()`` it before opening the next.
"""

from __future__ import annotations

import importlib
import os
from types import MappingProxyType
from typing import Final

from engine.display.base import Display, FrameTiming, HeadPose, InputEvents, PointerRay
from engine.errors import DisplayUnavailableError

__all__ = [
    "BACKENDS",
    "Display",
    "FrameTiming",
    "HeadPose",
    "InputEvents",
    "PointerRay",
    "default_display_name",
    "open_display",
]

BACKENDS: Final = MappingProxyType(
    {
        "null": "engine.display.null:NullDisplay",
        "offscreen": "engine.display.offscreen:OffscreenDisplay",
        "window": "engine.display.window:WindowDisplay",
        "openxr": "engine.display.openxr:OpenXRDisplay",
    }
)
"""Backend name -> ``"module:Class"``; the module is imported only when opened."""

_OPTIONAL: Final = MappingProxyType({"pygame": "pygame", "OpenGL": "PyOpenGL"})


def default_display_name() -> str:
    """``"window"`` when a desktop session is visible (``$DISPLAY``/``$WAYLAND_DISPLAY``)."""
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return "window"
    return "offscreen"


def open_display(
    name: str,
    *,
    size: tuple[int, int] = (1280, 720),
    stereo: bool = True,
    title: str = "vrtherapy",
    mirror: bool = False,
) -> Display:
    """Open the display backend called ``name``.

    Parameters
    ----------
    name
        One of :data:`BACKENDS`.
    size
        Framebuffer ``(width, height)`` in pixels (both eyes together when stereo).
    stereo
        Side-by-side stereo (left eye on the left half).
    title
        Window caption where there is a window.
    mirror
        ``openxr`` only: also show the headset's view in a desktop window for the
        therapist (needs ``$DISPLAY``). Refused for other displays.

    Raises
    ------
    DisplayUnavailableError
        Unknown name (lists the allowed ones), a missing package (names it), no GL context
        (names the Debian packages), no desktop session for ``window``.
    """
    try:
        target = BACKENDS[name]
    except KeyError:
        raise DisplayUnavailableError(
            f"display {name!r} is not one of {', '.join(BACKENDS)}"
        ) from None
    if mirror and name != "openxr":
        raise DisplayUnavailableError(
            f"--mirror mirrors a headset's view; display {name!r} is not a headset (use openxr)"
        )
    module_name, class_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        top = (exc.name or "").split(".")[0]
        if top not in _OPTIONAL:
            raise
        raise DisplayUnavailableError(
            f"display {name!r} needs the Python package {_OPTIONAL[top]} "
            f"(pip install pygame PyOpenGL; both are vrtherapy dependencies): {exc}"
        ) from exc
    extra = {"mirror": True} if mirror else {}
    display: Display = getattr(module, class_name)(size=size, stereo=stereo, title=title, **extra)
    return display
