"""``GET /ws?sid=SID&csrf=TOKEN``: one page's live link to one session.

On connect the page gets ``hello`` (session info, user, role), ``history`` (the last five
minutes) and the last thumbnail, then every message of its session as it arrives (see
:mod:`console.hub`). What the page sends is checked by :func:`console.messages.parse_message`;
a refused message gets an ``error`` (and an audit entry) and the connection stays open, up
to :data:`MAX_REFUSED` of them. A command is refused for a role that may not steer and for
an id used before on this session (replay); an accepted one is audited, signed and
published, and its ``command_result`` comes back to this page.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import WSMsgType, web

from biosignals.lsl import import_pylsl
from console.errors import LinkError
from console.hub import Page
from console.link import SessionLink
from console.messages import BrowserCommand, MessageError, Ping, SessionFacts, parse_message
from console.runtime import SID_PATTERN
from console.security import client_address, current_login
from console.state import CONSOLE, Console
from console.users import STEERING_ROLES

__all__ = ["CLOSE_LOGGED_OFF", "MAX_FRAME", "MAX_REFUSED", "add_routes"]

MAX_FRAME = 64 * 1024
"""Frames above this close the connection (1009); 4 KiB to 64 KiB get an ``error``."""
MAX_REFUSED = 20
CLOSE_LOGGED_OFF = 4401
CLOSE_REFUSED = 4408


def _server_time() -> float:
    return float(import_pylsl().local_clock())


def _greet(page: Page, link: SessionLink) -> None:
    login = page.login
    page.put(
        {
            "type": "hello",
            "sid": link.sid,
            "info": link.info,
            "user": login.user,
            "role": login.role,
            "may_steer": login.role in STEERING_ROLES,
            "server_time": _server_time(),
        }
    )
    page.put({"type": "history", **link.history.snapshot()})
    if link.history.thumbnail is not None:
        page.put(link.history.thumbnail)


def _refuse(console: Console, page: Page, reason: str, **details: Any) -> None:
    page.refused += 1
    console.audit_login("refused", page.login, page.address, sid=page.sid, reason=reason, **details)
    page.put({"type": "error", "message": reason, **details})
    if page.refused >= MAX_REFUSED:
        page.end(CLOSE_REFUSED, f"{MAX_REFUSED} refused messages: connection closed")


def _command(console: Console, page: Page, cmd: BrowserCommand) -> None:
    login, hub = page.login, console.hub
    if login.role not in STEERING_ROLES:
        _refuse(console, page, f"a {login.role} may watch but not steer a session", id=cmd.id)
        return
    link = hub.links.get(page.sid)
    if link is None:
        _refuse(console, page, f"session {page.sid} is gone", id=cmd.id)
        return
    seen = hub.seen_ids.setdefault(page.sid, set())
    if cmd.id in seen:
        _refuse(console, page, f"command id {cmd.id} was used before (replay refused)", id=cmd.id)
        return
    seen.add(cmd.id)
    console.logins.touch(login)
    console.audit_login(
        "command", login, page.address, sid=page.sid, id=cmd.id, kind=cmd.kind, fields=cmd.fields
    )
    hub.sent(page, cmd.id)
    link.send(cmd.id, cmd.kind, cmd.fields, login.user)


def _on_message(console: Console, page: Page, facts: SessionFacts, data: str | bytes) -> None:
    try:
        msg = parse_message(data, facts)
    except MessageError as exc:
        _refuse(console, page, str(exc))
        return
    if isinstance(msg, Ping):
        if msg.active:
            console.logins.touch(page.login)
        page.put({"type": "pong", "id": msg.id, "server_time": _server_time()})
    else:
        _command(console, page, msg)


async def _write(ws: web.WebSocketResponse, page: Page) -> None:
    try:
        while (text := await page.queue.get()) is not None:
            await ws.send_str(text)
        code, reason = page.closing or (1000, "")
        await ws.close(code=code, message=reason.encode()[:120])
    except ConnectionError:  # the browser went away mid-send: the reader loop ends too
        return


async def websocket(request: web.Request) -> web.StreamResponse:
    """The WebSocket handler (see the module docstring)."""
    console = request.app[CONSOLE]
    login, address = current_login(request), client_address(request)
    sid = request.query.get("sid", "")
    if not SID_PATTERN.match(sid):
        return web.json_response({"error": "sid must be 8 hex digits"}, status=400)
    try:
        link = await console.hub.link(sid)
    except LinkError as exc:
        console.audit_login("refused", login, address, sid=sid, reason=str(exc))
        return web.json_response({"error": str(exc)}, status=404)
    ws = web.WebSocketResponse(max_msg_size=MAX_FRAME, heartbeat=20.0)
    await ws.prepare(request)
    page = Page(sid, login, address)
    facts = SessionFacts.from_info(sid, link.info)
    _greet(page, link)
    console.hub.join(page)
    console.audit_login("attach", login, address, sid=sid)
    writer = asyncio.create_task(_write(ws, page))
    try:
        async for msg in ws:
            if not console.logins.alive(login):
                page.end(CLOSE_LOGGED_OFF, "logged off", flush=True)
                break
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                _on_message(console, page, facts, msg.data)
        if ws.exception() is not None:  # e.g. a frame over MAX_FRAME (closed with 1009)
            console.audit_login("refused", login, address, sid=sid, reason=str(ws.exception()))
    finally:
        console.hub.leave(page)
        if page.closing is None:
            page.end(1000, "bye")
        with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
            await asyncio.wait_for(writer, 2.0)
        writer.cancel()
    return ws


def add_routes(app: web.Application) -> None:
    """``/ws``."""
    app.router.add_get("/ws", websocket)
