"""OpenXR pose/field-of-view maths (pure numpy; no runtime needed)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.display._xr_math import (
    fov_projection,
    is_unit_quaternion,
    quat_matrix,
    tracked_eye_view,
)
from engine.render.camera import perspective


def test_symmetric_fov_matches_the_desktop_perspective() -> None:
    half_y = math.radians(45.0)
    half_x = math.atan(math.tan(half_y) * 1.5)
    m = fov_projection(-half_x, half_x, half_y, -half_y, near=0.1, far=100.0)
    assert np.allclose(m, perspective(90.0, 1.5, 0.1, 100.0), atol=1e-6)


def test_asymmetric_fov_puts_the_frustum_edges_at_the_clip_edges() -> None:
    left, right, up, down = -0.9, 0.7, 0.8, -0.85
    m = fov_projection(left, right, up, down, near=0.05, far=50.0)
    for ax, ay, expect in ((left, 0.0, (-1, None)), (right, 0.0, (1, None)),
                           (0.0, up, (None, 1)), (0.0, down, (None, -1))):  # fmt: skip
        p = np.array([math.tan(ax) * 2.0, math.tan(ay) * 2.0, -2.0, 1.0])
        clip = m @ p
        ndc = clip[:3] / clip[3]
        if expect[0] is not None:
            assert ndc[0] == pytest.approx(expect[0], abs=1e-5)
        if expect[1] is not None:
            assert ndc[1] == pytest.approx(expect[1], abs=1e-5)
    near_ndc = m @ np.array([0.0, 0.0, -0.05, 1.0])
    assert near_ndc[2] / near_ndc[3] == pytest.approx(-1.0, abs=1e-5)
    with pytest.raises(ValueError, match="not a valid frustum"):
        fov_projection(0.5, -0.5, 0.5, -0.5)


def test_quaternion_rotation_and_validity() -> None:
    s = math.sin(math.pi / 4)
    yaw90 = quat_matrix((0.0, s, 0.0, s))  # +90 deg about +y: -z (forward) turns to -x (left)
    assert np.allclose(yaw90 @ np.array([0.0, 0.0, -1.0]), [-1.0, 0.0, 0.0], atol=1e-9)
    assert is_unit_quaternion((0.0, s, 0.0, s))
    assert not is_unit_quaternion((0.0, 0.0, 0.0, 2.0))
    assert not is_unit_quaternion((math.nan, 0.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="no direction"):
        quat_matrix((0.0, 0.0, 0.0, 0.0))


def test_tracked_eye_lands_on_the_scene_camera_turned_by_its_yaw() -> None:
    fov = (-0.8, 0.8, 0.8, -0.8)
    anchor = np.array([0.1, 1.6, 0.2])
    camera = np.array([0.0, 40.0, -2.6])
    # Head at the anchor looking ahead: the eye is at the camera, looking along the scene's -z.
    eye = tracked_eye_view(anchor, (0, 0, 0, 1), fov, camera_position=camera,
                           camera_yaw_deg=0.0, anchor=anchor, viewport=(0, 0, 8, 8))  # fmt: skip
    assert np.allclose(eye.position, camera, atol=1e-4)
    ahead = eye.view @ np.array([0.0, 40.0, -12.6, 1.0])
    assert np.allclose(ahead[:3], [0.0, 0.0, -10.0], atol=1e-3)
    # Stepping 0.5 m right in the tracking space moves the eye along the scene's yaw-turned x.
    step = np.array([0.5, 0.0, 0.0])
    eye = tracked_eye_view(anchor + step, (0, 0, 0, 1), fov, camera_position=camera,
                           camera_yaw_deg=90.0, anchor=anchor, viewport=(0, 0, 8, 8))  # fmt: skip
    assert np.allclose(eye.position, camera - step[[1, 1, 0]], atol=1e-4)  # +x turns to -z
