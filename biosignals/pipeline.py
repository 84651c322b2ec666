"""The per-session feature pipeline: chunks in, feature snapshots out.

One :class:`FeaturePipeline` owns an extractor and a quality monitor per stream role
(``heart`` = ECG, ``eda`` = skin conductance) and the arousal model. It is pure: no IO, no
clock; the session passes chunks and the current time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from biosignals.arousal import ArousalModel, ArousalWeights
from biosignals.ecg import EcgExtractor, HeartBeat
from biosignals.eda import EdaExtractor, SkinResponse
from biosignals.errors import SignalError
from biosignals.features import FeatureSnapshot
from biosignals.quality import IMPLAUSIBLE, QualityEvent, QualityMonitor, active_flags

ROLES = ("heart", "eda")
HR_PLAUSIBLE = (30.0, 220.0)
EDA_PLAUSIBLE_US = (0.05, 60.0)


@dataclass
class PipelineOutput:
    """What one chunk produced: beats, skin responses and quality flag changes."""

    beats: list[HeartBeat] = field(default_factory=list)
    responses: list[SkinResponse] = field(default_factory=list)
    quality: list[QualityEvent] = field(default_factory=list)


class FeaturePipeline:
    """Extractors, quality monitors and arousal for the roles a protocol streams.

    Parameters
    ----------
    rates
        Sampling rate (Hz) per role, e.g. ``{"heart": 500.0, "eda": 32.0}``.
    scr_threshold_us
        Minimum SCR amplitude.
    dropout_after
        Seconds without samples before a stream is flagged as dropped.
    """

    def __init__(
        self,
        rates: dict[str, float],
        *,
        scr_threshold_us: float = 0.01,
        dropout_after: float = 0.5,
        weights: ArousalWeights | None = None,
    ) -> None:
        unknown = sorted(set(rates) - set(ROLES))
        if unknown:
            raise SignalError(f"unknown stream role(s) {unknown}; allowed: {', '.join(ROLES)}")
        self.rates = dict(rates)
        self.ecg = EcgExtractor(rates["heart"]) if "heart" in rates else None
        self.eda = EdaExtractor(rates["eda"], scr_threshold_us) if "eda" in rates else None
        self.monitors = {
            role: QualityMonitor(
                role,
                rate,
                dropout_after=dropout_after,
                value_range=EDA_PLAUSIBLE_US if role == "eda" else None,
            )
            for role, rate in rates.items()
        }
        self.arousal = ArousalModel(weights)
        self._last_time: dict[str, float] = {}

    def update(self, role: str, samples: ArrayLike, timestamps: ArrayLike) -> PipelineOutput:
        """Feed one chunk of ``role``'s samples; return beats/responses/quality changes."""
        out = PipelineOutput()
        x = np.asarray(samples, dtype=np.float64).reshape(-1)
        t = np.asarray(timestamps, dtype=np.float64).reshape(-1)
        if x.size == 0:
            return out
        if x.shape != t.shape:
            raise SignalError(f"{role}: {x.size} samples but {t.size} timestamps")
        t = self._monotonic(role, t)
        monitor = self.monitors[role]
        monitor.update(x, t)
        if role == "heart" and self.ecg is not None:
            out.beats = self.ecg.update(x, t)
            hr = self.ecg.heart_rate
            if hr is not None:
                lo, hi = HR_PLAUSIBLE
                monitor.flag_value(IMPLAUSIBLE, not (lo <= hr <= hi), float(t[-1]))
        elif role == "eda" and self.eda is not None:
            out.responses = self.eda.update(x, t)
        out.quality = monitor.drain_events()
        return out

    def _monotonic(self, role: str, t: np.ndarray) -> np.ndarray:
        """Timestamps that never go back (a jittery device clock must not stop the session)."""
        last = self._last_time.get(role, -np.inf)
        fixed = np.maximum.accumulate(np.maximum(t, last))
        self._last_time[role] = float(fixed[-1])
        return fixed

    def check(self, now: float) -> list[QualityEvent]:
        """Time-based checks (dropout) at ``now``; returns flag changes."""
        events: list[QualityEvent] = []
        for monitor in self.monitors.values():
            monitor.check(now)
            events.extend(monitor.drain_events())
        return events

    def snapshot(self, now: float) -> FeatureSnapshot:
        """Current features; invalid while any stream is flagged."""
        hr = self.ecg.heart_rate if self.ecg is not None else None
        scl = self.eda.scl if self.eda is not None else None
        scr_rate = self.eda.scr_rate(now) if self.eda is not None else None
        flags = active_flags(self.monitors.values())
        valid = not flags and (hr is not None or scl is not None)
        if flags:
            hr = hr if not any(f.startswith("heart:") for f in flags) else None
            scl = scl if not any(f.startswith("eda:") for f in flags) else None
        arousal = self.arousal.index(hr, scl) if valid else None
        return FeatureSnapshot(now, hr, scl, scr_rate, arousal, valid, flags)

    def collect_baseline(self, snapshot: FeatureSnapshot) -> None:
        """Use a (valid) snapshot taken during the baseline period."""
        if snapshot.valid:
            self.arousal.collect(snapshot.hr_bpm, snapshot.scl_us)
