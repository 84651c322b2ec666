"""The console's parts without a server: accounts, logins, pairing codes, limits, TLS,
WebSocket message checks, command signing, history, pairing files, bind addresses."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import ssl
import stat
import uuid
from pathlib import Path

import pytest

from console.auth import CODE_ALPHABET, LoginSessions, PairingCodes, RateLimiter
from console.errors import AccountError, ConsoleError, LinkError, TlsError
from console.history import History
from console.messages import (
    BrowserCommand,
    MessageError,
    Ping,
    SessionFacts,
    parse_message,
)
from console.runtime import find_session, read_session_file, running_sessions, runtime_dir
from console.server import parse_bind, require_tls
from console.signing import canonical, signed_command
from console.tls import certificate_hosts, fingerprint, load_context, self_signed
from console.users import UserStore, hash_password, verify_password


class Clock:
    """A monotonic clock a test steps."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


# ----------------------------------------------------------------------------- accounts
def test_accounts_file_is_private_and_holds_scrypt_hashes(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "site" / "users.json")
    store.add("dr.lee", "therapist", "correct horse")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    raw = json.loads(store.path.read_text())
    record = raw["users"]["dr.lee"]["scrypt"]
    assert (record["n"], record["r"], record["p"], len(bytes.fromhex(record["salt"]))) == (
        2**14, 8, 1, 16,
    )  # fmt: skip
    salt = bytes.fromhex(record["salt"])
    expect = hashlib.scrypt(b"correct horse", salt=salt, n=2**14, r=8, p=1, dklen=32)
    assert record["hash"] == expect.hex()
    assert "correct horse" not in store.path.read_text()


def test_authenticate_add_remove_passwd(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "users.json")
    store.add("dr.lee", "therapist", "correct horse")
    store.add("nurse", "clinician", "battery staple")
    assert store.authenticate("dr.lee", "correct horse").role == "therapist"  # type: ignore[union-attr]
    assert store.authenticate("dr.lee", "wrong password") is None
    assert store.authenticate("nobody", "correct horse") is None
    assert [(u.name, u.role, u.may_steer) for u in store.users()] == [
        ("dr.lee", "therapist", True),
        ("nurse", "clinician", False),
    ]
    store.set_password("dr.lee", "new password!")
    assert store.authenticate("dr.lee", "correct horse") is None
    assert store.authenticate("dr.lee", "new password!") is not None
    store.remove("nurse")
    assert store.get("nurse") is None


@pytest.mark.parametrize(
    ("name", "role", "password", "message"),
    [
        ("bad name", "therapist", "long enough", "not an account name"),
        ("dr.lee", "surgeon", "long enough", "--role 'surgeon' is not one of therapist"),
        ("dr.lee", "therapist", "short", "8 to 1024 characters"),
    ],
)
def test_bad_accounts_are_refused(
    tmp_path: Path, name: str, role: str, password: str, message: str
) -> None:
    with pytest.raises(AccountError, match=message):
        UserStore(tmp_path / "users.json").add(name, role, password)


def test_duplicate_account_and_open_file_refused(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "users.json")
    store.add("dr.lee", "therapist", "correct horse")
    with pytest.raises(AccountError, match="exists already"):
        store.add("dr.lee", "admin", "correct horse")
    os.chmod(store.path, 0o644)
    with pytest.raises(AccountError, match="readable by others"):
        store.users()


def test_verify_password_rejects_malformed_records() -> None:
    record = hash_password("correct horse")
    assert verify_password("correct horse", record)
    assert not verify_password("correct horse", {**record, "hash": "zz"})
    assert not verify_password("correct horse", {})


