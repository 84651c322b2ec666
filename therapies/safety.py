"""Safety layer wrapping any controller: ceilings, rate limits, signal loss, stop, override.

The safety layer has the last word on intensity, and the therapist has the last word over
it: commands are applied first, then safety checks (heart-rate ceiling, signal loss), and
only then, at the controller's tick, the controller itself.

Intensity shown to the patient follows the target through :class:`IntensityRamp`: rises
are limited to ``max_step_per_minute``; falls are fast (a full drop within one second),
because lowering exposure is always the safe direction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from biosignals.features import FeatureSnapshot
from biosignals.units import Duration
from therapies.commands import Command, CommandKind
from therapies.controllers.base import SAFETY, THERAPIST, Controller, IntensityDecision

SIGNAL_LOSS_FLAGS = ("dropout", "flatline", "nan", "clipping", "format")
FALL_PER_SECOND = 1.0


class SafetyConfig(BaseModel):
    """Protocol key ``safety``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    max_heart_rate: float = Field(default=150.0, ge=60.0, le=220.0)
    max_step_per_minute: float = Field(default=0.2, gt=0.0, le=60.0)
    on_signal_loss: Literal["lower", "hold", "stop"] = "lower"
    ceiling_repeat: Duration = Field(default=5.0, gt=0.0)


SAFETY_COMMANDS = (
    CommandKind.STEP_UP,
    CommandKind.STEP_DOWN,
    CommandKind.HOLD,
    CommandKind.RESUME,
    CommandKind.STOP,
)
"""Commands the safety layer applies (the rest are prompts, notes and scene events)."""
EMERGENCY_STOP = "stop requested (emergency stop key)"
_POLICIES = {
    "lower": "lowers to the first step",
    "hold": "holds the intensity",
    "stop": "stops the session",
}
"""What each ``on_signal_loss`` policy does, for :meth:`SafetyLayer.explain_next`."""


def stop_reason(command: Command) -> str:
    """Why the session stops on ``command``: its text, else who asked."""
    if command.text:
        return command.text
    if command.source in ("keyboard", "controller"):
        return EMERGENCY_STOP
    return f"stop requested by {command.who} ({command.source})"


@dataclass
class SafetyOutcome:
    """Decisions taken in one update and, if the session must end, why."""

    decisions: list[IntensityDecision] = field(default_factory=list)
    stop_reason: str | None = None
    notes: list[str] = field(default_factory=list)


class IntensityRamp:
    """Rate-limited follower of the target intensity (per frame)."""

    def __init__(self, max_up_per_second: float, max_down_per_second: float = FALL_PER_SECOND):
        self.max_up = max_up_per_second
        self.max_down = max_down_per_second
        self.value = 0.0
        self._last: float | None = None

    def advance(self, target: float, now: float) -> float:
        """Move toward ``target`` for the time since the last call; return the new value."""
        dt = 0.0 if self._last is None else max(0.0, now - self._last)
        self._last = now
        delta = target - self.value
        limit = self.max_up * dt if delta > 0 else self.max_down * dt
        self.value += max(-limit, min(limit, delta))
        return self.value


def _signal_lost(features: FeatureSnapshot) -> list[str]:
    """Loss flags that leave the features invalid (a flagged ECG is no loss while a clean
    PPG or HR stream still supplies the heart rate: the snapshot stays valid)."""
    if features.valid:
        return []
    return [f for f in features.flags if f.split(":", 1)[-1] in SIGNAL_LOSS_FLAGS]


