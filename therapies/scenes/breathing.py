"""Paced breathing: a calm beach with a breathing pacer over the water.

The viewer sits on the sand facing a calm sea (palms, rocks, a distant headland, clouds).
A pacer sphere floats over the water: it grows while breathing in and shrinks while
breathing out, following ``0.5 - 0.5 * cos(2 pi * phase)`` with the phase advancing by
``rate_per_min / 60`` cycles per second (default 6 breaths/min: a 10 s cycle, 5 s in, 5 s
out). A ring of beads around it lights up as the breath fills, and the foam line of the
waves runs up the beach and back in the same rhythm.

Intensity is *pacer prominence*; one smoothed *level* sets

- the pacer's full (inhaled) radius: ``0.2 + 0.5 * level`` m,
- its distance from the viewer: ``6 - 3 * level`` m,
- the ring beads' size: ``0.02 + 0.05 * level`` m (nearly invisible at 0).

:attr:`BreathingScene.reward` (0..1, set by the breathing-biofeedback controller) is
smoothed with a 3 s time constant and brightens the place: colour saturation
``0.55 + 0.45 * reward``, brightness ``0.8 + 0.2 * reward``, a hazy grey sky clearing to
blue, less haze, and a sun that grows and rises. Five batches per frame; deterministic for
a seed and a sequence of calls.

Sound (:meth:`BreathingScene.soundscape`, played by :mod:`engine.audio`):

- the ``pacer`` tone, one breath cycle long and restarted in step with the pacer's phase:
  its pitch glides up a fifth (220 to 330 Hz) while breathing in and back down while
  breathing out, following the same ``0.5 - 0.5 * cos(2 pi * phase)``, and it fades to
  silence at the bottom of each breath; volume :func:`pacer_volume`, ``0.2 + 0.5 * level``
  (0.5 at the sessions' fixed prominence 0.6),
- a soft ``reward`` chime at the end of each breath cycle while the shown reward is at
  least :data:`REWARD_CHIME_MIN`.

Scene event (a therapist's console fires it; gentle on purpose): ``sunshine``, for 8 s the
place shows as at full reward (clear sky, warm colours, the sun up), fading in and out
over 2 s, with one soft ``reward`` chime. The pacer is unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

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
    approach,
    clamp01,
    frozen,
    trs_matrices,
)
from therapies.scenes.events import EventClock
from therapies.scenes.spiders import segment_matrices

EVENT_SECONDS = {"sunshine": 8.0}
"""Scene events and how long each shows (s)."""
SUNSHINE_FADE_S = 2.0

PACER_PROMINENCE = 0.6
"""Pacer size/distance level while a controller sets the reward (breathing biofeedback):
the reward changes the place, the pacer stays equally prominent all session."""
REWARD_TAU_S = 3.0
"""Time constant of the shown reward's approach to the set reward."""
RATE_RANGE = (2.0, 30.0)
"""Allowed pacing rates, breaths per minute."""
EYE = np.array([0.0, 1.7, 3.0], np.float32)
REWARD_CHIME_MIN = 0.5
"""Shown reward from which each completed breath ends with a soft chime."""

_BEADS = 32
_SKY_DULL, _SKY_CLEAR = np.array([0.64, 0.70, 0.78]), np.array([0.42, 0.66, 0.95])
_FOG_DULL, _FOG_CLEAR = np.array([0.74, 0.76, 0.78]), np.array([0.75, 0.84, 0.95])


def pacer_full_radius_m(level: float) -> float:
    """Radius of the pacer at full inhale, metres."""
    return 0.2 + 0.5 * clamp01(level)


def pacer_distance_m(level: float) -> float:
    """Distance from the viewer to the pacer, metres."""
    return 6.0 - 3.0 * clamp01(level)


def pacer_volume(level: float) -> float:
    """Loudness 0..1 of the pacer tone at ``level`` (pacer prominence)."""
    return 0.2 + 0.5 * clamp01(level)


def breath_fraction(phase_cycles: float) -> float:
    """0 = fully out, 1 = fully in, for a phase in breath cycles (0 starts exhaled)."""
    return 0.5 - 0.5 * math.cos(2.0 * math.pi * phase_cycles)


def _saturate(rgb: NDArray[np.floating], saturation: float, brightness: float) -> FloatArray:
    lum = rgb @ np.array([0.3, 0.59, 0.11])
    out = (lum[:, None] + saturation * (rgb - lum[:, None])) * brightness
    col = np.ones((rgb.shape[0], 4), np.float32)
    col[:, :3] = np.clip(out, 0.0, 1.0)
    return col