# ----------------------------------------------------------------------------- logins
def test_login_ends_after_15_idle_minutes_unless_touched() -> None:
    clock = Clock()
    logins = LoginSessions(now=clock)
    a, b = logins.create("dr.lee", "therapist", "password"), logins.create("x", "admin", "p")
    assert a.token != b.token and a.csrf != b.csrf and len(a.token) >= 43
    clock.t += 14 * 60
    logins.touch(a)
    clock.t += 2 * 60  # a: 2 min idle; b: 16 min idle
    assert logins.get(a.token) is a
    assert logins.get(b.token) is None
    clock.t += 16 * 60
    assert logins.expired() == [a]
    assert logins.get(a.token) is None


def test_csrf_token_compared_exactly() -> None:
    login = LoginSessions().create("dr.lee", "therapist", "password")
    assert login.csrf_ok(login.csrf)
    assert not login.csrf_ok(login.csrf[:-1]) and not login.csrf_ok(None)


# ----------------------------------------------------------------------------- pairing codes
def test_pairing_code_works_once_and_expires_after_5_minutes() -> None:
    clock = Clock()
    codes = PairingCodes(now=clock)
    code = codes.issue("dr.lee")
    assert len(code.code) == 8 and set(code.code) <= set(CODE_ALPHABET)
    assert not set("01ILO") & set(CODE_ALPHABET)
    assert codes.redeem("WRONGCOD") is None
    assert codes.redeem(code.display().lower()) == "dr.lee"  # typed with dash, lower case
    assert codes.redeem(code.code) is None  # single use
    late = codes.issue("dr.lee")
    clock.t += 5 * 60 + 1
    assert codes.redeem(late.code) is None


def test_rate_limiter_allows_5_attempts_a_minute_per_address() -> None:
    clock = Clock()
    limit = RateLimiter(5, now=clock)
    assert [limit.allow("10.0.0.7") for _ in range(6)] == [True] * 5 + [False]
    assert limit.allow("10.0.0.8")  # another address has its own budget
    assert 59 < limit.retry_after("10.0.0.7") <= 60
    clock.t += 61
    assert limit.allow("10.0.0.7")


# ----------------------------------------------------------------------------- TLS
def test_self_signed_certificate_is_kept_and_serves_tls(tmp_path: Path) -> None:
    hosts = certificate_hosts("192.168.1.20")
    assert hosts[0] == "192.168.1.20" and "localhost" in hosts
    cert, key, made = self_signed(tmp_path, hosts)
    assert made and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(cert.parent.stat().st_mode) == 0o700
    fp = fingerprint(cert)
    assert len(fp.split(":")) == 32
    again = self_signed(tmp_path, hosts)
    assert again == (cert, key, False) and fingerprint(cert) == fp
    assert isinstance(load_context(cert, key), ssl.SSLContext)
    # another host, or a certificate about to expire: a new one
    assert self_signed(tmp_path, certificate_hosts("10.1.2.3"))[2]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=800)
    assert self_signed(tmp_path, certificate_hosts("10.1.2.3"), now=later)[2]


def test_tls_files_that_do_not_match_are_refused(tmp_path: Path) -> None:
    cert, _, _ = self_signed(tmp_path / "a", ["localhost"])
    _, other_key, _ = self_signed(tmp_path / "b", ["localhost"])
    with pytest.raises(TlsError, match="cannot be used together"):
        load_context(cert, other_key)
    with pytest.raises(TlsError, match="no such file"):
        load_context(tmp_path / "none.pem", other_key)
    (tmp_path / "junk.pem").write_text("junk")
    with pytest.raises(TlsError, match="not a PEM certificate"):
        fingerprint(tmp_path / "junk.pem")


def test_non_loopback_bind_needs_tls() -> None:
    assert parse_bind("8765") == parse_bind("127.0.0.1:8765")
    assert parse_bind("[::1]:9000").loopback and parse_bind("localhost:1").loopback
    require_tls(parse_bind("127.0.0.1:8765"), tls=False)
    require_tls(parse_bind("0.0.0.0:8765"), tls=True)
    with pytest.raises(ConsoleError, match="needs TLS: add --tls-self-signed"):
        require_tls(parse_bind("0.0.0.0:8765"), tls=False)
    with pytest.raises(ConsoleError, match="expected \\[HOST:\\]PORT"):
        parse_bind("host:99999")


