"""Fear of spiders: a living room with spiders walking on the floor.

The viewer stands at the back of a small room (wooden floor, rug, sofa, table, window)
looking down at the floor in front of them. Intensity drives one smoothed *level* that sets

- the number of spiders: ``round(30 * level**2)`` (0 at 0, 1 at 0.2, 19 at 0.8, 30 at 1),
- their size: body length 2 cm at 0 to 7 cm at 1 (leg span about 3x the body),
- their distance to the viewer: the walking paths' centres lie about 2.8 m away at 0 and
  0.7 m away at 1 (each spider has its own seed-fixed offset from that distance),
- their walking speed along their paths: 2 cm/s at 0 to 30 cm/s at 1.

Sound (:meth:`SpidersScene.soundscape`, played by :mod:`engine.audio`): a faint looping
``skitter`` of tiny legs at :func:`skitter_volume`, silent up to level 0.5 and rising to
0.35 at 1 (0.21 at 0.8); no one-shot cues.

Scene event (a therapist's console fires it): ``spider_approaches``: one more spider (body
at least :data:`APPROACH_SIZE_M`) walks straight at the viewer from 3.4 m to 1.3 m (the
near edge of the view) in 5 s, stops for 1.5 s, then turns and runs off to the left (9 s
in all); the skitter is at
least :data:`APPROACH_SKITTER` while it walks.

Each spider walks a seed-fixed ellipse around its anchor; the position along it advances by
``speed * dt`` every :meth:`SpidersScene.update`, so a run is deterministic for a seed and a
sequence of ``(intensity, dt)``. Spiders are built from instanced parts: two spheres (head
and abdomen) and 16 cylinders (two segments per leg) each. Three batches per frame.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from therapies.scenes.base import (
    Batch,
    DrawList,
    FloatArray,
    SmoothedLevel,
    SoundLayer,
    Soundscape,
    clamp01,
    frozen,
    trs_matrices,
)
from therapies.scenes.events import EventClock

MAX_SPIDERS = 30
EVENT_SECONDS = {"spider_approaches": 9.0}
"""Scene events and how long each shows (s)."""
APPROACH_SIZE_M = 0.08
"""Least body length of the approaching spider."""
APPROACH_SKITTER = 0.3
"""Least skitter volume while it walks."""
_APPROACH = ((0.0, 3.4), (5.0, 1.3), (6.5, 1.3))  # (time s, distance m) to the stop
EYE = np.array([0.0, 1.65, 2.2], np.float32)
"""Viewer's eye position (standing near the back wall, looking towards -z)."""

_SKY = (0.80, 0.78, 0.72)
_FOG = (0.80, 0.78, 0.72)
_LEGS = 8


def spider_count(level: float) -> int:
    """Spiders shown at ``level`` (0..1): ``round(30 * level**2)``."""
    lv = min(max(level, 0.0), 1.0)
    return round(MAX_SPIDERS * lv * lv)


def spider_size_m(level: float) -> float:
    """Body length in metres (leg span is about three times this)."""
    return 0.02 + 0.05 * min(max(level, 0.0), 1.0)


def spider_distance_m(level: float) -> float:
    """Typical distance from the viewer's feet to a spider's path centre, metres."""
    return 2.8 - 2.1 * min(max(level, 0.0), 1.0)


def spider_speed_mps(level: float) -> float:
    """Walking speed along the paths, metres per second."""
    return 0.02 + 0.28 * min(max(level, 0.0), 1.0)


def skitter_volume(level: float) -> float:
    """Loudness 0..1 of the spiders' skitter: 0 up to level 0.5, then up to 0.35 at 1."""
    lv = min(max(level, 0.0), 1.0)
    return 0.35 * max(lv - 0.5, 0.0) / 0.5


def segment_matrices(
    a: NDArray[np.floating], b: NDArray[np.floating], radius: float | NDArray[np.floating]
) -> FloatArray:
    """``(n, 4, 4)`` matrices placing the unit cylinder from ``a[i]`` to ``b[i]``.

    Parameters
    ----------
    a, b
        ``(n, 3)`` end points, metres.
    radius
        Cylinder radius, metres: one for all, or ``(n,)``.
    """
    r = np.asarray(radius, np.float64).reshape(-1, 1)
    a = np.asarray(a, np.float64).reshape(-1, 3)
    d = np.asarray(b, np.float64).reshape(-1, 3) - a
    length = np.linalg.norm(d, axis=1, keepdims=True)
    axis = d / np.maximum(length, 1e-9)
    helper = np.where(np.abs(axis[:, 1:2]) < 0.9, [[0.0, 1.0, 0.0]], [[1.0, 0.0, 0.0]])
    u = np.cross(axis, helper)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    w = np.cross(u, axis)
    m = np.zeros((a.shape[0], 4, 4), np.float32)
    m[:, :3, 0] = u * (2.0 * r)
    m[:, :3, 1] = d
    m[:, :3, 2] = w * (2.0 * r)
    m[:, :3, 3] = a + d / 2.0
    m[:, 3, 3] = 1.0
    return m


