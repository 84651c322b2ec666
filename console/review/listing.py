"""``/`` (participants) and ``/participants/{participant}`` (their sessions): from the
session index, bad sessions clearly marked."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from console.auth import LoginSession
from console.review.render import render
from console.review.state import REVIEW, clinician

__all__ = ["add_routes", "html", "page_context"]


def page_context(login: LoginSession, title: str, crumbs: list[tuple[str, str]]) -> dict[str, Any]:
    """What the layout needs: the title, breadcrumbs, the user, role and CSRF token."""
    return {
        "title": title,
        "crumbs": crumbs,
        "user": login.user,
        "role": login.role,
        "csrf": login.csrf,
    }


def html(text: str, status: int = 200) -> web.Response:
    """An HTML answer."""
    return web.Response(text=text, content_type="text/html", charset="utf-8", status=status)


async def participants(request: web.Request) -> web.Response:
    """``GET /``: every participant with their number of sessions and of bad ones."""
    login = clinician(request, "/")
    review = request.app[REVIEW]
    found = review.index.participants()
    return html(
        render(
            "participants.j2",
            participants=found,
            total=sum(p.sessions for p in found),
            folder=str(review.sessions),
            **page_context(login, "Participants", []),
        )
    )


async def sessions(request: web.Request) -> web.Response:
    """``GET /participants/{participant}``: the participant's sessions, oldest first."""
    participant = request.match_info["participant"]
    login = clinician(request, "/participants", participant=participant)
    rows = request.app[REVIEW].index.sessions_of(participant)
    if not rows:
        raise web.HTTPNotFound(text=f"no participant {participant!r} in this sessions folder")
    for row in rows:
        row["name"] = str(row["session"]).split("/", 1)[1]
    crumbs = [(participant, f"/participants/{participant}")]
    return html(
        render(
            "sessions.j2",
            participant=participant,
            sessions=rows,
            **page_context(login, f"Participant {participant}", crumbs),
        )
    )


def add_routes(app: web.Application) -> None:
    """``/`` and ``/participants/{participant}``."""
    app.router.add_get("/", participants)
    app.router.add_get("/participants/{participant}", sessions)
