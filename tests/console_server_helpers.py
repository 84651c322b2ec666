"""Shared by the console's tests: a real console server on 127.0.0.1 (a random port) in a
background thread, accounts made once, and an aiohttp client that logs in like a browser."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from console_fake_session import FakeSession
from waiting import wait_for

from console.app import make_app
from console.hub import Hub
from console.state import CONSOLE, Console, ConsoleConfig
from console.users import UserStore
from engine.privacy.audit import AuditLog, read_entries

PASSWORD = "correct horse battery"
USERS = {"dr.lee": "therapist", "nurse.kim": "clinician", "admin": "admin"}


class StepClock:
    """A monotonic clock a test can push forward (idle logoff, code expiry)."""

    def __init__(self) -> None:
        import time

        self._base = time.monotonic
        self.offset = 0.0

    def __call__(self) -> float:
        return self._base() + self.offset


def make_users(path: Path) -> UserStore:
    """A users file with :data:`USERS`, each with :data:`PASSWORD`."""
    store = UserStore(path)
    for name, role in USERS.items():
        store.add(name, role, PASSWORD)
    return store


@dataclass
class ConsoleServer:
    """A console app served by a thread of its own (its own event loop)."""

    config: ConsoleConfig
    codes_printed: list[str] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="console-server", daemon=True)
        self.app: web.Application | None = None
        self.error: BaseException | None = None

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def console(self) -> Console:
        """The running console's state."""
        assert self.app is not None
        return self.app[CONSOLE]

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start())
        except BaseException as exc:
            self.error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    async def _start(self) -> None:
        self.app = make_app(self.config, Hub(self.config.env), on_code=self.codes_printed.append)
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the server's loop and return its result."""
        done: asyncio.Future[Any] = asyncio.run_coroutine_threadsafe(_run(fn), self._loop)
        return done.result(timeout=10)

    def start(self) -> ConsoleServer:
        self._thread.start()
        wait_for(self._ready.is_set, 20, what="the console server to listen")
        if self.error is not None:
            raise self.error
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=20)
        assert not self._thread.is_alive(), "the console server did not stop within 20 s"


async def _run(fn: Callable[[], Any]) -> Any:
    return fn()


@dataclass
class Setup:
    """One test's console, fake session and audit log."""

    server: ConsoleServer
    fake: FakeSession
    audit: Path
    clock: StepClock
    runtime: Path

    def audit_events(self, prefix: str = "console_") -> list[dict[str, Any]]:
        """The audit entries whose event starts with ``prefix``."""
        return [e for e in read_entries(self.audit) if e["event"].startswith(prefix)]


@contextmanager
def console_setup(
    tmp_path: Path, users: UserStore, *, thumbnail: bool = False, attach: bool = True
) -> Iterator[Setup]:
    """A fake session and a console attached to it, both torn down afterwards."""
    runtime = tmp_path / "run"
    env = {"VRTHERAPY_RUNTIME_DIR": str(runtime)}
    fake = FakeSession(runtime, thumbnail=thumbnail).start()
    clock = StepClock()
    audit = tmp_path / "sessions" / "audit.log"
    audit.parent.mkdir(parents=True, exist_ok=True)
    config = ConsoleConfig(
        users=users,
        audit=AuditLog(audit, actor="dr.lee"),
        operator="dr.lee",
        default_sid=fake.sid if attach else None,
        env=env,
        now=clock,
    )
    server = ConsoleServer(config).start()
    try:
        yield Setup(server, fake, audit, clock, runtime)
    finally:
        server.stop()
        fake.stop()


# ----------------------------------------------------------------------------- a client
def client(base: str) -> aiohttp.ClientSession:
    """A client that keeps cookies for 127.0.0.1 and sends the console's own Origin."""
    return aiohttp.ClientSession(
        base_url=base,
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        headers={"Origin": base},
    )


async def login(http: aiohttp.ClientSession, name: str, password: str = PASSWORD) -> str:
    """Log in with the form; returns where it redirects."""
    async with http.post(
        "/login", data={"name": name, "password": password}, allow_redirects=False
    ) as r:
        assert r.status == 303, await r.text()
        return r.headers["Location"]


async def csrf(http: aiohttp.ClientSession) -> str:
    """The login's CSRF token (``/api/me``)."""
    async with http.get("/api/me") as r:
        assert r.status == 200, await r.text()
        return str((await r.json())["csrf"])


async def receive(ws: aiohttp.ClientWebSocketResponse, kind: str, timeout: float = 10.0) -> Any:
    """The next message of type ``kind`` (others are skipped); fails after ``timeout``."""
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"waiting for {kind}: got {msg.type} {msg.data!r}")
            data = json.loads(msg.data)
            if data["type"] == kind:
                return data
