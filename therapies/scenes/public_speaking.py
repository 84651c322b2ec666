"""Fear of public speaking: a lecture hall seen from the podium.

The viewer stands on a stage behind a podium (laptop, microphone) facing raked rows of
seats. Intensity drives one smoothed *level* that sets

- the audience size: ``round(3 + 162 * level**1.3)`` people of 165 seats (3 at 0, 24 at
  0.2, 124 at 0.8, the full hall at 1); seats fill in a seed-fixed order,
- attention: the fraction of people looking at the speaker, ``0.2 + 0.75 * level``; the
  others look down at their phones (a lit screen in the lap) or turn to a neighbour.
  Heads turn smoothly (time constant 0.6 s), never snap,
- murmurs: ``0.1 + 0.8 * level``, the loudness (0..1) of audience chatter, exposed in
  :meth:`PublicSpeakingScene.describe` and :func:`murmur_level` for an audio layer.

Sound (:meth:`PublicSpeakingScene.soundscape`, played by :mod:`engine.audio`):

- a looping audience ``murmur`` at volume :func:`murmur_level` (0.26 at 0.2, 0.74 at 0.8),
- one-shot ``cough`` (60%) and ``shuffle`` (40%) cues from level 0.4 up, at
  :func:`cue_rate_per_min` (0 at 0.4 rising linearly to 20 per minute at 1), random times
  drawn from the scene's own sound generator (seeded ``[seed, 7]``), so deterministic for a
  seed and a sequence of ``(intensity, dt)``.

Scene events (a therapist's console fires them; each shows for a few seconds). Who acts is
chosen by the scene's own event generator (seeded ``[seed, 11]``) among the people present
in the front rows, outside the middle that the podium hides (:data:`PODIUM_HIDES_M`):

- ``cough``: someone coughs into their hand, leaning forward (``cough`` cue),
- ``phone_ring``: someone's phone rings and they hold up its lit, flashing screen (``ring``
  cue, twice),
- ``hostile_question``: someone stands up with a raised arm, facing the speaker
  (``shuffle`` cue as they rise),
- ``audience_yawns``: a third of the audience (at least two) tilt their heads back and
  cover a yawn.

People are instanced simple shapes: a torso cylinder, a head sphere (skin) and a hair
sphere offset towards the back of the head, so a face turned to the speaker reads as skin
and a turned head as hair. Everyone sways slightly (seed-fixed phases). Five batches per
frame; deterministic for a seed and a sequence of ``(intensity, dt)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from therapies.scenes.base import (
    RGBA,
    Batch,
    CueLog,
    DrawList,
    FloatArray,
    PoissonCues,
    SmoothedLevel,
    SoundLayer,
    Soundscape,
    clamp01,
    frozen,
    trs_matrices,
)
from therapies.scenes.events import EventClock

EVENT_SECONDS = {"cough": 2.5, "phone_ring": 5.0, "hostile_question": 7.0, "audience_yawns": 4.0}
"""Scene events and how long each shows (s)."""
_HAND = (0.11, 0.11, 0.07)
PODIUM_HIDES_M = 1.3
"""Seats closer than this to the hall's middle line are hidden behind the podium from the
speaker's place (front rows): events pick people outside it."""
RING_AGAIN_S = 2.5
"""The phone rings a second time this long after the first."""
HEAD_TAU_S = 0.6
"""Time constant of a head turning towards where it looks next."""
ROWS = 10
CUES_FROM_LEVEL = 0.4
"""Level from which the audience coughs and shuffles."""
MAX_CUES_PER_MIN = 20.0
"""Coughs and shuffles per minute at level 1."""
STAGE_HEIGHT_M = 0.8
EYE = np.array([0.0, STAGE_HEIGHT_M + 1.7, 0.0], np.float32)

