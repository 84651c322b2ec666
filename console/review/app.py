"""The review app: the console's login, checks and headers, the review pages, an idle
logoff sweep and a periodic index refresh.

Routes: ``/login`` (GET, POST; the console's page and form), ``/logout``, ``/static/*``
(the console's vendored files), and the review pages of :mod:`console.review.listing`,
:mod:`console.review.course` and :mod:`console.review.session_page`. There is no
pairing code and no live view: review is for clinicians with an account.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from console import pages
from console.hub import Hub
from console.review import course, listing, session_page
from console.review.state import REVIEW, Review, in_thread
from console.security import add_headers, guard
from console.state import CONSOLE, Console, ConsoleConfig
from console.static import StaticFiles

__all__ = ["SWEEP_PERIOD", "make_review_app", "report_headers"]

SWEEP_PERIOD = 1.0


async def report_headers(request: web.Request, response: web.StreamResponse) -> None:
    """A report page's CSP (its inline style allowed by hash), after :func:`add_headers`."""
    csp = response.headers.pop(session_page.REPORT_CSP, None)
    if csp is not None:
        response.headers["Content-Security-Policy"] = csp


async def _background(app: web.Application) -> AsyncIterator[None]:
    console, review = app[CONSOLE], app[REVIEW]
    loop = asyncio.get_running_loop()
    handles: dict[str, asyncio.TimerHandle] = {}
    tasks: set[asyncio.Future[None]] = set()

    def sweep() -> None:
        for login in console.logins.expired():
            console.audit_login("logout", login, "-", reason="idle")
        handles["sweep"] = loop.call_later(SWEEP_PERIOD, sweep)

    def refresh() -> None:
        if not tasks:  # one refresh at a time; the next is due a period after it ends
            task = asyncio.ensure_future(in_thread(review.refresh))
            tasks.add(task)
            task.add_done_callback(done)
        else:
            handles["refresh"] = loop.call_later(review.refresh_period, refresh)

    def done(task: asyncio.Future[None]) -> None:
        tasks.discard(task)
        handles["refresh"] = loop.call_later(review.refresh_period, refresh)

    sweep()
    handles["refresh"] = loop.call_later(review.refresh_period, refresh)
    yield
    for h in handles.values():
        h.cancel()
    for t in tasks:
        await asyncio.wait([t])
    await console.hub.close()


def make_review_app(config: ConsoleConfig, review: Review) -> web.Application:
    """The review web application over ``review`` (its index refreshed before serving)."""
    app = web.Application(middlewares=[guard], client_max_size=64 * 1024)
    app[CONSOLE] = Console(config, Hub(config.env), on_code=lambda _code: None)
    app[REVIEW] = review
    app.on_response_prepare.append(add_headers)
    app.on_response_prepare.append(report_headers)
    app.cleanup_ctx.append(_background)
    files = StaticFiles()

    async def login_page(request: web.Request) -> web.StreamResponse:
        return files.response("review-login.html")

    app.router.add_get("/login", login_page)
    app.router.add_post("/login", pages.login_form)
    app.router.add_post("/logout", pages.logout)
    app.router.add_get("/static/{name}", files.handle)
    listing.add_routes(app)
    course.add_routes(app)
    session_page.add_routes(app)
    return app
