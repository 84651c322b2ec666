"""Pain distraction: a snowball game in an icy canyon ("SnowWorld" style).

The viewer stands on a frozen path between ice cliffs while snow falls; snowmen and penguins
waddle back and forth across the canyon. The player aims (:meth:`SnowScene.aim`, head or
controller direction) and throws (:meth:`SnowScene.throw`); a throw hits the nearest target
whose hit sphere the aim ray passes through (ray vs sphere, vectorised), scores a point at
once, and the target bursts into snow and reappears elsewhere when the snowball arrives.

Intensity is *engagement*; one smoothed *level* sets

- targets in play: ``round(4 + 12 * level)`` (4 at 0, 6 at 0.2, 14 at 0.8, 16 at 1),
- their speed across the canyon: ``0.3 + 2.2 * level`` m/s,
- colourfulness: ``0.15 + 0.85 * level``, how saturated hats, scarves and beaks are
  (grey-white at 0, bright at 1).

Sound (:meth:`SnowScene.soundscape`, played by :mod:`engine.audio`): a soft canyon
``wind`` at a constant :data:`WIND_VOLUME`; a ``throw`` whoosh at every throw and a ``hit``
(a snowy thud with a bright two-note ding, the score sound) when a scoring ball reaches its
target and the target bursts.

Scene event (a therapist's console fires it): ``bonus_wave``, for 8 s every one of the
:data:`MAX_TARGETS` targets is in play, in full colour with golden hats, announced by the
``reward`` chime; hits score as usual.

Deterministic for a seed and a sequence of ``update``/``aim``/``throw`` calls (respawn
places come from the scene's own seeded generator). Six batches per frame.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from therapies.scenes.base import (
    Batch,
    CueLog,
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

MAX_TARGETS = 16
EVENT_SECONDS = {"bonus_wave": 8.0}
"""Scene events and how long each shows (s)."""
_GOLD = np.array([1.0, 0.78, 0.1])
EYE = np.array([0.0, 1.6, 0.0], np.float32)
"""Where the player's eyes are and where throws start."""
HIT_RADIUS_M = 0.7
HIT_CENTRE_Y_M = 0.85
"""Each target's hit sphere: this radius, centred this high above its feet."""
BALL_SPEED_MPS = 22.0
BURST_S = 0.6
WIND_VOLUME = 0.15
"""Loudness of the soft wind in the canyon."""

_FLAKES = 160
_BALLS = 8
_PARTS = 7  # spheres per target
_SNOW = (0.94, 0.96, 1.0)
_BRIGHT = np.array(
    [[0.95, 0.15, 0.15], [0.15, 0.45, 0.95], [0.98, 0.75, 0.05], [0.20, 0.75, 0.30],
     [0.85, 0.25, 0.80], [1.0, 0.45, 0.05]],
    np.float32,
)  # fmt: skip
# Per kind (0 snowman, 1 penguin), per sphere part: offset xyz (m), scale xyz (m), rgb.
_SHAPES = np.array(
    [
        [
            [0, 0.42, 0, 0.84, 0.8, 0.84, *_SNOW],  # base
            [0, 1.0, 0, 0.62, 0.58, 0.62, *_SNOW],  # middle
            [0, 1.45, 0, 0.44, 0.42, 0.44, *_SNOW],  # head
            [0, 1.44, 0.24, 0.07, 0.07, 0.2, 1.0, 0.5, 0.1],  # carrot nose (tinted)
            [-0.08, 1.52, 0.19, 0.06, 0.06, 0.04, 0.05, 0.05, 0.05],  # eyes
            [0.08, 1.52, 0.19, 0.06, 0.06, 0.04, 0.05, 0.05, 0.05],
            [0, 1.05, 0.3, 0.07, 0.07, 0.04, 0.05, 0.05, 0.05],  # button
        ],
        [
            [0, 0.55, 0, 0.7, 1.1, 0.6, 0.08, 0.09, 0.12],  # body
            [0, 0.52, 0.13, 0.52, 0.86, 0.4, 0.97, 0.97, 0.95],  # belly
            [0, 1.18, 0, 0.42, 0.4, 0.4, 0.08, 0.09, 0.12],  # head
            [0, 1.15, 0.22, 0.12, 0.07, 0.18, 1.0, 0.6, 0.1],  # beak (tinted)
            [-0.09, 1.24, 0.16, 0.09, 0.09, 0.06, 0.97, 0.97, 0.95],  # eye patches
            [0.09, 1.24, 0.16, 0.09, 0.09, 0.06, 0.97, 0.97, 0.95],
            [0, 0.03, 0.12, 0.4, 0.06, 0.3, 1.0, 0.6, 0.1],  # feet (tinted)
        ],
    ],
    np.float32,
)
_TINTED = np.array([3, 6])  # parts whose colour follows colourfulness (nose/beak, feet)


