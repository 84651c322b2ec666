"""Where the head is and how it is turned: head poses and quaternions. Pure.

Conventions as :mod:`therapies.scenes.base`: metres, y up, a head with identity
orientation looks along -z; quaternions are ``(x, y, z, w)``, head -> world. Used by gaze
prompts (:mod:`therapies.prompt_gaze`) and by the displays that report a head pose.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class HeadPose:
    """Where the head is and how it is turned, in scene (world) coordinates.

    Parameters
    ----------
    position
        Centre between the eyes, metres.
    orientation
        Head -> world rotation as a unit quaternion ``(x, y, z, w)``; identity looks along -z.
    projection
        ``(p00, p02, p11, p12)`` of the view's (mean) projection matrix: horizontal and
        vertical scale (``1 / tan(half the field of view)``) and off-centre shifts (0 for a
        symmetric view). Where a head-locked panel goes and how big it is.
    """

    position: tuple[float, float, float]
    orientation: tuple[float, float, float, float]
    projection: tuple[float, float, float, float] = (1.0, 0.0, 1.0, 0.0)

    @property
    def view_scale(self) -> float:
        """The projection's ``[1, 1]``: view heights per unit of depth, inverted."""
        return self.projection[2]

    def view_anchor(self, point: ArrayLike) -> tuple[float, float] | None:
        """Where world ``point`` appears in the view, as an overlay anchor (0..1, y up);
        ``None`` when it is not in front of the head. Not clipped to the view."""
        rot = self.rotation()
        local = rot.T @ (np.asarray(point, np.float64) - np.asarray(self.position, np.float64))
        depth = -float(local[2])
        if depth <= 1e-6:
            return None
        p00, p02, p11, p12 = self.projection
        nx = p00 * float(local[0]) / depth - p02
        ny = p11 * float(local[1]) / depth - p12
        return ((nx + 1.0) / 2.0, (ny + 1.0) / 2.0)

    @property
    def cursor_anchor(self) -> tuple[float, float]:
        """The overlay anchor of the head-forward ray (the view's centre when symmetric)."""
        p02, p12 = self.projection[1], self.projection[3]
        return (min(max((1.0 - p02) / 2.0, 0.0), 1.0), min(max((1.0 - p12) / 2.0, 0.0), 1.0))

    def rotation(self) -> NDArray[np.float64]:
        """``(3, 3)`` head -> world rotation; columns are the head's right, up and back."""
        return quat_rotation(self.orientation)

    @property
    def forward(self) -> NDArray[np.float64]:
        """Unit vector the head looks along."""
        return -self.rotation()[:, 2]


def quat_rotation(quat: ArrayLike) -> NDArray[np.float64]:
    """``(3, 3)`` rotation of an ``(x, y, z, w)`` quaternion (normalised here).

    Raises
    ------
    ValueError
        Zero or non-finite quaternion.
    """
    q = np.asarray(quat, np.float64).reshape(4)
    norm = float(np.linalg.norm(q))
    if not (math.isfinite(norm) and norm > 1e-9):
        raise ValueError(f"quaternion {q.tolist()} has no direction")
    x, y, z, w = q / norm
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def yaw_pitch_quaternion(yaw_deg: float, pitch_deg: float) -> tuple[float, float, float, float]:
    """``(x, y, z, w)`` of a head turned ``yaw_deg`` left about +y, then ``pitch_deg`` up."""
    hy, hp = math.radians(yaw_deg) / 2.0, math.radians(pitch_deg) / 2.0
    cy, sy, cp, sp = math.cos(hy), math.sin(hy), math.cos(hp), math.sin(hp)
    return (cy * sp, sy * cp, -sy * sp, cy * cp)