class BreathingScene(SmoothedLevel):
    """Beach with a breathing pacer; see the module docstring.

    Parameters
    ----------
    seed
        Seeds rocks, clouds and plants.
    rate_per_min
        Pacing rate in breaths per minute, within :data:`RATE_RANGE`.

    Raises
    ------
    ValueError
        ``rate_per_min`` outside :data:`RATE_RANGE`.
    """

    name = "breathing"
    events = tuple(EVENT_SECONDS)
    parameters = frozenset({"reward", "pacer_rate"})

    def __init__(self, seed: int = 0, rate_per_min: float = 6.0) -> None:
        rng = np.random.default_rng(seed)
        self._rewarded = False
        self._rate = 6.0
        self.rate_per_min = rate_per_min
        self._time = 0.0
        self._phase = 0.0
        self._reward_target = 0.0
        self._reward = 0.0
        self._box_m, self._box_rgb = self._build_boxes()
        sph_m, sph_rgb = self._build_spheres(rng)
        self._trunks, fronds = self._build_palms(rng)
        self._sph_m = frozen(np.concatenate([sph_m, fronds]))
        self._sph_rgb = np.concatenate([sph_rgb, np.tile([0.30, 0.62, 0.22], (fronds.shape[0], 1))])
        self._trunk_rgb = np.tile([0.55, 0.42, 0.28], (self._trunks.shape[0], 1))
        self._cues = CueLog()
        self._events = EventClock(EVENT_SECONDS)

    # ----------------------------------------------------------------- parameters
    @property
    def rate_per_min(self) -> float:
        """Pacing rate, breaths per minute (changing it keeps the breath continuous)."""
        return self._rate

    @rate_per_min.setter
    def rate_per_min(self, value: float) -> None:
        lo, hi = RATE_RANGE
        if not (math.isfinite(value) and lo <= value <= hi):
            raise ValueError(f"BreathingScene.rate_per_min: {value} is outside {lo}..{hi}")
        self._rate = float(value)

    @property
    def reward(self) -> float:
        """Reward set by the controller, 0..1 (the scene shows a smoothed version)."""
        return self._reward_target

    @reward.setter
    def reward(self, value: float) -> None:
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise ValueError(f"BreathingScene.reward: {value} is outside 0..1")
        self._reward_target = float(value)

    def set_parameters(self, values: Mapping[str, float]) -> None:
        """``reward`` (0..1) and ``pacer_rate`` (breaths per minute) from the breathing
        controller; with a reward, the intensity no longer sizes the pacer
        (:data:`PACER_PROMINENCE`)."""
        if "pacer_rate" in values:
            self.rate_per_min = values["pacer_rate"]
        if "reward" in values:
            self.reward = values["reward"]
            self._rewarded = True

    @property
    def shown_reward(self) -> float:
        """The smoothed reward currently shown."""
        return self._reward

    @property
    def period_s(self) -> float:
        """One breath cycle in seconds (10 s at 6/min)."""
        return 60.0 / self._rate

    @property
    def breath(self) -> float:
        """Where the pacer is in the breath: 0 fully out, 1 fully in."""
        return breath_fraction(self._phase)

    @property
    def inhaling(self) -> bool:
        """True during the first half of each cycle (the pacer grows)."""
        return (self._phase % 1.0) < 0.5

    @property
    def pacer_radius(self) -> float:
        """Current pacer radius in metres (a third of full when fully out)."""
        return pacer_full_radius_m(self._level) * (1.0 + 2.0 * self.breath) / 3.0

    # ----------------------------------------------------------------- static place
    @staticmethod
    def _build_boxes() -> tuple[FloatArray, NDArray[np.float64]]:
        a = np.array(
            [
                [0, -0.5, 3.0, 120, 1.0, 14, 0.90, 0.80, 0.58],  # dry sand
                [0, -0.51, -4.5, 120, 1.0, 4, 0.74, 0.64, 0.46],  # wet sand
                [0, -0.6, -1510, 4000, 1.0, 3000, 0.12, 0.42, 0.62],  # sea
                [0, -0.58, -9.5, 4000, 1.0, 6.0, 0.22, 0.62, 0.70],  # shallow water
                [-0.5, 0.02, 0.6, 0.9, 0.04, 1.9, 0.85, 0.35, 0.30],  # towel
                [-0.5, 0.025, 0.6, 0.3, 0.04, 1.9, 0.95, 0.92, 0.85],  # towel stripe
            ]
        )
        return frozen(trs_matrices(a[:, :3], a[:, 3:6])), a[:, 6:9]

    @staticmethod
    def _build_spheres(rng: np.random.Generator) -> tuple[FloatArray, NDArray[np.float64]]:
        rows = [
            [-420, 0, -1300, 900, 220, 400, 0.32, 0.48, 0.30],  # headland
            [380, 0, -1600, 600, 120, 300, 0.36, 0.50, 0.34],  # far island
        ]
        for _ in range(9):  # rocks at the water's edge and on the sand
            x = rng.choice([-1.0, 1.0]) * rng.uniform(3.0, 12.0)
            s = rng.uniform(0.4, 1.4)
            rows.append([x, 0.1, rng.uniform(-6.0, -1.0), s * 1.4, s, s * 1.1, 0.5, 0.48, 0.45])
        for _ in range(8):  # clouds
            w = rng.uniform(120.0, 260.0)
            pos = [rng.uniform(-900, 900), rng.uniform(180, 320), rng.uniform(-1500, -900)]
            rows.append([*pos, w, w * 0.22, w * 0.5, 0.97, 0.97, 0.97])
        for _ in range(14):  # dune grass tufts
            x = rng.choice([-1.0, 1.0]) * rng.uniform(2.5, 9.0)
            rows.append([x, 0.1, rng.uniform(-3.0, 3.0), 0.5, 0.45, 0.5, 0.40, 0.58, 0.22])
        a = np.array(rows)
        return frozen(trs_matrices(a[:, :3], a[:, 3:6])), a[:, 6:9]

    @staticmethod
    def _build_palms(rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
        """Palm trunks (bent chains of cylinders) and fronds (flattened stretched spheres)."""
        bases = np.array([[-4.5, 0.0, -2.5], [-7.0, 0.0, -0.5], [5.5, 0.0, -4.0]])
        lean = np.array([1.2, 0.8, -1.4])
        k = np.linspace(0.0, 1.0, 7)
        x = bases[:, 0:1] + lean[:, None] * 1.5 * k**2
        y = np.broadcast_to(6.0 * k, (3, 7))
        z = bases[:, 2:3] + 0.3 * k**2
        pts = np.stack([x, y, z], axis=2)
        trunks = segment_matrices(pts[:, :-1].reshape(-1, 3), pts[:, 1:].reshape(-1, 3), 0.16)
        crown = pts[:, -1]
        ang = np.linspace(0.0, 2 * np.pi, 9)[:-1][None, :] + rng.uniform(0.0, 1.0, (3, 1))
        droop = rng.uniform(0.8, 1.4, ang.shape)
        tip = crown[:, None, :] + np.stack([2.4 * np.cos(ang), -droop, 2.4 * np.sin(ang)], axis=2)
        fronds = segment_matrices(np.repeat(crown, 8, axis=0), tip.reshape(-1, 3), 0.35)
        fronds[:, :3, 0] *= 0.25  # flatten each frond into a blade
        return frozen(trunks), frozen(fronds)

    # ----------------------------------------------------------------- per frame
    def update(self, intensity: float, dt: float) -> None:
        """Approach ``intensity`` and the set reward (smoothed); advance the breath.

        The first call snaps to ``intensity`` so a session starts where it is told to.
        Once a controller sets the reward, the pacer keeps :data:`PACER_PROMINENCE`.
        """
        self._follow(PACER_PROMINENCE if self._rewarded else intensity, dt)
        self._reward = approach(self._reward, self._reward_target, dt, REWARD_TAU_S)
        cycles = math.floor(self._phase)
        self._phase += dt * self._rate / 60.0
        self._time += dt
        self._events.advance(dt)
        if math.floor(self._phase) > cycles and self._reward >= REWARD_CHIME_MIN:
            self._cues.fire("reward")

    def _fire(self, event: str) -> None:
        """Sunshine (see the module docstring)."""
        self._events.start(event)
        self._cues.fire("reward")

    def _shown(self) -> float:
        """The reward the place shows: the smoothed reward, or sunshine's."""
        return max(self._reward, self._events.envelope("sunshine", SUNSHINE_FADE_S))

    def soundscape(self) -> Soundscape:
        """The pacer tone locked to the breath; reward chimes since the last call."""
        pacer = SoundLayer(
            "pacer", pacer_volume(self._level), cycle_s=self.period_s, phase=self._phase % 1.0
        )
        return Soundscape((pacer,), self._cues.drain())

    def describe(self, intensity: float) -> str:
        """E.g. ``breathing: 6.0 breaths/min (10.0 s cycle), pacer 0.60 m at 3.6 m, ...``."""
        lv = clamp01(intensity)
        return (
            f"breathing: {self._rate:.1f} breaths/min ({self.period_s:.1f} s cycle), "
            f"pacer {pacer_full_radius_m(lv):.2f} m at {pacer_distance_m(lv):.1f} m, "
            f"prominence {lv:.2f}, reward {self._reward_target:.2f}"
        )

    def draw_list(self) -> DrawList:
        """Five batches: sand/sea, rocks/clouds/plants, trunks, waves, pacer and sun."""
        r = self._shown()
        sat, bright = 0.55 + 0.45 * r, 0.8 + 0.2 * r
        sky = _SKY_DULL + r * (_SKY_CLEAR - _SKY_DULL)
        fog = _FOG_DULL + r * (_FOG_CLEAR - _FOG_DULL)
        return DrawList(
            batches=(
                Batch("box", self._box_m, _saturate(self._box_rgb, sat, bright)),
                Batch("sphere", self._sph_m, _saturate(self._sph_rgb, sat, bright)),
                Batch("cylinder", self._trunks, _saturate(self._trunk_rgb, sat, bright)),
                self._waves(sat, bright),
                self._pacer(sat),
            ),
            sky_color=(float(sky[0]), float(sky[1]), float(sky[2])),
            fog_color=(float(fog[0]), float(fog[1]), float(fog[2])),
            fog_density=0.0012 - 0.0008 * r,
            camera_position=EYE.copy(),
            camera_yaw=0.0,
            camera_pitch=-7.0,
        )

    def _waves(self, sat: float, bright: float) -> Batch:
        """Foam lines that run up the beach while breathing in and back while breathing out."""
        b = self.breath
        z = np.array([-6.5 + 2.2 * b, -7.7 + 1.6 * b, -9.1 + 1.0 * b])
        pos = np.stack([np.zeros(3), np.array([-0.03, -0.06, -0.07]), z], 1)
        scl = np.array([[120.0, 0.04, 0.5], [120.0, 0.04, 0.35], [120.0, 0.04, 0.25]])
        rgb = np.array([[0.97, 0.98, 0.98], [0.85, 0.93, 0.95], [0.75, 0.88, 0.92]])
        return Batch("box", trs_matrices(pos, scl), _saturate(rgb, sat, bright))

    def _pacer(self, sat: float) -> Batch:
        """The pacer sphere, its ring of beads (lit as the breath fills) and the sun."""
        lv, b, r = self._level, self.breath, self._shown()
        centre = np.array([0.0, 1.5, EYE[2] - pacer_distance_m(lv)])
        full = pacer_full_radius_m(lv)
        ang = np.linspace(0.0, 2 * np.pi, _BEADS, endpoint=False)
        ring = centre + np.stack(
            [np.sin(ang) * full * 1.2, np.cos(ang) * full * 1.2, np.zeros(_BEADS)], 1
        )
        sun = np.array([-110.0, 60.0 + 30.0 * r, -420.0])
        pos = np.concatenate([centre[None], ring, sun[None]])
        bead = 0.02 + 0.05 * lv
        size = np.concatenate([[2 * self.pacer_radius], np.full(_BEADS, bead), [22.0 + 16.0 * r]])
        lit = (ang / (2 * np.pi)) < b  # beads light up clockwise from the top as it fills
        rgb = np.empty((_BEADS + 2, 3))
        rgb[0] = np.array([0.30, 0.75, 0.85]) + b * np.array([0.65, 0.0, -0.40])
        rgb[1:-1] = np.where(lit[:, None], [1.0, 0.8, 0.3], [0.9, 0.93, 0.97])
        rgb[-1] = (1.0, 0.97, 0.82)
        col = np.ones((_BEADS + 2, 4), np.float32)
        col[:, :3] = np.clip(rgb, 0.0, 1.0)
        return Batch("sphere", trs_matrices(pos, np.repeat(size[:, None], 3, 1)), col)
