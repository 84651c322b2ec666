"""Fear of flying: a window seat in an airliner cabin.

The viewer sits on the left side of row 0, by the windows, looking ahead and to the left:
seat rows and passengers ahead, overhead bins, a row of small windows with the wing, the sky,
clouds and farmland below outside. Intensity drives one smoothed *level* that sets

- turbulence: camera shake in the :class:`~therapies.scenes.base.DrawList` (position and
  yaw/pitch), amplitude ``0.3 + 4.7 * level**1.5`` cm and ``0.1 + 2.9 * level**1.5`` deg,
  frequency ``0.4 + 2.1 * level`` Hz (sums of three sines with seed-fixed phases whose phases
  advance by ``2 pi f dt`` per update, so the shake is deterministic for a seed); the
  outside world also rolls with it,
- the window view: shades open from 45% to 100%, the aircraft banks left from 0 to 18 deg
  (more ground in the left windows) and the cloud deck below thins from 90% to 20% cover,
- announcements: none / seatbelt sign / captain's turbulence warning / "remain seated"
  (:func:`announcement`; the seatbelt signs in the cabin light from level 0.2); exposed in
  :meth:`FlyingScene.describe`.

Sound (:meth:`FlyingScene.soundscape`, played by :mod:`engine.audio`):

- a looping jet ``engine`` drone at a constant :data:`ENGINE_VOLUME`,
- a turbulence ``rumble`` at :func:`rumble_volume`, ``(deg - 0.1) / 2.9`` of the shake's
  angular amplitude in degrees (0 at level 0, 0.09 at 0.2, 0.72 at 0.8, 1 at 1),
- a ``chime`` one-shot (the cabin "bing-bong") whenever a new announcement begins (the
  :func:`announcement` text changes to anything but ``"none"``), at most one per
  :data:`CHIME_GAP_S`: a change sooner than that chimes when the gap is over, for the
  announcement then current. The announcement itself is not spoken (no speech synthesis): its
  text is what the signs and :meth:`FlyingScene.describe` show.

Scene events (a therapist's console fires them):

- ``turbulence_burst``: for 4 s a second shake, that of level :data:`BURST_LEVEL`, adds
  to the scene's own (raised-cosine in and out, its own phases, so the scene's shake goes
  on unchanged after it), the rumble at least that level's, with a ``jolt`` cue (a thump
  through the airframe and a rattle of the bins),
- ``announcement``: the crew makes an announcement now: the ``chime``, the seatbelt signs
  lit and flashing, and the cabin's light strips under the bins on, for 6 s.

Five batches per frame.
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

EYE = np.array([-1.15, 1.26, 0.25], np.float32)
ALTITUDE_M = 1000.0
SPEED_MPS = 80.0
ROWS = 10
ENGINE_VOLUME = 0.35
"""Loudness of the engine drone (constant, as in a real cabin)."""
CHIME_GAP_S = 5.0
"""Least time between two announcement chimes."""
EVENT_SECONDS = {"turbulence_burst": 4.0, "announcement": 6.0}
"""Scene events and how long each shows (s)."""
BURST_LEVEL = 0.95
"""The level whose turbulence a burst brings, at least."""

_ROW = 0.82  # seat pitch, metres
_WALL_X = 2.0
_WIN_Y, _WIN_H, _WIN_W = 1.15, 0.44, 0.32
_SKY = (0.46, 0.64, 0.88)
_FOG = (0.72, 0.80, 0.90)
_TILE = 400.0  # ground patch grid pitch
_GRID = 16  # patches per side
_CLOUDS = 200
_RATIOS = np.array([1.0, 1.73, 2.91])
_WEIGHTS = np.array([0.6, 0.3, 0.15])


def turbulence(level: float) -> tuple[float, float, float]:
    """``(amplitude_m, amplitude_deg, frequency_hz)`` of the camera shake at ``level``."""
    lv = clamp01(level)
    return 0.003 + 0.047 * lv**1.5, 0.1 + 2.9 * lv**1.5, 0.4 + 2.1 * lv


def shade_open(level: float) -> float:
    """Fraction of each window not covered by its shade."""
    return 0.45 + 0.55 * clamp01(level)


def bank_deg(level: float) -> float:
    """Left bank of the aircraft in degrees (the left windows look further down)."""
    return 18.0 * clamp01(level)


def rumble_volume(level: float) -> float:
    """Loudness 0..1 of the turbulence rumble, following the shake's angular amplitude."""
    return (turbulence(level)[1] - 0.1) / 2.9


