"""Procedural unit meshes with normals, as numpy arrays ready for a VBO. Pure numpy.

Each mesh is ``(vertices, indices)``: ``vertices`` is ``(n, 6)`` float32 interleaved
position xyz + normal xyz, ``indices`` ``(m,)`` uint32 triangles wound counter-clockwise seen
from outside (so back-face culling works). Sizes follow :mod:`therapies.scenes.base`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

MeshArrays = tuple[NDArray[np.float32], NDArray[np.uint32]]


def _faces(normals: NDArray[np.float64], us: NDArray[np.float64]) -> MeshArrays:
    """Unit squares centred at ``normal / 2`` for each (normal, u) pair; v = n x u."""
    verts, idx = [], []
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64) * 0.5
    for k, (n, u) in enumerate(zip(normals, us, strict=True)):
        v = np.cross(n, u)
        pos = n * 0.5 + corners[:, :1] * u + corners[:, 1:] * v
        verts.append(np.hstack([pos, np.broadcast_to(n, (4, 3))]))
        idx.append(np.array([0, 1, 2, 0, 2, 3]) + 4 * k)
    return _fix_winding(np.vstack(verts), np.concatenate(idx))


def _fix_winding(verts: NDArray[np.float64], idx: NDArray[np.int_]) -> MeshArrays:
    """Flip any triangle whose geometric normal disagrees with its vertex normals."""
    tri = idx.reshape(-1, 3).copy()
    p = verts[:, :3]
    face_n = np.cross(p[tri[:, 1]] - p[tri[:, 0]], p[tri[:, 2]] - p[tri[:, 0]])
    vert_n = verts[tri, 3:].sum(axis=1)
    flip = np.einsum("ij,ij->i", face_n, vert_n) < 0
    tri[flip] = tri[flip][:, [0, 2, 1]]
    return verts.astype(np.float32), tri.ravel().astype(np.uint32)


def box() -> MeshArrays:
    """Axis-aligned cube spanning -0.5..0.5, 24 vertices (flat normals per face)."""
    eye = np.eye(3)
    normals = np.vstack([eye, -eye])
    us = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0]], float)
    return _faces(normals, us)


def plane() -> MeshArrays:
    """1 x 1 square in the xz plane facing +y."""
    return _zero_offset(_faces(np.array([[0.0, 1.0, 0.0]]), np.array([[0.0, 0.0, 1.0]])), 1)


def quad() -> MeshArrays:
    """1 x 1 square in the xy plane facing +z."""
    return _zero_offset(_faces(np.array([[0.0, 0.0, 1.0]]), np.array([[1.0, 0.0, 0.0]])), 2)


def _zero_offset(mesh: MeshArrays, axis: int) -> MeshArrays:
    v, i = mesh
    v = v.copy()
    v[:, axis] = 0.0
    return v, i


def sphere(slices: int = 24, stacks: int = 16) -> MeshArrays:
    """UV sphere of radius 0.5."""
    theta = np.linspace(0.0, np.pi, stacks + 1)
    phi = np.linspace(0.0, 2.0 * np.pi, slices + 1)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    n = np.stack([np.sin(t) * np.cos(p), np.cos(t), -np.sin(t) * np.sin(p)], -1).reshape(-1, 3)
    verts = np.hstack([n * 0.5, n])
    a = (np.arange(stacks)[:, None] * (slices + 1) + np.arange(slices)[None, :]).ravel()
    b, c, d = a + slices + 1, a + 1, a + slices + 2
    idx = np.stack([a, b, c, c, b, d], axis=1).ravel()
    return _fix_winding(verts, idx)


def cylinder(segments: int = 24) -> MeshArrays:
    """Cylinder of radius 0.5 and height 1 along y, centred, with caps."""
    ang = np.linspace(0.0, 2.0 * np.pi, segments + 1)
    ring = np.stack([np.cos(ang), np.zeros_like(ang), -np.sin(ang)], -1)
    low, high = ring * 0.5 + [0, -0.5, 0], ring * 0.5 + [0, 0.5, 0]
    side = np.vstack([np.hstack([low, ring]), np.hstack([high, ring])])
    k = np.arange(segments)
    s = segments + 1
    side_idx = np.stack([k, k + 1, k + s, k + s, k + 1, k + 1 + s], 1).ravel()
    verts, idx = [side], [side_idx]
    base = side.shape[0]
    for y, rim in ((0.5, high), (-0.5, low)):
        normal = np.broadcast_to([0.0, np.sign(y), 0.0], (s + 1, 3))
        pts = np.vstack([[0.0, y, 0.0], rim])
        verts.append(np.hstack([pts, normal]))
        idx.append(np.stack([np.zeros(segments, int), k + 1, k + 2], 1).ravel() + base)
        base += s + 1
    return _fix_winding(np.vstack(verts), np.concatenate(idx))


MESH_BUILDERS: Mapping[str, Callable[[], MeshArrays]] = MappingProxyType(
    {
        "box": box,
        "plane": plane,
        "sphere": sphere,
        "cylinder": cylinder,
        "quad": quad,
    }
)
"""Mesh name -> builder; the names match :data:`therapies.scenes.base.MESHES`."""
