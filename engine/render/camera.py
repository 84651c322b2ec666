"""Per-eye cameras: view and projection matrices, mono and side-by-side stereo. Pure numpy.

Conventions follow :mod:`therapies.scenes.base`: right-handed, y up, yaw 0 / pitch 0 looks
along -z, positive yaw turns left, positive pitch looks up; matrices are column-vector
(``clip = projection @ view @ world``), OpenGL clip space (z in -w..w).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

Matrix = NDArray[np.float32]


@dataclass(frozen=True)
class EyeView:
    """What one eye sees and where on the framebuffer it goes.

    Parameters
    ----------
    view
        ``(4, 4)`` float32 world -> eye matrix.
    projection
        ``(4, 4)`` float32 eye -> clip matrix.
    viewport
        ``(x, y, width, height)`` in framebuffer pixels, origin bottom-left (OpenGL).
    """

    view: Matrix
    projection: Matrix
    viewport: tuple[int, int, int, int]

    @property
    def position(self) -> NDArray[np.float32]:
        """The eye's world position (recovered from ``view``)."""
        rot = self.view[:3, :3]
        return np.asarray(-rot.T @ self.view[:3, 3], np.float32)


def perspective(fov_y_deg: float, aspect: float, near: float, far: float) -> Matrix:
    """Symmetric OpenGL perspective projection (vertical field of view in degrees)."""
    if not (0.0 < fov_y_deg < 180.0 and aspect > 0.0 and 0.0 < near < far):
        raise ValueError(
            f"perspective: fov_y_deg={fov_y_deg}, aspect={aspect}, near={near}, far={far} invalid"
        )
    f = 1.0 / math.tan(math.radians(fov_y_deg) / 2.0)
    m = np.zeros((4, 4), np.float32)
    m[0, 0] = f / aspect
    m[1, 1] = f
    m[2, 2] = (far + near) / (near - far)
    m[2, 3] = 2.0 * far * near / (near - far)
    m[3, 2] = -1.0
    return m


def head_rotation(yaw_deg: float, pitch_deg: float) -> NDArray[np.float32]:
    """``(3, 3)`` head -> world rotation: yaw about +y, then pitch about the head's +x."""
    y, p = math.radians(yaw_deg), math.radians(pitch_deg)
    cy, sy, cp, sp = math.cos(y), math.sin(y), math.cos(p), math.sin(p)
    ry = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])
    return np.asarray(ry @ rx, np.float32)


def view_matrix(position: ArrayLike, rotation: NDArray[np.float32]) -> Matrix:
    """World -> eye matrix for an eye at ``position`` with head->world ``rotation``."""
    m = np.eye(4, dtype=np.float32)
    m[:3, :3] = rotation.T
    m[:3, 3] = -rotation.T @ np.asarray(position, np.float32).reshape(3)
    return m


class EyeRig:
    """Eyes for a fixed head orientation and framebuffer; only the position changes.

    :func:`stereo_eyes` and :func:`mono_eye` rebuild rotation and projection every call;
    a display that presents every frame keeps one rig per (yaw, pitch, size) instead.

    Parameters
    ----------
    yaw, pitch
        Head orientation in degrees.
    width, height
        Whole framebuffer size in pixels.
    stereo
        Side-by-side left/right eyes, else one centred eye.
    ipd, fov_deg, aspect, near, far
        As in :func:`stereo_eyes`.
    """

    def __init__(
        self,
        yaw: float,
        pitch: float,
        *,
        width: int,
        height: int,
        stereo: bool = True,
        ipd: float = 0.064,
        fov_deg: float = 90.0,
        aspect: float | None = None,
        near: float = 0.1,
        far: float = 3000.0,
    ) -> None:
        self.key = (yaw, pitch, width, height, stereo)
        rot = head_rotation(yaw, pitch)
        self._rot_t = np.ascontiguousarray(rot.T)
        self._base = view_matrix(np.zeros(3), rot)
        half = int(width) // 2 if stereo else int(width)
        aspect = aspect if aspect else half / max(int(height), 1)
        self._projection = perspective(fov_deg, aspect, near, far)
        right = rot[:, 0] * np.float32(ipd / 2.0)
        self._offsets: tuple[NDArray[np.float32], ...]
        self._viewports: tuple[tuple[int, int, int, int], ...]
        if stereo:
            self._offsets = (-right, right)
            self._viewports = ((0, 0, half, int(height)), (half, 0, half, int(height)))
        else:
            self._offsets = (np.zeros(3, np.float32),)
            self._viewports = ((0, 0, half, int(height)),)

    def eyes(self, camera_position: ArrayLike) -> tuple[EyeView, ...]:
        """Eye views for a head centred at ``camera_position``."""
        centre = np.asarray(camera_position, np.float32).reshape(3)
        out = []
        for offset, viewport in zip(self._offsets, self._viewports, strict=True):
            view = self._base.copy()
            view[:3, 3] = -(self._rot_t @ (centre + offset))
            out.append(EyeView(view, self._projection, viewport))
        return tuple(out)


def mono_eye(
    camera_position: ArrayLike,
    yaw: float,
    pitch: float,
    *,
    width: int,
    height: int,
    fov_deg: float = 90.0,
    near: float = 0.1,
    far: float = 3000.0,
) -> EyeView:
    """One eye filling a ``width`` x ``height`` framebuffer (angles in degrees)."""
    rig = EyeRig(
        yaw, pitch, width=width, height=height, stereo=False, fov_deg=fov_deg, near=near, far=far
    )
    return rig.eyes(camera_position)[0]


def stereo_eyes(
    camera_position: ArrayLike,
    yaw: float,
    pitch: float,
    *,
    width: int,
    height: int,
    ipd: float = 0.064,
    fov_deg: float = 90.0,
    aspect: float | None = None,
    near: float = 0.1,
    far: float = 3000.0,
) -> tuple[EyeView, EyeView]:
    """Left and right eyes side by side on a ``width`` x ``height`` framebuffer.

    Parallel-axis stereo: both eyes look the same way, each ``ipd / 2`` metres from
    ``camera_position`` along the head's right axis; the left eye gets the left half.

    Parameters
    ----------
    camera_position
        ``(3,)`` eye-centre position, metres.
    yaw, pitch
        Head orientation in degrees.
    width, height
        Whole framebuffer size in pixels; each eye gets ``width // 2`` x ``height``.
    ipd
        Interpupillary distance in metres.
    fov_deg
        Vertical field of view per eye, degrees.
    aspect
        Projection aspect ratio; default is the eye viewport's ``(width // 2) / height``.
    near, far
        Clip planes in metres.
    """
    rig = EyeRig(
        yaw,
        pitch,
        width=width,
        height=height,
        stereo=True,
        ipd=ipd,
        fov_deg=fov_deg,
        aspect=aspect,
        near=near,
        far=far,
    )
    left, right = rig.eyes(camera_position)
    return left, right