# ----------------------------------------------------------------------------- messages
FACTS = SessionFacts("a1b2c3d4", frozenset({"cough"}), frozenset({"heart", "eda"}))


def _cmd(**fields: object) -> str:
    return json.dumps({"type": "command", "id": str(uuid.uuid4()), **fields})


def test_good_messages_parse() -> None:
    assert parse_message('{"type":"ping","id":7,"active":true}', FACTS) == Ping(7, True)
    msg = parse_message(_cmd(kind="answer_prompt", prompt="suds", value=40), FACTS)
    assert isinstance(msg, BrowserCommand)
    assert (msg.kind, msg.fields) == ("answer_prompt", {"prompt": "suds", "value": 40})
    assert parse_message(_cmd(kind="step_down", text=None), FACTS).fields == {}  # type: ignore[union-attr]
    event = parse_message(_cmd(kind="scene_event", event="cough", sid="a1b2c3d4"), FACTS)
    assert event.fields == {"event": "cough"}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x" * 5000, "message of 5000 bytes refused: at most 4096"),
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"type": "subscribe"}', "unknown message type 'subscribe'"),
        ('{"type": "ping", "id": 1, "extra": 2}', "unknown key"),
        ('{"type": "ping", "id": true}', "ping: id must be"),
        (_cmd(kind="launch_rocket"), "unknown kind 'launch_rocket'"),
        (_cmd(kind="note"), "command note needs text"),
        (_cmd(kind="step_up", text="hi"), "command step_up takes no text"),
        (_cmd(kind="answer_prompt", prompt="suds", value=101), "whole number 0..100"),
        (_cmd(kind="answer_prompt", prompt="nrs", value=True), "whole number 0..10"),
        (_cmd(kind="ask_prompt", prompt="mood"), "not one of suds, nrs"),
        (_cmd(kind="scene_event", event="explode"), "not one of cough"),
        (_cmd(kind="ignore_stream", role="brain"), "not one of eda, heart"),
        (_cmd(kind="stop", sid="ffffffff"), "command for session 'ffffffff' refused"),
        (_cmd(kind="note", text=" "), "1 to 1000 characters"),
        ('{"type": "command", "id": "not-a-uuid", "kind": "stop"}', "is not a UUID"),
    ],
)
def test_bad_messages_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(MessageError, match=message):
        parse_message(text, FACTS)


def test_binary_message_refused() -> None:
    with pytest.raises(MessageError, match="binary message refused"):
        parse_message(b'{"type":"ping","id":1}', FACTS)


def test_facts_from_session_info() -> None:
    info = {"scene_events": [{"name": "cough"}, "yawn"], "roles": {"heart": "x"}}
    facts = SessionFacts.from_info("a1b2c3d4", info)
    assert facts.scene_events == {"cough", "yawn"} and facts.roles == {"heart"}


