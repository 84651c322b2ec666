"""``vrtherapy serve``'s app over HTTP (aiohttp client, no browser): headers, the empty
sessions folder, downloads (CSRF, audit, bytes), names that are not indexed folders, and
the command's bad input."""

from __future__ import annotations

import asyncio
import io
import shutil
import zipfile
from pathlib import Path

import pytest
from conftest import run_cli, site_key
from console_server_helpers import client, login, make_users
from review_helpers import Archive, ReviewServer, archive  # noqa: F401

from engine.privacy.audit import read_entries
from engine.privacy.sealed import recording_bytes


def _sealed(sessions: Path) -> Path:
    return next(p for p in sorted((sessions / "P-A").iterdir()) if "heights" in p.name)


async def _csrf(http: object, page: str) -> str:
    async with http.get(page) as r:  # type: ignore[attr-defined]
        text = await r.text()
    return text.split('data-csrf="', 1)[1].split('"', 1)[0]


def test_report_headers_downloads_and_names(archive: Archive, tmp_path: Path) -> None:  # noqa: F811
    users = make_users(tmp_path / "users.json")
    sessions = tmp_path / "sessions"
    shutil.copytree(archive.sessions, sessions)
    server = ReviewServer(sessions, users, site_key()).start()
    folder = _sealed(sessions)
    page = f"/participants/P-A/sessions/{folder.name}"

    async def scenario() -> None:
        async with client(server.base) as http:
            await login(http, "nurse.kim")
            async with http.get(page) as r:
                assert r.status == 200
                assert r.headers["Cache-Control"] == "no-store"
                csp = r.headers["Content-Security-Policy"]
                assert "style-src 'self' 'sha256-" in csp and "unsafe" not in csp
                assert "script-src 'self'" in csp and "X-Review-Report-CSP" not in r.headers
            async with http.post(page + "/download", data={"format": "xdf"}) as r:
                assert r.status == 403  # no CSRF token
            token = await _csrf(http, "/")
            got = {}
            for fmt in ("xdf", "edf", "csv"):
                async with http.post(page + "/download", data={"format": fmt, "csrf": token}) as r:
                    assert r.status == 200, await r.text()
                    assert r.headers["Cache-Control"] == "no-store"
                    assert "attachment" in r.headers["Content-Disposition"]
                    got[fmt] = await r.read()
            assert got["xdf"] == recording_bytes(folder / "recording.xdf.sealed", site_key())
            assert got["edf"][:8] == b"0       "
            names = zipfile.ZipFile(io.BytesIO(got["csv"])).namelist()
            assert f"{folder.name}/events.csv" in names and len(names) > 3
            for bad in ("/participants/P-A/sessions/..%2F..%2Faudit.log", "/participants/..%2F"):
                async with http.get(bad) as r:
                    assert r.status == 404

    try:
        asyncio.run(scenario())
    finally:
        server.stop()
    downloads = [e for e in read_entries(server.audit) if e["event"] == "console_download"]
    assert [e["details"]["format"] for e in downloads[-3:]] == ["xdf", "edf", "csv"]
    assert all(e["actor"] == "nurse.kim" for e in downloads[-3:])


def test_an_empty_sessions_folder_is_said_so(tmp_path: Path) -> None:
    (tmp_path / "sessions").mkdir()
    server = ReviewServer(tmp_path / "sessions", make_users(tmp_path / "u.json"), None).start()

    async def scenario() -> str:
        async with client(server.base) as http:
            await login(http, "nurse.kim")
            async with http.get("/") as r:
                assert r.status == 200
                return await r.text()

    try:
        text = asyncio.run(scenario())
    finally:
        server.stop()
    assert 'id="no-sessions"' in text


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["serve", "NOWHERE"], "not a folder"),
        (["serve", "SESSIONS", "--bind", "0.0.0.0:0"], "needs TLS"),
        (["serve", "SESSIONS", "--bind", "nonsense"], "expected [HOST:]PORT"),
    ],
)
def test_serve_bad_input_is_one_sentence_and_exit_2(
    tmp_path: Path, args: list[str], words: str
) -> None:
    (tmp_path / "s").mkdir()
    argv = [
        a.replace("NOWHERE", str(tmp_path / "x")).replace("SESSIONS", str(tmp_path / "s"))
        for a in args
    ]
    done = run_cli(*argv, timeout=60)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in done.stderr


@pytest.mark.slow
def test_vrtherapy_serve_indexes_serves_and_stops_on_sigterm(
    archive: Archive,  # noqa: F811
    tmp_path: Path,
) -> None:
    import signal
    import subprocess
    import sys
    import urllib.request

    from conftest import ROOT
    from waiting import wait_for

    sessions = tmp_path / "sessions"
    shutil.copytree(archive.sessions, sessions)
    out = tmp_path / "serve.out"
    with open(out, "w") as f:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "engine.cli",
                "serve",
                str(sessions),
                "--bind",
                "127.0.0.1:0",
                "--workers",
                "2",
                "--operator",
                "clinic",
            ],
            cwd=ROOT,
            stdout=f,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            text = wait_for(
                lambda: "review: http" in out.read_text() and out.read_text(),
                120,
                interval=0.1,
                what="vrtherapy serve to print its URL",
            )
            assert "index: " in text and "(5 added, 0 rebuilt" in text
            url = text.split("review: ", 1)[1].split()[0]
            with urllib.request.urlopen(url + "login") as r:
                assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
                page = r.read().decode()
            # review mode has no live session to pair a tablet with: no pairing form
            assert 'action="/login"' in page and "/pair" not in page
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    assert proc.returncode == 0, out.read_text()
    assert "review stopped" in out.read_text()
    assert (sessions / ".vrtherapy-index.sqlite").exists()
