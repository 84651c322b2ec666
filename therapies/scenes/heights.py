"""Fear of heights: a balcony high above a city avenue.

The viewer stands on a balcony that juts out from a tower at the end of a long avenue,
looking down it. Intensity drives one smoothed *level* that sets

- the balcony height (2 m at 0 rising to 60 m at 1): the street, cars and rooftops drop
  away; at low levels the canyon walls tower above the viewer,
- the railing: glass panels go first, then the bars, then posts thin out and disappear,
- the floor: tiles turn to glass, then (away from the viewer's feet) open into gaps.

Sound (:meth:`HeightsScene.soundscape`, played by :mod:`engine.audio`):

- ``wind`` (gusting) at :func:`wind_volume`, ``0.1 + 0.7 * (height - 2 m) / 58 m``: 0.1 at
  street level, 0.8 at 60 m (0.16 at level 0.2, 0.62 at 0.8),
- street ``traffic`` at :func:`traffic_volume`, ``0.5 * sqrt(2 m / height)``, fading as the
  street drops away (0.5 at 2 m, 0.09 at 60 m).

No one-shot cues, but for the scene event.

Scene event (a therapist's console fires it): ``gust_of_wind``, for 4 s: a ``gust`` cue,
the wind up to full volume, and the viewer swaying in it (the camera moves up to 12 cm
sideways and turns up to 3 deg, raised-cosine in and out).

Everything static (city blocks, buildings) is built once from the seed; per frame only a few
small vectorised arrays change. Five batches per frame.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

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

EVENT_SECONDS = {"gust_of_wind": 4.0}
"""Scene events and how long each shows (s)."""
GUST_SWAY_M = 0.12
GUST_TURN_DEG = 3.0
HEIGHT_MIN_M = 2.0
HEIGHT_MAX_M = 60.0
EYE_HEIGHT_M = 1.65
Vec3 = tuple[float, float, float]

_SKY = (0.60, 0.74, 0.90)
_FOG = (0.74, 0.80, 0.86)
_FOG_DENSITY = 0.0028
_BLOCK = 40.0  # city block pitch, metres
_ROAD = 12.0  # road width between block slabs
_AVENUE = 30.0  # width of the avenue the balcony looks down
_BALCONY_X = 3.0  # half width
_BALCONY_DEPTH = 4.0  # from the tower face (z = 0) to z = -4
_RAIL_HEIGHT = 1.1
_VIEWER_Z = 2.6  # viewer stands 2.6 m out from the tower face, 1.4 m from the front rail
_STRUCTURE_COLORS = frozen(
    np.array(
        [
            [0.58, 0.57, 0.55, 1.0],
            [0.35, 0.35, 0.37, 1.0],
            [0.66, 0.60, 0.52, 1.0],
            [0.22, 0.23, 0.25, 1.0],
        ],
        np.float32,
    )
)  # tower, frame, tiles, railing
_GLASS_COLOR = frozen(np.array([0.55, 0.75, 0.85, 0.28], np.float32))
_PALETTE = frozen(
    np.array(
        [
            [0.62, 0.60, 0.56],  # concrete
            [0.48, 0.55, 0.62],  # blue glass
            [0.70, 0.64, 0.52],  # sandstone
            [0.40, 0.42, 0.45],  # dark glass
            [0.66, 0.50, 0.42],  # brick
            [0.80, 0.80, 0.78],  # white render
        ],
        np.float32,
    )
)


def _smoothstep(edge0: float, edge1: float, x: float) -> float:
    t = min(max((x - edge0) / (edge1 - edge0), 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


def platform_height(level: float) -> float:
    """Balcony floor height in metres above the street for a level in 0..1."""
    level = min(max(level, 0.0), 1.0)
    return HEIGHT_MIN_M + (HEIGHT_MAX_M - HEIGHT_MIN_M) * float(level**1.2)


def railing_strength(level: float) -> float:
    """1 = full railing with glass panels, 0 = no railing at all."""
    return 1.0 - _smoothstep(0.1, 0.9, level)


def glass_fraction(level: float) -> float:
    """Fraction of floor tiles that are glass."""
    return _smoothstep(0.3, 0.85, level)


def gap_fraction(level: float) -> float:
    """Fraction of floor tiles (never the ones under the viewer) that are open gaps."""
    return 0.35 * _smoothstep(0.6, 1.0, level)


def wind_volume(level: float) -> float:
    """Loudness 0..1 of the wind: stronger the higher the balcony."""
    return 0.1 + 0.7 * (platform_height(level) - HEIGHT_MIN_M) / (HEIGHT_MAX_M - HEIGHT_MIN_M)


def traffic_volume(level: float) -> float:
    """Loudness 0..1 of the street traffic: fainter the higher the balcony."""
    return 0.5 * float(np.sqrt(HEIGHT_MIN_M / platform_height(level)))


class HeightsScene(SmoothedLevel):
    """Balcony over a city avenue; see the module docstring.

    Parameters
    ----------
    seed
        Seeds the city layout, colours, cars and which tiles/posts change first.
    buildings
        Number of buildings (nearest city blocks first).
    cars
        Number of cars on the avenue.
    """

    name = "heights"
    events = tuple(EVENT_SECONDS)

    def __init__(self, seed: int = 0, *, buildings: int = 140, cars: int = 24) -> None:
        if buildings < 0 or cars < 0:
            raise ValueError(f"HeightsScene: buildings={buildings}, cars={cars} must be >= 0")
        rng = np.random.default_rng(seed)
        self._time = 0.0
        self._events = EventClock(EVENT_SECONDS)
        self._cues = CueLog()
        self._ground = self._build_ground(buildings, rng)
        self._buildings = self._build_buildings(buildings, rng)
        self._build_balcony(rng)
        self._build_cars(cars, rng)

    # ----------------------------------------------------------------- static city
    @staticmethod
    def _block_centres(count: int) -> FloatArray:
        i, j = np.meshgrid(np.arange(-10, 10), np.arange(0, 30), indexing="ij")
        cx = (i.ravel() + 0.5) * _BLOCK
        cx = cx + np.sign(cx) * (_AVENUE - _ROAD) / 2.0  # the avenue is wider than side roads
        cz = -(j.ravel() + 0.5) * _BLOCK - 6.0
        order = np.argsort(np.hypot(cx, cz * 0.6), kind="stable")[:count]
        return np.stack([cx[order], cz[order]], axis=1).astype(np.float32)

    def _build_ground(self, count: int, rng: np.random.Generator) -> Batch:
        centres = self._block_centres(count)
        n = centres.shape[0]
        pos = np.zeros((n + 1, 3), np.float32)
        scl = np.empty((n + 1, 3), np.float32)
        pos[0] = (0.0, 0.0, -600.0)
        scl[0] = (3000.0, 1.0, 3000.0)
        pos[1:, 0], pos[1:, 1], pos[1:, 2] = centres[:, 0], 0.15, centres[:, 1]
        scl[1:] = (_BLOCK - _ROAD, 0.3, _BLOCK - _ROAD)
        col = np.empty((n + 1, 4), np.float32)
        col[0] = (0.26, 0.27, 0.28, 1.0)  # asphalt
        col[1:, :3] = np.array([0.55, 0.54, 0.50], np.float32) * rng.uniform(0.9, 1.1, (n, 1))
        col[1:, 3] = 1.0
        return Batch("box", frozen(trs_matrices(pos, scl)), frozen(col))

    def _build_buildings(self, count: int, rng: np.random.Generator) -> Batch:
        centres = self._block_centres(count)
        n = centres.shape[0]
        foot = rng.uniform(16.0, _BLOCK - _ROAD - 1.0, (n, 2)).astype(np.float32)
        height = np.clip(rng.lognormal(np.log(30.0), 0.6, n), 8.0, 160.0).astype(np.float32)
        # Buildings lining the avenue (nearest blocks) are the canyon walls: push them to the
        # kerb so the avenue looks like a canyon from the balcony.
        near_avenue = np.abs(centres[:, 0]) < _BLOCK
        shift = np.where(near_avenue, (_BLOCK - _ROAD - foot[:, 0]) / 2.0, 0.0)
        x = centres[:, 0] - np.sign(centres[:, 0]) * shift
        pos = np.stack([x, height / 2.0 + 0.3, centres[:, 1]], axis=1)
        scl = np.stack([foot[:, 0], height, foot[:, 1]], axis=1)
        base = _PALETTE[rng.integers(0, len(_PALETTE), n)]
        col = np.empty((n, 4), np.float32)
        col[:, :3] = np.clip(base * rng.uniform(0.85, 1.1, (n, 1)), 0.0, 1.0)
        col[:, 3] = 1.0
        return Batch("box", frozen(trs_matrices(pos, scl)), frozen(col), material="windows")

    # ----------------------------------------------------------------- balcony
    def _build_balcony(self, rng: np.random.Generator) -> None:
        """Every balcony instance that can ever show, as a linear rig.

        Row ``i`` of ``pos``/``scale`` is ``coef[i] @ (1, h, rail_h, thick)`` so one
        ``matmul`` per frame places the whole balcony for the current height, railing
        height and bar thickness; masks then pick what is visible.
        """
        tx, tz = np.meshgrid(np.arange(-2.5, 3.0, 1.0), np.arange(-3.5, 0.0, 1.0))
        tx, tz = tx.ravel(), tz.ravel()
        front = np.arange(-_BALCONY_X, _BALCONY_X + 0.01, 0.5)
        side = np.arange(-_BALCONY_DEPTH + 0.5, 0.01, 0.5)
        px = np.concatenate(
            [front, np.full(side.size, -_BALCONY_X), np.full(side.size, _BALCONY_X)]
        )
        pz = np.concatenate([np.full(front.size, -_BALCONY_DEPTH), side, side])
        # Rail runs (front, left, right): centre x, centre z, length x, length z.
        runs = np.array(
            [
                [0.0, -_BALCONY_DEPTH, 2 * _BALCONY_X, 0.0],
                [-_BALCONY_X, -_BALCONY_DEPTH / 2, 0.0, _BALCONY_DEPTH],
                [_BALCONY_X, -_BALCONY_DEPTH / 2, 0.0, _BALCONY_DEPTH],
            ],
        )
        nt, npost = tx.size, px.size
        self._tile_rank = rng.permutation(nt) / nt
        self._tile_under_feet = (np.abs(tx) < 1.0) & (np.abs(tz + _VIEWER_Z) < 1.2)
        self._post_rank = (rng.permutation(npost) + 0.5) / npost
        rig = _Rig()
        rig.add(1, p0=[[0.0, 0.0, 12.0]], ph=(0, 0.5, 0), s0=[[24.0, 0.0, 24.0]], sh=(0, 1, 0))
        rig.add(1, p0=[[0.0, -0.25, -2.0]], ph=(0, 1, 0), s0=[[2 * _BALCONY_X + 0.2, 0.2, 0.25]])
        tiles = np.stack([tx, np.full(nt, -0.075), tz], 1)
        self._s_tiles = rig.add(nt, p0=tiles, ph=(0, 1, 0), s0=[[0.97, 0.15, 0.97]])
        posts = np.stack([px, np.zeros(npost), pz], 1)
        self._s_posts = rig.add(
            npost,
            p0=posts,
            ph=(0, 1, 0),
            pr=(0, 0.5, 0),
            s0=[[0, 0, 0]],
            sr=(0, 1, 0),
            st=(1, 0, 1),
        )
        run_p0 = np.stack([runs[:, 0], np.zeros(3), runs[:, 1]], 1)
        run_s0 = np.stack([runs[:, 2], np.zeros(3), runs[:, 3]], 1)
        self._s_top = rig.add(3, p0=run_p0, ph=(0, 1, 0), pr=(0, 1.0, 0), s0=run_s0, st=(1, 1, 1))
        self._s_mid = rig.add(3, p0=run_p0, ph=(0, 1, 0), pr=(0, 0.5, 0), s0=run_s0, st=(1, 1, 1))
        self._structure = rig.finish(
            _STRUCTURE_COLORS[np.repeat(np.arange(4), [1, 1, nt, npost + 6])]
        )
        glass = _Rig()
        glass.add(nt, p0=tiles, ph=(0, 1, 0), s0=[[0.969, 0.149, 0.969]])
        self._g_panels = glass.add(
            3, p0=run_p0, ph=(0, 1, 0), pr=(0, 0.5, 0), s0=run_s0 + 0.01, sr=(0, 0.9, 0)
        )
        self._glass = glass.finish(np.tile(_GLASS_COLOR, (nt + 3, 1)))

    def _build_cars(self, count: int, rng: np.random.Generator) -> None:
        lanes = np.array([-10.5, -6.5, -2.5, 2.5, 6.5, 10.5], np.float32)
        lane = rng.integers(0, lanes.size, count)
        self._car_x = lanes[lane]
        self._car_speed = np.where(lane < lanes.size // 2, 1.0, -1.0) * rng.uniform(
            7.0, 14.0, count
        )
        self._car_phase = rng.uniform(0.0, 600.0, count)
        scl = np.array([1.9, 1.5, 4.4], np.float32)
        pos = np.stack([self._car_x, np.full(count, 0.75), np.zeros(count)], axis=1)
        self._car_base = trs_matrices(pos, scl)
        col = np.empty((count, 4), np.float32)
        col[:, :3] = rng.choice(
            np.array(
                [
                    [0.8, 0.1, 0.1],
                    [0.9, 0.9, 0.9],
                    [0.1, 0.1, 0.12],
                    [0.2, 0.3, 0.7],
                    [0.9, 0.7, 0.1],
                    [0.5, 0.5, 0.52],
                ],
                np.float32,
            ),
            count,
        )
        col[:, 3] = 1.0
        self._car_colors = frozen(col)

    # ----------------------------------------------------------------- per frame
    def update(self, intensity: float, dt: float) -> None:
        """Approach ``intensity`` with time constant :data:`SMOOTHING_TAU_S`.

        The first call snaps to ``intensity`` so a session starts where it is told to.
        """
        self._follow(intensity, dt)
        self._time += dt
        self._events.advance(dt)

    def _fire(self, event: str) -> None:
        """A gust of wind (see the module docstring)."""
        self._events.start(event)
        self._cues.fire("gust")

    def _sway(self) -> tuple[float, float]:
        """The gust's sideways camera offset (m) and turn (deg) now."""
        env = self._events.envelope("gust_of_wind", 1.0)
        age = self._events.age("gust_of_wind") or 0.0
        wave = np.sin(2.0 * np.pi * 0.9 * age)
        return GUST_SWAY_M * env * float(wave), GUST_TURN_DEG * env * float(wave)

    def describe(self, intensity: float) -> str:
        """E.g. ``heights: platform 13.0 m, railing 0.88, glass floor 0%, gaps 0%``."""
        lv = clamp01(intensity)
        return (
            f"heights: platform {platform_height(lv):.1f} m, railing {railing_strength(lv):.2f}, "
            f"glass floor {glass_fraction(lv) * 100:.0f}%, gaps {gap_fraction(lv) * 100:.0f}%"
        )

    def soundscape(self) -> Soundscape:
        """Wind rising and traffic fading with the height; a gust's cue."""
        lv = self._level
        wind = wind_volume(lv) + (1.0 - wind_volume(lv)) * self._events.envelope("gust_of_wind")
        return Soundscape(
            (SoundLayer("wind", wind), SoundLayer("traffic", traffic_volume(lv))),
            self._cues.drain(),
        )

    def draw_list(self) -> DrawList:
        """Five batches: ground+blocks, buildings, balcony+tower, cars, glass."""
        h = platform_height(self._level)
        structure, glass = self._balcony_batches(h)
        sway, turn = self._sway()
        return DrawList(
            batches=(self._ground, self._buildings, structure, self._cars_batch(), glass),
            sky_color=_SKY,
            fog_color=_FOG,
            fog_density=_FOG_DENSITY,
            camera_position=np.array([sway, h + EYE_HEIGHT_M, -_VIEWER_Z], np.float32),
            camera_yaw=turn,
            camera_pitch=-35.0,
        )

    def _cars_batch(self) -> Batch:
        m = self._car_base.copy()
        m[:, 2, 3] = -8.0 - np.mod(self._car_phase + self._car_speed * self._time, 600.0)
        return Batch("box", m, self._car_colors)

    def _balcony_batches(self, h: float) -> tuple[Batch, Batch]:
        lv = self._level
        rail = railing_strength(lv)
        params = np.array([1.0, h, _RAIL_HEIGHT * (0.6 + 0.4 * rail), 0.02 + 0.05 * rail])
        glass_t = self._tile_rank < glass_fraction(lv)
        gap_t = (self._tile_rank < gap_fraction(lv)) & ~self._tile_under_feet
        glass_t &= ~gap_t
        show = self._structure.visible
        show[self._s_tiles] = ~(glass_t | gap_t)
        show[self._s_posts] = self._post_rank < rail * 1.05
        show[self._s_top] = rail > 0.3
        show[self._s_mid] = rail > 0.55
        structure = self._structure.batch(params, show)
        panel_alpha = _smoothstep(0.75, 0.95, rail)
        g = self._glass
        g.visible[: glass_t.size] = glass_t
        g.visible[self._g_panels] = panel_alpha > 0.0
        g.colors[self._g_panels, 3] = 0.22 * panel_alpha
        return structure, g.batch(params, g.visible)


