"""The fitted twin on a participant's course page (``vrtherapy serve --twins DIR``).

``DIR/PARTICIPANT.yaml`` is a profile written by ``vrtherapy twin fit`` (with its
``.fit.json`` sidecar and, after ``--next PROTOCOL``, its ``.forecast.json``). The page shows
the twin's reactivity and resting heart rate over the fitted sessions, its estimates with
their 95 % intervals, and the stored forecast of the next session. Nothing is fitted or
simulated while a page is served: fitting and forecasting take seconds to a minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from biosignals.errors import VrTherapyError
from console.review.render import Series, line_chart
from engine.twinfit.course import CourseTwin, StoredForecast, course_twin, load_forecast

__all__ = ["TwinView", "twin_view"]


@dataclass(frozen=True)
class TwinView:
    """What the course page shows of a participant's twin (``problem``: why not)."""

    profile: str
    twin: CourseTwin | None
    charts: list[str]
    forecast: StoredForecast | None
    problem: str | None


def _profile(twins: Path, participant: str) -> Path | None:
    if Path(participant).name != participant or participant.startswith("."):
        return None
    path = twins / f"{participant}.yaml"
    return path if path.is_file() else None


def _charts(twin: CourseTwin) -> list[str]:
    labels = [str(s.index + 1) for s in twin.sessions]
    return [
        line_chart(
            "Twin reactivity over sessions, 95 % interval",
            "gain",
            labels,
            [
                Series("reactivity", [s.reactivity for s in twin.sessions]),
                Series("2.5 %", [s.reactivity_low for s in twin.sessions]),
                Series("97.5 %", [s.reactivity_high for s in twin.sessions]),
            ],
        ),
        line_chart(
            "Twin resting heart rate per session",
            "bpm",
            labels,
            [Series("resting HR", [s.resting_hr for s in twin.sessions])],
        ),
    ]


def twin_view(twins: Path | None, participant: str) -> TwinView | None:
    """The participant's twin for the course page; ``None`` without ``--twins`` or a
    profile of that participant. An unreadable profile is shown as a problem, never an
    error page."""
    if twins is None:
        return None
    profile = _profile(twins, participant)
    if profile is None:
        return None
    try:
        twin = course_twin(profile)
        forecast = load_forecast(profile)
    except VrTherapyError as exc:
        return TwinView(profile.name, None, [], None, str(exc).replace(str(twins), "DIR"))
    return TwinView(profile.name, twin, _charts(twin), forecast, None)
