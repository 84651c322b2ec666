"""Baseline statistics and a normalised arousal index.

During the protocol's baseline period heart rate and skin conductance are collected; their
medians (robust to artefacts) become the reference. Afterwards the arousal index is a
weighted sum of the rises above baseline, each scaled by a clinically meaningful span
(e.g. +30 bpm, +3 uS count as "fully aroused"), clipped to 0..1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class ArousalWeights:
    """How much each feature contributes and what rise counts as full arousal."""

    heart: float = 0.6
    eda: float = 0.4
    hr_span_bpm: float = 30.0
    scl_span_us: float = 3.0


@dataclass(frozen=True, slots=True)
class Baseline:
    """Resting reference values (medians) and their spread (IQR)."""

    hr_bpm: float | None
    hr_iqr: float | None
    scl_us: float | None
    scl_iqr: float | None


class ArousalModel:
    """Collects a baseline, then maps features to an arousal index 0..1."""

    def __init__(self, weights: ArousalWeights | None = None) -> None:
        self.weights = weights or ArousalWeights()
        self._hr: list[float] = []
        self._scl: list[float] = []
        self.baseline: Baseline | None = None

    def collect(self, hr_bpm: float | None, scl_us: float | None) -> None:
        """Add one baseline observation (ignored once the baseline is fixed)."""
        if self.baseline is not None:
            return
        if hr_bpm is not None and np.isfinite(hr_bpm):
            self._hr.append(hr_bpm)
        if scl_us is not None and np.isfinite(scl_us):
            self._scl.append(scl_us)

    def fix_baseline(self) -> Baseline:
        """End the baseline period: compute medians and IQRs of what was collected."""

        def stats(values: list[float]) -> tuple[float | None, float | None]:
            if not values:
                return None, None
            q1, med, q3 = np.percentile(values, [25, 50, 75])
            return float(med), float(q3 - q1)

        hr, hr_iqr = stats(self._hr)
        scl, scl_iqr = stats(self._scl)
        self.baseline = Baseline(hr, hr_iqr, scl, scl_iqr)
        return self.baseline

    def index(self, hr_bpm: float | None, scl_us: float | None) -> float | None:
        """Arousal 0..1 from the rise over baseline; ``None`` before the baseline is fixed."""
        base, w = self.baseline, self.weights
        if base is None:
            return None
        total = weight = 0.0
        if hr_bpm is not None and base.hr_bpm is not None:
            total += w.heart * (hr_bpm - base.hr_bpm) / w.hr_span_bpm
            weight += w.heart
        if scl_us is not None and base.scl_us is not None:
            total += w.eda * (scl_us - base.scl_us) / w.scl_span_us
            weight += w.eda
        if weight == 0.0:
            return None
        return float(np.clip(total / weight, 0.0, 1.0))
