"""Drawing twins from a fitted twin's uncertainty (for forecasts).

A fitted profile's sidecar (``patient.fit.json``, :mod:`engine.twinfit.output`) holds
bootstrap samples of the fitted parameters and the session-to-session spread of resting
levels. :meth:`TwinUncertainty.draw` makes run ``k``'s twin: bootstrap sample ``k``
(cycling), parameters the data could not identify drawn from the population range
(uniformly; log-uniformly for time constants), and that day's resting HR and SCL shifted
by a normal draw with the fitted spread, and the sensors' fault rates drawn from what
their counts say of them. A profile without a sidecar (a shipped or hand-written one)
gives itself every time: its runs differ only by their random seeds.

Sensor fault rates (:data:`SENSOR_RATES`): a rate counted from ``n`` events in ``h`` hours
(``n / h`` in the profile; ``docs/twins.md``) is known only as well as ``n`` events tell:
each run draws it from its posterior ``Gamma(n, rate=h)`` (the scale-invariant prior
``1 / rate``: mean ``n / h``, the estimate, relative sd ``1 / sqrt(n)``; a course without
an event keeps the rate 0). Five 10-minute sessions hold about 33 dropouts for a true 20
per stream-hour: the estimate is off by 17 % (one sd) by chance alone, and how far a
session climbs under ``on_signal_loss: lower`` depends on it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydantic

from biosignals.twin_profile import TwinProfile
from engine.twinfit.output import SIDECAR_FORMAT, sidecar_path
from engine.twinfit.params import PARAMS
from engine.twinfit.result import FitResult
from engine.twinfit.trace import TwinFitError

__all__ = ["SENSOR_RATES", "TwinUncertainty", "load_uncertainty", "uncertainty_of"]

SENSOR_RATES: dict[str, tuple[str, str, float]] = {
    "dropout_rate_per_hour": ("dropouts", "stream_hours", 120.0),
    "artifact_rate_per_hour": ("artifacts", "live_hours", 600.0),
}
"""Profile field -> (events, hours) in the sidecar's ``sensors``, and the field's cap."""


@dataclass(frozen=True)
class TwinUncertainty:
    """What a forecast draws its twins from (see module docstring)."""

    samples: tuple[dict[str, float], ...] = ()
    unknown: tuple[str, ...] = ()
    shift_sd: dict[str, float] = field(default_factory=dict)
    source: str = ""
    sensor_counts: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Per :data:`SENSOR_RATES` field: (events counted, hours observed)."""

    @property
    def fitted(self) -> bool:
        """Whether the twin came with fit uncertainty (else runs differ by seed only)."""
        return (
            bool(self.samples)
            or bool(self.unknown)
            or bool(self.shift_sd)
            or bool(self.sensor_counts)
        )

    def describe(self) -> str:
        """One line for the forecast's header."""
        if not self.fitted:
            return "no fit uncertainty (no .fit.json beside the profile): runs differ by seed only"
        unknown = ", ".join(self.unknown) or "none"
        counted = [
            f"{name.removesuffix('_rate_per_hour')}s from {n:.0f} in {h:.2f} h"
            for name, (n, h) in self.sensor_counts.items()
            if n > 0 and h > 0
        ]
        sensors = "; sensor fault rates drawn from their counts: " + ", ".join(counted)
        return (
            f"{len(self.samples)} bootstrap samples of the fit ({self.source}); drawn from the "
            f"population: {unknown}; day-to-day resting HR sd {self.shift_sd.get('hr', 0):.1f} bpm"
            + (sensors if counted else "")
        )

    def draw(self, profile: TwinProfile, k: int, rng: np.random.Generator) -> TwinProfile:
        """Run ``k``'s twin (``profile`` itself when there is nothing to draw)."""
        if not self.fitted:
            return profile
        base = profile.model_dump()
        if self.samples:
            sample = self.samples[k % len(self.samples)]
            for name, value in sample.items():
                if name == "scr_rate_gain":
                    base["scr_rate_max"] = (
                        sample.get("scr_rate_rest", base["scr_rate_rest"]) + value
                    )
                elif name in base and name not in ("resting_hr", "resting_scl"):
                    base[name] = value
            base["resting_hr"] = sample.get("resting_hr", base["resting_hr"])
            base["resting_scl"] = sample.get("resting_scl", base["resting_scl"])
        for name in self.unknown:
            lo, hi = PARAMS[name].population
            value = (
                math.exp(rng.uniform(math.log(lo), math.log(hi)))
                if PARAMS[name].log
                else rng.uniform(lo, hi)
            )
            if name == "scr_rate_gain":
                base["scr_rate_max"] = base["scr_rate_rest"] + value
            else:
                base[name] = value
        base["resting_hr"] = float(
            np.clip(base["resting_hr"] + rng.normal(0, self.shift_sd.get("hr", 0.0)), 40, 120)
        )
        base["resting_scl"] = float(
            np.clip(base["resting_scl"] + rng.normal(0, self.shift_sd.get("scl", 0.0)), 0.5, 40)
        )
        base["scr_rate_max"] = float(min(60.0, max(base["scr_rate_max"], base["scr_rate_rest"])))
        base.update(self._sensor_rates(rng))
        return TwinProfile.model_validate(base)

    def _sensor_rates(self, rng: np.random.Generator) -> dict[str, float]:
        """This run's sensor fault rates, each from its posterior (see module docstring)."""
        out = {}
        for name, (events, hours) in self.sensor_counts.items():
            if name in SENSOR_RATES and events > 0 and hours > 0:
                cap = SENSOR_RATES[name][2]
                out[name] = float(min(cap, rng.gamma(events, 1.0 / hours)))
        return out


