"""The command link on real LSL (loopback): a console's signed commands, published on a real
outlet, are applied by a running session and recorded with the operator; every bad sample
is rejected, recorded and changes nothing; a second console without the secret too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from console_helpers import Rig, console_outlet, send
from waiting import wait_for

from engine.console_wire import make_command, new_secret
from engine.session_types import SessionState

pytestmark = pytest.mark.lsl


def _connected(rig: Rig, outlets: int = 1) -> None:
    wait_for(lambda: rig.link.connected >= outlets, 15, what="the session reading the console")


def _applied(rig: Rig, command_id: str) -> dict[str, Any]:
    """Step the session until the command with ``command_id`` was handled; its marker."""

    def handled() -> dict[str, Any] | None:
        rig.step()
        return next((m for m in rig.session.summary.commands if m.get("id") == command_id), None)

    return wait_for(handled, 15, what=f"command {command_id}")


def test_a_signed_step_up_from_a_console_is_applied_and_recorded(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    outlet = console_outlet(rig.sid)
    _connected(rig)
    rig.run_until(15.0)  # past the 10 s baseline
    assert rig.session.state is SessionState.ACTIVE
    command = rig.command("step_up")
    send(outlet, command)
    marker = _applied(rig, command["id"])
    assert marker["applied"] is True and marker["source"] == "console"
    assert marker["operator"] == "dr.lee" and marker["command"] == "step_up"
    therapist = [d for d in rig.session.summary.decisions if d.source == "therapist"]
    assert [d.reason.split(" ->")[0] for d in therapist] == ["dr.lee raised a step"]
    assert therapist[0].target > therapist[0].previous
    recorded = [m for m in rig.close() if m.get("id") == command["id"]]
    assert len(recorded) == 1
    assert recorded[0]["operator"] == "dr.lee" and recorded[0]["applied"] is True
    assert recorded[0]["text"].startswith("step_up from dr.lee: ")


class Tap:
    """A marker sink: every marker the session publishes, as published."""

    def __init__(self) -> None:
        self.markers: list[dict[str, Any]] = []

    def push_intensity(self, value: float, timestamp: float) -> None:
        """Not needed here."""

    def push_marker(self, event: dict[str, Any], timestamp: float) -> None:
        self.markers.append(dict(event))

    def rejected(self) -> list[dict[str, Any]]:
        return [m for m in self.markers if m["event"] == "command_rejected"]


def test_bad_commands_are_rejected_recorded_and_change_nothing(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    tap = Tap()
    rig.session.sinks = (*rig.session.sinks, tap)
    outlet, intruder = console_outlet(rig.sid), console_outlet(rig.sid)
    _connected(rig, outlets=2)  # a second console: it may read, but not steer
    rig.run_until(15.0)
    now = rig.clock.now()
    note = rig.command("note", text="patient reports dizziness")
    tampered = rig.command("step_down")
    tampered["kind"] = "stop"
    unsigned = rig.command("stop")
    del unsigned["mac"]
    bad: list[tuple[Any, Any, str]] = [
        (outlet, "{not json", "not JSON"),
        (outlet, json.dumps({"pad": "x" * 5000}), "over the 4096-byte limit"),
        (outlet, make_command("0badc0de", rig.secret, "stop", "dr.lee", now), "not this session"),
        (outlet, unsigned, "no mac"),
        (outlet, tampered, "bad mac"),
        (outlet, rig.command("launch"), "unknown kind 'launch'"),
        (outlet, rig.command("scene_event"), "scene_event needs event"),
        (outlet, make_command(rig.sid, rig.secret, "stop", "dr.lee", now - 120), "120 s from"),
        (outlet, note, "replay"),  # the second copy of the note below
        (intruder, make_command(rig.sid, new_secret(), "stop", "mallory", now), "bad mac"),
    ]
    decisions = len(rig.session.summary.decisions)
    send(outlet, note)
    for where, sample, _ in bad:
        send(where, sample)

    def all_handled() -> bool:
        rig.step()
        return len(tap.rejected()) >= len(bad)

    wait_for(all_handled, 20, what="every sample handled")
    assert rig.session.state is SessionState.ACTIVE, rig.session.summary.reason
    assert [(m["command"], m["applied"]) for m in rig.session.summary.commands] == [("note", True)]
    assert all(d.source != "therapist" for d in rig.session.summary.decisions[decisions:])
    reasons = [m["reason"] for m in tap.rejected()]
    assert len(reasons) == len(bad)
    for _, _, why in bad:
        assert any(why in r for r in reasons), (why, reasons)
    recorded = [m for m in rig.close() if m["event"] == "command_rejected"]
    assert [m["reason"] for m in recorded] == reasons
    assert any(m["id"] == note["id"] and "replay" in m["reason"] for m in recorded)
    assert all(m["source"] == "console" for m in recorded)
