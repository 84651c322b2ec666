"""What a scene hands the renderer and the audio player. Pure numpy, no GL, no pygame.

Scenes *describe* a frame (:class:`DrawList`: instanced batches, fog, sky and camera) and
a soundscape (:class:`Soundscape`: looping layers at target volumes and one-shot cues);
:mod:`engine.render` draws the one and :mod:`engine.audio` plays the other.

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

import math
from collections import deque
from collections.abc import Mapping
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


RGBA = tuple[float, float, float, float]

OVERLAY_FG: RGBA = (0.96, 0.95, 0.90, 1.0)
"""Default overlay text colour: warm off-white."""

OVERLAY_BG: RGBA = (0.10, 0.15, 0.20, 0.82)
"""Default overlay panel colour: dark, slightly translucent slate blue."""


def _check_unit(name: str, values: tuple[float, ...], count: int) -> None:
    if len(values) != count or not all(0.0 <= float(v) <= 1.0 for v in values):
        raise ValueError(f"Overlay.{name} must be {count} numbers in 0..1, got {values!r}")


@dataclass(frozen=True)
class Gauge:
    """A horizontal rating scale drawn inside an :class:`Overlay` panel.

    Parameters
    ----------
    value
        Marker position 0..1 along the scale; ``None``: no marker (nothing chosen yet).
    ticks
        Evenly spaced tick marks including both ends (0 or 1: none).
    after_line
        Drawn below this text line (0-based); negative: below the last line.
    """

    value: float | None = None
    ticks: int = 11
    after_line: int = -1

    def __post_init__(self) -> None:
        if self.value is not None and not 0.0 <= float(self.value) <= 1.0:
            raise ValueError(f"Gauge.value must be in 0..1 or None, got {self.value!r}")
        if not 0 <= self.ticks <= 101:
            raise ValueError(f"Gauge.ticks must be in 0..101, got {self.ticks!r}")


@dataclass(frozen=True)
class Overlay:
    """A text panel drawn over the scene in every eye (prompts, labels, instructions).

    Parameters
    ----------
    text
        What to show; ``"\\n"`` separates lines (centred); a ``"\\t"`` in a line sets the
        text before it flush left and the text after it flush right.
    anchor
        ``(x, y)`` of the panel centre in normalised viewport coordinates, ``(0, 0)``
        bottom-left, ``(1, 1)`` top-right (OpenGL's orientation). Ignored when ``world`` is set.
    height
        Panel height as a fraction of the viewport height (0..1]; the width follows the text.
    fg, bg
        Text and panel RGBA in 0..1 (``bg`` alpha 0: text only).
    world
        ``None``: head-locked HUD panel, always on top, placed 1.5 m in front of the head so
        both eyes see it with the disparity of that depth. A point: a world-anchored label
        centred there, facing the viewer, hidden by geometry in front of it, with the same
        apparent size at any distance.
    gauge
        Optional rating scale drawn in the panel (see :class:`Gauge`).
    """

    text: str
    anchor: tuple[float, float] = (0.5, 0.5)
    height: float = 0.1
    fg: RGBA = OVERLAY_FG
    bg: RGBA = OVERLAY_BG
    world: tuple[float, float, float] | None = None
    gauge: Gauge | None = None

    def __post_init__(self) -> None:
        _check_unit("anchor", tuple(self.anchor), 2)
        _check_unit("fg", tuple(self.fg), 4)
        _check_unit("bg", tuple(self.bg), 4)
        if not 0.0 < float(self.height) <= 1.0:
            raise ValueError(f"Overlay.height must be in (0, 1], got {self.height!r}")
        if self.world is not None and len(self.world) != 3:
            raise ValueError(f"Overlay.world must be (x, y, z) or None, got {self.world!r}")


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
    overlays
        Text panels drawn after the scene: world-anchored labels, then head-locked panels,
        each group in order (see :class:`Overlay`).
    """

    batches: tuple[Batch, ...]
    sky_color: tuple[float, float, float]
    fog_color: tuple[float, float, float]
    fog_density: float
    camera_position: FloatArray = field(default_factory=lambda: np.zeros(3, np.float32))
    camera_yaw: float = 0.0
    camera_pitch: float = 0.0
    overlays: tuple[Overlay, ...] = ()

    @property
    def instance_count(self) -> int:
        """Total instances over all batches."""
        return sum(b.count for b in self.batches)


LAYER_SOUNDS: tuple[str, ...] = (
    "murmur",
    "engine",
    "rumble",
    "wind",
    "traffic",
    "skitter",
    "pacer",
)
"""Looping sounds a :class:`SoundLayer` may name; :mod:`engine.audio` synthesises each."""

CUE_SOUNDS: tuple[str, ...] = (
    "cough",
    "shuffle",
    "chime",
    "throw",
    "hit",
    "reward",
    "ring",
    "jolt",
    "gust",
)
"""One-shot sounds a :class:`Soundscape` cue may name."""

MAX_PENDING_CUES = 8
"""Cues a scene keeps until :meth:`Scene.soundscape` collects them (older ones are dropped,
so a session without audio, e.g. a dry-run, never accumulates them)."""


@dataclass(frozen=True)
class SoundLayer:
    """One looping sound at a target volume.

    Parameters
    ----------
    sound
        One of :data:`LAYER_SOUNDS`.
    volume
        Target loudness 0..1 (the player smooths its approach, so changes never click).
    cycle_s
        ``None``: a seamless loop. A period in seconds: the sound is one cycle long and is
        restarted at every new cycle, locked to ``phase`` (the breathing pacer).
    phase
        Position in the cycle, 0..1 (only with ``cycle_s``).
    """

    sound: str
    volume: float
    cycle_s: float | None = None
    phase: float = 0.0

    def __post_init__(self) -> None:
        if self.sound not in LAYER_SOUNDS:
            raise ValueError(
                f"SoundLayer.sound: {self.sound!r} is not one of {', '.join(LAYER_SOUNDS)}"
            )
        if not 0.0 <= float(self.volume) <= 1.0:
            raise ValueError(f"SoundLayer.volume must be in 0..1, got {self.volume!r}")
        if self.cycle_s is not None and not float(self.cycle_s) > 0.0:
            raise ValueError(f"SoundLayer.cycle_s must be > 0 or None, got {self.cycle_s!r}")
        if not 0.0 <= float(self.phase) < 1.0:
            raise ValueError(f"SoundLayer.phase must be in [0, 1), got {self.phase!r}")


@dataclass(frozen=True)
class Soundscape:
    """What a scene sounds like now.

    Parameters
    ----------
    layers
        Looping sounds with target volumes, at most one per sound.
    cues
        One-shot sounds (:data:`CUE_SOUNDS`) fired since the previous
        :meth:`Scene.soundscape`, oldest first.
    """

    layers: tuple[SoundLayer, ...] = ()
    cues: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = [layer.sound for layer in self.layers]
        if len(set(names)) != len(names):
            raise ValueError(f"Soundscape.layers: a sound appears twice in {names}")
        for cue in self.cues:
            if cue not in CUE_SOUNDS:
                raise ValueError(f"Soundscape.cues: {cue!r} is not one of {', '.join(CUE_SOUNDS)}")

    def volume(self, sound: str) -> float:
        """Target volume of the layer playing ``sound`` (0 when there is none)."""
        return next((layer.volume for layer in self.layers if layer.sound == sound), 0.0)


class CueLog:
    """One-shot cues a scene fired, kept until collected (at most :data:`MAX_PENDING_CUES`)."""

    def __init__(self) -> None:
        self._pending: deque[str] = deque(maxlen=MAX_PENDING_CUES)

    def fire(self, cue: str) -> None:
        """Record that ``cue`` (one of :data:`CUE_SOUNDS`) sounds now."""
        if cue not in CUE_SOUNDS:
            raise ValueError(f"cue {cue!r} is not one of {', '.join(CUE_SOUNDS)}")
        self._pending.append(cue)

    def drain(self) -> tuple[str, ...]:
        """The cues fired since the last drain, oldest first; forgets them."""
        out = tuple(self._pending)
        self._pending.clear()
        return out


class PoissonCues:
    """Random events at a varying rate, deterministic for a generator and a ``dt`` sequence.

    Each event uses up an exponentially distributed amount of "hazard" (``rate * dt``
    accumulated), so the count over a stretch of time hardly depends on the frame rate.

    Parameters
    ----------
    rng
        The scene's own generator for sound events (never the one that builds geometry, so
        adding sound does not change what is drawn).
    """

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self._left = float(rng.exponential())

    def advance(self, rate_per_s: float, dt: float) -> int:
        """Events due after ``dt`` seconds at ``rate_per_s`` events per second."""
        self._left -= max(rate_per_s, 0.0) * max(dt, 0.0)
        count = 0
        while self._left <= 0.0:
            count += 1
            self._left += float(self.rng.exponential())
        return count


@runtime_checkable
class Scene(Protocol):
    """A scene whose look is driven by one intensity in 0..1.

    Besides the intensity, a controller may pass named parameters (the breathing
    controller's reward and pacer rate): a scene declares the names it takes in
    :attr:`parameters` and ignores the others. A scene may declare :attr:`events`, things
    a therapist can make happen now (a cough, a gust of wind), fired with :meth:`trigger`.
    """

    name: str
    parameters: frozenset[str]
    """Parameter names :meth:`set_parameters` takes."""
    events: tuple[str, ...]
    """Scene events :meth:`trigger` fires."""

    def set_parameters(self, values: Mapping[str, float]) -> None:
        """Take the parameters named in :attr:`parameters` from ``values`` (others are
        ignored); raises ValueError for a value out of its range."""
        ...

    def trigger(self, event: str) -> None:
        """Fire scene event ``event`` now; ValueError if it is not one of :attr:`events`."""
        ...

    def update(self, intensity: float, dt: float) -> None:
        """Advance by ``dt`` seconds towards ``intensity`` (0..1); smooth, never jump."""
        ...

    def draw_list(self) -> DrawList:
        """The current frame's description."""
        ...

    def describe(self, intensity: float) -> str:
        """One line saying what ``intensity`` means in this scene."""
        ...

    def soundscape(self) -> Soundscape:
        """What should be heard now; the cues are those fired since the previous call."""
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


SMOOTHING_TAU_S = 2.0
"""Time constant of a scene level's exponential approach to the commanded intensity."""


def approach(level: float, target: float, dt: float, tau: float = SMOOTHING_TAU_S) -> float:
    """``level`` moved towards ``target`` over ``dt`` seconds with time constant ``tau``."""
    return level + (target - level) * (1.0 - math.exp(-dt / tau))


def clamp01(value: float) -> float:
    """``value`` limited to 0..1."""
    return min(max(float(value), 0.0), 1.0)


class SmoothedLevel:
    """Base for scenes: the intensity shown, :attr:`level`, snaps to the first target and
    then approaches each new one with time constant :data:`SMOOTHING_TAU_S`; no parameters
    and no events unless a scene declares them."""

    _level = 0.0
    _started = False
    parameters: frozenset[str] = frozenset()
    events: tuple[str, ...] = ()

    def set_parameters(self, values: Mapping[str, float]) -> None:
        """This scene takes no parameters: all are ignored."""

    def trigger(self, event: str) -> None:
        """Fire ``event`` (scenes with events override :meth:`_fire`)."""
        if event not in self.events:
            known = ", ".join(self.events) or "none"
            raise ValueError(f"scene {type(self).__name__}: no event {event!r} (events: {known})")
        self._fire(event)

    def _fire(self, event: str) -> None:
        """Make ``event`` happen (called with a declared event only)."""

    @property
    def level(self) -> float:
        """The smoothed intensity currently shown (0..1)."""
        return self._level

    def _follow(self, intensity: float, dt: float) -> float:
        """Move :attr:`level` towards ``intensity`` (limited to 0..1) over ``dt`` seconds
        (the first call snaps to it, so a session starts where it is told to); return it.

        Raises
        ------
        ValueError
            If ``dt`` is negative.
        """
        if dt < 0:
            raise ValueError(f"{type(self).__name__}.update: dt={dt} must be >= 0")
        target = clamp01(intensity)
        if not self._started:
            self._level, self._started = target, True
        else:
            self._level = approach(self._level, target, dt)
        return self._level


def frozen(array: FloatArray) -> FloatArray:
    """Mark ``array`` read-only (for static batches reused every frame) and return it."""
    array.flags.writeable = False
    return array