def cloud_cover(level: float) -> float:
    """Fraction of the cloud deck below the aircraft that is present."""
    return 0.9 - 0.7 * clamp01(level)


def announcement(level: float) -> str:
    """What the cabin crew / captain says at ``level`` (``"none"`` below 0.2)."""
    lv = clamp01(level)
    if lv < 0.2:
        return "none"
    if lv < 0.45:
        return "seatbelt sign on"
    if lv < 0.7:
        return "captain: light turbulence ahead"
    return "captain: remain seated, moderate turbulence"


def _boxes(rows: list[list[float]]) -> tuple[FloatArray, FloatArray]:
    a = np.array(rows, np.float32)
    col = np.ones((a.shape[0], 4), np.float32)
    col[:, :3] = a[:, 6:9]
    return trs_matrices(a[:, :3], a[:, 3:6]), col


class FlyingScene(SmoothedLevel):
    """Airliner cabin from a window seat; see the module docstring.

    Parameters
    ----------
    seed
        Seeds the farmland, clouds, passengers and the turbulence phases.
    """

    name = "flying"
    events = tuple(EVENT_SECONDS)

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self._time = 0.0
        self._phase = rng.uniform(0.0, 2.0 * np.pi, (5, 3))  # x, y, yaw, pitch, roll
        self._burst_phase = self._phase[::-1].copy()  # a burst's own shake
        self._cabin, self._heads = self._build_cabin(rng)
        self._ground_m, self._ground_c = self._build_ground(rng)
        self._cloud_m, self._cloud_c = self._build_clouds(rng)
        self._shade_base = self._window_z()
        self._cues = CueLog()
        self._said = "none"  # the last announcement that chimed ("none": none since silence)
        self._last_chime = -math.inf
        self._events = EventClock(EVENT_SECONDS)

    def _fire(self, event: str) -> None:
        """Start ``event`` (see the module docstring)."""
        self._events.start(event)
        self._cues.fire("jolt" if event == "turbulence_burst" else "chime")
        if event == "announcement":
            self._last_chime = self._time

    def _shaking(self) -> float:
        """The level whose turbulence is felt now: the scene's, or a burst's."""
        burst = self._events.envelope("turbulence_burst", 0.6)
        return max(self._level, self._level + (BURST_LEVEL - self._level) * burst)

    # ----------------------------------------------------------------- static parts
    @staticmethod
    def _window_z() -> FloatArray:
        return np.asarray(-0.35 - _ROW * np.arange(-2, ROWS + 2), np.float32)

    def _build_cabin(self, rng: np.random.Generator) -> tuple[Batch, Batch]:
        """Cabin boxes (floor, walls around the windows, bins, seats, wing) and heads."""
        length, mid = 14.0, -ROWS * _ROW / 2.0
        low, high = _WIN_Y - _WIN_H / 2, _WIN_Y + _WIN_H / 2
        rows = [
            [0, -0.05, mid, 2 * _WALL_X, 0.1, length, 0.25, 0.28, 0.36],  # carpet
            [0, 0.01, mid, 0.5, 0.01, length, 0.35, 0.30, 0.40],  # aisle runner
            [0, 2.2, mid, 2 * _WALL_X, 0.1, length, 0.92, 0.92, 0.90],  # ceiling
        ]
        for side in (-1.0, 1.0):
            x = side * _WALL_X
            rows += [
                [x, low / 2, mid, 0.1, low, length, 0.82, 0.81, 0.78],  # lower wall
                [x, (high + 1.75) / 2, mid, 0.1, 1.75 - high, length, 0.86, 0.85, 0.82],
                [side * 1.62, 1.88, mid, 0.76, 0.32, length, 0.90, 0.90, 0.88],  # bins
                [side * 1.3, 1.71, mid, 0.12, 0.05, length, 0.70, 0.70, 0.70],  # bin lip
            ]
        for z in self._window_z():
            gap = _ROW - _WIN_W
            for side in (-1.0, 1.0):
                rows.append(
                    [side * _WALL_X, _WIN_Y, z - _ROW / 2, 0.1, _WIN_H, gap, 0.84, 0.83, 0.80]
                )
        seat = [0.22, 0.30, 0.52]
        for k in range(1, ROWS + 1):
            z = -_ROW * k
            for x in (-1.5, -1.0, -0.5, 0.5, 1.0, 1.5):
                rows += [
                    [x, 0.45, z - 0.05, 0.46, 0.14, 0.45, *seat],  # cushion
                    [x, 0.78, z + 0.22, 0.46, 0.66, 0.1, *seat],  # backrest
                    [x, 0.92, z + 0.28, 0.22, 0.14, 0.02, 0.10, 0.12, 0.16],  # seatback screen
                    [x, 1.04, z + 0.28, 0.3, 0.1, 0.02, 0.93, 0.93, 0.90],  # headrest cover
                ]
        m, c = _boxes(rows)
        wm, wc = self._wing()
        m, c = np.concatenate([m, wm]), np.concatenate([c, wc])
        # Passengers: heads above some seat backs, seed-chosen.
        seats = np.array(
            [[x, -_ROW * k] for k in range(1, ROWS + 1) for x in (-1.5, -1.0, -0.5, 0.5, 1.0, 1.5)]
        )
        taken = seats[rng.uniform(size=len(seats)) < 0.55]
        hp = np.stack([taken[:, 0], np.full(len(taken), 1.2), taken[:, 1] + 0.1], 1)
        hair = np.array([[0.12, 0.09, 0.07], [0.35, 0.24, 0.14], [0.6, 0.48, 0.3], [0.7, 0.7, 0.7]])
        hc = np.ones((len(taken), 4), np.float32)
        hc[:, :3] = hair[rng.integers(0, 4, len(taken))]
        heads = Batch("sphere", frozen(trs_matrices(hp, np.array([0.2, 0.25, 0.22]))), frozen(hc))
        return Batch("box", frozen(m), frozen(c)), heads

    @staticmethod
    def _wing() -> tuple[FloatArray, FloatArray]:
        """The left wing, swept back 26 deg: main panel, flap strip, leading edge, tip."""
        sweep = math.radians(26.0)
        out = np.array([-math.cos(sweep), 0.0, math.sin(sweep)])  # root -> tip
        aft = np.array([math.sin(sweep), 0.0, math.cos(sweep)])
        root = np.array([-2.05, 0.15, -3.4])
        span = 12.0
        mid = root + out * span / 2
        pos = np.stack(
            [mid, mid + aft * 1.55 + [0.0, 0.02, 0.0], mid - aft * 1.65, root + out * span]
        )
        scl = np.array([[span, 0.22, 3.0], [span, 0.2, 0.5], [span, 0.18, 0.3], [0.3, 0.6, 1.2]])
        col = np.ones((4, 4), np.float32)
        col[:, :3] = [[0.66, 0.68, 0.72], [0.50, 0.52, 0.56], [0.80, 0.81, 0.84], [0.75, 0.18, 0.2]]
        return trs_matrices(pos, scl, np.full(4, sweep)), col

    @staticmethod
    def _build_ground(rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
        i, j = np.meshgrid(np.arange(_GRID), np.arange(_GRID), indexing="ij")
        x = (i.ravel() - _GRID / 2 + 0.5) * _TILE
        z = (j.ravel() - _GRID / 2 + 0.5) * _TILE
        n = x.size
        size = rng.uniform(0.75, 0.97, (n, 2)) * _TILE
        pos = np.stack([x, np.full(n, 0.5), z], 1)
        scl = np.stack([size[:, 0], np.full(n, 1.0), size[:, 1]], 1)
        palette = np.array(
            [[0.35, 0.50, 0.22], [0.50, 0.58, 0.28], [0.62, 0.55, 0.32], [0.28, 0.40, 0.20],
             [0.55, 0.45, 0.30], [0.70, 0.66, 0.40]]
        )  # fmt: skip
        col = np.ones((n + 1, 4), np.float32)
        col[1:, :3] = palette[rng.integers(0, len(palette), n)]
        col[0, :3] = (0.40, 0.38, 0.30)
        base = np.concatenate(
            [trs_matrices(np.zeros((1, 3)), np.array([6e4, 0.2, 6e4])), trs_matrices(pos, scl)]
        )
        return base, col

    @staticmethod
    def _build_clouds(rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
        n = _CLOUDS
        pos = np.stack(
            [
                rng.uniform(-2500.0, 2500.0, n),
                ALTITUDE_M - rng.uniform(250.0, 420.0, n),
                rng.uniform(-3000.0, 3000.0, n),
            ],
            1,
        )
        w = rng.uniform(180.0, 420.0, n)
        scl = np.stack([w, w * rng.uniform(0.35, 0.55, n), w * rng.uniform(0.6, 1.0, n)], 1)
        col = np.ones((n, 4), np.float32)
        col[:, :3] = rng.uniform(0.93, 1.0, (n, 1))
        return trs_matrices(pos, scl), col

    # ----------------------------------------------------------------- per frame
    def update(self, intensity: float, dt: float) -> None:
        """Approach ``intensity`` (time constant :data:`SMOOTHING_TAU_S`); shake; fly on.

        The first call snaps to ``intensity`` so a session starts where it is told to.
        """
        self._follow(intensity, dt)
        freq = turbulence(self._level)[2]
        self._phase += 2.0 * np.pi * freq * dt * _RATIOS[None, :]
        if self._events.age("turbulence_burst") is not None:  # its own, faster shake
            burst = turbulence(BURST_LEVEL)[2]
            self._burst_phase += 2.0 * np.pi * burst * dt * _RATIOS[None, :]
        self._time += dt
        self._events.advance(dt)
        said = announcement(self._level)
        if said == "none":
            self._said = said
        elif said != self._said and self._time - self._last_chime >= CHIME_GAP_S:
            self._cues.fire("chime")
            self._said, self._last_chime = said, self._time

    def soundscape(self) -> Soundscape:
        """Engine drone, turbulence rumble; a chime when a new announcement began."""
        layers = (
            SoundLayer("engine", ENGINE_VOLUME),
            SoundLayer("rumble", rumble_volume(self._shaking())),
        )
        return Soundscape(layers, self._cues.drain())

    def describe(self, intensity: float) -> str:
        """E.g. ``flying: turbulence 3.4 cm/2.1 deg at 2.1 Hz, shades 89% open, ...``."""
        lv = clamp01(intensity)
        amp_m, amp_deg, freq = turbulence(lv)
        return (
            f"flying: turbulence {amp_m * 100:.1f} cm/{amp_deg:.1f} deg at {freq:.1f} Hz, "
            f"window view: shades {shade_open(lv) * 100:.0f}% open, bank {bank_deg(lv):.0f} deg, "
            f"clouds {cloud_cover(lv) * 100:.0f}%, announcements: {announcement(lv)}"
        )

    def shake(self) -> FloatArray:
        """Current ``(dx, dy, dyaw_deg, dpitch_deg, droll_deg)`` of the turbulence."""
        shake = self._wave(self._phase, self._level)
        burst = self._events.envelope("turbulence_burst", 0.6)
        if burst > 0.0:
            shake = shake + burst * self._wave(self._burst_phase, BURST_LEVEL)
        return np.asarray(shake, np.float32)

    @staticmethod
    def _wave(phase: NDArray[np.float64], level: float) -> NDArray[np.float64]:
        amp_m, amp_deg, _ = turbulence(level)
        wave = (np.sin(phase) * _WEIGHTS[None, :]).sum(axis=1)
        scale = np.array([amp_m * 0.5, amp_m, amp_deg * 0.4, amp_deg, amp_deg * 1.5])
        return np.asarray(wave * scale, np.float64)

    def draw_list(self) -> DrawList:
        """Five batches: cabin, passengers' heads, shades and signs, ground, clouds."""
        s = self.shake()
        eye = EYE + np.array([s[0], s[1], 0.0], np.float32)
        ground, clouds = self._outside(float(s[4]))
        return DrawList(
            batches=(self._cabin, self._heads, self._shades_and_signs(), ground, clouds),
            sky_color=_SKY,
            fog_color=_FOG,
            fog_density=0.00014,
            camera_position=eye,
            camera_yaw=36.0 + float(s[2]),
            camera_pitch=-8.0 + float(s[3]),
        )

    def _outside(self, roll_deg: float) -> tuple[Batch, Batch]:
        """Ground and clouds in cabin coordinates: banked, below, streaming past."""
        phi = np.radians(bank_deg(self._level) + roll_deg)
        c, s = np.cos(phi), np.sin(phi)
        world_to_cabin = np.eye(4, dtype=np.float32)
        world_to_cabin[:2, :2] = [[c, s], [-s, c]]  # rotate by -phi about +z
        world_to_cabin[:3, 3] = world_to_cabin[:3, :3] @ np.array([0.0, -ALTITUDE_M, 0.0])
        travel = SPEED_MPS * self._time
        g = self._ground_m.copy()
        span = _GRID * _TILE
        g[1:, 2, 3] = np.mod(g[1:, 2, 3] + travel + span / 2, span) - span / 2
        k = self._cloud_m.copy()
        k[:, 2, 3] = np.mod(k[:, 2, 3] + travel * 1.1 + 3000.0, 6000.0) - 3000.0
        shown = round(cloud_cover(self._level) * _CLOUDS)
        ground = Batch("box", np.matmul(world_to_cabin, g), self._ground_c)
        clouds = Batch("sphere", np.matmul(world_to_cabin, k[:shown]), self._cloud_c[:shown])
        return ground, clouds

    def _shades_and_signs(self) -> Batch:
        z = self._shade_base
        drop = (1.0 - shade_open(self._level)) * _WIN_H
        n = z.size
        shade_pos = np.stack(
            [np.full(n, -_WALL_X + 0.06), np.full(n, _WIN_Y + _WIN_H / 2 - drop / 2), z], 1
        )
        shade_pos = np.concatenate([shade_pos, shade_pos * [-1.0, 1.0, 1.0]])
        shade_scl = np.array([0.02, max(drop, 1e-3), _WIN_W + 0.02], np.float32)
        signs_z = -_ROW * np.arange(0, ROWS + 1) - 0.3
        m = signs_z.size
        sign_pos = np.stack(
            [np.tile([-1.25, 1.25], m), np.full(2 * m, 1.67), np.repeat(signs_z, 2)], 1
        )
        pos = np.concatenate([shade_pos, sign_pos])
        scl = np.concatenate(
            [np.tile(shade_scl, (2 * n, 1)), np.tile([0.1, 0.03, 0.05], (2 * m, 1))]
        )
        speaking = self._events.age("announcement")
        if speaking is not None:  # the crew's announcement: light strips under the bins
            strips = np.array([[-1.28, 1.66, -ROWS * _ROW / 2.0], [1.28, 1.66, -ROWS * _ROW / 2.0]])
            pos = np.concatenate([pos, strips])
            scl = np.concatenate([scl, np.tile([0.06, 0.04, 14.0], (2, 1))])
        col = np.ones((pos.shape[0], 4), np.float32)
        col[: 2 * n, :3] = (0.88, 0.88, 0.86)
        lit = announcement(self._level) != "none"
        if speaking is not None:
            lit = bool(np.sin(2.0 * np.pi * 1.5 * speaking) >= 0.0)  # the signs flash
            col[-2:, :3] = (1.0, 0.95, 0.8)
        col[2 * n : 2 * n + 2 * m, :3] = (1.0, 0.62, 0.1) if lit else (0.35, 0.35, 0.35)
        return Batch("box", trs_matrices(pos, scl), col)
