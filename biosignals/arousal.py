"""Baseline statistics and a normalised arousal index.

During the protocol's baseline period heart rate, skin conductance level (SCL) and SCR
rate are collected at each controller tick; their medians (robust to artefacts) become
the reference and their interquartile ranges are kept as the resting spread. Afterwards
the arousal index is the weighted mean of the rises above baseline, each divided by a
clinically meaningful span (e.g. +30 bpm, +3 µS, +6 SCRs/min count as "fully aroused"),
clipped to 0..1: 0 = at baseline, 1 = a full span above it. Inputs that are missing (no
stream, not valid, no baseline for it) drop out and the remaining weights are
renormalised.

:class:`ArousalWeights` is a frozen pydantic model (``extra="forbid"``, ranges checked) so
a protocol YAML can embed it directly, e.g. ``arousal: {heart: 0.5, eda: 0.3,
scr_rate: 0.2, hr_span_bpm: 25}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from biosignals.units import Duration

__all__ = ["ArousalModel", "ArousalSample", "ArousalWeights", "Baseline"]


class ArousalWeights(BaseModel):
    """How much each feature contributes and what rise counts as full arousal.

    Attributes
    ----------
    heart, eda, scr_rate : float
        Weights (0..1, at least one > 0) of the heart-rate, SCL and SCR-rate rises.
    hr_span_bpm : float
        Heart-rate rise (bpm) that counts as full arousal.
    scl_span_us : float
        SCL rise (µS) that counts as full arousal.
    scr_rate_span_per_min : float
        SCR-rate rise (responses per minute) that counts as full arousal.
    scr_window : float
        Window (s) over which the SCR rate is counted (YAML accepts ``"60s"``, ``"1min"``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    heart: float = Field(default=0.5, ge=0.0, le=1.0)
    eda: float = Field(default=0.3, ge=0.0, le=1.0)
    scr_rate: float = Field(default=0.2, ge=0.0, le=1.0)
    hr_span_bpm: float = Field(default=30.0, gt=0.0, le=150.0)
    scl_span_us: float = Field(default=3.0, gt=0.0, le=50.0)
    scr_rate_span_per_min: float = Field(default=6.0, gt=0.0, le=60.0)
    scr_window: Duration = Field(default=60.0, ge=10.0, le=600.0)

    @model_validator(mode="after")
    def _some_weight(self) -> ArousalWeights:
        if self.heart + self.eda + self.scr_rate <= 0.0:
            raise ValueError("at least one of heart, eda, scr_rate must be > 0")
        return self


@dataclass(frozen=True, slots=True)
class Baseline:
    """Resting reference values (medians) and their spread (IQR); None where unknown."""

    hr_bpm: float | None
    hr_iqr: float | None
    scl_us: float | None
    scl_iqr: float | None
    scr_rate: float | None = None
    scr_rate_iqr: float | None = None
    samples: int = 0


@dataclass(frozen=True, slots=True)
class ArousalSample:
    """The arousal index at one moment, with the inputs and parts behind it.

    Attributes
    ----------
    time : float
        When it was computed (s).
    index : float or None
        Arousal 0..1 (0 = baseline); None before the baseline is fixed, when invalid, or
        when no input with a baseline is available.
    valid : bool
        False when the inputs were flagged or missing (then ``index`` is None).
    hr_bpm, scl_us, scr_rate : float or None
        Inputs used (None: not available or not valid).
    hr_part, scl_part, scr_part : float or None
        Each input's rise over baseline divided by its span (before weighting/clipping).
    reason : str
        Why ``index`` is None ("" when it is not).
    """

    time: float
    index: float | None
    valid: bool
    hr_bpm: float | None
    scl_us: float | None
    scr_rate: float | None
    hr_part: float | None = None
    scl_part: float | None = None
    scr_part: float | None = None
    reason: str = ""


def _stats(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    return float(med), float(q3 - q1)


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _part(value: float | None, ref: float | None, span: float) -> float | None:
    """Rise of ``value`` over ``ref`` in spans; None if either is missing or not finite."""
    if value is None or ref is None or not math.isfinite(value):
        return None
    return (float(value) - ref) / span


class ArousalModel:
    """Collects a baseline, then maps features to an arousal index 0..1.

    Parameters
    ----------
    weights : ArousalWeights, optional
        Weights and spans; defaults to ``ArousalWeights()``.
    """

    def __init__(self, weights: ArousalWeights | None = None) -> None:
        self.weights = weights or ArousalWeights()
        self._hr: list[float] = []
        self._scl: list[float] = []
        self._scr: list[float] = []
        self._n = 0
        self.baseline: Baseline | None = None

    def collect(
        self, hr_bpm: float | None, scl_us: float | None, scr_rate: float | None = None
    ) -> None:
        """Add one (valid) baseline observation; ignored once the baseline is fixed."""
        if self.baseline is not None:
            return
        self._n += 1
        for value, store in ((hr_bpm, self._hr), (scl_us, self._scl), (scr_rate, self._scr)):
            if value is not None and _finite(value):
                store.append(float(value))

    def fix_baseline(self) -> Baseline:
        """End the baseline period: medians and IQRs of what was collected."""
        hr, hr_iqr = _stats(self._hr)
        scl, scl_iqr = _stats(self._scl)
        scr, scr_iqr = _stats(self._scr)
        self.baseline = Baseline(hr, hr_iqr, scl, scl_iqr, scr, scr_iqr, self._n)
        return self.baseline

    def evaluate(
        self,
        time: float,
        hr_bpm: float | None,
        scl_us: float | None,
        scr_rate: float | None = None,
        *,
        valid: bool = True,
        reason: str = "",
    ) -> ArousalSample:
        """Arousal at ``time`` from the given (already validated) inputs.

        Parameters
        ----------
        time : float
            Current time (s).
        hr_bpm, scl_us, scr_rate : float or None
            Inputs; None drops that part.
        valid : bool
            False if the caller judged the inputs unusable (index becomes None).
        reason : str
            Why they are unusable (kept in the sample).
        """
        base, w = self.baseline, self.weights
        hr_p = _part(hr_bpm, base.hr_bpm if base else None, w.hr_span_bpm)
        scl_p = _part(scl_us, base.scl_us if base else None, w.scl_span_us)
        scr_p = _part(scr_rate, base.scr_rate if base else None, w.scr_rate_span_per_min)
        index: float | None = None
        why = ""
        if base is None:
            why = "baseline not fixed yet"
        elif not valid:
            why = reason or "inputs not valid"
        else:
            total = weight = 0.0
            for p, wt in ((hr_p, w.heart), (scl_p, w.eda), (scr_p, w.scr_rate)):
                if p is not None and wt > 0.0:
                    total += wt * p
                    weight += wt
            if weight == 0.0:
                why = "no weighted input has a baseline"
            else:
                index = min(1.0, max(0.0, total / weight))
        return ArousalSample(
            time, index, valid, hr_bpm, scl_us, scr_rate, hr_p, scl_p, scr_p, reason=why
        )

    def index(
        self, hr_bpm: float | None, scl_us: float | None, scr_rate: float | None = None
    ) -> float | None:
        """Arousal 0..1 from the rise over baseline; None before the baseline is fixed."""
        return self.evaluate(0.0, hr_bpm, scl_us, scr_rate).index
