"""Fuzz the JSON parsers of outside input: each gets mutated versions of a valid document.

Twin-fit sidecar, stored forecast, integrity manifest, audit log, console users file,
browser messages and signed command samples. Every parser must return a valid result or
raise the project's own error (a :class:`VrTherapyError`) in one line naming the file;
never another exception (a ``RecursionError`` from deep nesting, a ``ValidationError``,
an ``AttributeError``...).
"""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from file_fuzz import DEEP, damaged_bytes, damaged_json, fuzz_settings, one_sentence
from hypothesis import given
from hypothesis import strategies as st

from biosignals.twin import TwinProfile
from console.messages import BrowserCommand, MessageError, Ping, SessionFacts, parse_message
from console.users import UserStore
from engine.console_pairing import ConsolePairingError, read_pairing
from engine.console_wire import CommandVerifier, make_command
from engine.errors import RecordingError, VrTherapyError
from engine.export.recording import _markers
from engine.export.roles import _settings
from engine.export.xdfread import XdfStream
from engine.privacy.audit import AuditLog, read_entries, verify_chain
from engine.privacy.errors import AuditError
from engine.privacy.integrity import verify_session, write_integrity
from engine.report.html import _summary
from engine.twinfit.course import course_twin, load_forecast
from engine.twinfit.samples import load_uncertainty
from therapies.commands import CommandRejection

SIDECAR: dict[str, Any] = {
    "format": 1,
    "name": "fitted",
    "participant": "P01",
    "next_session": 2,
    "estimates": {
        "reactivity": {"value": 1.2, "status": "fitted", "low": 0.9, "high": 1.5},
        "between_session_rate": {"value": 0.1, "status": "fitted"},
        "habituation_tau": {"value": 240.0, "status": "not identifiable"},
    },
    "sessions": [
        {
            "path": "s1.xdf",
            "recorded": "2026-01-01T10:00:00Z",
            "protocol": "spiders",
            "duration_s": 600.0,
            "resting_hr": 72.0,
            "resting_scl": 4.1,
            "rmse": {"hr": 2.5},
        },
        {
            "path": "s2.xdf",
            "recorded": "2026-01-08T10:00:00Z",
            "protocol": "spiders",
            "duration_s": 600.0,
            "resting_hr": 70.0,
            "resting_scl": None,
            "rmse": {"hr": None},
        },
    ],
    "shift_sd": {"hr": 1.5, "scl": 0.2},
    "sensors": {"dropouts": 3, "stream_hours": 2.0, "artifacts": 5, "live_hours": 1.5},
    "samples": [
        {"reactivity": 1.1, "between_session_rate": 0.08, "resting_hr": 71.0},
        {"reactivity": 1.3, "between_session_rate": 0.12, "scr_rate_gain": 6.0},
    ],
}


def _check(exc: VrTherapyError, *names: str) -> None:
    assert one_sentence(str(exc), *names), str(exc)


def _sidecar_users(profile: Path) -> None:
    """Everything that reads a sidecar: the course view and the simulated runs' draws."""
    course_twin(profile)
    uncertainty = load_uncertainty(profile)
    for k in range(3):
        assert isinstance(uncertainty.draw(TwinProfile(), k, np.random.default_rng(k)), TwinProfile)