_ROW_PITCH, _RISER, _SEAT_PITCH, _FIRST_ROW_Z = 1.0, 0.32, 0.62, -3.2
_SKIN = np.array(
    [[0.93, 0.76, 0.62], [0.80, 0.60, 0.45], [0.62, 0.44, 0.32], [0.42, 0.29, 0.20]], np.float32
)
_HAIR = np.array(
    [[0.10, 0.08, 0.06], [0.30, 0.20, 0.12], [0.55, 0.42, 0.25], [0.70, 0.70, 0.68]], np.float32
)
_CLOTHES = np.array(
    [
        [0.20, 0.25, 0.45],
        [0.55, 0.15, 0.15],
        [0.15, 0.40, 0.30],
        [0.75, 0.72, 0.65],
        [0.25, 0.25, 0.28],
        [0.65, 0.50, 0.20],
        [0.45, 0.30, 0.55],
    ],
    np.float32,
)


def seat_count() -> int:
    """Seats in the hall (rows widen towards the back)."""
    return int(sum(12 + r for r in range(ROWS)))


def audience_size(level: float) -> int:
    """People present at ``level`` (0..1)."""
    lv = min(max(level, 0.0), 1.0)
    return round(3 + (seat_count() - 3) * float(lv**1.3))


def attention_fraction(level: float) -> float:
    """Fraction of the audience looking at the speaker."""
    return 0.2 + 0.75 * min(max(level, 0.0), 1.0)


def murmur_level(level: float) -> float:
    """Loudness of audience chatter, 0..1 (for an audio layer)."""
    return 0.1 + 0.8 * min(max(level, 0.0), 1.0)


def cue_rate_per_min(level: float) -> float:
    """Coughs and shuffles per minute at ``level``: none below :data:`CUES_FROM_LEVEL`."""
    lv = min(max(level, 0.0), 1.0)
    return MAX_CUES_PER_MIN * max(lv - CUES_FROM_LEVEL, 0.0) / (1.0 - CUES_FROM_LEVEL)


def _rgba(rgb: NDArray[np.floating]) -> FloatArray:
    c = np.ones((rgb.shape[0], 4), np.float32)
    c[:, :3] = rgb
    return c


