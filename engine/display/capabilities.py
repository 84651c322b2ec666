"""What each built-in display backend has (:class:`~engine.display.base.DisplayCapabilities`),
kept apart from the backends themselves so the CLI can read them without importing pygame,
OpenGL or pyopenxr."""

from __future__ import annotations

from engine.display.base import DisplayCapabilities

__all__ = ["NULL", "OFFSCREEN", "OPENXR", "WINDOW"]

NULL = DisplayCapabilities(
    paces_itself=False,
    draws=False,
    head_pose=False,
    audio=False,
    mirror=False,
    needs_desktop=False,
    default_size=(960, 540),
    default_rate=30.0,
    description="draws nothing (dry-runs, simulations)",
)
OFFSCREEN = DisplayCapabilities(
    paces_itself=False,
    draws=True,
    head_pose=False,
    audio=False,
    mirror=False,
    needs_desktop=False,
    default_size=(960, 540),
    default_rate=30.0,  # leaves CPU for the twin and LSL on a software rasteriser
    description="real OpenGL without a window (SDL offscreen, EGL)",
)
WINDOW = DisplayCapabilities(
    paces_itself=True,
    draws=True,
    head_pose=False,
    audio=True,
    mirror=False,
    needs_desktop=True,
    default_size=(1280, 720),
    default_rate=60.0,
    description="desktop window with vsync",
)
OPENXR = DisplayCapabilities(
    paces_itself=True,
    draws=True,
    head_pose=True,
    audio=True,
    mirror=True,
    needs_desktop=False,
    default_size=(960, 540),
    default_rate=30.0,
    description="any OpenXR headset or runtime (extra 'xr'); paced by xrWaitFrame",
)