def test_the_valid_sidecar_is_read(tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    (tmp_path / "p.fit.json").write_text(json.dumps(SIDECAR))
    course = course_twin(profile)
    assert [s.resting_hr for s in course.sessions] == [72.0, 70.0]
    assert load_uncertainty(profile).unknown == ("habituation_tau",)
    _sidecar_users(profile)


@fuzz_settings(250)
@given(damaged_json(SIDECAR))
def test_damaged_sidecar_reads_or_fails_cleanly(tmp_path_factory: Any, data: bytes) -> None:
    folder = tmp_path_factory.mktemp("fit")
    profile = folder / "p.yaml"
    (folder / "p.fit.json").write_bytes(data)
    try:
        _sidecar_users(profile)
    except VrTherapyError as exc:
        _check(exc, "p.fit.json")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"samples": [{"reactivity": 50.0}]}, "samples[0]"),
        ({"samples": [{"reactivity": "high"}]}, "samples[0]"),
        ({"sessions": [{**SIDECAR["sessions"][0], "rmse": [1]}]}, "sessions[0]"),
        ({"sessions": [{**SIDECAR["sessions"][0], "resting_hr": "x"}]}, "sessions[0]"),
        ({"shift_sd": {"hr": float("inf")}}, "shift_sd"),
    ],
)
def test_sidecar_with_a_bad_field_names_it(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    profile = tmp_path / "p.yaml"
    (tmp_path / "p.fit.json").write_text(json.dumps({**SIDECAR, **change}))
    with pytest.raises(VrTherapyError, match=message.replace("[", r"\[")) as caught:
        _sidecar_users(profile)
    _check(caught.value, "p.fit.json")


FORECAST = {
    "format": 1,
    "protocol": "spiders",
    "title": "Spiders",
    "runs": 20,
    "made": "2026-01-01T10:00:00+00:00",
    "rows": [["peak SUDS", "60 [50..70]"]],
}


@fuzz_settings(150)
@given(damaged_json(FORECAST))
def test_damaged_forecast_reads_or_fails_cleanly(tmp_path_factory: Any, data: bytes) -> None:
    folder = tmp_path_factory.mktemp("fc")
    (folder / "p.forecast.json").write_bytes(data)
    try:
        load_forecast(folder / "p.yaml")
    except VrTherapyError as exc:
        _check(exc, "p.forecast.json")


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A session folder with its integrity manifest anchored in an audit log."""
    root = tmp_path_factory.mktemp("site")
    folder = root / "sessions" / "S1"
    folder.mkdir(parents=True)
    (folder / "session.xdf").write_bytes(b"XDF:" + bytes(range(256)))
    (folder / "report.html").write_text("<html></html>")
    log = AuditLog(root / "audit.log")
    log.append("consent", session="S1", purpose="treatment")
    write_integrity(folder, log)
    assert verify_session(folder, log.path).ok
    return folder, log.path


def _restore(folder: Path, log: Path, manifest: bytes, audit: bytes) -> None:
    (folder / "integrity.json").write_bytes(manifest)
    log.write_bytes(audit)


@fuzz_settings(150)
@given(st.data())
def test_damaged_manifest_verifies_or_fails_cleanly(
    session: tuple[Path, Path], data: st.DataObject
) -> None:
    folder, log = session
    good, audit = (folder / "integrity.json").read_bytes(), log.read_bytes()
    damaged = data.draw(damaged_json(json.loads(good)))
    (folder / "integrity.json").write_bytes(damaged)
    try:
        check = verify_session(folder, log)
        assert check.ok == (damaged == good), check.problems
        assert all(one_sentence(p, str(folder)) for p in check.problems), check.problems
    except VrTherapyError as exc:
        _check(exc, "integrity.json")
    finally:
        _restore(folder, log, good, audit)


@fuzz_settings(150)
@given(st.data())
def test_damaged_audit_log_verifies_or_fails_cleanly(
    session: tuple[Path, Path], data: st.DataObject
) -> None:
    folder, log = session
    good, audit = (folder / "integrity.json").read_bytes(), log.read_bytes()
    lines = audit.splitlines(keepends=True)
    k = data.draw(st.integers(0, len(lines) - 1))
    if data.draw(st.booleans()):
        lines[k] = data.draw(damaged_json(json.loads(lines[k]), bytes_too=False)) + b"\n"
        damaged = b"".join(lines)
    else:
        damaged = data.draw(damaged_bytes(audit))
    log.write_bytes(damaged)
    try:
        result = verify_chain(log)
        assert not result.ok or audit.startswith(damaged), "a changed log verified"
        if not result.ok:
            assert one_sentence(str(result.reason), str(log)), result.reason
        check = verify_session(folder, log)
        assert all(one_sentence(p) for p in check.problems), check.problems
        try:
            read_entries(log)
            AuditLog(log).append("export", session="S1", files=1)
        except AuditError as exc:
            _check(exc, str(log))
    finally:
        _restore(folder, log, good, audit)


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A users file with two accounts (scrypt records), as bytes."""
    store = UserStore(tmp_path_factory.mktemp("users") / "users.json")
    store.add("alice", "therapist", "correct horse battery")
    store.add("bob", "clinician", "another long password")
    return store.path.read_bytes()


@fuzz_settings(60)
@given(st.data())
def test_damaged_users_file_reads_or_fails_cleanly(
    tmp_path_factory: Any, users_file: bytes, data: Any
) -> None:
    path = tmp_path_factory.mktemp("users") / "users.json"
    path.write_bytes(data.draw(damaged_json(json.loads(users_file))))
    path.chmod(0o600)
    store = UserStore(path)
    try:
        assert all(u.name for u in store.users())
        who = store.authenticate(
            data.draw(st.sampled_from(["alice", "carol"])), "correct horse battery"
        )
        assert who is None or who.name == "alice"
        store.get("bob")
    except VrTherapyError as exc:
        _check(exc, str(path))


FACTS = SessionFacts("a1b2c3d4", frozenset({"cough"}), frozenset({"heart", "eda"}))
MESSAGES = [
    {"type": "ping", "id": 7, "active": True},
    {
        "type": "command",
        "id": str(uuid.uuid4()),
        "kind": "answer_prompt",
        "prompt": "suds",
        "value": 40,
    },
    {
        "type": "command",
        "id": str(uuid.uuid4()),
        "kind": "scene_event",
        "event": "cough",
        "sid": "a1b2c3d4",
    },
    {"type": "command", "id": str(uuid.uuid4()), "kind": "note", "text": "breathing well"},
]


@fuzz_settings(300)
@given(st.sampled_from(MESSAGES).flatmap(damaged_json))
def test_damaged_browser_message_parses_or_is_refused(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    try:
        assert isinstance(parse_message(text, FACTS), Ping | BrowserCommand)
    except MessageError as exc:
        _check(exc)


def test_deeply_nested_messages_are_refused() -> None:
    text = DEEP[:1500] + DEEP[-1500:]
    with pytest.raises(MessageError, match="not JSON"):
        parse_message(text, FACTS)
    verifier = CommandVerifier("a1b2c3d4", b"k" * 32)
    rejection = verifier.check(text, 0.0)
    assert isinstance(rejection, CommandRejection) and "not JSON" in rejection.reason


SID, SECRET = "a1b2c3d4", b"s" * 32
COMMANDS = [
    make_command(SID, SECRET, "answer_prompt", "alice", 100.0, prompt="suds", value=40),
    make_command(SID, SECRET, "note", "alice", 100.0, text="ok"),
    make_command(SID, SECRET, "stop", "alice", 100.0),
]


@fuzz_settings(300)
@given(st.sampled_from(COMMANDS).flatmap(damaged_json))
def test_damaged_command_sample_is_accepted_or_rejected(data: bytes) -> None:
    got = CommandVerifier(SID, SECRET).check(data.decode("utf-8", "replace"), 100.5)
    if isinstance(got, CommandRejection):
        assert one_sentence(got.reason), got.reason


@pytest.mark.parametrize(
    "content",
    [DEEP.encode(), b"[1, 2]", b'{"sid": "a1b2c3d4", "secret": [1]}', b'{"sid": "\xff"}'],
)
def test_damaged_pairing_file_is_refused_in_one_sentence(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "a1b2c3d4.json"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(ConsolePairingError) as caught:
        read_pairing(path)
    _check(caught.value, str(path))


@pytest.mark.parametrize("content", [DEEP.encode(), b'{"a": "\xff\xfe"}', b"[1]", b'{"a": '])
def test_damaged_session_summary_is_one_sentence(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "summary.json").write_bytes(content)
    with pytest.raises(RecordingError) as caught:
        _summary(tmp_path / "session.xdf", None, None)
    _check(caught.value, "summary.json")


def test_command_with_a_non_ascii_mac_is_rejected() -> None:
    forged = {**COMMANDS[2], "mac": "é" * 64}
    got = CommandVerifier(SID, SECRET).check(json.dumps(forged), 100.5)
    assert isinstance(got, CommandRejection) and "bad mac" in got.reason


@pytest.mark.parametrize("field", ["prompt", "event", "role"])
def test_browser_command_with_a_list_for_a_name_is_refused(field: str) -> None:
    kind = {"prompt": "ask_prompt", "event": "scene_event", "role": "ignore_stream"}[field]
    text = json.dumps({"type": "command", "id": str(uuid.uuid4()), "kind": kind, field: ["x"]})
    with pytest.raises(MessageError, match=field) as caught:
        parse_message(text, FACTS)
    _check(caught.value)


def test_deeply_nested_marker_and_role_settings_in_a_recording() -> None:
    info = ET.fromstring("<info><name>vrtherapy-markers</name></info>")
    stream = XdfStream(1, "<info/>", info, np.array([1.0]), [[DEEP]])
    assert _markers(stream)[0].event == {"text": DEEP}  # not JSON: kept as text
    node = ET.fromstring(f"<role><settings>{DEEP}</settings></role>")
    with pytest.raises(RecordingError, match="<settings>: not JSON") as caught:
        _settings(node, "rec.xdf: stream 'ECG'")
    _check(caught.value, "rec.xdf")