class _Rig:
    """Instances whose position and scale are linear in (1, h, rail_h, thick); no rotation."""

    def __init__(self) -> None:
        self._rows: list[np.ndarray] = []
        self._count = 0
        self.coef = np.zeros((0, 4))
        self.template = np.zeros((0, 16), np.float32)
        self.colors = np.zeros((0, 4), np.float32)
        self.visible = np.zeros(0, bool)

    def add(
        self,
        n: int,
        *,
        p0: ArrayLike,
        s0: ArrayLike,
        ph: Vec3 = (0, 0, 0),
        pr: Vec3 = (0, 0, 0),
        sh: Vec3 = (0, 0, 0),
        sr: Vec3 = (0, 0, 0),
        st: Vec3 = (0, 0, 0),
    ) -> slice:
        """Append ``n`` instances; returns their slice."""
        c = np.zeros((n, 6, 4))
        c[:, :3, 0] = np.broadcast_to(np.asarray(p0, float), (n, 3))
        c[:, :3, 1], c[:, :3, 2] = ph, pr
        c[:, 3:, 0] = np.broadcast_to(np.asarray(s0, float), (n, 3))
        c[:, 3:, 1], c[:, 3:, 2], c[:, 3:, 3] = sh, sr, st
        self._rows.append(c)
        self._count += n
        return slice(self._count - n, self._count)

    def finish(self, colors: NDArray[np.floating]) -> _Rig:
        n = self._count
        self.coef = np.concatenate(self._rows).reshape(n * 6, 4)
        self.template = np.zeros((n, 16), np.float32)
        self.template[:, 15] = 1.0
        self.colors = np.ascontiguousarray(colors, np.float32)
        self.visible = np.ones(n, bool)
        return self

    def batch(self, params: NDArray[np.float64], show: NDArray[np.bool_]) -> Batch:
        ps = (self.coef @ params).reshape(-1, 6)  # position xyz, scale xyz; one gemv
        m = self.template.copy()
        m[:, 0:11:5] = ps[:, 3:]  # flat 0, 5, 10: the scale diagonal
        m[:, 3:12:4] = ps[:, :3]  # flat 3, 7, 11: the translation column
        return Batch("box", m[show].reshape(-1, 4, 4), self.colors[show])
