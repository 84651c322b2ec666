"""HRV biofeedback: reward heart-rate oscillation at the paced breathing rate.

Breathing slowly at about 6 breaths/min (0.1 Hz, near most adults' cardiovascular
resonance) makes heart rate swing up and down with each breath (respiratory sinus
arrhythmia). The controller measures that swing and turns it into a *reward* 0..1 that the
breathing scene shows (brighter, clearer place); the reward is the controller's target.

Measure: over the last ``window`` seconds of heart-rate samples, a least-squares fit of
``c0 + c1 * t + A sin(2 pi f t) + B cos(2 pi f t)`` at the pacer frequency ``f =
pacer_rate / 60``; the oscillation amplitude is ``hypot(A, B)`` (half the peak-to-trough
swing of the component at ``f``). It is a single-bin band-power estimate: an oscillation
at another rate (e.g. spontaneous breathing at 12/min) contributes almost nothing once
the window holds a few cycles. ``share`` is the fraction of the detrended heart-rate
variance explained by that component (a coherence-like figure, reported with the reason).

Reward = ``min(1, amplitude / target_amplitude)``, quantised to ``resolution`` (the
levels); the target changes only when the quantised reward does, so decisions are not
issued every tick. Samples come from each tick's ``features.hr_bpm``, or, when the engine
provides them, from beat-to-beat heart rates via :meth:`BreathingController.observe_hr`
(preferred: the pipeline's ``hr_bpm`` is a 10-s median, which flattens a 10-s
oscillation). Too few samples (less than 80 % of the window covered, fewer than 8
samples) or invalid features: hold.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from pydantic import Field, model_validator

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

MIN_SAMPLES = 8
MIN_COVERAGE = 0.8


def oscillation_amplitude(
    times: ArrayLike, hr_bpm: ArrayLike, rate_per_min: float
) -> tuple[float, float] | None:
    """Amplitude (bpm) of the heart-rate component at ``rate_per_min``, and its share.

    Parameters
    ----------
    times, hr_bpm
        Sample times (s, any origin, need not be regular) and heart rates (bpm).
    rate_per_min
        Frequency of interest, cycles per minute.

    Returns
    -------
    (amplitude, share) or None
        ``None`` with fewer than :data:`MIN_SAMPLES` samples or a singular fit.
    """
    t = np.asarray(times, dtype=np.float64)
    y = np.asarray(hr_bpm, dtype=np.float64)
    ok = np.isfinite(t) & np.isfinite(y)
    t, y = t[ok], y[ok]
    if t.size < MIN_SAMPLES:
        return None
    tc = t - t.mean()
    w = 2.0 * math.pi * rate_per_min / 60.0
    design = np.column_stack([np.ones_like(tc), tc, np.sin(w * tc), np.cos(w * tc)])
    coef, _, rank, _ = np.linalg.lstsq(design, y, rcond=None)
    if rank < 4:
        return None
    amplitude = float(math.hypot(coef[2], coef[3]))
    trend = design[:, :2] @ coef[:2]
    detrended = y - trend
    variance = float(np.mean(detrended**2))
    component = design[:, 2:] @ coef[2:]
    share = float(np.mean(component**2)) / variance if variance > 0 else 0.0
    return amplitude, min(1.0, share)


class BreathingConfig(ControllerConfigBase):
    """Settings of the ``breathing`` controller (protocol key ``controller``)."""

    kind: Literal["breathing"] = "breathing"
    pacer_rate: float = Field(default=6.0, ge=3.0, le=15.0, description="breaths per minute")
    window: Duration = Field(default=60.0, ge=20.0, le=300.0)
    target_amplitude: float = Field(default=6.0, gt=0.0, le=40.0, description="bpm for reward 1")
    resolution: float = Field(default=0.05, ge=0.01, le=0.25)

    @model_validator(mode="after")
    def _two_cycles(self) -> BreathingConfig:
        cycles = self.window * self.pacer_rate / 60.0
        if cycles < 2.0:
            raise ValueError(
                f"window ({self.window:g} s) must hold at least 2 breaths at "
                f"{self.pacer_rate:g}/min (it holds {cycles:.1f})"
            )
        return self

    def levels(self) -> tuple[float, ...]:
        """Reward levels 0, resolution, ... 1."""
        n = math.floor(1.0 / self.resolution + 1e-9)
        out = [round(i * self.resolution, 6) for i in range(n + 1)]
        if out[-1] < 1.0:
            out.append(1.0)
        return tuple(out)

    def label(self, step: int) -> str:
        """``'reward 0.40'``."""
        return f"reward {self.levels()[step]:.2f}"

    def paced_breathing_rate(self) -> float | None:
        """The pacer rate (breaths per minute)."""
        return self.pacer_rate


class BreathingController(SteppedController):
    """Reward from HR oscillation at the pacer rate (see module docstring).

    Parameters
    ----------
    config
        Validated settings.
    seed
        Unused (the controller is deterministic); accepted like every controller.
    """

    def __init__(self, config: BreathingConfig, seed: int = 0) -> None:
        self.config = config
        self._levels = config.levels()
        self._step = 0
        self._ticks: deque[tuple[float, float]] = deque()
        self._beats: deque[tuple[float, float]] = deque()
        self.amplitude: float | None = None
        """Last measured oscillation amplitude at the pacer rate, bpm."""

    def start(self, now: float) -> IntensityDecision:
        """Start with reward 0 (nothing measured yet)."""
        reason = f"breathing biofeedback starts: pacer {self.config.pacer_rate:g}/min"
        return IntensityDecision(now, 0.0, self.target, self._step, reason, CONTROLLER)

    def on_answer(self, now: float, kind: str, value: int) -> IntensityDecision | None:
        """Answers are validated and not used by breathing biofeedback."""
        check_answer(kind, value)
        return None

    def scene_parameters(self, intensity: float) -> Mapping[str, float]:
        """The breathing scene shows the reward (the controller's target, as shown) while
        its pacer keeps one prominence, at the protocol's pacer rate."""
        return {"reward": min(1.0, max(0.0, intensity)), "pacer_rate": self.config.pacer_rate}

    def observe_hr(self, times: ArrayLike, hr_bpm: ArrayLike) -> None:
        """Add beat-to-beat heart rates (bpm at each beat's time); preferred over ticks."""
        t = np.asarray(times, dtype=np.float64).ravel()
        y = np.asarray(hr_bpm, dtype=np.float64).ravel()
        for ti, yi in zip(t.tolist(), y.tolist(), strict=True):
            if math.isfinite(ti) and math.isfinite(yi):
                self._beats.append((ti, yi))

    def _samples(self, now: float) -> tuple[str, list[tuple[float, float]]]:
        start = now - self.config.window
        for series in (self._beats, self._ticks):
            while series and series[0][0] < start:
                series.popleft()
        if len(self._beats) >= MIN_SAMPLES:
            return "beat-to-beat", list(self._beats)
        return "tick", list(self._ticks)

    def tick(self, now: float, features: FeatureSnapshot) -> IntensityDecision | None:
        """Measure the oscillation over the window and update the reward."""
        cfg = self.config
        if features.valid and features.hr_bpm is not None:
            self._ticks.append((now, features.hr_bpm))
        source, samples = self._samples(now)
        if not features.valid or len(samples) < MIN_SAMPLES:
            return None
        if samples[-1][0] - samples[0][0] < MIN_COVERAGE * cfg.window:
            return None
        t, y = zip(*samples, strict=True)
        fit = oscillation_amplitude(t, y, cfg.pacer_rate)
        if fit is None:
            return None
        amplitude, share = fit
        self.amplitude = amplitude
        reward = min(1.0, amplitude / cfg.target_amplitude)
        step = round(reward / cfg.resolution)
        reason = (
            f"HR oscillation {amplitude:.1f} bpm at {cfg.pacer_rate:g}/min "
            f"(target {cfg.target_amplitude:g} bpm, {share:.0%} of HR variance, {source} HR "
            f"over {cfg.window:.0f} s) -> reward {min(1.0, step * cfg.resolution):.2f}"
        )
        return self._go(now, step, reason, CONTROLLER)

    def explain_next(self, now: float, features: FeatureSnapshot) -> str:
        """What the next decision is and when (see :meth:`Controller.explain_next`)."""
        cfg = self.config
        here = f"reward {self.target:.2f}"
        if not features.valid:
            return f"{here}: holds until the heart rate is valid again"
        start = now - cfg.window
        beats = [t for t, _ in self._beats if t >= start]
        ticks = [t for t, _ in self._ticks if t >= start]
        times = beats if len(beats) >= MIN_SAMPLES else ticks
        covered = times[-1] - times[0] if len(times) >= 2 else 0.0
        need = MIN_COVERAGE * cfg.window
        if len(times) < MIN_SAMPLES or covered < need:
            return (
                f"{here}: measuring the heart-rate oscillation at {cfg.pacer_rate:g}/min; the "
                f"reward follows it once {need:.0f} s are covered ({covered:.0f} s now)"
            )
        amplitude = "--" if self.amplitude is None else f"{self.amplitude:.1f}"
        return (
            f"{here} from a heart-rate oscillation of {amplitude} bpm at {cfg.pacer_rate:g}/min "
            f"(reward 1 at {cfg.target_amplitude:g} bpm): updated in {seconds(cfg.tick)} s "
            f"over the last {cfg.window:.0f} s"
        )