# ----------------------------------------------------------------------------- signing
def test_signed_command_has_every_key_and_a_verifiable_mac() -> None:
    secret = os.urandom(32)
    cmd = signed_command(
        secret, sid="a1b2c3d4", id="i", ts=12.5, kind="note", operator="dr.lée",
        fields={"text": "patient says ça va"},
    )  # fmt: skip
    assert set(cmd) == {
        "v", "sid", "id", "ts", "kind", "operator", "prompt", "value", "text", "event",
        "role", "mac",
    }  # fmt: skip
    body = {k: v for k, v in cmd.items() if k != "mac"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical(cmd) == text.encode("utf-8")
    assert cmd["mac"] == hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()
    with pytest.raises(ValueError, match="unknown command kind"):
        signed_command(secret, sid="a", id="i", ts=0, kind="x", operator="o", fields={})


# ----------------------------------------------------------------------------- history
def test_history_keeps_five_minutes_and_decimates_intensity() -> None:
    h = History()
    for i in range(700):  # 7 s at 100 Hz
        h.add_intensity([(i / 100.0, 0.5)])
    assert 69 <= len(h.intensity) <= 71  # 10 a second
    row = h.add_features(1.0, [float("nan"), 4.2, 3.0, 0.4, 40.0, 1.0])
    assert row == [1.0, None, 4.2, 3.0, 0.4, 40.0, 1.0]
    h.add_marker(2.0, {"event": "note"})
    h.add_marker(400.0, {"event": "note", "text": "later"})
    snap = h.snapshot()
    assert snap["features"] == [] and snap["intensity"] == []  # older than 5 min
    assert snap["markers"] == [{"event": "note", "text": "later", "t": 400.0}]


# ----------------------------------------------------------------------------- pairing files
def _pairing_file(folder: Path, sid: str, pid: int, mode: int = 0o600) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{sid}.json"
    body = {"sid": sid, "secret": "ab" * 32, "protocol": "p", "participant": "P-1",
            "started": "2026-01-01T00:00:00+00:00", "pid": pid, "streams": {}}  # fmt: skip
    path.write_text(json.dumps(body))
    os.chmod(path, mode)
    return path


def test_runtime_folder_and_running_sessions(tmp_path: Path) -> None:
    env = {"VRTHERAPY_RUNTIME_DIR": str(tmp_path)}
    assert runtime_dir(env) == tmp_path
    assert runtime_dir({"XDG_RUNTIME_DIR": "/run/user/7"}) == Path("/run/user/7/vrtherapy")
    assert runtime_dir({"VRTHERAPY_SITE_DIR": "/s"}) == Path("/s/run")
    folder = tmp_path / "sessions"
    live = _pairing_file(folder, "a1b2c3d4", os.getpid())
    _pairing_file(folder, "deadbeef", 2**22 + 12345)  # no such process: a killed session
    _pairing_file(folder, "0badf11e", os.getpid(), mode=0o644)  # readable by others
    assert [s.sid for s in running_sessions(env)] == ["a1b2c3d4"]
    assert find_session(None, env).path == live
    assert read_session_file(live).secret == bytes.fromhex("ab" * 32)
    with pytest.raises(LinkError, match="no running session deadbeef"):
        find_session("deadbeef", env)
    with pytest.raises(LinkError, match="8 hex digits"):
        find_session("../../etc", env)
    with pytest.raises(LinkError, match="must be 0600"):
        read_session_file(folder / "0badf11e.json")
    _pairing_file(folder, "a1b2c3d5", os.getpid())
    with pytest.raises(LinkError, match="several sessions are running"):
        find_session(None, env)


# ----------------------------------------------------------------------------- the page's files
STATIC = Path(__file__).resolve().parents[1] / "console" / "static"


@pytest.mark.parametrize("page", ["index.html", "login.html"])
def test_pages_load_only_their_own_files_and_weigh_under_300_kb(page: str) -> None:
    import re

    html = (STATIC / page).read_text(encoding="utf-8")
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert all(r.startswith("/static/") or r == "data:," for r in refs), refs  # no CDN
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # no inline script (CSP)
    assert not re.search(r"\son[a-z]+=", html) and "style=" not in html  # no inline handlers
    files = [STATIC / r.removeprefix("/static/") for r in refs if r.startswith("/static/")]
    weight = sum(f.stat().st_size for f in [STATIC / page, *files])
    assert weight < 300 * 1024


def test_vendored_uplot_is_the_npm_release_with_its_license() -> None:
    head = (STATIC / "uPlot.iife.min.js").read_text(encoding="utf-8")[:80]
    assert "uPlot (v1.6.32)" in head
    assert "MIT License" in (STATIC / "uPlot.LICENSE.txt").read_text(encoding="utf-8")