def uncertainty_of(fit: FitResult) -> TwinUncertainty:
    """The uncertainty of a fit just made (what its sidecar will hold)."""
    unknown = tuple(e.name for e in fit.not_identifiable() if e.name in PARAMS)
    counts = {} if fit.sensors is None else _counts(fit.sensors.to_json())
    return TwinUncertainty(tuple(fit.samples), unknown, dict(fit.shift_sd), "fit", counts)


def _counts(sensors: object) -> dict[str, tuple[float, float]]:
    """(events, hours) of each fault rate in a sidecar's ``sensors`` (old sidecars: none)."""
    if not isinstance(sensors, dict):
        return {}
    out = {}
    for name, (events, hours, _cap) in SENSOR_RATES.items():
        n, h = sensors.get(events), sensors.get(hours)
        if all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
            for v in (n, h)
        ):
            out[name] = (float(n), float(h))  # type: ignore[arg-type]
    return out


def _bad(path: Path, what: str) -> TwinFitError:
    return TwinFitError(f"{path}: {what}; rewrite it with `vrtherapy twin fit` (or remove it)")


def _parse(path: Path, data: Any) -> TwinUncertainty:
    if not isinstance(data, dict) or data.get("format") != SIDECAR_FORMAT:
        raise _bad(path, f"not a twin-fit sidecar of format {SIDECAR_FORMAT}")
    samples = data.get("samples")
    estimates = data.get("estimates")
    shift = data.get("shift_sd")
    if (
        not isinstance(samples, list)
        or not isinstance(estimates, dict)
        or not isinstance(shift, dict)
    ):
        raise _bad(path, "'samples', 'estimates' or 'shift_sd' is missing")
    clean = []
    for k, s in enumerate(samples):
        if not isinstance(s, dict) or not all(
            isinstance(v, int | float) and math.isfinite(v) for v in s.values()
        ):
            raise _bad(path, f"samples[{k}] is not an object of numbers")
        clean.append(
            {
                str(n): float(v)
                for n, v in s.items()
                if n in PARAMS or n in ("resting_hr", "resting_scl")
            }
        )
    unknown = tuple(
        n
        for n, e in estimates.items()
        if isinstance(e, dict) and e.get("status") == "not identifiable" and n in PARAMS
    )
    sd = {
        k: float(v)
        for k, v in shift.items()
        if k in ("hr", "scl") and isinstance(v, int | float) and v >= 0
    }
    if not all(math.isfinite(v) for v in sd.values()):
        raise _bad(path, f"shift_sd {sd} is not finite")
    counts = _counts(data.get("sensors"))
    return _checked(path, TwinUncertainty(tuple(clean), unknown, sd, path.name, counts))


def _checked(path: Path, uncertainty: TwinUncertainty) -> TwinUncertainty:
    """``uncertainty`` when each sample makes a valid twin; else TwinFitError naming it."""
    for k in range(len(uncertainty.samples)):
        try:
            uncertainty.draw(TwinProfile(), k, np.random.default_rng(k))
        except pydantic.ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            raise _bad(path, f"samples[{k}] makes no valid twin ({field}: {err['msg']})") from None
    return uncertainty


def load_uncertainty(profile: Path) -> TwinUncertainty:
    """The uncertainty beside ``profile`` (its ``.fit.json``); none when there is none.

    Raises
    ------
    TwinFitError
        The sidecar exists but is not readable JSON of the expected shape.
    """
    path = sidecar_path(profile)
    if not path.is_file():
        return TwinUncertainty()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise _bad(path, f"cannot be read as JSON ({exc})") from None
    return _parse(path, data)
