"""Camera maths (pure numpy): projection, orientation conventions, stereo eye placement."""

from __future__ import annotations

import numpy as np
import pytest

from engine.render.camera import EyeRig, EyeView, mono_eye, perspective, stereo_eyes
from engine.render.meshes import MESH_BUILDERS


def _ndc(eye: EyeView, world: object) -> np.ndarray:
    clip = eye.projection @ eye.view @ np.append(np.asarray(world, float), 1.0)
    return clip[:3] / clip[3]


def test_mono_eye_looks_down_minus_z() -> None:
    eye = mono_eye((0, 1, 0), 0.0, 0.0, width=200, height=100)
    np.testing.assert_allclose(_ndc(eye, (0, 1, -10))[:2], [0, 0], atol=1e-6)
    assert eye.viewport == (0, 0, 200, 100)
    np.testing.assert_allclose(eye.position, [0, 1, 0], atol=1e-6)


def test_yaw_turns_left_and_pitch_looks_up() -> None:
    left = mono_eye((0, 0, 0), 90.0, 0.0, width=100, height=100)
    np.testing.assert_allclose(_ndc(left, (-10, 0, 0))[:2], [0, 0], atol=1e-5)
    up = mono_eye((0, 0, 0), 0.0, 30.0, width=100, height=100)
    direction = (0, np.sin(np.radians(30)), -np.cos(np.radians(30)))
    np.testing.assert_allclose(_ndc(up, np.multiply(direction, 5))[:2], [0, 0], atol=1e-5)


def test_stereo_eyes_are_ipd_apart_side_by_side() -> None:
    left, right = stereo_eyes((1, 2, 3), 30.0, -20.0, width=1280, height=720, ipd=0.07)
    assert np.linalg.norm(left.position - right.position) == pytest.approx(0.07, abs=1e-6)
    np.testing.assert_allclose((left.position + right.position) / 2, [1, 2, 3], atol=1e-6)
    assert left.viewport == (0, 0, 640, 720) and right.viewport == (640, 0, 640, 720)
    # The right eye sits to the right: a point straight ahead appears left of its centre.
    ahead = left.position + (right.position - left.position) / 2
    forward = np.linalg.inv(left.view)[:3, 2] * -1.0
    target = ahead + forward * 3.0
    assert _ndc(right, target)[0] < 0 < _ndc(left, target)[0]


def test_rig_matches_stereo_eyes() -> None:
    rig = EyeRig(10.0, -5.0, width=800, height=600)
    for a, b in zip(
        rig.eyes((4, 5, 6)), stereo_eyes((4, 5, 6), 10.0, -5.0, width=800, height=600), strict=True
    ):
        np.testing.assert_allclose(a.view, b.view, atol=1e-6)
        np.testing.assert_allclose(a.projection, b.projection)


def test_perspective_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="fov_y_deg"):
        perspective(0.0, 1.0, 0.1, 10.0)


@pytest.mark.parametrize("name", sorted(MESH_BUILDERS))
def test_meshes_are_unit_sized_with_unit_normals_and_outward_winding(name: str) -> None:
    verts, idx = MESH_BUILDERS[name]()
    assert verts.dtype == np.float32 and verts.shape[1] == 6 and idx.dtype == np.uint32
    assert idx.max() < len(verts) and idx.size % 3 == 0
    assert np.abs(verts[:, :3]).max() == pytest.approx(0.5)
    np.testing.assert_allclose(np.linalg.norm(verts[:, 3:], axis=1), 1.0, atol=1e-5)
    tri = verts[idx.reshape(-1, 3), :3]
    face = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals = verts[idx.reshape(-1, 3), 3:].sum(axis=1)
    assert np.all(np.einsum("ij,ij->i", face, normals) >= -1e-9)
