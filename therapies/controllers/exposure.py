"""Graded exposure: climb a hierarchy while arousal stays in a therapeutic window.

At every tick the controller looks at the arousal index (0..1 relative to the baseline):

- above the window (over-aroused) for the tick, after a minimum dwell: one step down;
- at or below the upper edge and *settled* (its spread over ``settle_time`` is at most
  ``settle_tolerance``) or *habituated* (it fell by ``habituation_drop`` of the step's peak
  and the step lasted ``settle_time``): one step up;
- otherwise hold. Every change carries the reason in words and numbers.
"""

from __future__ import annotations

from collections import deque
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from biosignals.features import FeatureSnapshot
from biosignals.units import Duration
from therapies.controllers.base import CONTROLLER, IntensityDecision


class HierarchyStep(BaseModel):
    """One rung of the exposure hierarchy."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    intensity: float = Field(ge=0.0, le=1.0)
    label: str = ""


class StepUp(BaseModel):
    """When to climb: ``settled`` (arousal steady) or ``habituated`` (arousal declined)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    when: Literal["settled", "habituated"] = "settled"
    by: float = Field(default=0.1, gt=0.0, le=0.5, description="increment without a hierarchy")


class ExposureConfig(BaseModel):
    """Settings of the ``exposure`` controller (protocol key ``controller``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["exposure"] = "exposure"
    tick: Duration = Field(default=1.0, gt=0.0, le=60.0)
    arousal_window: tuple[float, float] = (0.3, 0.7)
    settle_time: Duration = Field(default=30.0, gt=0.0)
    settle_tolerance: float = Field(default=0.1, gt=0.0, le=1.0)
    habituation_drop: float = Field(default=0.15, gt=0.0, lt=1.0)
    min_dwell: Duration = Field(default=10.0, ge=0.0)
    step_up: StepUp = StepUp()
    hierarchy: tuple[HierarchyStep, ...] = ()
    start_step: int = Field(default=0, ge=0)

    @field_validator("arousal_window")
    @classmethod
    def _window_ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        lo, hi = value
        if not 0.0 <= lo < hi <= 1.0:
            raise ValueError(f"must be [low, high] with 0 <= low < high <= 1, got {list(value)}")
        return value

    @field_validator("hierarchy")
    @classmethod
    def _increasing(cls, steps: tuple[HierarchyStep, ...]) -> tuple[HierarchyStep, ...]:
        for i in range(1, len(steps)):
            if steps[i].intensity <= steps[i - 1].intensity:
                raise ValueError(
                    f"intensities must strictly increase: step {i + 1} ({steps[i].intensity}) "
                    f"is not above step {i} ({steps[i - 1].intensity})"
                )
        return steps

    @model_validator(mode="after")
    def _start_in_range(self) -> ExposureConfig:
        if self.start_step >= len(self.levels()):
            raise ValueError(
                f"start_step {self.start_step} is beyond the {len(self.levels())} steps"
            )
        return self

    def levels(self) -> tuple[float, ...]:
        """Intensity of every step (from the hierarchy, or 0, by, 2*by ... 1)."""
        if self.hierarchy:
            return tuple(s.intensity for s in self.hierarchy)
        n = round(1.0 / self.step_up.by)
        return tuple(min(1.0, round(i * self.step_up.by, 6)) for i in range(n + 1))

    def label(self, step: int) -> str:
        """Label of step ``step`` (empty without a hierarchy)."""
        return self.hierarchy[step].label if self.hierarchy else ""


class ExposureController:
    """Hierarchy-climbing controller (see module docstring)."""

    def __init__(self, config: ExposureConfig) -> None:
        self.config = config
        self._levels = config.levels()
        self._step = config.start_step
        self._step_since = 0.0
        self._step_peak: float | None = None
        self._history: deque[tuple[float, float]] = deque()

    @property
    def target(self) -> float:
        """Current target intensity."""
        return self._levels[self._step]

    @property
    def step(self) -> int:
        """Current step index."""
        return self._step

    def _go(self, now: float, step: int, reason: str, source: str) -> IntensityDecision | None:
        step = max(0, min(len(self._levels) - 1, step))
        if step == self._step:
            return None
        previous = self.target
        self._step, self._step_since, self._step_peak = step, now, None
        self._history.clear()
        label = self.config.label(step)
        text = f"{reason} -> {label}" if label else reason
        return IntensityDecision(now, previous, self.target, step, text, source)

    def start(self, now: float) -> IntensityDecision:
        """Start at ``start_step``."""
        self._step_since = now
        label = self.config.label(self._step)
        reason = "exposure starts" + (f" -> {label}" if label else "")
        return IntensityDecision(now, 0.0, self.target, self._step, reason, CONTROLLER)

    def move(self, now: float, steps: int, reason: str, source: str) -> IntensityDecision | None:
        """Move by ``steps`` on behalf of safety or the therapist."""
        return self._go(now, self._step + steps, reason, source)

    def lowest(self, now: float, reason: str, source: str) -> IntensityDecision | None:
        """Drop to the first step."""
        return self._go(now, 0, reason, source)

    def tick(self, now: float, features: FeatureSnapshot) -> IntensityDecision | None:
        """One controller tick (see module docstring)."""
        a = features.arousal
        if not features.valid or a is None:
            return None
        cfg = self.config
        lo, hi = cfg.arousal_window
        self._history.append((now, a))
        while self._history and self._history[0][0] < now - cfg.settle_time:
            self._history.popleft()
        self._step_peak = a if self._step_peak is None else max(self._step_peak, a)
        dwell = now - self._step_since
        if a > hi and dwell >= cfg.min_dwell:
            return self._go(
                now,
                self._step - 1,
                f"over-aroused: arousal {a:.2f} above window {lo:.2f}-{hi:.2f}",
                CONTROLLER,
            )
        if a > hi or dwell < cfg.settle_time or self._step == len(self._levels) - 1:
            return None
        return self._maybe_climb(now, a)

    def _maybe_climb(self, now: float, a: float) -> IntensityDecision | None:
        cfg = self.config
        values = [v for _, v in self._history]
        spread = max(values) - min(values)
        span = f"{cfg.settle_time:.0f} s"
        if cfg.step_up.when == "settled":
            if spread > cfg.settle_tolerance:
                return None
            reason = f"settled: arousal {a:.2f} steady (spread {spread:.2f}) over {span}"
        else:
            peak = self._step_peak if self._step_peak is not None else a
            drop = (peak - a) / peak if peak > 0 else 1.0
            if drop < cfg.habituation_drop:
                return None
            reason = (
                f"habituated: arousal {a:.2f}, {drop:.0%} below step peak {peak:.2f} after {span}"
            )
        return self._go(now, self._step + 1, reason, CONTROLLER)
