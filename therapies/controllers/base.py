"""What every controller shares: intensity decisions with their reasons."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Protocol

from numpy.typing import ArrayLike
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from biosignals.errors import VrTherapyError
from biosignals.features import FeatureSnapshot
from biosignals.units import Duration

CONTROLLER = "controller"
SAFETY = "safety"
THERAPIST = "therapist"

MIN_TICK = 0.1
"""Shortest controller tick (s): the heart rate changes beat by beat, so ten decisions a
second is already more than there is to decide (and a tick of a few nanoseconds would
make the tick arithmetic overflow)."""
ANSWER_RANGES: dict[str, tuple[int, int]] = {"suds": (0, 100), "nrs": (0, 10)}
"""Prompt answers a controller accepts: SUDS 0-100 (distress), pain NRS 0-10."""


def _window_ordered(value: tuple[float, float]) -> tuple[float, float]:
    lo, hi = value
    if not 0.0 <= lo < hi <= 1.0:
        raise ValueError(f"must be [low, high] with 0 <= low < high <= 1, got {list(value)}")
    return value


ArousalWindow = Annotated[tuple[float, float], AfterValidator(_window_ordered)]
"""The therapeutic window of the arousal index: ``[low, high]``, ``0 <= low < high <= 1``."""


class ControllerConfigBase(BaseModel):
    """What every controller's settings share (protocol key ``controller``).

    A controller kind subclasses it with ``kind: Literal["<name>"]`` and its own fields,
    and registers in :data:`therapies.controllers.CONTROLLERS`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: str
    tick: Duration = Field(default=1.0, ge=MIN_TICK, le=60.0)
    arousal_window: ArousalWindow = (0.3, 0.7)

    def levels(self) -> tuple[float, ...]:
        """The target intensities the controller moves between."""
        raise NotImplementedError

    def label(self, step: int) -> str:
        """What step ``step`` means, for reports (may be empty)."""
        raise NotImplementedError

    def paced_breathing_rate(self) -> float | None:
        """Breaths per minute the patient is paced at, if this controller paces breathing
        (a simulated patient follows it); ``None`` otherwise."""
        return None


class ControllerError(VrTherapyError):
    """A controller was given something it cannot use (e.g. an answer out of range)."""


