"""Graded exposure: climb a hierarchy while arousal stays in a therapeutic window.

At every tick the controller looks at the arousal index (0..1 relative to the baseline),
the heart rate and the skin conductance level:

- arousal above the window, after a minimum dwell on the step: one step down;
- a SUDS answer at or above ``suds_step_down`` (when set): one step down at once;
- otherwise, once the step has lasted ``settle_time``, one step up when the climb rule
  holds:

  ``step_up.when: settled``
      arousal is steady: its spread over ``settle_time`` is at most ``settle_tolerance``.
  ``step_up.when: habituated`` without a ``habituation`` block (the original rule)
      arousal fell by ``habituation_drop`` of the step's peak arousal.
  a ``habituation`` block
      heart rate and/or skin conductance (and/or the arousal index) fell by ``hr_drop`` /
      ``scl_drop`` (``arousal_drop``) from their peak on this step and stayed there for
      ``dwell``, and/or the last SUDS answer on this step is below ``suds_below``;
      ``require: any`` needs one of the criteria given, ``all`` every one of them. A
      criterion whose input is missing is not met. ``reference: peak`` measures the drop
      as a fraction of the peak value (HR 96 -> 84 bpm = 12%); ``reference: rise`` as a
      fraction of the rise above rest (the lowest value seen since the active phase
      began): rest 70, peak 90, now 80 bpm = 50%. With ``rise``, a step that raised the
      signal by less than 2 bpm / 0.05 uS / 0.05 counts as "no response" (met).

Inhibitory-learning variability (``variability`` = p, 0..0.3): at each climb, with
probability p (drawn from a generator seeded by the protocol's seed, so one seed gives one
session), the controller visits another step instead of the next one: any earlier step
or the one after the next. Every change carries the reason in words and numbers, e.g.
``habituated (HR -12% from step peak 96 bpm, held 90 s; SUDS 30)``.
"""

from __future__ import annotations

import random
from collections import deque
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from biosignals.errors import FieldValueError
from biosignals.features import FeatureSnapshot
from biosignals.units import Duration
from therapies.controllers.base import (
    CONTROLLER,
    ControllerConfigBase,
    IntensityDecision,
    SteppedController,
    check_answer,
    seconds,
)


class HierarchyStep(BaseModel):
    """One rung of the exposure hierarchy."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    intensity: float = Field(ge=0.0, le=1.0)
    label: str = ""


class StepUp(BaseModel):
    """When to climb: ``settled`` (arousal steady) or ``habituated`` (arousal declined)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    when: Literal["settled", "habituated"] = "settled"
    by: float = Field(default=0.1, ge=0.01, le=0.5, description="increment without a hierarchy")


