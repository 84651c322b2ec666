"""The JSON API the page uses besides its WebSocket: who am I, which sessions run, a
pairing code for a tablet. Reading the session list is audited (it names participants)."""

from __future__ import annotations

from aiohttp import web

from console.auth import CODE_LIFETIME, IDLE_LOGOFF
from console.runtime import running_sessions
from console.security import client_address, current_login
from console.state import CONSOLE
from console.users import STEERING_ROLES

__all__ = ["add_routes"]


async def me(request: web.Request) -> web.Response:
    """``GET /api/me``: the user, role, CSRF token, and whether they may steer."""
    login = current_login(request)
    console = request.app[CONSOLE]
    return web.json_response(
        {
            "user": login.user,
            "role": login.role,
            "csrf": login.csrf,
            "may_steer": login.role in STEERING_ROLES,
            "idle_logoff_s": IDLE_LOGOFF,
            "default_sid": console.config.default_sid,
        }
    )


async def sessions(request: web.Request) -> web.Response:
    """``GET /api/sessions``: the running sessions (from their pairing files)."""
    login = current_login(request)
    console = request.app[CONSOLE]
    found = [s.public() for s in running_sessions(console.config.env)]
    console.audit_login(
        "page", login, client_address(request), page="/api/sessions", sessions=len(found)
    )
    return web.json_response({"sessions": found, "default": console.config.default_sid})


async def pairing(request: web.Request) -> web.Response:
    """``POST /api/pairing``: a new one-time code (therapists and admins)."""
    login = current_login(request)
    console = request.app[CONSOLE]
    if login.role not in STEERING_ROLES:
        raise web.HTTPForbidden(text=f"a {login.role} may not pair a tablet")
    code = console.codes.issue(console.config.operator)
    console.audit_login("pairing", login, client_address(request), issued=True)
    console.on_code(code.display())
    return web.json_response({"code": code.display(), "expires_in_s": CODE_LIFETIME})


def add_routes(app: web.Application) -> None:
    """``/api/me``, ``/api/sessions``, ``/api/pairing``."""
    app.router.add_get("/api/me", me)
    app.router.add_get("/api/sessions", sessions)
    app.router.add_post("/api/pairing", pairing)
