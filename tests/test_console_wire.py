"""The console's command format (docs/console.md, part 2), checked without LSL: canonical
JSON and its HMAC exactly as the contract writes them, and every rule of
:class:`engine.console_wire.CommandVerifier`."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from engine.console_wire import (
    MAX_COMMAND_BYTES,
    CommandVerifier,
    canonical_json,
    command_mac,
    make_command,
    new_secret,
    new_session_id,
    source_id,
)
from therapies.commands import Command, CommandKind, CommandRejection

SID = "a1b2c3d4"
SECRET = bytes(range(32))
NOW = 1234.5


def signed(kind: str = "step_down", **fields: Any) -> dict[str, Any]:
    return make_command(SID, SECRET, kind, "dr.lee", NOW, **fields)


def check(obj: dict[str, Any] | str, verifier: CommandVerifier | None = None) -> Any:
    text = obj if isinstance(obj, str) else json.dumps(obj)
    return (verifier or CommandVerifier(SID, SECRET)).check(text, NOW)


def resign(obj: dict[str, Any]) -> dict[str, Any]:
    obj = {k: v for k, v in obj.items() if k != "mac"}
    obj["mac"] = command_mac(obj, SECRET)
    return obj


def test_canonical_json_and_mac_are_the_contracts_formula() -> None:
    cmd = signed("note", text="Patientin sagt: grün")
    body = {k: v for k, v in cmd.items() if k != "mac"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_json(cmd) == text.encode("utf-8")
    assert cmd["mac"] == hmac.new(SECRET, text.encode("utf-8"), hashlib.sha256).hexdigest()
    assert set(cmd) == {
        "v", "sid", "id", "ts", "kind", "operator", "prompt", "value", "text", "event", "role",
        "mac",
    }  # fmt: skip
    assert cmd["v"] == 1 and cmd["prompt"] is None and cmd["text"] == "Patientin sagt: grün"


def test_a_good_command_becomes_a_console_command() -> None:
    cmd = signed("answer_prompt", prompt="suds", value=40)
    got = check(cmd)
    assert got == Command(
        CommandKind.ANSWER_PROMPT, "console", operator="dr.lee", prompt="suds", value=40,
        id=cmd["id"],
    )  # fmt: skip
    role = check(signed("ignore_stream", role="eda"))
    assert isinstance(role, Command) and role.role == "eda"


def test_ids_apply_at_most_once() -> None:
    verifier = CommandVerifier(SID, SECRET)
    cmd = signed()
    assert isinstance(check(cmd, verifier), Command)
    again = check(cmd, verifier)
    assert isinstance(again, CommandRejection) and "replay" in again.reason
    assert again.id == cmd["id"]


BAD: list[tuple[str, Any, str]] = [
    ("not JSON", "{kind: stop", "not JSON"),
    ("oversized", json.dumps({"pad": "x" * MAX_COMMAND_BYTES}), "over the 4096-byte limit"),
    ("not an object", "[1, 2]", "not a JSON object"),
    ("NaN", '{"ts": NaN}', "not JSON"),
    ("other version", resign({**signed(), "v": 2}), "version 2 is not 1"),
    ("other session", make_command("ffffffff", SECRET, "stop", "x", NOW), "not this session"),
    ("no mac", {k: v for k, v in signed().items() if k != "mac"}, "no mac"),
    ("bad mac", {**signed(), "mac": "00" * 32}, "bad mac"),
    ("tampered", {**signed("step_down"), "kind": "stop"}, "bad mac"),
    ("other secret", make_command(SID, new_secret(), "stop", "x", NOW), "bad mac"),
    ("unknown key", resign({**signed(), "extra": 1}), "unknown key(s) extra"),
    ("no id", resign({**signed(), "id": None}), "id must be a string"),
    ("long id", resign({**signed(), "id": "i" * 129}), "id must be a string of 1-128"),
    ("unknown kind", signed("launch"), "unknown kind 'launch'"),
    ("no operator", resign({**signed(), "operator": None}), "no operator"),
    ("missing field", signed("scene_event"), "scene_event needs event"),
    ("missing role", signed("ignore_stream"), "ignore_stream needs role"),
    ("value type", signed("answer_prompt", prompt="suds", value="40"), "value must be an integer"),
    ("bool value", signed("answer_prompt", prompt="suds", value=True), "value must be an integer"),
    ("long text", signed("note", text="x" * 1001), "text must be a string of 1-1000"),
    ("stale", make_command(SID, SECRET, "stop", "x", NOW - 61), "61 s from the session's clock"),
    ("future", make_command(SID, SECRET, "stop", "x", NOW + 3600), "from the session's clock"),
    ("ts type", resign({**signed(), "ts": "now"}), "ts must be a number"),
]


@pytest.mark.parametrize(("why", "sample", "reason"), BAD, ids=[b[0] for b in BAD])
def test_bad_samples_are_rejected_with_a_reason(why: str, sample: Any, reason: str) -> None:
    got = check(sample)
    assert isinstance(got, CommandRejection), why
    assert reason in got.reason
    marker = got.marker()
    assert marker["event"] == "command_rejected" and marker["source"] == "console"
    assert marker["reason"] == got.reason and "rejected" in marker["text"]


def test_a_rejected_sample_names_the_id_it_claimed() -> None:
    cmd = {**signed(), "mac": "bad"}
    got = check(cmd)
    assert isinstance(got, CommandRejection) and got.id == cmd["id"] and got.kind == "step_down"


def test_an_unsigned_id_does_not_block_the_real_command() -> None:
    """A forged sample cannot burn a genuine command's id."""
    verifier = CommandVerifier(SID, SECRET)
    cmd = signed()
    assert isinstance(check({**cmd, "mac": "00" * 32}, verifier), CommandRejection)
    assert isinstance(check(cmd, verifier), Command)


def test_ids_and_source_ids() -> None:
    sid = new_session_id()
    assert len(sid) == 8 and int(sid, 16) >= 0
    assert source_id("commands", sid) == f"vrtherapy-commands-{sid}"
    assert len(new_secret()) == 32
    with pytest.raises(ValueError, match="not 8 lowercase hex"):
        CommandVerifier("XYZ", SECRET)
    with pytest.raises(ValueError, match="unknown command field"):
        make_command(SID, SECRET, "note", "x", NOW, comment="hi")