class PublicSpeakingScene(SmoothedLevel):
    """Lecture hall from the podium; see the module docstring.

    Parameters
    ----------
    seed
        Seeds who sits where, clothes, skin and hair, who looks away and the sway phases.
    """

    name = "public_speaking"
    events = tuple(EVENT_SECONDS)

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self._time = 0.0
        self._hall = self._build_hall()
        rows = np.concatenate([np.full(12 + r, r) for r in range(ROWS)])
        cols = np.concatenate([np.arange(12 + r) - (11 + r) / 2.0 for r in range(ROWS)])
        n = rows.size
        self._seat_pos = np.stack(
            [cols * _SEAT_PITCH, rows * _RISER, _FIRST_ROW_Z - rows * _ROW_PITCH], axis=1
        ).astype(np.float32)
        self._seats = self._build_seats()
        # Who arrives first: random, slightly favouring the middle rows and the centre.
        score = rng.uniform(0.0, 1.0, n) + 0.04 * np.abs(rows - 4) + 0.05 * np.abs(cols) / 6.0
        self._order = np.argsort(score, kind="stable")
        self._attend_rank = rng.permutation(n) / n
        self._distraction = rng.integers(0, 2, n)  # 0 phone, 1 neighbour
        self._side = rng.choice([-1.0, 1.0], n)
        self._sway_phase = rng.uniform(0.0, 2.0 * np.pi, (n, 2))
        self._sway_rate = rng.uniform(0.25, 0.6, n)
        self._turn = np.zeros(n)  # 0 = looking at the speaker, 1 = fully away
        self._height = rng.uniform(0.92, 1.08, n)
        self._body_rgb = _CLOTHES[rng.integers(0, len(_CLOTHES), n)] * rng.uniform(
            0.85, 1.1, (n, 1)
        )
        self._skin_rgb = _SKIN[rng.integers(0, len(_SKIN), n)]
        self._hair_rgb = _HAIR[rng.choice(len(_HAIR), n, p=[0.45, 0.3, 0.15, 0.1])]
        self._cues = CueLog()
        self._cue_clock = PoissonCues(np.random.default_rng([seed, 7]))
        self._events = EventClock(EVENT_SECONDS)
        self._event_rng = np.random.default_rng([seed, 11])
        self._actors: dict[str, NDArray[np.intp]] = {}

    # ----------------------------------------------------------------- static hall
    @staticmethod
    def _build_hall() -> Batch:
        depth = ROWS * _ROW_PITCH
        z_back = _FIRST_ROW_Z - depth - 0.6
        risers = [
            [
                0.0,
                (r - 0.5) * _RISER,
                _FIRST_ROW_Z - r * _ROW_PITCH,
                16.0,
                _RISER,
                1.0,
                0.42,
                0.22,
                0.2,
            ]
            for r in range(ROWS)
        ]
        s = STAGE_HEIGHT_M
        parts = [
            *risers,
            [0.0, -0.05, -1.0, 16.0, 0.1, 30.0, 0.30, 0.16, 0.14],  # hall floor
            [0.0, s / 2, 1.0, 16.0, s, 4.4, 0.45, 0.32, 0.22],  # stage
            [0.0, s - 0.02, -1.2, 16.0, 0.04, 0.06, 0.75, 0.70, 0.55],  # stage edge trim
            [-8.0, 3.5, -7.0, 0.2, 7.0, 24.0, 0.62, 0.55, 0.48],  # left wall
            [8.0, 3.5, -7.0, 0.2, 7.0, 24.0, 0.62, 0.55, 0.48],  # right wall
            [0.0, 3.5, z_back, 16.0, 7.0, 0.2, 0.55, 0.48, 0.42],  # back wall
            [0.0, 6.6, -7.0, 16.0, 0.2, 24.0, 0.80, 0.78, 0.74],  # ceiling
            [-5.5, 4.4, z_back + 0.12, 1.4, 2.2, 0.06, 0.35, 0.22, 0.15],  # back doors
            [5.5, 4.4, z_back + 0.12, 1.4, 2.2, 0.06, 0.35, 0.22, 0.15],
            [-5.5, 5.8, z_back + 0.13, 0.6, 0.25, 0.05, 0.10, 0.85, 0.35],  # exit signs
            [5.5, 5.8, z_back + 0.13, 0.6, 0.25, 0.05, 0.10, 0.85, 0.35],
            [0.0, s + 0.55, -0.85, 0.9, 1.1, 0.5, 0.36, 0.24, 0.16],  # podium
            [0.0, s + 1.12, -0.8, 1.0, 0.04, 0.62, 0.42, 0.29, 0.19],  # podium top
            [0.22, s + 1.15, -0.72, 0.3, 0.015, 0.2, 0.18, 0.18, 0.20],  # laptop base
            [0.22, s + 1.24, -0.83, 0.3, 0.18, 0.012, 0.42, 0.55, 0.72],  # laptop lid (screen glow)
            [-0.28, s + 1.25, -0.95, 0.015, 0.24, 0.015, 0.1, 0.1, 0.1],  # microphone stem
            [-0.28, s + 1.38, -0.93, 0.035, 0.05, 0.035, 0.1, 0.1, 0.1],  # microphone head
            [-7.85, 3.6, -6.5, 0.05, 1.6, 3.0, 0.9, 0.9, 0.86],  # left wall panel
            [7.85, 3.6, -6.5, 0.05, 1.6, 3.0, 0.9, 0.9, 0.86],  # right wall panel
        ]
        arr = np.array(parts, np.float32)
        return Batch(
            "box", frozen(trs_matrices(arr[:, :3], arr[:, 3:6])), frozen(_rgba(arr[:, 6:]))
        )

    def _build_seats(self) -> Batch:
        n = self._seat_pos.shape[0]
        cushion = self._seat_pos + np.array([0.0, 0.42, 0.02], np.float32)
        back = self._seat_pos + np.array([0.0, 0.7, -0.24], np.float32)
        pos = np.concatenate([cushion, back])
        scl = np.concatenate(
            [np.tile([0.5, 0.1, 0.45], (n, 1)), np.tile([0.52, 0.62, 0.08], (n, 1))]
        )
        col = np.tile(np.array([[0.55, 0.10, 0.12, 1.0]], np.float32), (2 * n, 1))
        col[n:, :3] *= 0.85
        return Batch("box", frozen(trs_matrices(pos, scl)), frozen(col))

    # ----------------------------------------------------------------- per frame
    def update(self, intensity: float, dt: float) -> None:
        """Approach ``intensity`` (time constant :data:`SMOOTHING_TAU_S`); heads turn.

        The first call snaps to ``intensity`` (heads included) so a session starts where it
        is told to.
        """
        first = not self._started
        level = self._follow(intensity, dt)
        away = (self._attend_rank >= attention_fraction(level)).astype(float)
        if first:
            self._turn = away
        else:
            self._turn += (away - self._turn) * (1.0 - float(np.exp(-dt / HEAD_TAU_S)))
        self._time += dt
        for _ in range(self._cue_clock.advance(cue_rate_per_min(self._level) / 60.0, dt)):
            self._cues.fire("cough" if self._cue_clock.rng.uniform() < 0.6 else "shuffle")
        ring = self._events.age("phone_ring")
        self._events.advance(dt)
        if ring is not None and ring < RING_AGAIN_S <= ring + dt:
            self._cues.fire("ring")

    def _fire(self, event: str) -> None:
        """Start ``event`` with people present near the front (see the module docstring)."""
        present = self._order[: audience_size(self._level)]
        if event == "audience_yawns":
            k = max(2, round(present.size / 3))
            self._actors[event] = self._event_rng.permutation(present)[: min(k, present.size)]
        else:
            seen = present[np.abs(self._seat_pos[present, 0]) > PODIUM_HIDES_M]
            pool = seen if seen.size else present
            front = pool[np.argsort(-self._seat_pos[pool, 2], kind="stable")][:6]
            self._actors[event] = front[[int(self._event_rng.integers(front.size))]]
        self._events.start(event)
        cue = {"cough": "cough", "phone_ring": "ring", "hostile_question": "shuffle"}.get(event)
        if cue is not None:
            self._cues.fire(cue)

    def soundscape(self) -> Soundscape:
        """Audience murmur at :func:`murmur_level`; coughs and shuffles since the last call."""
        return Soundscape((SoundLayer("murmur", murmur_level(self._level)),), self._cues.drain())

    def describe(self, intensity: float) -> str:
        """E.g. ``public_speaking: audience 124/165, 80% watching, murmurs 0.74``."""
        lv = clamp01(intensity)
        return (
            f"public_speaking: audience {audience_size(lv)}/{seat_count()}, "
            f"{attention_fraction(lv) * 100:.0f}% watching, murmurs {murmur_level(lv):.2f}"
        )

    def watching(self) -> int:
        """People present whose heads currently face the speaker (turned less than half)."""
        present = self._order[: audience_size(self._level)]
        return int(np.count_nonzero(self._turn[present] < 0.5))

    def draw_list(self) -> DrawList:
        """Five batches: hall, seats, torsos (cylinders), heads and hair (spheres), phones."""
        return DrawList(
            batches=(self._hall, self._seats, *self._people()),
            sky_color=(0.2, 0.18, 0.16),
            fog_color=(0.25, 0.21, 0.18),
            fog_density=0.018,
            camera_position=EYE.copy(),
            camera_yaw=0.0,
            camera_pitch=-10.0,
        )

    def _poses(self, idx: NDArray[np.intp]) -> tuple[NDArray[np.float64], list[_Prop]]:
        """Per present person ``(rise, lean, tilt, facing)`` of the events running, and the
        props (hands, a phone, a raised arm) they hold up, as boxes."""
        pose = np.zeros((4, idx.size))
        props: list[_Prop] = []
        where = {int(person): k for k, person in enumerate(idx)}
        for event in self._events.running:
            env, age = self._events.envelope(event, 0.4), self._events.age(event) or 0.0
            for person in self._actors.get(event, ()):
                k = where.get(int(person))
                if k is None:
                    continue
                top = self._seat_pos[person] + np.array(
                    [0.0, 0.45 + 0.65 * self._height[person], 0.0]
                )
                skin = (*self._skin_rgb[person], 1.0)
                if event in ("cough", "audience_yawns"):
                    row = 1 if event == "cough" else 2
                    shake = 0.5 + 0.5 * abs(np.sin(2.0 * np.pi * 3.0 * age))
                    pose[row, k] = (0.12 * shake if event == "cough" else 1.0) * env
                    mouth = top + np.array([0.0, 0.1 - 0.1 * pose[1, k], 0.14 + pose[1, k]])
                    props.append(_Prop(mouth, _HAND, skin))
                elif event == "phone_ring":
                    pose[3, k] = 1.0
                    lit = 0.75 + 0.25 * float(np.sign(np.sin(2.0 * np.pi * 2.0 * age)))
                    screen = top + np.array([0.0, -0.25, 0.22])
                    props.append(_Prop(screen, (0.1, 0.17, 0.02), (lit, 1.0, lit, 1.0)))
                else:  # hostile_question: stands up facing the speaker, arm raised
                    pose[0, k], pose[3, k] = 0.5 * env, 1.0
                    arm = top + np.array([0.24, 0.8 * env - 0.05, 0.0])
                    size = (0.1, 0.6 * env + 1e-3, 0.1)
                    props.append(_Prop(arm, size, (*self._body_rgb[person], 1.0)))
        return pose, props

    def _people(self) -> tuple[Batch, Batch, Batch]:
        idx = self._order[: audience_size(self._level)]
        n = idx.size
        t = self._time
        (rise, lean, tilt, facing), props = self._poses(idx)
        sway = 0.025 * np.sin(t * self._sway_rate[idx, None] * 2 * np.pi + self._sway_phase[idx])
        seat = self._seat_pos[idx].astype(np.float64)
        h = self._height[idx]
        torso = seat + np.stack([sway[:, 0], 0.45 + 0.32 * h + rise, np.zeros(n)], axis=1)
        turn = self._turn[idx] * (1.0 - facing)
        phone = self._distraction[idx] == 0
        # Head yaw: 0 faces the stage (+z); neighbours turn sideways, phone users look down.
        yaw = np.where(phone, 0.0, self._side[idx] * 1.4 * turn) + 0.08 * sway[:, 1] / 0.025
        down = np.where(phone, turn, 0.0)
        face = np.stack([np.sin(yaw), np.zeros(n), np.cos(yaw)], axis=1)
        head = torso + np.stack(
            [np.zeros(n), 0.33 * h + 0.12 - 0.05 * down - lean + 0.04 * tilt,
             0.05 * down + lean - 0.08 * tilt],
            axis=1,
        )  # fmt: skip
        hair_dir = -face * (1.0 - down[:, None]) + np.array([0.0, 1.0, 0.0]) * down[:, None]
        hair = head + hair_dir * 0.045 + [0.0, 0.035, 0.0]
        heads = Batch(
            "sphere",
            trs_matrices(
                np.concatenate([head, hair]),
                np.concatenate(
                    [np.tile([0.2, 0.24, 0.21], (n, 1)), np.tile([0.215, 0.22, 0.2], (n, 1))]
                ),
                np.concatenate([yaw, yaw]),
            ),
            _rgba(np.concatenate([self._skin_rgb[idx], self._hair_rgb[idx]])),
        )
        torsos = Batch(
            "cylinder",
            trs_matrices(torso, np.stack([0.44 * np.ones(n), 0.64 * h, 0.28 * np.ones(n)], 1)),
            _rgba(self._body_rgb[idx]),
        )
        lit = phone & (turn > 0.5)
        glow = seat[lit] + [0.0, 0.82, 0.2]
        pos = np.concatenate([glow, [p.position for p in props]]) if props else glow
        scl = np.tile([0.08, 0.01, 0.14], (glow.shape[0], 1))
        col = np.tile(np.array([[0.75, 0.88, 1.0, 1.0]], np.float32), (glow.shape[0], 1))
        if props:
            scl = np.concatenate([scl, [p.size for p in props]])
            col = np.concatenate([col, np.array([p.rgba for p in props], np.float32)])
        screens = Batch("box", trs_matrices(pos, scl), col)
        return torsos, heads, screens


class _Prop:
    """A box an event adds (a hand, a phone, a raised arm)."""

    __slots__ = ("position", "rgba", "size")

    def __init__(
        self, position: NDArray[np.float64], size: tuple[float, float, float], rgba: RGBA
    ) -> None:
        self.position, self.size = position, size
        self.rgba = tuple(float(c) for c in rgba)
