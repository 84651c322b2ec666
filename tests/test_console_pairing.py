"""Pairing files: private (0600 in a 0700 folder), found by a console, removed when the
session ends — and a real ``vrtherapy demo`` that a console attaches to through its file:
it reads the status, sends a signed note that the session acknowledges, and after SIGTERM
the file is gone and the recording holds the note with its operator."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from console_helpers import console_outlet, recorded_markers, send
from waiting import wait_for

from biosignals.lsl import import_pylsl
from engine.console_pairing import (
    ConsolePairingError,
    Pairing,
    list_pairings,
    paired_session,
    read_pairing,
    runtime_dir,
    sessions_dir,
    write_pairing,
)
from engine.console_wire import make_command, new_secret, new_session_id

ROOT = Path(__file__).resolve().parents[1]
pylsl = import_pylsl()


def _pairing(pid: int | None = None) -> Pairing:
    return Pairing(
        new_session_id(), new_secret(), "heights-demo", "P-TEST", "2024-01-01T00:00:00+00:00",
        os.getpid() if pid is None else pid, {"status": "vrtherapy-status-x"},
    )  # fmt: skip


def test_runtime_dir_follows_the_contract(tmp_path: Path) -> None:
    assert runtime_dir({"VRTHERAPY_RUNTIME_DIR": str(tmp_path)}) == tmp_path
    assert runtime_dir({"XDG_RUNTIME_DIR": "/run/user/7"}) == Path("/run/user/7/vrtherapy")
    site = {"VRTHERAPY_SITE_DIR": str(tmp_path / "site")}
    assert runtime_dir(site) == tmp_path / "site" / "run"


def test_a_pairing_file_is_private_and_removed_however_the_block_ends(tmp_path: Path) -> None:
    env = {"VRTHERAPY_RUNTIME_DIR": str(tmp_path / "rt")}
    pairing = _pairing()
    with pytest.raises(RuntimeError), paired_session(pairing, env) as path:
        assert path == sessions_dir(env) / f"{pairing.sid}.json"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert read_pairing(path) == pairing
        assert list_pairings(env) == [pairing]
        raise RuntimeError("the session crashed")
    assert not path.exists()
    assert list_pairings(env) == []


def test_a_loose_folder_is_tightened_and_stale_files_are_skipped(tmp_path: Path) -> None:
    env = {"VRTHERAPY_RUNTIME_DIR": str(tmp_path)}
    sessions_dir(env).mkdir(mode=0o755, parents=True)
    os.chmod(sessions_dir(env), 0o755)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    write_pairing(_pairing(pid=gone.pid), env)  # its process has ended (a SIGKILL's leftover)
    assert stat.S_IMODE(sessions_dir(env).stat().st_mode) == 0o700
    assert list_pairings(env) == []
    (sessions_dir(env) / "00000000.json").write_text("{not json")
    with pytest.raises(ConsolePairingError, match="not a pairing file"):
        read_pairing(sessions_dir(env) / "00000000.json")


class JsonReader:
    """A string inlet's samples as JSON objects, kept as they arrive."""

    def __init__(self, inlet: Any) -> None:
        self.inlet = inlet
        self.seen: list[dict[str, Any]] = []

    def first(self, want: Any, timeout: float = 30.0) -> dict[str, Any]:
        """The first object (seen or arriving) that ``want`` accepts."""

        def found() -> dict[str, Any] | None:
            samples, _ = self.inlet.pull_chunk(timeout=0.0)
            self.seen += [json.loads(s[0]) for s in samples]
            return next((obj for obj in self.seen if want(obj)), None)

        return wait_for(found, timeout, what="a matching sample")


def _inlet(source_id: str) -> Any:
    (info,) = pylsl.resolve_byprop("source_id", source_id, 1, 15.0)
    inlet = pylsl.StreamInlet(info, max_buflen=60)
    inlet.open_stream(timeout=15.0)
    return inlet


@pytest.mark.slow
@pytest.mark.lsl
def test_a_console_attaches_to_a_live_demo_through_its_pairing_file(tmp_path: Path) -> None:
    runtime, out = tmp_path / "runtime", tmp_path / "sessions"
    env = {**os.environ, "VRTHERAPY_RUNTIME_DIR": str(runtime)}
    args = ["demo", "--display", "null", "--duration", "90s", "--out", str(out)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", *args, "--no-encryption"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        folder = runtime / "sessions"
        path = wait_for(lambda: next(folder.glob("*.json"), None), 60, what="the pairing file")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        pairing = read_pairing(path)
        assert pairing.pid == proc.pid and pairing.protocol == "heights-demo"
        assert list_pairings({"VRTHERAPY_RUNTIME_DIR": str(runtime)}) == [pairing]
        status = _inlet(pairing.streams["status"])
        markers = JsonReader(_inlet(pairing.streams["markers"]))
        first = JsonReader(status).first(lambda s: s["sid"] == pairing.sid)
        assert first["state"] in ("baseline", "active")
        facts = json.loads(status.info(timeout=10).desc().child_value("vrtherapy_session_info"))
        assert facts["sid"] == pairing.sid and facts["scene_events"] == ["gust_of_wind"]
        assert set(facts["roles"]) == {"heart", "eda"}
        outlet = console_outlet(pairing.sid)
        wait_for(outlet.have_consumers, 30, what="the session reading the console")
        note = make_command(
            pairing.sid, pairing.secret, "note", "dr.lee", pylsl.local_clock(), text="calm"
        )
        send(outlet, note)
        send(outlet, {**note, "id": "forged", "mac": "00" * 32})
        ack = markers.first(lambda m: m.get("id") == note["id"])
        assert ack["applied"] is True and ack["operator"] == "dr.lee" and ack["result"] == "noted"
        refused = markers.first(lambda m: m.get("event") == "command_rejected")
        assert refused["id"] == "forged" and refused["reason"].startswith("bad mac")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 1, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not path.exists(), "the pairing file outlives the session"
    (recording,) = out.glob("*/*/recording.xdf")
    recorded = recorded_markers(recording)
    (command,) = [m for m in recorded if m.get("id") == note["id"]]
    assert command["operator"] == "dr.lee" and command["source"] == "console"
    assert [m["id"] for m in recorded if m["event"] == "command_rejected"] == ["forged"]
