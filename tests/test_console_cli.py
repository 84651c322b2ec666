"""``vrtherapy user`` and ``vrtherapy console`` as a user runs them (real subprocesses)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from conftest import run_cli
from console_fake_session import FakeSession
from console_server_helpers import receive
from waiting import wait_for

from engine.privacy.audit import read_entries


@pytest.fixture
def site(tmp_path: Path) -> dict[str, str]:
    """A site folder of this test's own (accounts, certificate) and its runtime folder."""
    return {
        "VRTHERAPY_SITE_DIR": str(tmp_path / "site"),
        "VRTHERAPY_RUNTIME_DIR": str(tmp_path / "run"),
        "VRTHERAPY_OPERATOR": "dr.lee",
    }


def _user(
    site: dict[str, str], *args: str, password: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", "user", *args],
        input=password,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=site["VRTHERAPY_SITE_DIR"].rsplit("/", 1)[0],
        env={**os.environ, **site},
    )


@pytest.mark.slow
def test_user_add_list_passwd_remove(site: dict[str, str], tmp_path: Path) -> None:
    r = _user(
        site, "add", "dr.lee", "--role", "therapist", "--password-stdin", password="s3cret pass\n"
    )
    assert r.returncode == 0, r.stderr
    users = Path(site["VRTHERAPY_SITE_DIR"]) / "users.json"
    assert r.stdout.strip() == f"added dr.lee (therapist) to {users}"
    assert users.stat().st_mode & 0o777 == 0o600 and "s3cret" not in users.read_text()
    assert (
        _user(
            site, "add", "nurse", "--role", "clinician", "--password-stdin", password="another pass"
        ).returncode
        == 0
    )
    listing = _user(site, "list").stdout.splitlines()
    assert [line.split()[:2] for line in listing] == [
        ["dr.lee", "therapist"],
        ["nurse", "clinician"],
    ]
    assert (
        _user(site, "passwd", "nurse", "--password-stdin", password="third pass!").returncode == 0
    )
    assert _user(site, "remove", "nurse").returncode == 0
    assert [line.split()[0] for line in _user(site, "list").stdout.splitlines()] == ["dr.lee"]
    audit = read_entries(tmp_path / "sessions" / "audit.log")
    assert [(e["event"], e["actor"], e["details"]["action"]) for e in audit] == [
        ("console_account", "dr.lee", "add"),
        ("console_account", "dr.lee", "add"),
        ("console_account", "dr.lee", "passwd"),
        ("console_account", "dr.lee", "remove"),
    ]


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (["add", "dr.lee", "--role", "therapist"], "", "no terminal to ask the password on"),
        (["remove", "nobody"], None, "no account 'nobody'"),
    ],
)  # fmt: skip
def test_user_errors_are_one_sentence_exit_2(
    site: dict[str, str], args: list[str], password: str | None, message: str
) -> None:
    r = _user(site, *args, password=password)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_console_refuses_a_network_address_without_tls(site: dict[str, str]) -> None:
    r = run_cli("console", "--bind", "0.0.0.0:8765", env=site)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "0.0.0.0:8765: other machines could reach the console, so it needs TLS" in r.stderr
    r = run_cli("console", "--attach", "deadbeef", env=site)
    assert r.returncode == 2 and "no running session deadbeef" in r.stderr
    r = run_cli("console", "--bind", "localhost:http", env=site)
    assert r.returncode == 2 and "expected [HOST:]PORT" in r.stderr
    r = run_cli("console", "--tls-cert", "/nonexistent.pem", env=site)
    assert r.returncode == 2 and "--tls-cert and --tls-key go together" in r.stderr


class Console:
    """``vrtherapy console ...`` running as a process; its standard output, line by line."""

    def __init__(self, site: dict[str, str], cwd: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "console", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env={**os.environ, **site},
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def line(self, prefix: str) -> str:
        def found() -> str | None:
            if self.proc.poll() is not None and not any(x.startswith(prefix) for x in self.lines):
                stderr = self.proc.stderr.read() if self.proc.stderr else ""
                raise AssertionError(f"console exited {self.proc.returncode}: {stderr}")
            return next((x for x in self.lines if x.startswith(prefix)), None)

        return str(wait_for(found, 60, what=f"a line starting {prefix!r}"))[len(prefix) :]

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


@pytest.fixture
def fake(site: dict[str, str]) -> Iterator[FakeSession]:
    session = FakeSession(Path(site["VRTHERAPY_RUNTIME_DIR"])).start()
    yield session
    session.stop()


@pytest.mark.slow
@pytest.mark.lsl
def test_console_attaches_serves_and_pairs_a_tablet(
    site: dict[str, str], fake: FakeSession, tmp_path: Path
) -> None:
    console = Console(site, tmp_path, "--attach", "--bind", "127.0.0.1:0")
    try:
        url = console.line("console: ").rstrip("/")
        code = console.line("pairing code: ").split()[0]
        assert console.line("attached to session ").startswith(fake.sid)

        async def tablet() -> None:
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(url, cookie_jar=jar, headers={"Origin": url}) as http:
                async with http.post("/pair", data={"code": code}, allow_redirects=False) as r:
                    assert r.headers["Location"] == "/"
                async with http.get("/api/me") as r:
                    me = await r.json()
                assert me["user"] == "dr.lee" and me["default_sid"] == fake.sid
                ws = await http.ws_connect(f"/ws?sid={fake.sid}&csrf={me['csrf']}", origin=url)
                assert (await receive(ws, "hello"))["info"]["protocol"] == "heights-graded"
                await ws.close()

        asyncio.run(tablet())
    finally:
        assert console.stop() == 0
    assert "console stopped" in console.lines
    audit = [e["event"] for e in read_entries(tmp_path / "sessions" / "audit.log")]
    assert audit == ["console_pairing", "console_attach"]


@pytest.mark.slow
def test_console_with_a_self_signed_certificate(site: dict[str, str], tmp_path: Path) -> None:
    console = Console(site, tmp_path, "--tls-self-signed", "--bind", "127.0.0.1:0")
    try:
        url = console.line("console: ")
        fingerprint = console.line("TLS certificate SHA-256 fingerprint: ")
        assert url.startswith("https://127.0.0.1:")
        cert = Path(site["VRTHERAPY_SITE_DIR"]) / "console-tls" / "cert.pem"
        context = ssl.create_default_context(cafile=str(cert))

        async def fetch() -> tuple[int, str]:
            async with aiohttp.ClientSession() as http, http.get(url + "login", ssl=context) as r:
                return r.status, r.headers["Cache-Control"]

        status, cache = asyncio.run(fetch())  # verified against the certificate file
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        der = ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate(("127.0.0.1", port)))
        served = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
        assert (status, cache, served) == (200, "no-store", fingerprint)
    finally:
        assert console.stop() == 0
    assert json.dumps(console.lines).count("made a self-signed certificate") == 1
    again = run_cli("console", "--tls-self-signed", "--bind", "nonsense", env=site)
    assert again.returncode == 2  # the address is checked before anything listens
