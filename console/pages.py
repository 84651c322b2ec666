"""The pages: ``/`` (the live view), ``/login`` (password or pairing code), ``/logout``.

A password login and a pairing code each make a login session whose token is the
``vrt_session`` cookie (HttpOnly, SameSite=Strict, Secure under TLS). Both forms are
limited per client address; every outcome is audited, never the password or the code.
"""

from __future__ import annotations

from aiohttp import web

from console.security import COOKIE, client_address, current_login
from console.state import CONSOLE
from console.static import StaticFiles

__all__ = ["add_routes"]

MAX_FIELD = 1024


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _login_cookie(response: web.StreamResponse, token: str, tls: bool) -> None:
    response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", secure=tls, path="/")


async def _field(request: web.Request, name: str) -> str:
    value = (await request.post()).get(name)
    return value[:MAX_FIELD] if isinstance(value, str) else ""


async def login_form(request: web.Request) -> web.StreamResponse:
    """``POST /login``: name and password."""
    console = request.app[CONSOLE]
    address = client_address(request)
    name, password = await _field(request, "name"), await _field(request, "password")
    if not console.login_limit.allow(address):
        console.audit("login_failed", name, address, reason="too many attempts")
        return _redirect("/login?error=wait")
    user = console.config.users.authenticate(name, password)
    if user is None:
        console.audit("login_failed", name, address, reason="unknown name or wrong password")
        return _redirect("/login?error=login")
    login = console.logins.create(user.name, user.role, via="password")
    console.audit_login("login", login, address, via="password")
    response = _redirect("/")
    _login_cookie(response, login.token, console.config.tls)
    return response


async def pair_form(request: web.Request) -> web.StreamResponse:
    """``POST /pair``: a one-time pairing code logs a tablet in as the console's operator."""
    console = request.app[CONSOLE]
    address = client_address(request)
    code = await _field(request, "code")
    if not console.pairing_limit.allow(address):
        console.audit("pairing", "?", address, ok=False, reason="too many attempts")
        return _redirect("/login?error=wait")
    operator = console.codes.redeem(code)
    if operator is None:
        console.audit("pairing", "?", address, ok=False, reason="wrong, used or expired code")
        return _redirect("/login?error=code")
    account = console.config.users.get(operator)
    role = account.role if account is not None else "therapist"
    login = console.logins.create(operator, role, via="pairing")
    console.audit_login("pairing", login, address, ok=True)
    response = _redirect("/")
    _login_cookie(response, login.token, console.config.tls)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    """``POST /logout`` (CSRF-checked)."""
    console = request.app[CONSOLE]
    login = current_login(request)
    console.logins.end(login)
    console.audit_login("logout", login, client_address(request), reason="asked")
    response = web.json_response({"ok": True})
    response.del_cookie(COOKIE, path="/")
    return response


def add_routes(app: web.Application, files: StaticFiles) -> None:
    """The pages and the static files."""

    async def index(request: web.Request) -> web.StreamResponse:
        login = current_login(request)
        request.app[CONSOLE].audit_login("page", login, client_address(request), page="/")
        return files.response("index.html")

    async def login_page(request: web.Request) -> web.StreamResponse:
        return files.response("login.html")

    app.router.add_get("/", index)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login_form)
    app.router.add_post("/pair", pair_form)
    app.router.add_post("/logout", logout)
    app.router.add_get("/static/{name}", files.handle)