def check_answer(kind: str, value: int) -> int:
    """Validate a prompt answer; return it as ``int``.

    Raises
    ------
    ControllerError
        Unknown ``kind`` or ``value`` outside its scale.
    """
    if kind not in ANSWER_RANGES:
        raise ControllerError(f"answer kind {kind!r} is not one of {', '.join(ANSWER_RANGES)}")
    lo, hi = ANSWER_RANGES[kind]
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ControllerError(f"{kind} answer must be an integer {lo}..{hi}, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class IntensityDecision:
    """A change of target intensity and why it was made.

    Attributes
    ----------
    time
        LSL time of the decision.
    previous, target
        Target intensity before and after (0..1).
    step
        Hierarchy step index after the decision (``None`` for continuous controllers).
    reason
        Clinician-readable explanation, e.g. ``"settled: arousal 0.41 steady for 30 s"``.
    source
        ``"controller"``, ``"safety"`` or ``"therapist"``.
    """

    time: float
    previous: float
    target: float
    step: int | None
    reason: str
    source: str

    def explain(self) -> str:
        """``'0.40 -> 0.50 (step 3, controller): settled: ...'``."""
        where = f"step {self.step + 1}, " if self.step is not None else ""
        return f"{self.previous:.2f} -> {self.target:.2f} ({where}{self.source}): {self.reason}"


class Controller(Protocol):
    """A therapy controller: reads features at each tick, moves the target intensity."""

    @property
    def target(self) -> float:
        """Current target intensity 0..1."""
        ...

    @property
    def step(self) -> int | None:
        """Current hierarchy step index, if the controller has steps."""
        ...

    def start(self, now: float) -> IntensityDecision:
        """Begin the active phase; returns the first decision (the starting intensity)."""
        ...

    def tick(self, now: float, features: FeatureSnapshot) -> IntensityDecision | None:
        """Decide at one controller tick; ``None`` keeps the current target."""
        ...

    def move(self, now: float, steps: int, reason: str, source: str) -> IntensityDecision | None:
        """Move ``steps`` hierarchy steps (negative = down) on behalf of safety/therapist."""
        ...

    def lowest(self, now: float, reason: str, source: str) -> IntensityDecision | None:
        """Go to the lowest step (safety's 'lower' policy)."""
        ...

    def on_answer(self, now: float, kind: str, value: int) -> IntensityDecision | None:
        """Take a prompt answer (``"suds"`` 0-100 or ``"nrs"`` 0-10) given at ``now``.

        Returns a decision when the answer alone warrants one (e.g. distress above a
        protocol limit), otherwise ``None``; the answer is also used at later ticks.
        Raises :class:`ControllerError` for an unknown kind or a value off its scale.
        """
        ...

    def observe_hr(self, times: ArrayLike, hr_bpm: ArrayLike) -> None:
        """Beat-to-beat heart rates (bpm at each beat's time) as they are detected; a
        controller that does not use them ignores them."""
        ...

    def scene_parameters(self, intensity: float) -> Mapping[str, float]:
        """What this controller tells the scene besides the intensity shown (e.g. the
        breathing pacer's rate and the reward); a scene takes the names it knows
        (:meth:`therapies.scenes.base.Scene.set_parameters`)."""
        ...

    def explain_next(self, now: float, features: FeatureSnapshot) -> str:
        """The pending rule in words and numbers, from the controller's real state after
        its tick at ``now`` (e.g. ``"climbs to step 4 when arousal stays steady ... for
        18 s more"``); a time it names is the tick at which the decision falls if the
        inputs stay as they are."""
        ...


def seconds(value: float) -> str:
    """A duration for an explanation: whole seconds, tenths below 10 s when not whole."""
    if value < 10.0 and abs(value - round(value)) > 0.05:
        return f"{value:.1f}"
    return f"{value:.0f}"


def next_tick(now: float, tick: float, earliest: float, *, strictly: bool = False) -> float:
    """The first controller tick after ``now`` (ticks every ``tick`` s from ``now``) at or
    after ``earliest`` (after it, ``strictly``)."""
    k = max(1, math.ceil((earliest - now) / tick - 1e-9))
    while now + k * tick < earliest - 1e-9 or (strictly and now + k * tick <= earliest + 1e-9):
        k += 1
    return now + k * tick


class SteppedController:
    """What the built-in controllers share: quantised levels, the current step, and moving
    between steps as :class:`IntensityDecision` events.

    A subclass sets ``_levels`` and ``_step`` and implements ``start``, ``tick`` and
    ``on_answer``; it may override :meth:`_entered` (reset per-step state) and
    :meth:`_reason` (add to the decision's text).
    """

    _levels: Sequence[float]
    _step: int

    def observe_hr(self, times: ArrayLike, hr_bpm: ArrayLike) -> None:
        """Beat-to-beat heart rates: not used by this controller."""

    def scene_parameters(self, intensity: float) -> Mapping[str, float]:
        """No parameters besides the intensity."""
        return {}

    def explain_next(self, now: float, features: FeatureSnapshot) -> str:
        """Where the controller is (built-in controllers say what comes next)."""
        return f"at step {self._step + 1} of {len(self._levels)}"

    @property
    def target(self) -> float:
        """Current target intensity 0..1 (the current step's level)."""
        return self._levels[self._step]

    @property
    def step(self) -> int:
        """Index of the current step."""
        return self._step

    def move(self, now: float, steps: int, reason: str, source: str) -> IntensityDecision | None:
        """Move by ``steps`` (negative = down) on behalf of safety or the therapist."""
        return self._go(now, self._step + steps, reason, source)

    def lowest(self, now: float, reason: str, source: str) -> IntensityDecision | None:
        """Drop to the first step."""
        return self._go(now, 0, reason, source)

    def _go(self, now: float, step: int, reason: str, source: str) -> IntensityDecision | None:
        """Go to ``step`` (clamped to the levels); ``None`` when that is where it is."""
        step = max(0, min(len(self._levels) - 1, step))
        if step == self._step:
            return None
        previous = self.target
        self._step = step
        self._entered(now)
        return IntensityDecision(now, previous, self.target, step, self._reason(reason), source)

    def _entered(self, now: float) -> None:
        """A new step began at ``now`` (after ``_step`` changed)."""

    def _reason(self, reason: str) -> str:
        """The decision text for entering the current step."""
        return reason
