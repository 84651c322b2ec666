"""The `vrtherapy` command as a user runs it: exit codes and one-paragraph messages."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import site_key

from engine.privacy.sealed import read_sealed_bytes, recording_bytes

ROOT = Path(__file__).resolve().parents[1]


def vrtherapy(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=ROOT,
    )


def assert_clean_error(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    for needle in needles:
        assert needle in r.stderr, r.stderr


def test_help_lists_commands() -> None:
    r = vrtherapy("--help")
    assert r.returncode == 0
    for cmd in ("demo", "run", "simulate", "validate", "twin", "report"):
        assert cmd in r.stdout


def test_validate_seeds_ok() -> None:
    seeds = sorted(str(p) for p in (ROOT / "seeds" / "protocols").glob("*.yaml"))
    r = vrtherapy("validate", *seeds)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(": ok (") == len(seeds)


def test_validate_bad_file_names_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    text = (ROOT / "seeds" / "protocols" / "heights-demo.yaml").read_text()
    bad.write_text(text.replace("kind: exposure", "kind: expo"))
    r = vrtherapy("validate", str(bad))
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "kind: exposure" in s)
    assert_clean_error(r, f"{bad}:{line}: controller.kind: 'expo' is not one of exposure")


def test_missing_protocol_file(tmp_path: Path) -> None:
    assert_clean_error(vrtherapy("run", str(tmp_path / "missing.yaml")), "file not found")


def test_yaml_syntax_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("protocol: x\nscene: [heights\n")
    assert_clean_error(vrtherapy("validate", str(bad)), f"{bad}:", "YAML syntax error")


def test_unknown_field(tmp_path: Path) -> None:
    bad = tmp_path / "extra.yaml"
    text = (ROOT / "seeds" / "protocols" / "heights-demo.yaml").read_text()
    bad.write_text(text + "colour: blue\n")
    assert_clean_error(vrtherapy("validate", str(bad)), "colour: unknown field; allowed here:")


def test_verify_missing_session_is_bad_input() -> None:
    r = vrtherapy("verify", "/nonexistent/session")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_run_without_consent_is_refused(tmp_path: Path) -> None:
    r = vrtherapy("run", "heights-graded", "--display", "null", "--out", str(tmp_path))
    assert_clean_error(r, "consent")
    assert not any(tmp_path.iterdir()), "nothing may be written without consent"


@pytest.mark.gl
@pytest.mark.slow
def test_scenes_command_writes_pngs(tmp_path: Path) -> None:
    r = vrtherapy("scenes", "--out", str(tmp_path), "--scene", "spiders", "--scene", "snow")
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in tmp_path.glob("*.png"))
    assert names == ["snow-0.2.png", "snow-0.8.png", "spiders-0.2.png", "spiders-0.8.png"]
    assert_clean_error(vrtherapy("scenes", "--out", str(tmp_path), "--scene", "moon"), "moon")


@pytest.mark.slow
def test_bench_runs_and_rejects_unknown() -> None:
    assert_clean_error(vrtherapy("bench", "nope"), "benchmark 'nope' is not one of render")
    r = vrtherapy("bench", "render", "--objects", "20", "--frames", "5", "--display", "null")
    assert r.returncode == 0, r.stderr
    assert "p50" in r.stdout and "% of 11.1 ms" in r.stdout


def test_window_without_display() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    r = subprocess.run(
        [sys.executable, "-m", "engine.cli", "demo", "--display", "window"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
    )
    assert_clean_error(r, "--display offscreen")


def test_bad_participant_id(tmp_path: Path) -> None:
    r = vrtherapy("simulate", "heights-demo", "--participant", "Jane Doe", "--out", str(tmp_path))
    assert_clean_error(r, "not a valid pseudonymous ID")


@pytest.mark.lsl
def test_no_matching_stream_times_out(tmp_path: Path) -> None:
    proto = tmp_path / "nostream.yaml"
    text = (ROOT / "seeds" / "protocols" / "heights-demo.yaml").read_text()
    text = text.replace("heart: {type: ECG}", "heart: {type: NoSuchECG}")
    proto.write_text(text.replace("stream_timeout: 10s", "stream_timeout: 1s"))
    r = vrtherapy(
        "run",
        str(proto),
        "--display",
        "null",
        "--out",
        str(tmp_path),
        "--consent-streams",
        "heart,eda",
        "--consent-purpose",
        "test",
        "--consent-retention-days",
        "1",
    )
    assert_clean_error(r, "NoSuchECG")
    assert not (tmp_path / "demo").exists(), "no session folder for a session that never started"


@pytest.mark.slow
def test_simulate_dry_run(tmp_path: Path) -> None:
    sessions = tmp_path / "sessions"
    r = vrtherapy("simulate", "heights-graded", "--duration", "10min", "--out", str(sessions))
    assert r.returncode == 0, r.stderr
    rec = Path(r.stdout.strip().removeprefix("recording: "))
    assert rec.name == "recording.xdf.sealed", "sessions are sealed with the site key by default"
    summary = json.loads(read_sealed_bytes(rec.parent / "summary.json.sealed", site_key()))
    assert summary["state"] == "finished" and summary["duration_s"] == pytest.approx(600, abs=1)
    assert summary["arousal_window"] == [0.3, 0.7] and len(summary["hierarchy"]) == 7
    # the clinician report is written (sealed) with every session
    html = read_sealed_bytes(rec.parent / "report.html.sealed", site_key()).decode()
    assert "heights-graded" in html and "Intensity decisions" in html
    # review commands on the same recording, through the real CLI
    out = tmp_path / "review"
    r = vrtherapy("export", str(rec), "--format", "edf", "-o", str(out / "s.edf"))
    assert r.returncode == 0, r.stderr
    assert (out / "s.edf").stat().st_size > 10_000
    r = vrtherapy("report", str(tmp_path / "not-a-recording.xdf"), "-o", str(out / "r.html"))
    assert_clean_error(r)
    assert not (out / "r.html").exists()


@pytest.mark.slow
@pytest.mark.lsl
@pytest.mark.gl
def test_demo_end_to_end(tmp_path: Path) -> None:
    """README command 1, shortened: real twin on LSL, real offscreen GL, real XDF."""
    import numpy as np
    import pyxdf

    shot = tmp_path / "last.png"
    r = vrtherapy(
        "demo",
        "--display",
        "offscreen",
        "--duration",
        "70s",
        "--out",
        str(tmp_path),
        "--screenshot",
        str(shot),
        timeout=240,
    )
    assert r.returncode == 0, r.stderr
    assert "recording:" in r.stdout and "intensity" in r.stderr
    rec = Path(r.stdout.strip().splitlines()[-1].removeprefix("recording: "))
    assert rec.name == "recording.xdf.sealed", "the demo is sealed with the site key"
    streams, _ = pyxdf.load_xdf(io.BytesIO(recording_bytes(rec, site_key())))
    by_name = {s["info"]["name"][0]: s for s in streams}
    markers = [json.loads(m[0]) for m in by_name["vrtherapy-markers"]["time_series"]]
    changes = [
        m
        for m in markers
        if m["event"] == "intensity" and m["source"] == "controller" and m["previous"] != 0.0
    ]
    assert len(changes) >= 2, [m.get("text") for m in markers]
    assert all(m["reason"] for m in changes)
    ecg = by_name["vrtherapy-twin-ECG"]
    assert ecg["info"]["type"][0] == "ECG" and len(ecg["time_stamps"]) > 60 * 450
    intensity = np.asarray(by_name["vrtherapy-intensity"]["time_series"]).ravel()
    assert intensity.max() > intensity[0]
    assert shot.stat().st_size > 1000
