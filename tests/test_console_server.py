"""The console server for real: aiohttp on 127.0.0.1 (a random port), a fake session on
real LSL (tests/console_fake_session.py), an aiohttp client standing in for a browser."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from console_server_helpers import (
    PASSWORD,
    Setup,
    client,
    console_setup,
    csrf,
    login,
    make_users,
    receive,
)
from waiting import wait_for

from console.users import UserStore
from engine.privacy.audit import verify_chain

pytestmark = pytest.mark.lsl


@pytest.fixture(scope="module")
def users(tmp_path_factory: pytest.TempPathFactory) -> UserStore:
    return make_users(tmp_path_factory.mktemp("site") / "users.json")


@pytest.fixture
def setup(tmp_path: Path, users: UserStore) -> Iterator[Setup]:
    with console_setup(tmp_path, users) as s:
        yield s


def _ws_url(s: Setup, token: str) -> str:
    return f"/ws?sid={s.fake.sid}&csrf={token}"


async def _open(s: Setup, http: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
    token = await csrf(http)
    return await http.ws_connect(_ws_url(s, token), origin=s.server.base)


def _command(kind: str, **fields: object) -> dict[str, object]:
    return {"type": "command", "id": str(uuid.uuid4()), "kind": kind, **fields}


# ----------------------------------------------------------------------------- logging in
def test_login_wrong_password_refused_and_audited(setup: Setup) -> None:
    async def scenario() -> None:
        async with client(setup.server.base) as http:
            assert await login(http, "dr.lee", "not the password") == "/login?error=login"
            assert await login(http, "nobody", PASSWORD) == "/login?error=login"
            async with http.get("/api/me") as r:
                assert r.status == 401
            async with http.post(
                "/login", data={"name": "dr.lee", "password": PASSWORD}, allow_redirects=False
            ) as r:
                assert (r.status, r.headers["Location"]) == (303, "/")
                cookie = r.headers["Set-Cookie"]
                assert "vrt_session=" in cookie and "HttpOnly" in cookie
                assert "SameSite=Strict" in cookie and "Secure" not in cookie  # no TLS here
            async with http.get("/") as r:
                assert r.status == 200 and "<title>vrtherapy console</title>" in await r.text()
                assert r.headers["Cache-Control"] == "no-store"
                assert r.headers["Content-Security-Policy"].startswith("default-src 'self'")
                assert "unsafe-inline" not in r.headers["Content-Security-Policy"]

    asyncio.run(scenario())
    events = [(e["event"], e["actor"]) for e in setup.audit_events()]
    assert events == [
        ("console_login_failed", "dr.lee"),
        ("console_login_failed", "nobody"),
        ("console_login", "dr.lee"),
        ("console_page", "dr.lee"),
    ]
    assert PASSWORD not in setup.audit.read_text()
    assert verify_chain(setup.audit).ok


def test_pages_and_api_need_a_login(setup: Setup) -> None:
    async def scenario() -> None:
        async with client(setup.server.base) as http:
            async with http.get("/", allow_redirects=False) as r:
                assert (r.status, r.headers["Location"]) == (303, "/login")
            for path in ("/api/me", "/api/sessions"):
                async with http.get(path) as r:
                    assert r.status == 401
            async with http.get("/login") as r:
                assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                await http.ws_connect(f"/ws?sid={setup.fake.sid}", origin=setup.server.base)
            assert err.value.status == 401

    asyncio.run(scenario())


def test_posts_from_another_origin_or_host_are_refused(setup: Setup) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession(base_url=setup.server.base) as http:
            form = {"name": "dr.lee", "password": PASSWORD}
            for headers in ({"Origin": "http://evil.example"}, {}):
                async with http.post("/login", data=form, headers=headers) as r:
                    assert r.status == 403
            rebound = {"Host": "evil.example", "Origin": "http://evil.example"}  # DNS rebinding
            async with http.post("/login", data=form, headers=rebound) as r:
                assert r.status == 403

    asyncio.run(scenario())
    refused = [e for e in setup.audit_events() if e["event"] == "console_refused"]
    assert len(refused) == 2 and "evil.example" in refused[0]["details"]["reason"]
    assert not [e for e in setup.audit_events() if e["event"] == "console_login"]


def test_pairing_code_works_once_and_is_rate_limited(setup: Setup) -> None:
    code = setup.server.call(lambda: setup.server.console.codes.issue("dr.lee")).display()

    async def pair(http: aiohttp.ClientSession, typed: str) -> str:
        async with http.post("/pair", data={"code": typed}, allow_redirects=False) as r:
            return r.headers["Location"]

    async def scenario() -> None:
        async with client(setup.server.base) as tablet:
            assert await pair(tablet, code) == "/"
            async with tablet.get("/api/me") as r:
                me = await r.json()
            assert (me["user"], me["role"], me["may_steer"]) == ("dr.lee", "therapist", True)
        async with client(setup.server.base) as second:
            assert await pair(second, code) == "/login?error=code"  # used up
            for _ in range(3):
                assert await pair(second, "AAAA-AAAA") == "/login?error=code"
            fresh = setup.server.call(lambda: setup.server.console.codes.issue("dr.lee"))
            assert await pair(second, fresh.code) == "/login?error=wait"  # 6th try this minute
            setup.clock.offset += 61
            assert await pair(second, fresh.code) == "/"

    asyncio.run(scenario())
    outcomes = [e["details"]["ok"] for e in setup.audit_events() if e["event"] == "console_pairing"]
    assert outcomes == [True, False, False, False, False, False, True]


def test_idle_login_is_logged_off(setup: Setup) -> None:
    async def scenario() -> None:
        async with client(setup.server.base) as http:
            await login(http, "dr.lee")
            ws = await _open(setup, http)
            await receive(ws, "history")
            setup.clock.offset += 16 * 60
            msg = await ws.receive(timeout=10)
            while msg.type == aiohttp.WSMsgType.TEXT:
                msg = await ws.receive(timeout=10)
            assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4401
            async with http.get("/api/me") as r:
                assert r.status == 401

    asyncio.run(scenario())
    logout = [e for e in setup.audit_events() if e["event"] == "console_logout"]
    assert [(e["actor"], e["details"]["reason"]) for e in logout] == [("dr.lee", "idle")]


# ----------------------------------------------------------------------------- the WebSocket
def test_websocket_from_another_origin_or_without_csrf_is_refused(setup: Setup) -> None:
    async def scenario() -> None:
        async with client(setup.server.base) as http:
            await login(http, "dr.lee")
            token = await csrf(http)
            for origin, url in (
                ("http://evil.example", _ws_url(setup, token)),
                ("http://127.0.0.1:1", _ws_url(setup, token)),  # another port: another origin
                (setup.server.base, f"/ws?sid={setup.fake.sid}"),
                (setup.server.base, _ws_url(setup, "forged")),
            ):
                with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                    await http.ws_connect(url, origin=origin)
                assert err.value.status == 403

    asyncio.run(scenario())
    refused = [e for e in setup.audit_events() if e["event"] == "console_refused"]
    reasons = [e["details"]["reason"] for e in refused]
    assert len(reasons) == 4 and "CSRF" in reasons[-1]
    assert setup.fake.applied == []


def test_hello_and_history_then_live_data(setup: Setup) -> None:
    async def scenario() -> None:
        async with client(setup.server.base) as http:
            await login(http, "nurse.kim")
            ws = await _open(setup, http)
            hello = await receive(ws, "hello")
            assert hello["sid"] == setup.fake.sid and hello["info"] == setup.fake.info()
            assert (hello["user"], hello["role"], hello["may_steer"]) == (
                "nurse.kim", "clinician", False,
            )  # fmt: skip
            history = await receive(ws, "history")
            assert set(history) == {"type", "features", "intensity", "markers", "status"}
            row = (await receive(ws, "features"))["row"]
            assert len(row) == 7 and 60 < row[1] < 140  # [t, hr, scl, scr, arousal, rmssd, valid]
            for _ in range(3):
                await receive(ws, "features")
            status = (await receive(ws, "status"))["status"]
            assert status["sid"] == setup.fake.sid and status["label"] == "third floor balcony"
            intensity = await receive(ws, "intensity")
            assert set(intensity) == {"type", "t", "value"}
            await ws.send_json({"type": "ping", "id": "p1"})
            pong = await receive(ws, "pong")
            assert pong["id"] == "p1" and pong["server_time"] > 0
            await ws.close()
        async with client(setup.server.base) as http:  # a page that reconnects: resynced
            await login(http, "nurse.kim")
            ws = await _open(setup, http)
            history = await receive(ws, "history")
            assert len(history["features"]) >= 3 and len(history["intensity"]) >= 5
            assert history["status"]["sid"] == setup.fake.sid
            await ws.close()

    asyncio.run(scenario())
    attach = [e for e in setup.audit_events() if e["event"] == "console_attach"]
    who = [(e["actor"], e["details"]["sid"]) for e in attach]
    assert who == [("nurse.kim", setup.fake.sid)] * 2


def test_step_down_reaches_the_session_signed_and_its_result_comes_back(setup: Setup) -> None:
    down = _command("step_down")
    note = _command("note", text="patient says the railing helps")

    async def scenario() -> None:
        async with client(setup.server.base) as http:
            await login(http, "dr.lee")
            ws = await _open(setup, http)
            await receive(ws, "history")
            await ws.send_json(down)
            decision = (await receive(ws, "marker"))["marker"]  # every page sees the markers
            assert decision["event"] == "intensity" and decision["t"] > 0
            marker = (await receive(ws, "marker"))["marker"]
            assert (marker["event"], marker["operator"], marker["id"]) == (
                "command", "dr.lee", down["id"],
            )  # fmt: skip
            result = await receive(ws, "command_result")  # the sender also gets its result
            assert result["id"] == down["id"] and result["applied"] is True
            assert result["result"] == "step 3 -> 2 (first floor balcony)"
            assert 0 <= result["latency_ms"] < 10_000
            await ws.send_json(down)  # the same id again: a replay
            error = await receive(ws, "error")
            assert "used before (replay refused)" in error["message"]
            await ws.send_json(note)
            result = await receive(ws, "command_result")
            assert result["result"] == "noted: patient says the railing helps"
            await ws.close()

    asyncio.run(scenario())
    applied = setup.fake.applied
    assert [(c["kind"], c["operator"], c["id"]) for c in applied] == [
        ("step_down", "dr.lee", down["id"]),
        ("note", "dr.lee", note["id"]),
    ]
    assert applied[1]["text"] == "patient says the railing helps" and setup.fake.step == 1
    assert setup.fake.rejected == []
    commands = [e for e in setup.audit_events() if e["event"] == "console_command"]
    assert [(e["actor"], e["details"]["kind"]) for e in commands] == [
        ("dr.lee", "step_down"),
        ("dr.lee", "note"),
    ]


def test_bad_messages_get_errors_and_never_reach_the_session(setup: Setup) -> None:
    bad = [
        "{not json",
        json.dumps({"type": "command", "id": str(uuid.uuid4()), "kind": "x" * 5000}),
        json.dumps({"type": "subscribe"}),
        json.dumps(_command("launch_rocket")),
        json.dumps(_command("stop", sid="ffffffff")),  # for another session
        json.dumps(_command("scene_event", event="explode")),
    ]

    async def scenario() -> None:
        async with client(setup.server.base) as http:
            await login(http, "dr.lee")
            ws = await _open(setup, http)
            await receive(ws, "history")
            for text in bad:
                await ws.send_str(text)
                assert (await receive(ws, "error"))["message"]
            await ws.send_bytes(b"\x00\x01")
            assert "binary" in (await receive(ws, "error"))["message"]
            await ws.send_json({"type": "ping", "id": 1})  # still open
            assert (await receive(ws, "pong"))["id"] == 1
            await ws.close()

    asyncio.run(scenario())
    refused = [e for e in setup.audit_events() if e["event"] == "console_refused"]
    assert len(refused) == len(bad) + 1 and refused[1]["details"]["reason"].startswith("message of")
    assert setup.fake.applied == [] and setup.fake.rejected == []


def test_a_clinician_watches_but_may_not_steer(setup: Setup) -> None:
    async def scenario() -> None:
        async with client(setup.server.base) as http:
            await login(http, "nurse.kim")
            ws = await _open(setup, http)
            await receive(ws, "history")
            await ws.send_json(_command("step_up"))
            assert "a clinician may watch but not steer" in (await receive(ws, "error"))["message"]
            await ws.close()

    asyncio.run(scenario())
    assert setup.fake.applied == []


def test_a_console_without_the_pairing_secret_is_rejected_by_the_session(
    setup: Setup,
) -> None:
    path = setup.fake.pairing_file
    body = json.loads(path.read_text())
    path.write_text(json.dumps({**body, "secret": "00" * 32}))  # not the session's secret

    async def scenario() -> None:
        async with client(setup.server.base) as http:
            await login(http, "dr.lee")
            ws = await _open(setup, http)
            await receive(ws, "history")
            await ws.send_json(_command("step_up"))
            result = await receive(ws, "command_result")
            assert result["applied"] is False
            assert result["result"] == "rejected by the session: bad or missing mac"
            await ws.close()

    asyncio.run(scenario())
    assert setup.fake.applied == [] and len(setup.fake.rejected) == 1


def test_a_lost_session_is_announced_and_closes_the_page(setup: Setup) -> None:
    async def scenario() -> None:
        async with client(setup.server.base) as http:
            await login(http, "dr.lee")
            ws = await _open(setup, http)
            await receive(ws, "history")
            setup.fake.stop()
            lost = await receive(ws, "session_lost")
            assert "the session ended" in lost["reason"]
            msg = await ws.receive(timeout=10)
            assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4410
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:  # gone for good
                await _open(setup, http)
            assert err.value.status == 404

    asyncio.run(scenario())
    wait_for(lambda: not setup.server.console.hub.links, 10, what="the link to be closed")


def test_thumbnail_reaches_the_page_when_the_session_sends_one(
    tmp_path: Path, users: UserStore
) -> None:
    async def scenario(s: Setup) -> None:
        async with client(s.server.base) as http:
            await login(http, "dr.lee")
            ws = await _open(s, http)
            thumb = await receive(ws, "thumbnail")
            assert thumb["data"].startswith("data:image/png;base64,")
            await ws.close()

    with console_setup(tmp_path, users, thumbnail=True) as s:
        asyncio.run(scenario(s))


def test_sessions_list_and_pairing_api(setup: Setup) -> None:
    async def scenario() -> None:
        async with client(setup.server.base) as http:
            await login(http, "dr.lee")
            async with http.get("/api/sessions") as r:
                listing = await r.json()
            assert listing["default"] == setup.fake.sid
            assert listing["sessions"] == [
                {"sid": setup.fake.sid, "protocol": "heights-graded", "participant": "P-0042",
                 "started": "2026-05-04T09:30:00+00:00"}
            ]  # fmt: skip
            assert "secret" not in json.dumps(listing)
            async with http.post("/api/pairing") as r:
                assert r.status == 403  # no CSRF token
            token = await csrf(http)
            async with http.post("/api/pairing", headers={"X-CSRF-Token": token}) as r:
                code = (await r.json())["code"]
            assert setup.server.codes_printed == [code]
        async with client(setup.server.base) as http:
            await login(http, "nurse.kim")
            token = await csrf(http)
            async with http.post("/api/pairing", headers={"X-CSRF-Token": token}) as r:
                assert r.status == 403  # a clinician does not pair tablets

    asyncio.run(scenario())


@pytest.mark.slow
def test_a_session_that_hangs_or_is_killed_is_lost_too(setup: Setup) -> None:
    """Its pairing file stays (no clean end), but its streams go quiet and leave LSL."""

    async def scenario() -> None:
        async with client(setup.server.base) as http:
            await login(http, "dr.lee")
            ws = await _open(setup, http)
            await receive(ws, "history")
            setup.fake.vanish()
            lost = await receive(ws, "session_lost", timeout=30)
            reason = lost["reason"]  # whichever check notices first
            assert reason == "the session's streams are gone from LSL" or reason.startswith(
                "no data from the session for "
            )
            await ws.close()

    asyncio.run(scenario())
    assert setup.fake.pairing_file.exists()
