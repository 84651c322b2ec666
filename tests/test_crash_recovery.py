"""A live session killed with SIGKILL leaves a recording that pyxdf reads, and verify repairs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import pyxdf
from conftest import run_cli as vrtherapy
from waiting import wait_for

from biosignals.lsl import import_pylsl
from engine.privacy.keys import create_site_key
from engine.record import scan_chunks

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.lsl
@pytest.mark.slow
def test_kill_9_of_a_live_session_loses_at_most_a_second(tmp_path: Path) -> None:
    pylsl = import_pylsl()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "engine.cli",
            "demo",
            "--display",
            "null",
            "--duration",
            "90s",
            "--out",
            str(tmp_path),
            "--no-encryption",  # the plain XDF's torn tail is what this test repairs
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )

    def running() -> None:
        if proc.poll() is not None:
            raise AssertionError(f"the demo exited ({proc.returncode}): {proc.communicate()}")

    def recording() -> list[Path]:
        running()
        return [p for p in tmp_path.glob("demo/*/recording.xdf") if p.stat().st_size > 0]

    recordings = wait_for(recording, 60.0, interval=0.2, what="the demo's recording.xdf")

    def ecg_written() -> bool:  # the twin's ECG samples in whole chunks on disk
        running()
        streams = scan_chunks(recordings[0]).streams.values()
        return sum(s.sample_count for s in streams if s.name == "vrtherapy-twin-ECG") >= 3000

    wait_for(ecg_written, 60.0, interval=0.2, what="6 s of ECG (3000 samples) in the recording")
    killed_at = pylsl.local_clock()
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    rec = recordings[0]
    session = rec.parent
    r = vrtherapy("verify", str(session), "--repair")
    assert r.returncode in (0, 1), r.stderr
    assert "Traceback" not in r.stderr
    streams, _ = pyxdf.load_xdf(str(rec), dejitter_timestamps=False)
    ecg = next(s for s in streams if s["info"]["type"][0] == "ECG")
    last = float(np.max(ecg["time_stamps"]))
    assert killed_at - last <= 1.5, f"lost {killed_at - last:.2f} s of ECG"
    assert len(ecg["time_stamps"]) > 5 * 450
    # after repair the folder verifies clean: manifest written for the crashed session
    r = vrtherapy("verify", str(session))
    assert r.returncode == 0, r.stdout + r.stderr


def test_open_key_file_is_refused_by_name(tmp_path: Path) -> None:
    key = tmp_path / "site.key"
    create_site_key(key)
    key.chmod(0o644)
    r = vrtherapy("simulate", "heights-demo", "--key", str(key), "--out", str(tmp_path / "s"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert str(key) in r.stderr and "chmod 600" in r.stderr
    assert not (tmp_path / "s").exists()


def test_corrupt_key_file_is_refused_by_name(tmp_path: Path) -> None:
    key = tmp_path / "site.key"
    key.write_text("not a key\n")
    key.chmod(0o600)
    r = vrtherapy("report", str(tmp_path / "x.xdf"), "--key", str(key))
    assert r.returncode == 2 and str(key) in r.stderr and "Traceback" not in r.stderr
