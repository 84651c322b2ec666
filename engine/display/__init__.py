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
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from biosignals.registry import Registry
from engine.display.base import (
    Display,
    DisplayCapabilities,
    FrameTiming,
    HeadPose,
    InputEvents,
    PointerRay,
)
from engine.display.capabilities import NULL, OFFSCREEN, OPENXR, WINDOW
from engine.errors import DisplayUnavailableError

__all__ = [
    "BACKENDS",
    "DRY_RUN",
    "HEADLESS",
    "Backend",
    "Display",
    "DisplayCapabilities",
    "FrameTiming",
    "HeadPose",
    "InputEvents",
    "PointerRay",
    "capabilities",
    "default_display_name",
    "display_names",
    "open_display",
    "register_backend",
    "unregister_backend",
]


@dataclass(frozen=True)
class Backend:
    """A registered display backend: where its class lives and what it has."""

    target: str
    """``"module:Class"``; the module is imported only when the display is opened."""
    capabilities: DisplayCapabilities


_REGISTRY: Final = Registry[Backend](
    "display",
    {
        "null": Backend("engine.display.null:NullDisplay", NULL),
        "offscreen": Backend("engine.display.offscreen:OffscreenDisplay", OFFSCREEN),
        "window": Backend("engine.display.window:WindowDisplay", WINDOW),
        "openxr": Backend("engine.display.openxr:OpenXRDisplay", OPENXR),
    },
)
BACKENDS: Final = _REGISTRY.view
"""Backend name -> :class:`Backend`; read-only (add one with :func:`register_backend`)."""
register_backend: Final = _REGISTRY.register
"""Add a display backend (a plug-in, or a test's toy backend); ValueError if the name is
taken."""
unregister_backend: Final = _REGISTRY.unregister
"""Remove a backend added with :func:`register_backend` (the shipped ones stay)."""
display_names: Final = _REGISTRY.names
"""The registered backend names (for ``--display`` choices)."""


def capabilities(name: str) -> DisplayCapabilities:
    """What backend ``name`` has, without opening it.

    Raises
    ------
    DisplayUnavailableError
        Unknown name (lists the registered ones).
    """
    return _backend(name).capabilities


def _backend(name: str) -> Backend:
    try:
        return _REGISTRY.get(name)
    except ValueError as exc:
        raise DisplayUnavailableError(str(exc)) from None


DRY_RUN: Final = "null"
"""The display of dry-runs (``simulate``): draws nothing, so the clock can jump."""
HEADLESS: Final = "offscreen"
"""The display that renders real frames without a desktop (tests, servers, screenshots)."""
_OPTIONAL: Final = MappingProxyType({"pygame": "pygame", "OpenGL": "PyOpenGL"})


def default_display_name() -> str:
    """The display a live session opens by default: the first registered backend that
    needs a desktop and is no headset (the window) when a desktop session is visible
    (``$DISPLAY``/``$WAYLAND_DISPLAY``), else :data:`HEADLESS`."""
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        for name, backend in BACKENDS.items():
            caps = backend.capabilities
            if caps.needs_desktop and caps.draws and not caps.head_pose:
                return name
    return HEADLESS


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
    backend = _backend(name)
    if mirror and not backend.capabilities.mirror:
        can = ", ".join(n for n, b in BACKENDS.items() if b.capabilities.mirror) or "none"
        raise DisplayUnavailableError(
            f"--mirror mirrors a headset's view; display {name!r} cannot (displays that can: {can})"
        )
    module_name, class_name = backend.target.split(":")
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