class SpidersScene(SmoothedLevel):
    """A living room with up to 30 walking spiders; see the module docstring.

    Parameters
    ----------
    seed
        Seeds the spiders' paths, phases, colours and which spiders appear first.
    """

    name = "spiders"
    events = tuple(EVENT_SECONDS)

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self._time = 0.0
        self._events = EventClock(EVENT_SECONDS)
        self._approach_gait = 0.0
        self._room = self._build_room()
        n = MAX_SPIDERS
        # Anchors: seed-fixed bearing (within the view) and distance factor per spider.
        self._bearing = rng.uniform(-0.75, 0.75, n)
        self._dist_factor = rng.uniform(0.75, 1.35, n)
        self._path_axes = rng.uniform(0.15, 0.45, (n, 2))
        self._path_turn = rng.uniform(0.0, np.pi, n)
        self._direction = rng.choice([-1.0, 1.0], n)
        self._arc = rng.uniform(0.0, 2.0 * np.pi, n)  # phase on the ellipse, radians
        self._gait = rng.uniform(0.0, 2.0 * np.pi, n)  # leg cycle phase, radians
        shade = rng.uniform(0.06, 0.16, n)
        tint = rng.uniform(0.7, 1.0, (n, 1)) * np.array([[1.0, 0.8, 0.6]])
        self._body_rgb = np.clip(shade[:, None] * tint * 1.2, 0.0, 1.0)

    # ----------------------------------------------------------------- static room
    @staticmethod
    def _build_room() -> Batch:
        # centre xyz, size xyz, rgb
        parts = np.array(
            [
                [0, -0.05, -1.0, 7.0, 0.1, 8.0, 0.58, 0.42, 0.28],  # wooden floor
                [0, 1.4, -5.0, 7.0, 2.8, 0.1, 0.86, 0.83, 0.74],  # back wall
                [-3.5, 1.4, -1.0, 0.1, 2.8, 8.0, 0.80, 0.78, 0.70],  # left wall
                [3.5, 1.4, -1.0, 0.1, 2.8, 8.0, 0.80, 0.78, 0.70],  # right wall
                [0, 2.85, -1.0, 7.0, 0.1, 8.0, 0.95, 0.95, 0.93],  # ceiling
                [0, 0.06, -4.93, 7.0, 0.12, 0.04, 0.95, 0.95, 0.92],  # skirting back
                [-3.43, 0.06, -1.0, 0.04, 0.12, 8.0, 0.95, 0.95, 0.92],  # skirting left
                [3.43, 0.06, -1.0, 0.04, 0.12, 8.0, 0.95, 0.95, 0.92],  # skirting right
                [-0.3, 0.005, -1.6, 3.2, 0.01, 2.2, 0.62, 0.22, 0.18],  # rug
                [-0.3, 0.008, -1.6, 2.8, 0.01, 1.8, 0.78, 0.62, 0.40],  # rug centre
                [1.6, 1.6, -4.93, 1.6, 1.2, 0.04, 0.55, 0.75, 0.92],  # window glass
                [1.6, 0.98, -4.9, 1.8, 0.06, 0.1, 0.96, 0.96, 0.96],  # window sill
                [1.6, 1.6, -4.9, 0.06, 1.2, 0.06, 0.96, 0.96, 0.96],  # window mullion
                [-1.9, 1.05, -4.94, 0.9, 2.1, 0.04, 0.45, 0.30, 0.20],  # door
                [1.6, 0.78, -3.0, 1.6, 0.05, 0.9, 0.46, 0.30, 0.18],  # table top
                [0.88, 0.38, -2.62, 0.06, 0.76, 0.06, 0.40, 0.26, 0.16],  # table legs
                [2.32, 0.38, -2.62, 0.06, 0.76, 0.06, 0.40, 0.26, 0.16],
                [0.88, 0.38, -3.38, 0.06, 0.76, 0.06, 0.40, 0.26, 0.16],
                [2.32, 0.38, -3.38, 0.06, 0.76, 0.06, 0.40, 0.26, 0.16],
                [-2.9, 0.25, -2.2, 0.9, 0.5, 2.2, 0.30, 0.38, 0.52],  # sofa seat
                [-3.25, 0.65, -2.2, 0.3, 0.8, 2.2, 0.28, 0.35, 0.48],  # sofa back
                [-2.9, 0.45, -1.2, 0.9, 0.4, 0.2, 0.28, 0.35, 0.48],  # sofa arms
                [-2.9, 0.45, -3.2, 0.9, 0.4, 0.2, 0.28, 0.35, 0.48],
                [2.9, 0.9, -4.6, 1.0, 1.8, 0.4, 0.52, 0.36, 0.22],  # bookcase
                [1.6, 0.87, -3.0, 0.12, 0.14, 0.12, 0.85, 0.85, 0.80],  # mug on the table
            ],
            np.float32,
        )
        # Floorboards: 18 cm planks in slightly different tones, just above the floor slab.
        x = np.arange(-3.41, 3.42, 0.18)
        tone = 0.92 + 0.1 * ((np.arange(x.size) * 7) % 5) / 4.0
        planks = np.zeros((x.size, 9), np.float32)
        planks[:, 0], planks[:, 1], planks[:, 2] = x, 0.001, -1.0
        planks[:, 3:6] = (0.17, 0.002, 8.0)
        planks[:, 6:9] = np.array([0.58, 0.42, 0.28]) * tone[:, None]
        parts = np.concatenate([parts, planks])
        col = np.ones((parts.shape[0], 4), np.float32)
        col[:, :3] = np.clip(parts[:, 6:9], 0.0, 1.0)
        return Batch("box", frozen(trs_matrices(parts[:, :3], parts[:, 3:6])), frozen(col))

    # ----------------------------------------------------------------- per frame
    def update(self, intensity: float, dt: float) -> None:
        """Approach ``intensity`` (time constant :data:`SMOOTHING_TAU_S`); spiders walk.

        The first call snaps to ``intensity`` so a session starts where it is told to.
        """
        self._follow(intensity, dt)
        self._time += dt
        step = spider_speed_mps(self._level) * dt
        mean_axis = self._path_axes.mean(axis=1)
        self._arc += self._direction * step / mean_axis
        self._gait += step / max(spider_size_m(self._level), 1e-3) * 2.0
        before = self._approacher()
        self._events.advance(dt)
        after = self._approacher()
        if before is not None and after is not None:
            walked = float(np.hypot(*(after[0][[0, 2]] - before[0][[0, 2]])))
            self._approach_gait += walked / self._approach_size() * 2.0

    def _fire(self, event: str) -> None:
        """A spider walks up to the viewer (see the module docstring)."""
        self._events.start(event)

    def _approach_size(self) -> float:
        return max(spider_size_m(self._level), APPROACH_SIZE_M)

    def _approacher(self) -> tuple[NDArray[np.float64], float] | None:
        """The approaching spider's body centre and heading now, if one is out."""
        age = self._events.age("spider_approaches")
        if age is None:
            return None
        times, dists = zip(*_APPROACH, strict=True)
        dist = float(np.interp(age, times, dists))
        x, z, heading = EYE[0] - 0.1 * dist, EYE[2] - dist, 0.0
        if age > times[-1]:  # turns and runs off to the left
            x -= 1.6 * (age - times[-1])
            heading = -np.pi / 2
        return np.array([x, 0.45 * self._approach_size(), z]), heading

    def describe(self, intensity: float) -> str:
        """E.g. ``spiders: 19 spiders, body 5.9 cm, 1.2 m away, walking 24 cm/s``."""
        lv = clamp01(intensity)
        return (
            f"spiders: {spider_count(lv)} spiders, body {spider_size_m(lv) * 100:.1f} cm, "
            f"{spider_distance_m(lv):.1f} m away, walking {spider_speed_mps(lv) * 100:.0f} cm/s"
        )

    def soundscape(self) -> Soundscape:
        """A faint skitter at high levels (louder while a spider approaches); no cues."""
        walking = self._events.age("spider_approaches") is not None
        volume = skitter_volume(self._level)
        return Soundscape((SoundLayer("skitter", max(volume, APPROACH_SKITTER * walking)),))

    def positions(self) -> tuple[FloatArray, FloatArray]:
        """Visible spiders' ``(n, 3)`` body centres on the floor and ``(n,)`` headings (rad)."""
        n = spider_count(self._level)
        dist = spider_distance_m(self._level) * self._dist_factor[:n]
        bearing = self._bearing[:n]
        anchor_x = EYE[0] - np.sin(bearing) * dist
        anchor_z = EYE[2] - np.cos(bearing) * dist
        a, b = self._path_axes[:n, 0], self._path_axes[:n, 1]
        arc, turn = self._arc[:n], self._path_turn[:n]
        lx, lz = a * np.cos(arc), b * np.sin(arc)
        c, s = np.cos(turn), np.sin(turn)
        x = np.clip(anchor_x + c * lx + s * lz, -3.2, 3.2)
        z = np.clip(anchor_z - s * lx + c * lz, -4.7, 1.6)
        # Velocity direction of the ellipse, rotated like the ellipse.
        dx, dz = -a * np.sin(arc) * self._direction[:n], b * np.cos(arc) * self._direction[:n]
        vx, vz = c * dx + s * dz, -s * dx + c * dz
        heading = np.arctan2(vx, vz)  # angle of the walking direction from +z towards +x
        size = spider_size_m(self._level)
        pos = np.stack([x, np.full(n, 0.45 * size), z], axis=1).astype(np.float32)
        return pos, heading.astype(np.float32)

    def draw_list(self) -> DrawList:
        """Three batches: room, spider bodies (spheres), legs (cylinders)."""
        bodies, legs = self._spider_batches()
        return DrawList(
            batches=(self._room, bodies, legs),
            sky_color=_SKY,
            fog_color=_FOG,
            fog_density=0.02,
            camera_position=EYE.copy(),
            camera_yaw=0.0,
            camera_pitch=-32.0,
        )

    def _spider_batches(self) -> tuple[Batch, Batch]:
        pos, heading = self.positions()
        n = pos.shape[0]
        size = np.full(n, spider_size_m(self._level))
        gait = self._gait[:n]
        extra = self._approacher()
        if extra is not None:
            pos = np.concatenate([pos, extra[0][None].astype(np.float32)])
            heading = np.append(heading, np.float32(extra[1]))
            size = np.append(size, self._approach_size())
            gait = np.append(gait, self._approach_gait)
            n += 1
        rgb = self._body_rgb[np.arange(n) % MAX_SPIDERS]
        fwd = np.stack([np.sin(heading), np.zeros(n), np.cos(heading)], axis=1)
        right = np.stack([np.cos(heading), np.zeros(n), -np.sin(heading)], axis=1)
        sz = size[:, None]
        head = pos + fwd * (0.35 * sz)
        abdomen = pos - fwd * (0.35 * sz) + np.stack([np.zeros(n), 0.1 * size, np.zeros(n)], 1)
        centres = np.concatenate([head, abdomen])
        scales = np.concatenate(
            [np.tile([0.45, 0.38, 0.5], (n, 1)) * sz, np.tile([0.6, 0.5, 0.75], (n, 1)) * sz]
        )
        yaws = np.concatenate([heading, heading])
        body_col = np.ones((2 * n, 4), np.float32)
        body_col[:n, :3] = rgb * 0.8
        body_col[n:, :3] = rgb
        bodies = Batch("sphere", trs_matrices(centres, scales, yaws), body_col)
        return bodies, self._legs(pos, fwd, right, size, gait, rgb)

    def _legs(
        self,
        pos: FloatArray,
        fwd: NDArray[np.float64],
        right: NDArray[np.float64],
        size: NDArray[np.float64],
        gait: NDArray[np.float64],
        rgb: NDArray[np.float64],
    ) -> Batch:
        n = pos.shape[0]
        sz = size[:, None, None]
        side = np.repeat([-1.0, 1.0], 4)  # legs 0-3 left, 4-7 right
        spread = np.tile(np.radians([50.0, 80.0, 105.0, 135.0]), 2)  # from forward
        alt = np.tile([0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0], 1) * np.pi
        swing = 0.25 * np.sin(gait[:, None] + alt[None, :])  # (n, 8) radians
        ang = spread[None, :] + swing
        out_f = np.cos(ang)[..., None] * fwd[:, None, :]
        out_r = (np.sin(ang) * side[None, :])[..., None] * right[:, None, :]
        out = out_f + out_r  # (n, 8, 3) unit, horizontal
        hip = pos[:, None, :] + out * (0.15 * sz)
        knee = pos[:, None, :] + out * (0.8 * sz)
        knee[..., 1] += 0.55 * size[:, None]
        foot = pos[:, None, :] + out * (1.5 * sz)
        foot[..., 1] = 0.0
        a = np.concatenate([hip.reshape(-1, 3), knee.reshape(-1, 3)])
        b = np.concatenate([knee.reshape(-1, 3), foot.reshape(-1, 3)])
        col = np.ones((2 * n * _LEGS, 4), np.float32)
        col[:, :3] = np.tile(np.repeat(rgb * 0.7, _LEGS, axis=0), (2, 1))
        radius = np.tile(np.repeat(0.06 * size, _LEGS), 2)
        return Batch("cylinder", segment_matrices(a, b, radius), col)
