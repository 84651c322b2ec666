"""What a scene hands the renderer: instanced batches, fog, sky and camera. Pure numpy.

Scenes *describe* a frame; :mod:`engine.render` *draws* it. Nothing here imports OpenGL.

Conventions
-----------
- World space is right-handed, metres, **y up**; a camera with yaw 0 and pitch 0 looks
  along **-z**. Positive yaw turns left (counter-clockwise seen from above), positive pitch
  looks up.
- Model matrices use the **column-vector** convention: a point ``p`` (homogeneous column
  ``(x, y, z, 1)``) goes to world space as ``M @ p``; the translation lives in
  ``M[:3, 3]``. Arrays are C-contiguous row-major numpy, ``transforms[i, row, col]``.
- Meshes are unit-sized and centred on the origin: ``box`` spans -0.5..0.5 on each axis,
  ``plane`` is a 1 x 1 square in the xz plane facing +y, ``quad`` a 1 x 1 square in the xy
  plane facing +z, ``sphere`` has radius 0.5, ``cylinder`` radius 0.5 and height 1 along y.
- Colours are RGBA in 0..1, written to the framebuffer as lit (no gamma step). An instance
  with alpha < 1 is drawn blended after all opaque batches; the renderer decides per batch,
  so keep transparent instances in their own batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

MESHES: tuple[str, ...] = ("box", "plane", "sphere", "cylinder", "quad")
"""Mesh names a :class:`Batch` may use; the renderer builds each procedurally."""

MATERIALS: tuple[str, ...] = ("plain", "windows")
"""Surface looks: ``plain`` is the lit colour; ``windows`` adds a world-aligned grid of
dark glazing (3 m x 3.5 m storeys) on vertical faces, a scale cue for buildings."""

FloatArray = NDArray[np.float32]


@dataclass(frozen=True)
class Batch:
    """One instanced draw: the same mesh at ``n`` places with ``n`` colours.

    Parameters
    ----------
    mesh
        One of :data:`MESHES`.
    transforms
        ``(n, 4, 4)`` float32 model matrices, column-vector convention (``world = M @ p``).
    colors
        ``(n, 4)`` float32 RGBA in 0..1.
    material
        One of :data:`MATERIALS`.
    """

    mesh: str
    transforms: FloatArray
    colors: FloatArray
    material: str = "plain"

    def __post_init__(self) -> None:
        if self.mesh not in MESHES:
            raise ValueError(f"Batch.mesh: {self.mesh!r} is not one of {', '.join(MESHES)}")
        if self.material not in MATERIALS:
            raise ValueError(
                f"Batch.material: {self.material!r} is not one of {', '.join(MATERIALS)}"
            )
        t, c = self.transforms, self.colors
        if t.dtype != np.float32 or t.ndim != 3 or t.shape[1:] != (4, 4):
            raise ValueError(f"Batch.transforms must be (n, 4, 4) float32, got {t.shape} {t.dtype}")
        if c.dtype != np.float32 or c.shape != (t.shape[0], 4):
            raise ValueError(
                f"Batch.colors must be ({t.shape[0]}, 4) float32, got {c.shape} {c.dtype}"
            )

    @property
    def count(self) -> int:
        """Number of instances."""
        return int(self.transforms.shape[0])


@dataclass(frozen=True)
class DrawList:
    """Everything the renderer needs for one frame.

    Parameters
    ----------
    batches
        Instanced draws, in any order (the renderer draws opaque before transparent).
    sky_color, fog_color
        Linear RGB. The sky is the clear colour; fog blends fragments towards ``fog_color``.
    fog_density
        Exponential fog, per metre: visibility ``exp(-fog_density * distance)``.
    camera_position
        ``(3,)`` eye-centre position in world space, metres.
    camera_yaw, camera_pitch
        Head orientation in degrees (see module conventions).
    """

    batches: tuple[Batch, ...]
    sky_color: tuple[float, float, float]
    fog_color: tuple[float, float, float]
    fog_density: float
    camera_position: FloatArray = field(default_factory=lambda: np.zeros(3, np.float32))
    camera_yaw: float = 0.0
    camera_pitch: float = 0.0

    @property
    def instance_count(self) -> int:
        """Total instances over all batches."""
        return sum(b.count for b in self.batches)


@runtime_checkable
class Scene(Protocol):
    """A scene whose look is driven by one intensity in 0..1."""

    name: str

    def update(self, intensity: float, dt: float) -> None:
        """Advance by ``dt`` seconds towards ``intensity`` (0..1); smooth, never jump."""
        ...

    def draw_list(self) -> DrawList:
        """The current frame's description."""
        ...

    def describe(self, intensity: float) -> str:
        """One line saying what ``intensity`` means in this scene."""
        ...


def trs_matrices(
    positions: NDArray[np.floating],
    scales: NDArray[np.floating],
    yaws: NDArray[np.floating] | None = None,
) -> FloatArray:
    """Build ``(n, 4, 4)`` model matrices ``T @ Ry @ S``, vectorised.

    Parameters
    ----------
    positions
        ``(n, 3)`` translations (the mesh centre lands here), metres.
    scales
        ``(n, 3)`` per-axis scale, or ``(3,)`` shared by all.
    yaws
        ``(n,)`` rotation about +y in radians, or ``None`` for none.

    Returns
    -------
    numpy.ndarray
        ``(n, 4, 4)`` float32, column-vector convention.
    """
    pos = np.asarray(positions, np.float32).reshape(-1, 3)
    n = pos.shape[0]
    scl = np.broadcast_to(np.asarray(scales, np.float32), (n, 3))
    m = np.zeros((n, 4, 4), np.float32)
    if yaws is None:
        m[:, 0, 0] = scl[:, 0]
        m[:, 1, 1] = scl[:, 1]
        m[:, 2, 2] = scl[:, 2]
    else:
        c = np.cos(np.asarray(yaws, np.float32))
        s = np.sin(np.asarray(yaws, np.float32))
        m[:, 0, 0] = c * scl[:, 0]
        m[:, 0, 2] = s * scl[:, 2]
        m[:, 1, 1] = scl[:, 1]
        m[:, 2, 0] = -s * scl[:, 0]
        m[:, 2, 2] = c * scl[:, 2]
    m[:, :3, 3] = pos
    m[:, 3, 3] = 1.0
    return m


def frozen(array: FloatArray) -> FloatArray:
    """Mark ``array`` read-only (for static batches reused every frame) and return it."""
    array.flags.writeable = False
    return array
