"""The parameters a twin fit estimates: ranges, population defaults, what each needs.

Each :class:`ParamSpec` names a :class:`~biosignals.twin_profile.TwinProfile` field (or,
for ``scr_rate_gain``, ``scr_rate_max - scr_rate_rest``), the range the fit searches, the
population default (the shipped ``typical`` twin), the population range a forecast draws
from when the data cannot identify the parameter, and what data identify it.

``max_hr_gain`` is not estimated: heart rate only shows ``max_hr_gain * reactivity`` (and
skin conductance ``max_scl_gain * reactivity``, SUDS ``suds_scale * reactivity``), so one
of them must be fixed for the others to mean anything. The fit holds ``max_hr_gain`` at
the population default (:data:`HR_GAIN_ANCHOR`) and reports it as not identifiable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from biosignals.twin_profile import TwinProfile

__all__ = [
    "GLOBAL_PARAMS",
    "HR_GAIN_ANCHOR",
    "PARAMS",
    "Needs",
    "ParamSpec",
    "population_default",
]


class Needs(Enum):
    """What a parameter needs in the data to be identifiable."""

    HEART = "heart rate"
    EDA = "skin conductance"
    EXPOSURE = "a change of intensity"
    EDA_EXPOSURE = "skin conductance and a change of intensity"
    SUDS = "SUDS answers while exposed"
    COURSE = "two or more sessions with exposure"


@dataclass(frozen=True)
class ParamSpec:
    """One estimated parameter.

    Attributes
    ----------
    name
        Profile field (``scr_rate_gain``: ``scr_rate_max - scr_rate_rest``).
    lower, upper
        Range the fit searches (within the profile's own limits).
    log
        Fitted on a log scale (time constants).
    population
        ``(low, high)``: where most patients lie; a forecast draws a parameter the data
        cannot identify uniformly from it (log-uniformly for ``log`` ones).
    needs
        What identifies it.
    unit, what
        For the fitted profile's comments.
    """

    name: str
    lower: float
    upper: float
    log: bool
    population: tuple[float, float]
    needs: Needs
    unit: str
    what: str

    def to_free(self, value: float) -> float:
        """The optimiser's coordinate of ``value``."""
        return math.log(value) if self.log else value

    def from_free(self, x: float) -> float:
        """The value of the optimiser's coordinate ``x``."""
        return math.exp(x) if self.log else x

    @property
    def prior(self) -> tuple[float, float]:
        """``(centre, scale)`` of the weak population prior, in the optimiser's coordinates:
        the population default, and half the population range."""
        lo, hi = (self.to_free(v) for v in self.population)
        return self.to_free(population_default(self.name)), (hi - lo) / 2.0

    @property
    def free_bounds(self) -> tuple[float, float]:
        """Search range in the optimiser's coordinates."""
        return self.to_free(self.lower), self.to_free(self.upper)


HR_GAIN_ANCHOR = TwinProfile().max_hr_gain
"""bpm at arousal 1 the fit holds fixed (only the product with reactivity is identifiable)."""

GLOBAL_PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec(
        "reactivity", 0.05, 3.0, False, (0.5, 1.8), Needs.EXPOSURE, "", "arousal per unit intensity"
    ),
    ParamSpec("response_lag", 0.5, 120.0, True, (3.0, 20.0), Needs.EXPOSURE, "s", "arousal lag"),
    ParamSpec(
        "habituation_tau",
        10.0,
        3600.0,
        True,
        (60.0, 900.0),
        Needs.EXPOSURE,
        "s",
        "habituation time constant",
    ),
    ParamSpec(
        "habituation_floor",
        0.0,
        1.0,
        False,
        (0.2, 0.8),
        Needs.EXPOSURE,
        "",
        "response left after full habituation",
    ),
    ParamSpec(
        "max_scl_gain",
        0.0,
        30.0,
        False,
        (1.0, 8.0),
        Needs.EDA_EXPOSURE,
        "uS",
        "SCL added at arousal 1",
    ),
    ParamSpec("scl_lag", 1.0, 300.0, True, (5.0, 40.0), Needs.EDA_EXPOSURE, "s", "tonic SCL lag"),
    ParamSpec(
        "scr_rate_rest", 0.0, 30.0, False, (0.5, 4.0), Needs.EDA, "/min", "SCRs per minute at rest"
    ),
    ParamSpec(
        "scr_rate_gain",
        0.0,
        50.0,
        False,
        (3.0, 12.0),
        Needs.EDA_EXPOSURE,
        "/min",
        "SCRs per minute added at arousal 1",
    ),
    ParamSpec(
        "suds_scale",
        0.2,
        3.0,
        False,
        (0.6, 1.5),
        Needs.SUDS,
        "",
        "SUDS = 100 * suds_scale * arousal",
    ),
    ParamSpec(
        "between_session_rate",
        0.0,
        0.9,
        False,
        (0.0, 0.2),
        Needs.COURSE,
        "",
        "share of the reactivity lost per session",
    ),
)
"""Parameters shared by every session of the course, in the optimiser's order."""

PARAMS = {spec.name: spec for spec in GLOBAL_PARAMS}

_HR_RANGE, _SCL_RANGE = (40.0, 120.0), (0.5, 40.0)


def population_default(name: str) -> float:
    """The shipped ``typical`` twin's value of ``name`` (``scr_rate_gain`` included)."""
    typical = TwinProfile()
    if name == "scr_rate_gain":
        return typical.scr_rate_max - typical.scr_rate_rest
    return float(getattr(typical, name))


def resting_bounds(signal: str) -> tuple[float, float]:
    """Search range of a session's resting level: ``"hr"`` (bpm) or ``"scl"`` (µS)."""
    return _HR_RANGE if signal == "hr" else _SCL_RANGE