def target_count(level: float) -> int:
    """Targets in play at ``level`` (0..1)."""
    return round(4 + 12 * clamp01(level))


def target_speed_mps(level: float) -> float:
    """How fast targets move across the canyon, m/s."""
    return 0.3 + 2.2 * clamp01(level)


def colourfulness(level: float) -> float:
    """0 = grey-white accessories, 1 = fully saturated."""
    return 0.15 + 0.85 * clamp01(level)


def aim_direction(yaw_deg: float, pitch_deg: float) -> NDArray[np.float64]:
    """Unit vector of a view direction (scene conventions: yaw 0 looks along -z, + is left)."""
    y, p = math.radians(yaw_deg), math.radians(pitch_deg)
    return np.array([-math.sin(y) * math.cos(p), math.sin(p), -math.cos(y) * math.cos(p)])


class SnowScene(SmoothedLevel):
    """Icy canyon snowball game; see the module docstring.

    Parameters
    ----------
    seed
        Seeds the canyon, the targets' kinds, lanes and phases, and where hit targets
        reappear.
    """

    name = "snow"
    events = tuple(EVENT_SECONDS)

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self._rng = np.random.default_rng([seed, 1])  # respawns
        self._time = 0.0
        self._score = 0
        self._throws = 0
        self._aim = aim_direction(0.0, -5.0)
        self._canyon, self._mounds = self._build_canyon(rng)
        n = MAX_TARGETS
        self._kind = rng.integers(0, 2, n)
        self._lane = np.stack([rng.uniform(-5.0, 5.0, n), rng.uniform(-18.0, -5.0, n)], 1)
        self._span = rng.uniform(1.5, 4.0, n)
        self._theta = rng.uniform(0.0, 2 * np.pi, n)
        self._accent = _BRIGHT[rng.integers(0, len(_BRIGHT), (n, 2))]  # hat, scarf
        self._pending = np.full(n, -1.0)  # seconds until a thrown ball arrives; -1 none
        self._flakes = rng.uniform([-12.0, 0.0, -40.0], [12.0, 14.0, 2.0], (_FLAKES, 3))
        self._balls = np.zeros((_BALLS, 7))  # origin xyz, dir xyz, age; age<0 unused
        self._balls[:, 6] = -1.0
        self._ball_reach = np.zeros(_BALLS)
        self._bursts = np.zeros((_BALLS, 4))  # centre xyz, age; age<0 unused
        self._bursts[:, 3] = -1.0
        self._burst_dirs = rng.normal(size=(10, 3)) * [1.0, 0.6, 1.0] + [0.0, 0.8, 0.0]
        self._cues = CueLog()
        self._events = EventClock(EVENT_SECONDS)

    # ----------------------------------------------------------------- static canyon
    @staticmethod
    def _build_canyon(rng: np.random.Generator) -> tuple[Batch, Batch]:
        k = 36
        z = np.linspace(6.0, -170.0, k)
        rows = [
            [0, -0.5, -80, 300, 1.0, 300, 0.90, 0.93, 0.98],  # snowfield
            [0, 0.01, -80, 1.6, 0.02, 180, 0.80, 0.88, 0.97],  # frozen path
        ]
        parts = np.array(rows, np.float32)
        side = np.repeat([-1.0, 1.0], k)
        zz = np.tile(z, 2) + rng.uniform(-2.0, 2.0, 2 * k)
        x = side * (rng.uniform(13.0, 17.0, 2 * k) + np.abs(zz) * 0.04)
        h = rng.uniform(7.0, 22.0, 2 * k)
        w = rng.uniform(5.0, 9.0, 2 * k)
        cliffs = np.stack([x, h / 2, zz, w, h, rng.uniform(5.0, 8.0, 2 * k)], 1)
        tone = rng.uniform(0.0, 1.0, (2 * k, 1))
        cliff_rgb = (1 - tone) * [0.62, 0.78, 0.92] + tone * [0.85, 0.92, 0.98]
        m = 24  # snow mounds and ice crystals near the path
        mz = rng.uniform(-40.0, -3.0, m)
        mx = np.sign(rng.uniform(-1, 1, m)) * rng.uniform(3.0, 11.0, m)
        mw = rng.uniform(1.5, 4.0, m)
        mounds = np.stack([mx, np.zeros(m), mz, mw, mw * 0.4, mw * 0.8], 1)
        crystals = np.stack(
            [mx[:12] * 1.1, np.full(12, 1.2), mz[:12] - 1.5, np.full(12, 0.5),
             rng.uniform(1.5, 3.0, 12), np.full(12, 0.5)], 1
        )  # fmt: skip
        box_pos = np.concatenate([parts[:, :3], cliffs[:, :3], crystals[:, :3]])
        box_scl = np.concatenate([parts[:, 3:6], cliffs[:, 3:6], crystals[:, 3:6]])
        box_yaw = np.concatenate(
            [np.zeros(2), rng.uniform(-0.3, 0.3, 2 * k), rng.uniform(0, 1, 12)]
        )
        col = np.ones((box_pos.shape[0] + m, 4), np.float32)
        col[:2, :3] = parts[:, 6:9]
        col[2 : 2 + 2 * k, :3] = cliff_rgb
        col[2 + 2 * k : -m, :3] = (0.55, 0.80, 0.95)
        col[-m:, :3] = (0.96, 0.97, 1.0)
        boxes = Batch("box", frozen(trs_matrices(box_pos, box_scl, box_yaw)), frozen(col[:-m]))
        mound_batch = Batch(
            "sphere", frozen(trs_matrices(mounds[:, :3], mounds[:, 3:])), frozen(col[-m:])
        )
        return boxes, mound_batch

    # ----------------------------------------------------------------- game
    @property
    def score(self) -> int:
        """Targets hit so far."""
        return self._score

    @property
    def throws(self) -> int:
        """Snowballs thrown so far."""
        return self._throws

    def aim(self, yaw_deg: float, pitch_deg: float) -> None:
        """Point the throwing direction (degrees, scene conventions; pitch clamped to +-89).

        Raises
        ------
        ValueError
            A non-finite angle.
        """
        if not (math.isfinite(yaw_deg) and math.isfinite(pitch_deg)):
            raise ValueError(f"SnowScene.aim: yaw={yaw_deg}, pitch={pitch_deg} must be finite")
        self._aim = aim_direction(yaw_deg, min(max(pitch_deg, -89.0), 89.0))

    def target_spheres(self) -> tuple[FloatArray, FloatArray]:
        """Hit spheres of targets that can be hit now: ``(n, 3)`` centres, ``(n,)`` radii.

        A target already struck by a ball in flight is left out until it reappears.
        """
        idx = self._hittable()
        centres = self._feet()[idx] + [0.0, HIT_CENTRE_Y_M, 0.0]
        return centres.astype(np.float32), np.full(idx.size, HIT_RADIUS_M, np.float32)

    def throw(self) -> bool:
        """Throw a snowball along the aim; returns whether it hits a target.

        The nearest target whose hit sphere the aim ray (from :data:`EYE`) passes through
        scores a point now; it bursts when the ball arrives (``distance / BALL_SPEED_MPS``).
        """
        self._throws += 1
        self._cues.fire("throw")
        idx = self._hittable()
        centres = self._feet()[idx] + [0.0, HIT_CENTRE_Y_M, 0.0]
        rel = centres - EYE
        along = rel @ self._aim
        miss2 = np.einsum("ij,ij->i", rel, rel) - along**2
        ok = (along > 0.0) & (miss2 <= HIT_RADIUS_M**2)
        reach = 40.0
        hit = bool(ok.any())
        if hit:
            first = int(np.argmin(np.where(ok, along, np.inf)))
            reach = float(along[first] - math.sqrt(max(HIT_RADIUS_M**2 - miss2[first], 0.0)))
            self._pending[idx[first]] = reach / BALL_SPEED_MPS
            self._score += 1
        slot = int(np.argmin(self._balls[:, 6])) if (self._balls[:, 6] < 0).any() else 0
        self._balls[slot] = [*EYE, *self._aim, 0.0]
        self._ball_reach[slot] = reach
        return hit

    def _fire(self, event: str) -> None:
        """A bonus wave (see the module docstring)."""
        self._events.start(event)
        self._cues.fire("reward")

    def _in_play(self) -> int:
        """Targets in play now: by the level, or all of them in a bonus wave."""
        bonus = self._events.age("bonus_wave") is not None
        return MAX_TARGETS if bonus else target_count(self._level)

    def _hittable(self) -> NDArray[np.intp]:
        n = self._in_play()
        return np.flatnonzero(self._pending[:n] < 0.0)

    def _feet(self) -> NDArray[np.float64]:
        """All targets' ground positions (x, hop height, z)."""
        x = self._lane[:, 0] + self._span * np.sin(self._theta)
        hop = 0.12 * np.abs(np.sin(3.0 * self._theta)) * self._kind
        return np.stack([x, hop, self._lane[:, 1]], axis=1)

    # ----------------------------------------------------------------- per frame
    def update(self, intensity: float, dt: float) -> None:
        """Approach ``intensity`` (time constant :data:`SMOOTHING_TAU_S`); move everything.

        The first call snaps to ``intensity`` so a session starts where it is told to.
        """
        self._follow(intensity, dt)
        self._time += dt
        self._events.advance(dt)
        moving = self._pending < 0.0
        self._theta += moving * target_speed_mps(self._level) * dt / self._span
        self._balls[self._balls[:, 6] >= 0.0, 6] += dt
        done = (self._balls[:, 6] * BALL_SPEED_MPS) >= self._ball_reach
        self._balls[done, 6] = -1.0
        self._bursts[self._bursts[:, 3] >= 0.0, 3] += dt
        self._bursts[self._bursts[:, 3] > BURST_S, 3] = -1.0
        arriving = (self._pending >= 0.0) & (self._pending - dt < 0.0)
        self._pending[self._pending >= 0.0] -= dt
        if arriving.any():
            self._respawn(np.flatnonzero(arriving))

    def _respawn(self, which: NDArray[np.intp]) -> None:
        centres = self._feet()[which] + [0.0, HIT_CENTRE_Y_M, 0.0]
        free = np.argsort(self._bursts[:, 3])[: which.size]  # unused (-1) or oldest first
        self._bursts[free, :3] = centres[: free.size]
        self._bursts[free, 3] = 0.0
        k = which.size
        for _ in range(k):
            self._cues.fire("hit")
        self._lane[which] = np.stack(
            [self._rng.uniform(-5.0, 5.0, k), self._rng.uniform(-18.0, -5.0, k)], 1
        )
        self._theta[which] = self._rng.uniform(0.0, 2 * np.pi, k)
        self._pending[which] = -1.0

    def soundscape(self) -> Soundscape:
        """Soft wind; throws and hits (the score sound) since the last call."""
        return Soundscape((SoundLayer("wind", WIND_VOLUME),), self._cues.drain())

    def describe(self, intensity: float) -> str:
        """E.g. ``snow: 14 targets, 2.1 m/s, colour 0.83, score 3/5``."""
        lv = clamp01(intensity)
        return (
            f"snow: {target_count(lv)} targets, {target_speed_mps(lv):.1f} m/s, "
            f"colour {colourfulness(lv):.2f}, score {self._score}/{self._throws}"
        )

    def draw_list(self) -> DrawList:
        """Six batches: canyon, mounds, target spheres, hats and scarves, balls, flakes."""
        spheres, cylinders = self._target_batches()
        return DrawList(
            batches=(
                self._canyon,
                self._mounds,
                spheres,
                cylinders,
                self._particles(),
                self._snowfall(),
            ),
            sky_color=(0.72, 0.84, 0.96),
            fog_color=(0.86, 0.91, 0.97),
            fog_density=0.012,
            camera_position=EYE.copy(),
            camera_yaw=0.0,
            camera_pitch=-6.0,
        )

    def _target_batches(self) -> tuple[Batch, Batch]:
        n = self._in_play()
        bonus = self._events.age("bonus_wave") is not None
        feet = self._feet()[:n]
        kind = self._kind[:n]
        shape = _SHAPES[kind]  # (n, parts, 9)
        pos = feet[:, None, :] + shape[..., :3]
        col = np.ones((n, _PARTS, 4), np.float32)
        col[..., :3] = shape[..., 6:9]
        c = 1.0 if bonus else colourfulness(self._level)
        grey = col[:, _TINTED, :3].mean(axis=2, keepdims=True)
        col[:, _TINTED, :3] = grey + c * (col[:, _TINTED, :3] - grey)
        spheres = Batch(
            "sphere",
            trs_matrices(pos.reshape(-1, 3), shape[..., 3:6].reshape(-1, 3)),
            col.reshape(-1, 4),
        )
        # Hat (brim + crown) and scarf: cylinders in the accent colours.
        top = np.where(kind == 0, 1.64, 1.36)
        neck = np.where(kind == 0, 1.24, 0.98)
        base = np.stack([feet[:, 0], np.zeros(n), feet[:, 2]], 1)
        hpos = np.concatenate(
            [base + np.stack([np.zeros(n), top, np.zeros(n)], 1),
             base + np.stack([np.zeros(n), top + 0.15, np.zeros(n)], 1),
             base + np.stack([np.zeros(n), neck, np.zeros(n)], 1)]
        )  # fmt: skip
        width = np.where(kind == 0, 1.0, 0.9)[:, None]
        hscl = np.concatenate(
            [width * [0.42, 0.04, 0.42], width * [0.28, 0.28, 0.28], width * [0.5, 0.1, 0.5]]
        )
        accent = self._accent[:n].copy()
        if bonus:
            accent[:, 0] = _GOLD
        pale = np.array([0.35, 0.35, 0.38])
        rgb = np.concatenate([accent[:, 0], accent[:, 0], accent[:, 1]])
        hcol = np.ones((3 * n, 4), np.float32)
        hcol[:, :3] = pale + c * (rgb - pale)
        return spheres, Batch("cylinder", trs_matrices(hpos, hscl), hcol)

    def _particles(self) -> Batch:
        """Snowballs in flight, bursts and the aiming reticle (spheres)."""
        live = self._balls[:, 6] >= 0.0
        b = self._balls[live]
        balls = b[:, :3] + b[:, 3:6] * (b[:, 6:7] * BALL_SPEED_MPS) - [0.0, 0.15, 0.0]
        bursts = self._bursts[self._bursts[:, 3] >= 0.0]
        age = bursts[:, 3:4, None]
        puffs = (bursts[:, None, :3] + self._burst_dirs[None] * age * 3.0).reshape(-1, 3)
        puff_size = np.repeat(0.25 * (1.0 - bursts[:, 3] / BURST_S), self._burst_dirs.shape[0])
        reticle = EYE + self._aim * 4.0
        pos = np.concatenate([balls, puffs, reticle[None]])
        size = np.concatenate([np.full(len(balls), 0.22), puff_size, [0.07]])
        col = np.ones((pos.shape[0], 4), np.float32)
        col[-1, :3] = (1.0, 0.3, 0.1)
        return Batch("sphere", trs_matrices(pos, np.repeat(size[:, None], 3, 1)), col)

    def _snowfall(self) -> Batch:
        """Falling flakes: small quads facing the viewer, drifting."""
        f = self._flakes
        y = np.mod(f[:, 1] - 1.2 * self._time, 14.0)
        x = f[:, 0] + 0.3 * np.sin(0.7 * self._time + f[:, 2])
        flakes = np.stack([x, y, f[:, 2]], 1)
        col = np.ones((_FLAKES, 4), np.float32)
        return Batch("quad", trs_matrices(flakes, np.array([0.07, 0.07, 1.0])), col)
