"""The fitted twin as the clinician's course page will show it (hook for issue #17).

The course page (clinician review, not built yet) shows a participant's fitted twin over
their sessions and its forecast for the next one. This module gives it the data, from a
fitted profile and its sidecar, without any HTML:

* :func:`course_twin` — per fitted session: date, protocol, that day's resting HR and
  SCL, the reactivity the twin had that session (``reactivity * (1 - rate) ** s``, with
  its 95 % bootstrap interval) and the HR RMSE of the fit; the shared estimates; the next
  session's index;
* the forecast of the next session is :func:`engine.twinfit.forecast.run_forecast` with
  ``load_patient(path)`` and :func:`engine.twinfit.samples.load_uncertainty`, summarised
  by :func:`engine.twinfit.forecast_stats.summarise` (and drawn by
  :func:`engine.twinfit.forecast_html.forecast_png`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.twinfit.output import SIDECAR_FORMAT, sidecar_path
from engine.twinfit.trace import TwinFitError

__all__ = ["CourseSession", "CourseTwin", "course_twin"]


@dataclass(frozen=True)
class CourseSession:
    """One fitted session of the course."""

    index: int
    recorded: str
    protocol: str
    resting_hr: float
    resting_scl: float | None
    reactivity: float
    reactivity_low: float | None
    reactivity_high: float | None
    hr_rmse: float | None


@dataclass(frozen=True)
class CourseTwin:
    """A participant's fitted twin over their course."""

    name: str
    participant: str
    profile: Path
    sessions: tuple[CourseSession, ...]
    next_session: int
    estimates: dict[str, dict[str, Any]]


def _reactivity(samples: list[dict[str, float]], session: int) -> tuple[float | None, float | None]:
    values = [
        s["reactivity"] * (1.0 - s.get("between_session_rate", 0.0)) ** session
        for s in samples
        if "reactivity" in s
    ]
    if not values:
        return None, None
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def course_twin(profile: Path) -> CourseTwin:
    """The course view of a fitted profile (``patient.yaml`` with ``patient.fit.json``).

    Raises
    ------
    TwinFitError
        No sidecar beside the profile, or not one of the expected format.
    """
    path = sidecar_path(profile)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TwinFitError(
            f"{path}: no readable twin-fit sidecar beside {profile} ({exc})"
        ) from None
    if not isinstance(data, dict) or data.get("format") != SIDECAR_FORMAT:
        raise TwinFitError(f"{path}: not a twin-fit sidecar of format {SIDECAR_FORMAT}")
    estimates = data["estimates"]
    reactivity = estimates["reactivity"]["value"]
    rate = estimates["between_session_rate"]["value"]
    sessions = []
    for k, s in enumerate(data["sessions"]):
        low, high = _reactivity(data["samples"], k)
        sessions.append(
            CourseSession(k, s["recorded"], s["protocol"], s["resting_hr"], s["resting_scl"],
                          reactivity * (1.0 - rate) ** k, low, high, s["rmse"].get("hr"))
        )  # fmt: skip
    return CourseTwin(
        data["name"], data["participant"], profile, tuple(sessions), data["next_session"], estimates
    )
