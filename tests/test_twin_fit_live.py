"""A twin fitted to live sessions: `vrtherapy run` against `vrtherapy twin`, and against
`vrtherapy replay` of a recorded session, on LSL.

The simulated patient publishes ECG and EDA from its own process (`vrtherapy twin`) and
follows the session's intensity stream; `vrtherapy run` records the session in real time.
The fit of that recording converges near the twin's profile, and the report draws the
fitted twin over the recorded heart rate (its dashed line is in the timeline PNG).
A replayed session (a dry-run's ECG and EDA re-published by `vrtherapy replay`) is
recorded and fitted the same way. The processes of each test use a liblsl config of
their own, so they see only each other.
"""

from __future__ import annotations

import base64
import io
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from bridges.e2e import lsl_config
from conftest import ROOT, run_cli

from engine.twin_profiles import load_patient

pytestmark = [pytest.mark.lsl, pytest.mark.slow]

PATIENT = """\
name: live-truth
resting_hr: 66
reactivity: 1.4
response_lag: 5
habituation_tau: 90
habituation_floor: 0.4
"""
PROTOCOL = """\
protocol: twin-fit-live
scene: heights
duration: 150s
seed: 4
streams: {heart: {type: ECG}, eda: {type: EDA}}
stream_timeout: 20s
baseline: 30s
controller:
  kind: exposure
  tick: 1s
  arousal_window: [0.05, 0.95]
  settle_time: 25s
  habituation_drop: 0.05
  min_dwell: 10s
  step_up: {when: settled}
  hierarchy:
    - {intensity: 0.3, label: low}
    - {intensity: 0.6, label: middle}
    - {intensity: 0.9, label: high}
safety: {max_heart_rate: 180, max_step_per_minute: 3.0}
consent: {streams: [heart, eda], purpose: twin fit test, retention_days: 30}
"""
_TWIN_RGB = (0xC2, 0x18, 0x5B)  # the report's twin line (engine.report.plots)


def _timeline_pixels(html: str) -> np.ndarray:
    from matplotlib.image import imread

    data = re.search(r'class="timeline"[^>]*src="data:image/png;base64,([^"]+)"', html)
    assert data is not None
    return imread(io.BytesIO(base64.b64decode(data.group(1))), format="png")[:, :, :3]


def _fit_and_report(folder: Path, tmp_path: Path, participant: str) -> str:
    """Fit ``folder``'s session, check the fit, and return its report with the twin."""
    fitted = tmp_path / "twins" / "live.yaml"
    fit = run_cli("twin", "fit", str(folder), "-o", str(fitted), "--bootstrap", "5")
    assert fit.returncode == 0, fit.stderr
    assert "converged" in fit.stdout and "NOT converged" not in fit.stdout
    profile, truth = load_patient(str(fitted)), load_patient(str(tmp_path / "truth.yaml"))
    assert profile.resting_hr == pytest.approx(truth.resting_hr, abs=3.0)
    assert profile.reactivity == pytest.approx(truth.reactivity, rel=0.3)
    report = tmp_path / "report.html"
    r = run_cli("report", str(folder), "--plaintext", "-o", str(report), "--twin", str(fitted))
    assert r.returncode == 0, r.stderr
    html = report.read_text()
    assert "twin live-truth" not in html and f"twin fitted-{participant} (fit, session 1)" in html
    rmse = re.search(r"Heart rate</th><td>RMSE ([0-9.]+) bpm", html)
    assert rmse is not None and float(rmse.group(1)) < 4.0
    pixels = np.round(_timeline_pixels(html) * 255).astype(int)
    drawn = np.all(np.abs(pixels - np.asarray(_TWIN_RGB)) <= 12, axis=2)
    assert drawn.sum() > 500  # the dashed twin line over HR and SCL
    return html


def test_a_live_session_fits_and_the_report_shows_the_twin(tmp_path: Path) -> None:
    config = lsl_config(tmp_path, 7)
    patient = tmp_path / "truth.yaml"
    patient.write_text(PATIENT)
    protocol = tmp_path / "live.yaml"
    protocol.write_text(PROTOCOL)
    twin = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "--lsl-config", str(config), "twin",
         "--patient", str(patient), "--duration", "400s", "--seed", "3"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        run = run_cli("--lsl-config", str(config), "run", str(protocol), "--display", "null",
                      "--participant", "P-LIVE", "--out", str(tmp_path / "sessions"))  # fmt: skip
    finally:
        twin.send_signal(signal.SIGINT)
        _, twin_err = twin.communicate(timeout=30)
    assert run.returncode == 0, run.stderr
    assert twin.returncode == 0, twin_err
    folder = next((tmp_path / "sessions").rglob("recording.xdf.sealed")).parent
    _fit_and_report(folder, tmp_path, "P-LIVE")


def test_a_replayed_session_fits_and_the_report_shows_the_twin(tmp_path: Path) -> None:
    """`vrtherapy run` records `vrtherapy replay` of a dry-run; the same protocol makes the
    same decisions on the same physiology, so the twin fits the new recording too.

    The replay waits for the recorder's inlets before it plays, so the physiology lines
    up with the new session's intensity however slowly `vrtherapy run` starts (without
    the wait, a loaded machine shifted it by seconds and the fitted reactivity drifted).
    The replayed physiology answers the dry-run's intensity, not the live one, so the
    live session must make the dry-run's decisions: its climbs ("settled" over 25 s)
    land on the same tick, but a step down on a threshold crossing at the arousal peak
    came up to 8 s early or late on live-computed features, and the fit then read the
    dry-run's response against the wrong intensity (reactivity 2.6 for 1.4). So this
    protocol never steps down (min_dwell beyond the session).
    """
    config = lsl_config(tmp_path, 11)
    (tmp_path / "truth.yaml").write_text(PATIENT)
    protocol = tmp_path / "live.yaml"
    protocol.write_text(PROTOCOL.replace("min_dwell: 10s", "min_dwell: 600s"))
    dry = run_cli("simulate", str(protocol), "--patient", str(tmp_path / "truth.yaml"),
                  "--participant", "P-REPLAY", "--out", str(tmp_path / "dry"),
                  "--no-report")  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    original = next((tmp_path / "dry").rglob("recording.xdf.sealed")).parent
    replay = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "--lsl-config", str(config), "replay",
         str(original), "--wait-for-consumer", "120"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        run = run_cli("--lsl-config", str(config), "run", str(protocol), "--display", "null",
                      "--participant", "P-REPLAY", "--out", str(tmp_path / "sessions"))  # fmt: skip
    finally:
        replay.send_signal(signal.SIGINT)
        _, replay_err = replay.communicate(timeout=30)
    assert run.returncode == 0, run.stderr
    assert replay.returncode == 0, replay_err
    folder = next((tmp_path / "sessions").rglob("recording.xdf.sealed")).parent
    _fit_and_report(folder, tmp_path, "P-REPLAY")
