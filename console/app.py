"""The console's aiohttp application: routes, checks, headers, and the idle sweep.

Routes (one module each): :mod:`console.pages` (``/``, ``/login``, ``/pair``,
``/logout``, ``/static/*``), :mod:`console.api` (``/api/*``), :mod:`console.ws`
(``/ws``). :mod:`console.security` checks every request and headers every answer. Every
:data:`SWEEP_PERIOD` seconds logins idle for 15 minutes end (audited) and their pages are
closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from console import api, pages, ws
from console.hub import Hub
from console.security import add_headers, guard
from console.state import CONSOLE, Console, ConsoleConfig
from console.static import StaticFiles

__all__ = ["SWEEP_PERIOD", "make_app"]

SWEEP_PERIOD = 1.0


def _sweep(console: Console) -> None:
    """End idle logins: audit each, close its pages."""
    for login in console.logins.expired():
        console.audit_login("logout", login, "-", reason="idle")
    for pages_of_sid in console.hub.pages.values():
        for page in list(pages_of_sid):
            if page.closing is None and not console.logins.alive(page.login):
                page.end(ws.CLOSE_LOGGED_OFF, "logged off after 15 min idle", flush=True)


async def _close_pages(app: web.Application) -> None:
    """On shutdown: close every page's WebSocket (1001, going away), so the server stops at
    once instead of waiting for browsers; the pages reconnect with backoff."""
    for pages_of_sid in app[CONSOLE].hub.pages.values():
        for page in list(pages_of_sid):
            page.end(1001, "the console is stopping", flush=True)


async def _sweeper(app: web.Application) -> AsyncIterator[None]:
    console = app[CONSOLE]
    loop = asyncio.get_running_loop()
    handle: asyncio.TimerHandle | None = None

    def tick() -> None:
        nonlocal handle
        _sweep(console)
        handle = loop.call_later(SWEEP_PERIOD, tick)

    handle = loop.call_later(SWEEP_PERIOD, tick)
    yield
    handle.cancel()
    await console.hub.close()


def make_app(
    config: ConsoleConfig, hub: Hub | None = None, on_code: Callable[[str], None] = print
) -> web.Application:
    """The console's web application.

    Parameters
    ----------
    config
        Accounts, audit log, operator, TLS and loopback facts, clock.
    hub
        The session links (default: a :class:`Hub` on ``config.env``).
    on_code
        Called with each pairing code issued through the page (the console prints it).
    """
    app = web.Application(middlewares=[guard], client_max_size=64 * 1024)
    app[CONSOLE] = Console(config, hub or Hub(config.env), on_code=on_code)
    app.on_response_prepare.append(add_headers)
    app.cleanup_ctx.append(_sweeper)
    app.on_shutdown.append(_close_pages)
    pages.add_routes(app, StaticFiles())
    api.add_routes(app)
    ws.add_routes(app)
    return app
