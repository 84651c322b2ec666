"""The fitted twin as the clinician's course page will show it (hook for issue #17).

The course page (clinician review, not built yet) shows a participant's fitted twin over
their sessions and its forecast for the next one. This module gives it the data, from a
fitted profile and its sidecar, without any HTML:

* :func:`course_twin` — per fitted session: date, protocol, that day's resting HR and
  SCL, the reactivity the twin had that session (``reactivity * (1 - rate) ** s``, with
  its 95 % bootstrap interval) and the HR RMSE of the fit; the shared estimates; the next
  session's index;
* :func:`next_session_forecast` — the forecast of the next session with a protocol:
  :func:`engine.twinfit.forecast.run_forecast` on the fitted twin and its uncertainty,
  summarised by :func:`engine.twinfit.forecast_stats.summarise` (drawn by
  :func:`engine.twinfit.forecast_html.forecast_png`, printed by
  :func:`engine.twinfit.forecast_stats.text_table`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import t as student_t

from engine.atomic import write_text_atomic
from engine.protocol import Protocol
from engine.twin_profiles import load_patient
from engine.twinfit.forecast import run_forecast
from engine.twinfit.forecast_stats import ForecastSummary, summarise, table
from engine.twinfit.output import SIDECAR_FORMAT, sidecar_path
from engine.twinfit.samples import load_uncertainty
from engine.twinfit.trace import TwinFitError

__all__ = [
    "FORECAST_FORMAT",
    "CourseSession",
    "CourseTwin",
    "StoredForecast",
    "course_twin",
    "forecast_path",
    "load_forecast",
    "next_session_forecast",
    "write_forecast",
]

FORECAST_FORMAT = "vrtherapy-twin-forecast/1"
"""Format of ``PROFILE.forecast.json`` (``twin fit --next``), read by the course page."""


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


def _reactivity(
    samples: list[dict[str, float]], session: int, point: float
) -> tuple[float | None, float | None]:
    """95 % interval of the session's reactivity ``point``: the estimate +- Student's
    ``t(0.975, B - 1)`` standard deviations of the ``B`` samples' values for the session,
    the rule of :func:`~engine.twinfit.uncertainty.interval` (percentiles of a few samples
    can miss the estimate); ``None`` below two samples."""
    values = []
    for i, s in enumerate(samples):
        if not isinstance(s, dict):
            raise ValueError(f"samples[{i}] is not an object")
        if "reactivity" in s:
            r = _number(s["reactivity"], f"samples[{i}].reactivity")
            rate = _number(s.get("between_session_rate", 0.0), f"samples[{i}].between_session_rate")
            values.append(float(r or 0.0) * (1.0 - float(rate or 0.0)) ** session)
    if len(values) < 2:
        return None, None
    half = float(student_t.ppf(0.975, len(values) - 1)) * float(np.std(values, ddof=1))
    return max(point - half, 0.0), point + half


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
    except (OSError, ValueError, RecursionError) as exc:
        raise TwinFitError(
            f"{path}: no readable twin-fit sidecar beside {profile} ({exc})"
        ) from None
    if not isinstance(data, dict) or data.get("format") != SIDECAR_FORMAT:
        raise TwinFitError(f"{path}: not a twin-fit sidecar of format {SIDECAR_FORMAT}")
    try:
        return _course(data, profile)
    except (KeyError, TypeError, ValueError, IndexError, OverflowError) as exc:
        what = f"no field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise TwinFitError(
            f"{path}: twin-fit sidecar without the expected fields ({what}); rewrite it "
            f"with `vrtherapy twin fit`"
        ) from None


def _number(value: Any, where: str, *, optional: bool = False) -> float | None:
    """``value`` as a finite float (``None`` allowed when ``optional``); else ValueError."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise ValueError(f"{where} is {value!r}, not a finite number")
    return float(value)


def _session(k: int, s: Any, reactivity: float, samples: Any) -> CourseSession:
    if not isinstance(s, dict) or not isinstance(s.get("rmse"), dict):
        raise ValueError(f"sessions[{k}] is not an object with an 'rmse' object")
    low, high = _reactivity(samples, k, reactivity)
    hr = _number(s["resting_hr"], f"sessions[{k}].resting_hr")
    return CourseSession(
        k, str(s["recorded"]), str(s["protocol"]), float(hr or 0.0),
        _number(s["resting_scl"], f"sessions[{k}].resting_scl", optional=True), reactivity,
        low, high, _number(s["rmse"].get("hr"), f"sessions[{k}].rmse.hr", optional=True),
    )  # fmt: skip


def _course(data: dict[str, Any], profile: Path) -> CourseTwin:
    estimates = data["estimates"]
    reactivity = float(estimates["reactivity"]["value"])
    rate = float(estimates["between_session_rate"]["value"])
    sessions = tuple(
        _session(k, s, reactivity * (1.0 - rate) ** k, data["samples"])
        for k, s in enumerate(data["sessions"])
    )
    return CourseTwin(
        data["name"], data["participant"], profile, sessions,
        int(data["next_session"]), estimates,
    )  # fmt: skip


def next_session_forecast(
    profile: Path, protocol: Protocol, runs: int, *, seed: int = 0, jobs: int | None = None
) -> ForecastSummary:
    """The fitted twin's forecast of its next session with ``protocol``.

    Parameters
    ----------
    profile
        A fitted profile (``patient.yaml``; its ``.fit.json`` gives the uncertainty).
    protocol
        The protocol planned for the next session.
    runs
        Sessions to run on twins drawn from the fit (e.g. 50).
    seed, jobs
        As :func:`engine.twinfit.forecast.run_forecast`.

    Raises
    ------
    VrTherapyError
        The profile or its sidecar cannot be read.
    """
    twin = load_patient(str(profile))
    uncertainty = load_uncertainty(profile)
    return summarise(
        protocol, run_forecast(protocol, twin, uncertainty, runs, seed=seed, jobs=jobs)
    )


@dataclass(frozen=True)
class StoredForecast:
    """A next-session forecast as ``twin fit --next`` stored it beside the profile."""

    protocol: str
    title: str
    runs: int
    made: str
    rows: tuple[tuple[str, str], ...]


def forecast_path(profile: Path) -> Path:
    """``patient.yaml`` -> ``patient.forecast.json`` (same folder)."""
    return profile.with_name(profile.stem + ".forecast.json")


def write_forecast(profile: Path, summary: ForecastSummary) -> Path:
    """Store ``summary`` (median [10th..90th percentile] rows, as ``simulate --runs``
    prints them) beside ``profile``, atomically, mode 0600; returns the path."""
    keys, columns = table([summary])
    data = {
        "format": FORECAST_FORMAT,
        "protocol": summary.protocol,
        "title": summary.title,
        "runs": summary.runs,
        "made": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": [[k, columns[0].get(k, "")] for k in keys],
    }
    return write_text_atomic(forecast_path(profile), json.dumps(data, indent=1), "forecast", 0o600)


def load_forecast(profile: Path) -> StoredForecast | None:
    """The stored forecast beside ``profile``; ``None`` when there is none.

    Raises
    ------
    TwinFitError
        A forecast file that cannot be read or is not of :data:`FORECAST_FORMAT`.
    """
    path = forecast_path(profile)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != FORECAST_FORMAT:
            raise ValueError(f"not of format {FORECAST_FORMAT}")
        rows = tuple((str(k), str(v)) for k, v in data["rows"])
        return StoredForecast(
            str(data["protocol"]), str(data["title"]), int(data["runs"]), str(data["made"]), rows
        )
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise TwinFitError(f"{path}: not a readable twin forecast ({exc})") from None