class Habituation(BaseModel):
    """Within-step habituation criteria (protocol key ``controller.habituation``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    hr_drop: float | None = Field(default=0.1, gt=0.0, lt=1.0)
    scl_drop: float | None = Field(default=0.1, gt=0.0, lt=1.0)
    arousal_drop: float | None = Field(default=None, gt=0.0, lt=1.0)
    dwell: Duration = Field(default=60.0, ge=0.0)
    suds_below: int | None = Field(default=None, ge=1, le=100)
    require: Literal["any", "all"] = "any"
    reference: Literal["peak", "rise"] = "peak"

    @model_validator(mode="after")
    def _some_criterion(self) -> Habituation:
        if self.criteria() == ():
            raise ValueError("give at least one of hr_drop, scl_drop, arousal_drop, suds_below")
        return self

    def criteria(self) -> tuple[str, ...]:
        """Names of the criteria in use, in a fixed order."""
        names = ("hr_drop", "scl_drop", "arousal_drop", "suds_below")
        return tuple(n for n in names if getattr(self, n) is not None)


class ExposureConfig(ControllerConfigBase):
    """Settings of the ``exposure`` controller (protocol key ``controller``)."""

    kind: Literal["exposure"] = "exposure"
    settle_time: Duration = Field(default=30.0, gt=0.0)
    settle_tolerance: float = Field(default=0.1, gt=0.0, le=1.0)
    habituation_drop: float = Field(default=0.15, gt=0.0, lt=1.0)
    habituation: Habituation | None = None
    min_dwell: Duration = Field(default=10.0, ge=0.0)
    suds_step_down: int | None = Field(default=None, ge=1, le=100)
    variability: float = Field(default=0.0, ge=0.0, le=0.3)
    step_up: StepUp = StepUp()
    hierarchy: tuple[HierarchyStep, ...] = ()
    start_step: int = Field(default=0, ge=0)

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
    def _consistent(self) -> ExposureConfig:
        if self.start_step >= len(self.levels()):
            raise FieldValueError(
                ("start_step",),
                f"start_step {self.start_step} is beyond the {len(self.levels())} steps "
                f"(0..{len(self.levels()) - 1})",
            )
        explicit = "when" in self.step_up.model_fields_set
        if self.habituation is not None and explicit and self.step_up.when == "settled":
            raise ValueError(
                "a habituation block needs step_up.when: habituated (or no step_up.when)"
            )
        return self

    @property
    def climb_rule(self) -> Literal["settled", "arousal", "habituation"]:
        """Which climb rule applies (see module docstring)."""
        if self.habituation is not None:
            return "habituation"
        return "arousal" if self.step_up.when == "habituated" else "settled"

    def levels(self) -> tuple[float, ...]:
        """Intensity of every step (from the hierarchy, or 0, by, 2*by ... 1)."""
        if self.hierarchy:
            return tuple(s.intensity for s in self.hierarchy)
        n = round(1.0 / self.step_up.by)
        return tuple(min(1.0, round(i * self.step_up.by, 6)) for i in range(n + 1))

    def label(self, step: int) -> str:
        """Label of step ``step`` (empty without a hierarchy)."""
        return self.hierarchy[step].label if self.hierarchy else ""


class _StepTrack:
    """What the controller remembers about the current step."""

    def __init__(self, since: float) -> None:
        self.since = since
        self.peaks: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.met_since: dict[str, float] = {}
        self.suds: int | None = None


_SIGNALS = {"hr_drop": "HR", "scl_drop": "SCL", "arousal_drop": "arousal"}
_UNITS = {"hr_drop": " bpm", "scl_drop": " uS", "arousal_drop": ""}
MIN_RISE = {"hr_drop": 2.0, "scl_drop": 0.05, "arousal_drop": 0.05}
"""With ``reference: rise``, a smaller rise on a step counts as no response."""


def _fmt(name: str, value: float) -> str:
    return f"{value:.0f}" if name == "hr_drop" else f"{value:.2f}"


class ExposureController(SteppedController):
    """Hierarchy-climbing controller (see module docstring).

    Parameters
    ----------
    config
        Validated settings.
    seed
        Seed of the variability draws (the protocol's ``seed``).
    """

    def __init__(self, config: ExposureConfig, seed: int = 0) -> None:
        self.config = config
        self._levels = config.levels()
        self._step = config.start_step
        self._track = _StepTrack(0.0)
        self._step_peak: float | None = None
        self._history: deque[tuple[float, float]] = deque()
        self._rest: dict[str, float] = {}
        self._rng = random.Random(seed)

    def _entered(self, now: float) -> None:
        self._step_peak = None
        self._track = _StepTrack(now)
        self._history.clear()

    def _reason(self, reason: str) -> str:
        label = self.config.label(self._step)
        return f"{reason} -> {label}" if label else reason

    def start(self, now: float) -> IntensityDecision:
        """Start at ``start_step``."""
        self._track = _StepTrack(now)
        label = self.config.label(self._step)
        reason = "exposure starts" + (f" -> {label}" if label else "")
        return IntensityDecision(now, 0.0, self.target, self._step, reason, CONTROLLER)

    def on_answer(self, now: float, kind: str, value: int) -> IntensityDecision | None:
        """Remember a SUDS answer for this step; step down at once above ``suds_step_down``.

        Pain (NRS) answers are accepted and not used by exposure.
        """
        value = check_answer(kind, value)
        if kind != "suds":
            return None
        self._track.suds = value
        limit = self.config.suds_step_down
        if limit is not None and value >= limit:
            reason = f"distress: SUDS {value} at or above {limit}"
            return self._go(now, self._step - 1, reason, CONTROLLER)
        return None

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
        if cfg.habituation is not None:
            self._update_criteria(now, features)
        dwell = now - self._track.since
        if a > hi and dwell >= cfg.min_dwell:
            return self._go(
                now,
                self._step - 1,
                f"over-aroused: arousal {a:.2f} above window {lo:.2f}-{hi:.2f}",
                CONTROLLER,
            )
        if a > hi or dwell < cfg.settle_time or self._step == len(self._levels) - 1:
            return None
        reason = self._climb_reason(now, a)
        return None if reason is None else self._climb(now, reason)

    def explain_next(self, now: float, features: FeatureSnapshot) -> str:
        """What the next decision is and when (see :meth:`Controller.explain_next`)."""
        cfg = self.config
        hi = cfg.arousal_window[1]
        n = len(self._levels)
        a = features.arousal
        here = f"step {self._step + 1} of {n}"
        if not features.valid or a is None:
            return f"{here}: holds until the arousal index is valid again"
        dwell = now - self._track.since
        down = f"steps down if arousal exceeds {hi:.2f}"
        if self._step == 0:
            down = "no step below this one"
        elif dwell < cfg.min_dwell:
            down += f" (from {seconds(cfg.min_dwell - dwell)} s on)"
        if cfg.suds_step_down is not None and self._step > 0:
            down += f", or at once on a SUDS of {cfg.suds_step_down} or more"
        if self._step == n - 1:
            return f"{here}, the top of the hierarchy: stays; {down}"
        if a > hi:
            return f"{here}: no climb while arousal {a:.2f} is above {hi:.2f}; {down}"
        label = cfg.label(self._step + 1)
        target = f"climbs to step {self._step + 2}" + (f" ({label})" if label else "")
        if cfg.variability > 0.0:
            target += f" (or, {cfg.variability:.0%} of climbs, visits another step)"
        from therapies.controllers._exposure_next import Explainer

        explain = Explainer(self, now, a)
        rule = cfg.climb_rule
        if rule == "settled":
            climb = explain.settled()
        elif rule == "arousal":
            climb = explain.arousal_drop()
        else:
            climb = explain.habituation()
        return f"{target} {climb}; {down}"

    # ------------------------------------------------------------------ climbing
    def _climb_reason(self, now: float, a: float) -> str | None:
        cfg = self.config
        span = f"{cfg.settle_time:.0f} s"
        if cfg.climb_rule == "settled":
            values = [v for _, v in self._history]
            spread = max(values) - min(values)
            if spread > cfg.settle_tolerance:
                return None
            return f"settled: arousal {a:.2f} steady (spread {spread:.2f}) over {span}"
        if cfg.climb_rule == "arousal":
            peak = self._step_peak if self._step_peak is not None else a
            drop = (peak - a) / peak if peak > 0 else 1.0
            if drop < cfg.habituation_drop:
                return None
            return (
                f"habituated: arousal {a:.2f}, {drop:.0%} below step peak {peak:.2f} after {span}"
            )
        return self._habituated(now)

    def _update_criteria(self, now: float, features: FeatureSnapshot) -> None:
        """Track each signal's peak on this step and since when its drop criterion holds."""
        hab = self.config.habituation
        assert hab is not None
        values = {"hr_drop": features.hr_bpm, "scl_drop": features.scl_us}
        values["arousal_drop"] = features.arousal
        track = self._track
        for name, value in values.items():
            fraction = getattr(hab, name)
            if fraction is None or value is None:
                track.met_since.pop(name, None)
                continue
            peak = max(track.peaks.get(name, value), value)
            track.peaks[name] = peak
            self._rest[name] = min(self._rest.get(name, value), value)
            met = self._drop(name, peak, value) >= fraction
            if not met:
                track.met_since.pop(name, None)
            else:
                track.met_since.setdefault(name, now)
            track.last[name] = value

    def _drop(self, name: str, peak: float, value: float) -> float:
        """Decline from the step's peak as the configured fraction (inf: no response)."""
        hab = self.config.habituation
        assert hab is not None
        if hab.reference == "peak":
            return (peak - value) / peak if peak > 0 else 0.0
        rise = peak - self._rest[name]
        return float("inf") if rise < MIN_RISE[name] else (peak - value) / rise

    def _describe(self, name: str) -> str:
        peak, value = self._track.peaks[name], self._track.last[name]
        what, unit = _SIGNALS[name], _UNITS[name]
        drop = self._drop(name, peak, value)
        if drop == float("inf"):
            rise = peak - self._rest[name]
            return f"no {what} response on this step (rise {_fmt(name, rise)}{unit})"
        hab = self.config.habituation
        if hab is not None and hab.reference == "rise":
            rest = _fmt(name, self._rest[name])
            return (
                f"{what} down {drop:.0%} of its rise (rest {rest}, "
                f"step peak {_fmt(name, peak)}{unit})"
            )
        return f"{what} -{drop:.0%} from step peak {_fmt(name, peak)}{unit}"

    def _habituated(self, now: float) -> str | None:
        hab = self.config.habituation
        assert hab is not None
        track = self._track
        met: list[str] = []
        for name in hab.criteria():
            if name == "suds_below":
                assert hab.suds_below is not None
                if track.suds is not None and track.suds < hab.suds_below:
                    met.append(f"SUDS {track.suds}")
                continue
            since = track.met_since.get(name)
            if since is None or now - since < hab.dwell:
                continue
            met.append(f"{self._describe(name)}, held {now - since:.0f} s")
        enough = len(met) == len(hab.criteria()) if hab.require == "all" else bool(met)
        return f"habituated ({'; '.join(met)})" if enough else None

    def _climb(self, now: float, reason: str) -> IntensityDecision | None:
        """Go to the next step, or (variability) visit another one."""
        nxt = self._step + 1
        p = self.config.variability
        if p > 0.0 and self._rng.random() < p:
            top = min(len(self._levels) - 1, self._step + 2)
            others = [s for s in range(top + 1) if s not in (self._step, nxt)]
            if others:
                visit = others[self._rng.randrange(len(others))]
                text = (
                    f"{reason}; variability visit (inhibitory learning): step {visit + 1} "
                    f"instead of {nxt + 1}"
                )
                return self._go(now, visit, text, CONTROLLER)
        return self._go(now, nxt, reason, CONTROLLER)
