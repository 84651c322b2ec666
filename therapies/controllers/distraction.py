"""Pain distraction: keep the patient engaged enough that pain recedes, no more.

The controlled quantity is *engagement* (0..1: how absorbing the distraction scene is),
moved in steps of ``step`` between ``minimum`` and 1 (the levels). At every tick:

- **raise** one step when the last pain rating (NRS 0-10, answered within
  ``answer_valid``) is at or above ``pain_threshold``, or arousal is above the window;
  at most once every ``raise_every`` seconds. A pain answer at or above the threshold
  raises at once (same spacing).
- **lower** one step, slowly, when it has been calm for ``lower_after`` seconds since the
  last change: arousal not above the window and the last pain rating at or below
  ``pain_low``; without a recent pain rating, calm means arousal below the window. The
  calm must be continuous: any tick that is not calm starts the wait again.
- otherwise hold. Every change carries its reason, e.g.
  ``pain NRS 7 >= 5 (answered 40 s ago)``.

Without valid physiology (signal loss) the tick holds; the safety layer decides what a
loss means. Pain answers are still taken.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from biosignals.features import FeatureSnapshot
from biosignals.units import Duration
from therapies.controllers.base import (
    CONTROLLER,
    ControllerConfigBase,
    IntensityDecision,
    SteppedController,
    check_answer,
    next_tick,
    seconds,
)


class DistractionConfig(ControllerConfigBase):
    """Settings of the ``distraction`` controller (protocol key ``controller``)."""

    kind: Literal["distraction"] = "distraction"
    start: float = Field(default=0.3, ge=0.0, le=1.0, description="engagement at the start")
    step: float = Field(default=0.1, ge=0.01, le=0.5)
    minimum: float = Field(default=0.1, ge=0.0, lt=1.0)
    pain_threshold: int = Field(default=5, ge=1, le=10)
    pain_low: int = Field(default=3, ge=0, le=9)
    answer_valid: Duration = Field(default=300.0, gt=0.0)
    raise_every: Duration = Field(default=20.0, ge=0.0)
    lower_after: Duration = Field(default=120.0, gt=0.0)

    @model_validator(mode="after")
    def _consistent(self) -> DistractionConfig:
        if self.pain_low >= self.pain_threshold:
            raise ValueError(
                f"pain_low ({self.pain_low}) must be below pain_threshold ({self.pain_threshold})"
            )
        if self.start < self.minimum:
            raise ValueError(f"start ({self.start}) must be >= minimum ({self.minimum})")
        return self

    def levels(self) -> tuple[float, ...]:
        """Engagement levels: ``minimum``, ``minimum + step``, ... up to 1."""
        n = math.floor((1.0 - self.minimum) / self.step + 1e-9)
        out = [round(self.minimum + i * self.step, 6) for i in range(n + 1)]
        if out[-1] < 1.0:
            out.append(1.0)
        return tuple(out)

    def label(self, step: int) -> str:
        """``'engagement 0.40'``."""
        return f"engagement {self.levels()[step]:.2f}"

    def start_step(self) -> int:
        """Index of the level nearest to ``start``."""
        levels = self.levels()
        return min(range(len(levels)), key=lambda i: abs(levels[i] - self.start))


class DistractionController(SteppedController):
    """Engagement controller for pain distraction (see module docstring).

    Parameters
    ----------
    config
        Validated settings.
    seed
        Unused (the controller is deterministic); accepted like every controller.
    """

    def __init__(self, config: DistractionConfig, seed: int = 0) -> None:
        self.config = config
        self._levels = config.levels()
        self._step = config.start_step()
        self._changed = 0.0
        self._pain: tuple[float, int] | None = None
        self._calm_since: float | None = None

    def _entered(self, now: float) -> None:
        self._changed = now

    def start(self, now: float) -> IntensityDecision:
        """Start at the level nearest ``start``."""
        self._changed = now
        reason = f"distraction starts at engagement {self.target:.2f}"
        return IntensityDecision(now, 0.0, self.target, self._step, reason, CONTROLLER)

    def _fresh_pain(self, now: float) -> tuple[float, int] | None:
        if self._pain is None or now - self._pain[0] > self.config.answer_valid:
            return None
        return self._pain

    def on_answer(self, now: float, kind: str, value: int) -> IntensityDecision | None:
        """Take a pain rating (NRS); at or above the threshold, raise engagement at once.

        SUDS answers are accepted and not used by distraction.
        """
        value = check_answer(kind, value)
        if kind != "nrs":
            return None
        self._pain = (now, value)
        cfg = self.config
        if value >= cfg.pain_threshold and now - self._changed >= cfg.raise_every:
            reason = f"pain NRS {value} >= {cfg.pain_threshold} (just answered)"
            return self._go(now, self._step + 1, reason, CONTROLLER)
        return None

    def tick(self, now: float, features: FeatureSnapshot) -> IntensityDecision | None:
        """One controller tick (see module docstring)."""
        cfg = self.config
        a = features.arousal if features.valid else None
        if a is None:
            return None
        lo, hi = cfg.arousal_window
        pain = self._fresh_pain(now)
        since = now - self._changed
        high: list[str] = []
        if pain is not None and pain[1] >= cfg.pain_threshold:
            high.append(
                f"pain NRS {pain[1]} >= {cfg.pain_threshold} (answered {now - pain[0]:.0f} s ago)"
            )
        if a > hi:
            high.append(f"arousal {a:.2f} above window {lo:.2f}-{hi:.2f}")
        if high:
            self._calm_since = None
            if since < cfg.raise_every:
                return None
            return self._go(now, self._step + 1, "; ".join(high), CONTROLLER)
        if pain is not None and pain[1] <= cfg.pain_low:
            why = f"pain NRS {pain[1]} <= {cfg.pain_low}, arousal {a:.2f} not above window"
        elif pain is None and a < lo:
            why = f"no recent pain rating, arousal {a:.2f} below window"
        else:
            self._calm_since = None
            return None
        if self._calm_since is None:
            self._calm_since = now
        calm = now - max(self._calm_since, self._changed)
        if calm < cfg.lower_after:
            return None
        return self._go(now, self._step - 1, f"calm for {calm:.0f} s: {why}", CONTROLLER)

    def explain_next(self, now: float, features: FeatureSnapshot) -> str:
        """What the next decision is and when (see :meth:`Controller.explain_next`)."""
        cfg = self.config
        lo, hi = cfg.arousal_window
        a = features.arousal if features.valid else None
        here = f"engagement {self.target:.2f}"
        answer = f"a pain answer of {cfg.pain_threshold} or more raises it at once"
        if a is None:
            return f"{here}: holds until the arousal index is valid again; {answer}"
        top, bottom = self._step == len(self._levels) - 1, self._step == 0
        up = "stays at full engagement" if top else f"raises to {self._levels[self._step + 1]:.2f}"
        down = "stays at the lowest" if bottom else f"lowers to {self._levels[self._step - 1]:.2f}"
        pain = self._fresh_pain(now)
        high = []
        if pain is not None and pain[1] >= cfg.pain_threshold:
            high.append(f"pain NRS {pain[1]} >= {cfg.pain_threshold}")
        if a > hi:
            high.append(f"arousal {a:.2f} above {hi:.2f}")
        if high and top:
            return f"{here}: stays at full engagement while {' and '.join(high)}"
        if high:
            tick = next_tick(now, cfg.tick, self._changed + cfg.raise_every)
            return f"{here}: {up} in {seconds(tick - now)} s if {' and '.join(high)} persists"
        rule = (
            f"after {cfg.lower_after:.0f} s of calm (arousal not above {hi:.2f} and pain NRS "
            f"<= {cfg.pain_low}, or without a rating arousal below {lo:.2f})"
        )
        if self._calm_since is None:
            last = "no recent pain rating" if pain is None else f"pain NRS {pain[1]}"
            return (
                f"{here}: holds (arousal {a:.2f}, {last}); {down} {rule}; {up} if pain NRS "
                f">= {cfg.pain_threshold} or arousal exceeds {hi:.2f}"
            )
        if bottom:
            return f"{here}, the lowest: stays while calm; {up} if pain or arousal rise"
        start = max(self._calm_since, self._changed)
        tick = next_tick(now, cfg.tick, start + cfg.lower_after)
        return (
            f"{here}: {down} in {seconds(tick - now)} s if the calm continues (calm "
            f"{seconds(now - start)} of {cfg.lower_after:.0f} s); {answer}"
        )
