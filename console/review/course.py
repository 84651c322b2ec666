"""``/participants/{participant}/course``: per-session charts (server-side SVG) and a
print-friendly table of the participant's course over sessions."""

from __future__ import annotations

import re

from aiohttp import web

from console.review.listing import html, page_context
from console.review.render import Series, line_chart, render
from console.review.state import REVIEW, clinician
from console.review.twin import twin_view
from engine.review.measures import Value

__all__ = ["add_routes", "course_charts"]

_STEP = re.compile(r"^hr_reactivity_step(\d+)_bpm$")


def _values(rows: list[dict[str, Value]], name: str) -> list[float | None]:
    out: list[float | None] = []
    for r in rows:
        v = r.get(name)
        out.append(float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None)
    return out


def _steps(rows: list[dict[str, Value]]) -> list[int]:
    found = {int(m.group(1)) for r in rows for n in r if (m := _STEP.match(n))}
    return sorted(found)


def course_charts(rows: list[dict[str, Value]]) -> list[str]:
    """The course charts (SVG): SUDS, highest step, HR and SCL reactivity per step, time
    in the arousal window; one point per session."""
    labels = [str(i + 1) for i in range(len(rows))]
    steps = _steps(rows)
    return [
        line_chart(
            "SUDS over sessions",
            "0-100",
            labels,
            [
                Series("predicted", _values(rows, "predicted_suds")),
                Series("peak", _values(rows, "peak_suds")),
                Series("end", _values(rows, "end_suds")),
            ],
        ),
        line_chart(
            "Highest step reached",
            "step",
            labels,
            [Series("highest step", _values(rows, "highest_step"))],
        ),
        line_chart(
            "HR reactivity per step",
            "bpm above baseline",
            labels,
            [Series(f"step {k}", _values(rows, f"hr_reactivity_step{k}_bpm")) for k in steps],
        ),
        line_chart(
            "SCL reactivity per step",
            "uS above baseline",
            labels,
            [Series(f"step {k}", _values(rows, f"scl_reactivity_step{k}_us")) for k in steps],
        ),
        line_chart(
            "Time in the arousal window",
            "%",
            labels,
            [Series("in window", _values(rows, "time_in_window_pct"))],
        ),
    ]


async def course(request: web.Request) -> web.Response:
    """``GET /participants/{participant}/course``."""
    participant = request.match_info["participant"]
    login = clinician(request, "/course", participant=participant)
    rows = request.app[REVIEW].index.sessions_of(participant)
    if not rows:
        raise web.HTTPNotFound(text=f"no participant {participant!r} in this sessions folder")
    crumbs = [
        (participant, f"/participants/{participant}"),
        ("course", f"/participants/{participant}/course"),
    ]
    return html(
        render(
            "course.j2",
            participant=participant,
            sessions=rows,
            steps=_steps(rows),
            charts=course_charts(rows),
            twin=twin_view(request.app[REVIEW].twins, participant),
            **page_context(login, f"Course of {participant}", crumbs),
        )
    )


def add_routes(app: web.Application) -> None:
    """``/participants/{participant}/course``."""
    app.router.add_get("/participants/{participant}/course", course)
