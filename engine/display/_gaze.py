"""Head pose, pointer rays and prompt-panel layout for displays that can be looked around.

Shared by the window and openxr displays: the head pose handed to the session is the head
between the eyes of the last presented frame (the frame the patient is looking at), in scene
coordinates, exactly as the renderer places world labels from those eyes
(:func:`engine.render.renderer.head_frame`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from engine.display.base import PointerRay
from engine.render.camera import EyeView
from engine.render.renderer import head_frame, overlay_font_px
from engine.render.text import TextStyle, panel_layout
from therapies.head_pose import HeadPose
from therapies.prompt_gaze import PanelLayout
from therapies.scenes.base import Overlay


def rotation_quaternion(rot: NDArray[np.float64]) -> tuple[float, float, float, float]:
    """``(x, y, z, w)`` unit quaternion of a ``(3, 3)`` rotation matrix (``w >= 0``)."""
    m = np.asarray(rot, np.float64)
    trace = float(m[0, 0] + m[1, 1] + m[2, 2])
    if trace > 0.0:
        s = 2.0 * np.sqrt(trace + 1.0)
        q = ((m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, s / 4)
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = (s / 4, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s)
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = ((m[0, 1] + m[1, 0]) / s, s / 4, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s)
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = ((m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, s / 4, (m[1, 0] - m[0, 1]) / s)
    v = np.asarray(q, np.float64)
    v = v / np.linalg.norm(v) * (1.0 if v[3] >= 0.0 else -1.0)
    x, y, z, w = (float(c) for c in v)
    return (x, y, z, w)


def head_pose(eyes: Sequence[EyeView]) -> HeadPose | None:
    """The head between ``eyes`` (``None`` without eyes), as the renderer sees it."""
    if not eyes:
        return None
    centre, rot, p = head_frame(eyes)
    x, y, z = (float(c) for c in centre)
    projection = (float(p[0, 0]), float(p[0, 2]), float(p[1, 1]), float(p[1, 2]))
    return HeadPose((x, y, z), rotation_quaternion(rot), projection)


def pixel_ray(eyes: Sequence[EyeView], x: float, y: float) -> PointerRay | None:
    """The world ray through framebuffer pixel ``(x, y)`` (origin bottom-left, OpenGL's).

    ``None`` when the pixel is in no eye's viewport.
    """
    for eye in eyes:
        vx, vy, vw, vh = eye.viewport
        if vx <= x < vx + vw and vy <= y < vy + vh:
            nx, ny = 2.0 * (x - vx) / vw - 1.0, 2.0 * (y - vy) / vh - 1.0
            inverse = np.linalg.inv(np.asarray(eye.projection, np.float64) @ eye.view)
            near = inverse @ np.array([nx, ny, -1.0, 1.0])
            far = inverse @ np.array([nx, ny, 1.0, 1.0])
            a, b = near[:3] / near[3], far[:3] / far[3]
            origin = np.asarray(eye.position, np.float64)
            d = b - a
            d = d / np.linalg.norm(d)
            return PointerRay(
                (float(origin[0]), float(origin[1]), float(origin[2])),
                (float(d[0]), float(d[1]), float(d[2])),
            )
    return None


class PanelLayouts:
    """Layouts of prompt panels as the renderer will draw them, cached by text and size.

    Parameters
    ----------
    capacity
        Most layouts kept.
    """

    def __init__(self, capacity: int = 16) -> None:
        self.capacity = capacity
        self._cache: OrderedDict[tuple[object, ...], PanelLayout] = OrderedDict()

    def get(self, overlay: Overlay, viewport_height: int) -> PanelLayout | None:
        """The layout of ``overlay``'s panel in a viewport this tall; ``None`` without a gauge."""
        if overlay.gauge is None:
            return None
        style = TextStyle(overlay_font_px(overlay, viewport_height))
        key = (overlay.text, style, overlay.gauge)
        layout = self._cache.get(key)
        if layout is None:
            layout = panel_layout(overlay.text, style, overlay.gauge)
            self._cache[key] = layout
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return layout
