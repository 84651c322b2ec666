"""Checks every request passes before a handler runs, and headers every answer carries.

In order: the ``Host`` must be a loopback name when the console is bound to loopback (no
DNS rebinding); every POST and WebSocket upgrade must come from the console's own
``Origin`` (``scheme://Host``); every path but the login page, the pairing form and the
static files needs a live login (``vrt_session`` cookie; pages redirect to ``/login``, the
API and WebSocket answer 401); a POST of a logged-in user and a WebSocket upgrade carry
the login's CSRF token (``X-CSRF-Token`` header, or the ``csrf`` form or query field).
Every answer gets ``Cache-Control: no-store`` and a Content-Security-Policy that allows
only the console's own files (no inline script).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web

from console.auth import LoginSession
from console.state import CONSOLE

__all__ = [
    "COOKIE",
    "PUBLIC",
    "add_headers",
    "client_address",
    "current_login",
    "guard",
]

COOKIE = "vrt_session"
PUBLIC = frozenset({("GET", "/login"), ("POST", "/login"), ("POST", "/pair")})
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def client_address(request: web.Request) -> str:
    """The peer's address (never a forwarded header: the console is not behind a proxy)."""
    return request.remote or "?"


def current_login(request: web.Request) -> LoginSession:
    """The login :func:`guard` checked for this request."""
    login = request.app[CONSOLE].logins.get(request.cookies.get(COOKIE))
    assert login is not None, "route is not behind the login check"
    return login


def _refuse(request: web.Request, status: int, why: str) -> web.Response:
    if request.path.startswith("/api/") or request.path == "/ws" or request.method == "POST":
        return web.json_response({"error": why}, status=status)
    return web.Response(status=status, text=why)


def _host_ok(request: web.Request, loopback: bool) -> bool:
    if not loopback:
        return True
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    return host.lower() in LOOPBACK_HOSTS


def _origin_ok(request: web.Request, tls: bool) -> bool:
    origin = request.headers.get(hdrs.ORIGIN)
    return origin is not None and origin == f"{'https' if tls else 'http'}://{request.host}"


def _is_upgrade(request: web.Request) -> bool:
    return request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"


async def _csrf_token(request: web.Request) -> str | None:
    given = request.headers.get("X-CSRF-Token") or request.query.get("csrf")
    if (
        given is None
        and request.method == "POST"
        and request.content_type.startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        )
    ):
        value = (await request.post()).get("csrf")
        given = value if isinstance(value, str) else None
    return given


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Host, Origin, login and CSRF checks (see the module docstring)."""
    console = request.app[CONSOLE]
    config = console.config
    if not _host_ok(request, config.loopback):
        return _refuse(request, 403, "this console answers only to localhost / 127.0.0.1")
    upgrade = _is_upgrade(request)
    if (request.method == "POST" or upgrade) and not _origin_ok(request, config.tls):
        console.audit(
            "refused",
            "?",
            client_address(request),
            path=request.path,
            reason=f"origin {request.headers.get(hdrs.ORIGIN)!r} is not this console's",
        )
        return _refuse(request, 403, "request from another origin refused")
    if (request.method, request.path) in PUBLIC or request.path.startswith("/static/"):
        return await handler(request)
    login = console.logins.get(request.cookies.get(COOKIE))
    if login is None:
        if request.method == "GET" and not upgrade and not request.path.startswith("/api/"):
            return web.Response(status=303, headers={hdrs.LOCATION: "/login"})
        return _refuse(request, 401, "not logged in (or logged off after 15 min idle)")
    if (request.method == "POST" or upgrade) and not login.csrf_ok(await _csrf_token(request)):
        console.audit_login(
            "refused",
            login,
            client_address(request),
            path=request.path,
            reason="missing or wrong CSRF token",
        )
        return _refuse(request, 403, "missing or wrong CSRF token")
    if not upgrade:
        console.logins.touch(login)
    return await handler(request)


async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``no-store``, CSP and the usual hardening headers on every answer (an
    ``on_response_prepare`` signal: errors, static files and WebSocket upgrades too)."""
    response.headers[hdrs.CACHE_CONTROL] = "no-store"
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = (
        "same-origin"  # no-referrer would make form POSTs send Origin: null
    )
