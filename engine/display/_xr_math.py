"""OpenXR pose and field-of-view maths for the openxr display. Pure numpy, no OpenXR import.

OpenXR's tracking spaces share the scene's conventions (right-handed, metres, y up, looking
along -z), so a tracked eye pose maps into the scene by one rigid transform: the tracking
origin (re-anchored at the first valid head pose) is put at the scene's
``camera_position`` and turned by the scene's ``camera_yaw`` about +y. The scene's
``camera_pitch`` is a desktop-camera hint and is ignored in a headset: the patient's own
head decides where they look.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from engine.render.camera import EyeView, head_rotation, view_matrix
from therapies.head_pose import quat_rotation as quat_matrix  # one quaternion formula

Matrix = NDArray[np.float32]

NEAR_M = 0.05
"""Near clip plane for headset eyes, metres (closer than a desktop camera: hands, railings)."""
FAR_M = 3000.0
"""Far clip plane, metres (the scenes' fog hides the horizon well before this)."""


def fov_projection(
    angle_left: float,
    angle_right: float,
    angle_up: float,
    angle_down: float,
    near: float = NEAR_M,
    far: float = FAR_M,
) -> Matrix:
    """OpenGL projection for an OpenXR ``XrFovf`` (asymmetric frustum, angles in radians).

    ``angle_left`` and ``angle_down`` are negative for a frustum around the view axis.
    Clip space is OpenGL's (z in -w..w), column-vector convention, as
    :func:`engine.render.camera.perspective`.

    Raises
    ------
    ValueError
        Degenerate field of view (right <= left or up <= down) or clip planes.
    """
    tl, tr = math.tan(angle_left), math.tan(angle_right)
    tu, td = math.tan(angle_up), math.tan(angle_down)
    if not (tr > tl and tu > td and 0.0 < near < far):
        raise ValueError(
            f"fov_projection: left={angle_left}, right={angle_right}, up={angle_up}, "
            f"down={angle_down}, near={near}, far={far} is not a valid frustum"
        )
    m = np.zeros((4, 4), np.float32)
    m[0, 0] = 2.0 / (tr - tl)
    m[0, 2] = (tr + tl) / (tr - tl)
    m[1, 1] = 2.0 / (tu - td)
    m[1, 2] = (tu + td) / (tu - td)
    m[2, 2] = -(far + near) / (far - near)
    m[2, 3] = -2.0 * far * near / (far - near)
    m[3, 2] = -1.0
    return m


def tracked_eye_view(
    eye_position: ArrayLike,
    eye_orientation: ArrayLike,
    fov: Sequence[float],
    *,
    camera_position: ArrayLike,
    camera_yaw_deg: float,
    anchor: ArrayLike,
    viewport: tuple[int, int, int, int],
    near: float = NEAR_M,
    far: float = FAR_M,
) -> EyeView:
    """The :class:`EyeView` of one tracked eye placed in the scene.

    Parameters
    ----------
    eye_position, eye_orientation
        The eye's pose in the tracking space: ``(3,)`` metres and ``(x, y, z, w)``.
    fov
        ``(angle_left, angle_right, angle_up, angle_down)`` in radians (``XrFovf``).
    camera_position
        The scene's eye-centre position in the world, metres.
    camera_yaw_deg
        The scene's yaw in degrees: turns the tracking space about +y.
    anchor
        Tracking-space point that lands on ``camera_position`` (the head position at start).
    viewport
        ``(x, y, width, height)`` of this eye in the framebuffer.
    near, far
        Clip planes in metres.
    """
    left, right, up, down = fov
    turn = head_rotation(camera_yaw_deg, 0.0).astype(np.float64)
    local = np.asarray(eye_position, np.float64).reshape(3) - np.asarray(anchor, np.float64)
    world_pos = np.asarray(camera_position, np.float64).reshape(3) + turn @ local
    world_rot = (turn @ quat_matrix(eye_orientation)).astype(np.float32)
    return EyeView(
        view_matrix(world_pos.astype(np.float32), world_rot),
        fov_projection(left, right, up, down, near=near, far=far),
        viewport,
    )


def is_unit_quaternion(quat: ArrayLike, tolerance: float = 1e-3) -> bool:
    """True when ``quat`` is finite with norm 1 within ``tolerance``."""
    q = np.asarray(quat, np.float64)
    return bool(np.all(np.isfinite(q)) and abs(float(np.linalg.norm(q)) - 1.0) < tolerance)
