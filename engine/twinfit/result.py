"""What a twin fit found: estimates with intervals, goodness of fit, the fitted profile."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from biosignals.twin_profile import TwinProfile
from engine.twinfit.params import HR_GAIN_ANCHOR
from engine.twinfit.sensors import SensorEstimate

__all__ = ["Estimate", "FitResult", "SessionFit", "SignalFit", "Status"]


class Status(Enum):
    """How a parameter's value was found."""

    FITTED = "fitted"
    WEAK = "weakly identified"
    NOT_IDENTIFIABLE = "not identifiable"
    HELD = "held"


@dataclass(frozen=True)
class Estimate:
    """One parameter: value, 95 % bootstrap interval (fitted ones), status and why."""

    name: str
    value: float
    low: float | None
    high: float | None
    status: Status
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values."""
        out = asdict(self)
        out["status"] = self.status.value
        return out


@dataclass(frozen=True)
class SignalFit:
    """Goodness of fit of one signal over every session."""

    signal: str
    unit: str
    n: int
    rmse: float | None
    r2: float | None


@dataclass(frozen=True)
class SessionFit:
    """One fitted session: where it came from, its resting levels, its fit per signal."""

    path: str
    recorded: str
    protocol: str
    duration_s: float
    resting_hr: float
    resting_scl: float | None
    rmse: dict[str, float | None]


@dataclass
class FitResult:
    """Everything a fit found (see :func:`engine.twinfit.fit.fit_twin`)."""

    participant: str
    estimates: dict[str, Estimate]
    sessions: list[SessionFit]
    goodness: list[SignalFit]
    samples: list[dict[str, float]]
    shift_sd: dict[str, float]
    converged: bool
    message: str
    seconds: float = 0.0
    evaluations: int = 0
    notes: list[str] = field(default_factory=list)
    sensors: SensorEstimate | None = None

    def value(self, name: str) -> float:
        """The point estimate (or held value) of ``name``."""
        return self.estimates[name].value

    @property
    def eda(self) -> bool:
        """Whether skin conductance was fitted."""
        return self.sessions[0].resting_scl is not None

    def not_identifiable(self) -> list[Estimate]:
        """Parameters the data could not identify (left at population defaults)."""
        return [e for e in self.estimates.values() if e.status is Status.NOT_IDENTIFIABLE]

    def profile(self, name: str) -> TwinProfile:
        """The fitted twin, playing the session after the last one fitted."""
        hr = np.asarray([s.resting_hr for s in self.sessions])
        values: dict[str, Any] = {
            "name": name,
            "resting_hr": _r(self.value("resting_hr")),
            "max_hr_gain": HR_GAIN_ANCHOR,
            "session": len(self.sessions),
            "resting_hr_shifts": tuple(_r(v) for v in hr - self.value("resting_hr")),
        }
        for key in (
            "reactivity",
            "response_lag",
            "habituation_tau",
            "habituation_floor",
            "max_scl_gain",
            "scl_lag",
            "scr_rate_rest",
            "suds_scale",
            "between_session_rate",
        ):
            values[key] = _r(self.value(key))
        values["scr_rate_max"] = _r(
            min(60.0, self.value("scr_rate_rest") + self.value("scr_rate_gain"))
        )
        if self.eda:
            scl = np.asarray([s.resting_scl or 0.0 for s in self.sessions])
            values["resting_scl"] = _r(self.value("resting_scl"))
            values["resting_scl_shifts"] = tuple(_r(v) for v in scl - self.value("resting_scl"))
        if self.sensors is not None:
            values.update(self.sensors.profile_fields())
        return TwinProfile.model_validate(values)


def _r(value: float, digits: int = 4) -> float:
    """``value`` to ``digits`` significant digits (readable YAML)."""
    if value == 0 or not math.isfinite(value):
        return float(value)
    return float(f"{value:.{digits}g}")