class SafetyLayer:
    """Wraps a controller (see module docstring).

    Parameters
    ----------
    controller
        The therapy controller.
    config
        Safety settings.
    tick
        Controller tick period in seconds.
    """

    def __init__(self, controller: Controller, config: SafetyConfig, tick: float) -> None:
        self.controller = controller
        self.config = config
        self.tick = tick
        self.ramp = IntensityRamp(config.max_step_per_minute / 60.0)
        self._next_tick: float | None = None
        self._last_ceiling_action = float("-inf")
        self._loss_handled = False
        self._last_target: float | None = None
        self._cap: float | None = None
        self.held_by: str | None = None
        """Who holds the controller (``hold`` command); ``None`` while it runs."""
        self.last_tick: float | None = None
        """When the controller's last tick fell due (held or not); ``None`` before one."""

    def start(self, now: float) -> IntensityDecision:
        """Start the active phase (first controller decision)."""
        self._next_tick = now + self.tick
        self.last_tick = now
        self.ramp.advance(self.ramp.value, now)
        return self.controller.start(now)

    def answer(self, now: float, kind: str, value: int) -> IntensityDecision | None:
        """A SUDS/NRS answer for the controller; never over the safety limits.

        The controller may act on it (e.g. habituated by SUDS); the shown intensity still
        follows the rate-limited ramp, and the HR ceiling and signal-loss checks run on
        every frame regardless.
        """
        return self.controller.on_answer(now, kind, value)

    def intensity(self, now: float) -> float:
        """Intensity to show now (ramped toward the controller's target).

        After any step down the shown intensity never rises again until a later step up:
        were it still ramping toward the old, higher target, it stops where it is instead of
        climbing on toward the new, lower one (a ceiling must never coincide with a rise).
        """
        target = self.controller.target
        if self._last_target is not None and target < self._last_target:
            self._cap = min(self.ramp.value, target)
        elif self._last_target is not None and target > self._last_target:
            self._cap = None
        self._last_target = target
        goal = target if self._cap is None else min(target, self._cap)
        return self.ramp.advance(goal, now)

    def command(self, now: float, command: Command) -> SafetyOutcome:
        """Apply one of :data:`SAFETY_COMMANDS` (step up/down, hold, resume, stop).

        Steps are the therapist's and always apply (within the hierarchy); ``hold`` freezes
        the controller's own decisions while safety keeps acting; ``stop`` ends the session.
        """
        out = SafetyOutcome()
        kind = command.kind
        if kind is CommandKind.STOP:
            out.stop_reason = stop_reason(command)
        elif kind in (CommandKind.STEP_UP, CommandKind.STEP_DOWN):
            steps = 1 if kind is CommandKind.STEP_UP else -1
            word = "raised" if steps > 0 else "lowered"
            who = "therapist" if command.operator is None else command.operator
            self._add(out, self.controller.move(now, steps, f"{who} {word} a step", THERAPIST))
        elif kind is CommandKind.HOLD:
            self.held_by = command.who
            out.notes.append(f"controller held by {command.who}: safety still acts")
        elif kind is CommandKind.RESUME:
            was, self.held_by = self.held_by, None
            out.notes.append(
                f"controller resumed by {command.who}" + ("" if was else " (was not held)")
            )
        else:
            raise ValueError(f"the safety layer does not apply {kind.value} commands")
        return out

    def update(
        self, now: float, features: FeatureSnapshot, commands: Sequence[Command] = ()
    ) -> SafetyOutcome:
        """Apply commands, safety checks and (at its tick, unless held) the controller."""
        out = SafetyOutcome()
        for command in commands:
            done = self.command(now, command)
            out.decisions += done.decisions
            out.notes += done.notes
            if done.stop_reason is not None:
                out.stop_reason = done.stop_reason
                return out
        lost = _signal_lost(features)
        if lost:
            self._on_signal_loss(now, lost, out)
            return out
        if self._loss_handled:
            out.notes.append("signal restored: " + features.describe())
            self._loss_handled = False
        self._check_ceiling(now, features, out)
        if self._next_tick is not None and now >= self._next_tick:
            self._next_tick += self.tick * max(1, int((now - self._next_tick) // self.tick) + 1)
            self.last_tick = now
            decision = None if self.held_by else self.controller.tick(now, features)
            if (
                decision is not None
                and decision.target > decision.previous
                and self._above(features)
            ):
                # never climb while the heart rate is over the ceiling: undo the step
                self.controller.move(now, -1, "climb refused: heart rate above ceiling", SAFETY)
                out.notes.append(
                    f"controller wanted {decision.explain()}; refused: heart rate "
                    f"{features.hr_bpm:.0f} bpm above ceiling {self.config.max_heart_rate:.0f}"
                )
                decision = None
            self._add(out, decision)
        return out

    def explain_next(self, features: FeatureSnapshot) -> str:
        """What the safety layer will do next, in words and numbers, e.g. ``"steps down if
        heart rate exceeds 140 bpm (now 96); on signal loss: lowers to the first step"``."""
        parts: list[str] = []
        if self.held_by is not None:
            parts.append(f"controller held by {self.held_by}: only safety acts")
        hr, ceiling = features.hr_bpm, self.config.max_heart_rate
        lost = _signal_lost(features)
        policy = _POLICIES[self.config.on_signal_loss]
        if lost:
            parts.append(f"signal lost ({', '.join(lost)}): {policy}; the controller waits for it")
        elif hr is not None and hr > ceiling:
            parts.append(
                f"heart rate {hr:.0f} bpm above the ceiling {ceiling:.0f}: steps down every "
                f"{self.config.ceiling_repeat:g} s and allows no climb until it falls"
            )
        else:
            now = "unknown" if hr is None else f"{hr:.0f}"
            parts.append(f"steps down if heart rate exceeds {ceiling:.0f} bpm (now {now})")
        if not lost:
            parts.append(f"on signal loss: {policy}")
        return "; ".join(parts)

    def _above(self, features: FeatureSnapshot) -> bool:
        hr = features.hr_bpm
        return hr is not None and hr > self.config.max_heart_rate

    @staticmethod
    def _add(out: SafetyOutcome, decision: IntensityDecision | None) -> None:
        if decision is not None:
            out.decisions.append(decision)

    def _check_ceiling(self, now: float, features: FeatureSnapshot, out: SafetyOutcome) -> None:
        hr, ceiling = features.hr_bpm, self.config.max_heart_rate
        if (
            hr is None
            or hr <= ceiling
            or now - self._last_ceiling_action < self.config.ceiling_repeat
        ):
            return
        self._last_ceiling_action = now
        reason = f"heart rate {hr:.0f} bpm above ceiling {ceiling:.0f}"
        decision = self.controller.move(now, -1, reason, SAFETY)
        if decision is None:
            out.notes.append(reason + " at the lowest step; holding")
        self._add(out, decision)

    def _on_signal_loss(self, now: float, lost: list[str], out: SafetyOutcome) -> None:
        if self._loss_handled:
            return
        self._loss_handled = True
        what = ", ".join(lost)
        policy = self.config.on_signal_loss
        if policy == "stop":
            out.stop_reason = f"signal lost ({what}); protocol says stop"
        elif policy == "lower":
            reason = f"signal lost ({what}); lowering to the first step"
            decision = self.controller.lowest(now, reason, SAFETY)
            if decision is None:
                out.notes.append(reason + " (already there)")
            self._add(out, decision)
        else:
            out.notes.append(f"signal lost ({what}); holding intensity until it returns")
