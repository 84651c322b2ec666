"""The clinician HTML report: content, escaping, bad input, and a look in headless Chromium."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from browser_helpers import CHROMIUM, needs_chromium

from biosignals.features import FeatureSnapshot
from biosignals.twin import TwinPhysiology, TwinProfile
from engine.errors import RecordingError, VrTherapyError
from engine.live import RunOptions, SessionResult, run_simulated, with_duration
from engine.protocol import load_protocol, resolve_seed
from engine.record import StreamSpec, XdfRecorder
from engine.report import build_report
from engine.report.cli import add_report_parser, cmd_report
from engine.report.html import _mmss
from engine.session_record import SessionRecording

SECTIONS = (
    "header",
    "timeline",
    "decisions",
    "habituation",
    "answers",
    "arousal-window",
    "quality",
    "frames",
)
EVIL = "<script>alert('x')</script> & \"quoted\""


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> SessionResult:
    """A real 120 s dry-run of the heights demo."""
    out = tmp_path_factory.mktemp("report-session")
    protocol = with_duration(load_protocol(resolve_seed("protocols", "heights-demo")), 120.0)
    return run_simulated(protocol, RunOptions(out=out, display="null"), TwinProfile())


@pytest.fixture(scope="module")
def report(session: SessionResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_report(session.recording, tmp_path_factory.mktemp("report") / "r.html")


def _spec(kind: str, rate: float, label: str, unit: str) -> StreamSpec:
    from engine.record import ChannelSpec

    return StreamSpec(
        f"dev-{kind}",
        kind,
        1,
        rate,
        "float32",
        f"dev-{kind.lower()}",
        channels=(ChannelSpec(label, unit, kind),),
    )


def _handmade(path: Path, *, physiology: bool = True, seconds: float = 60.0) -> Path:
    """A recording written with the engine's recorder: physiology from the twin model,
    decisions by every source (one with hostile text), SUDS, and a dropout flag."""
    recorder = XdfRecorder(path, file_header={"participant": "P-0042", "protocol": "hand"})
    recorder.start()
    rec = SessionRecording(recorder)
    if physiology:
        rec.add_source("heart", _spec("ECG", 500.0, "ECG", "mV"))
        rec.add_source("eda", _spec("EDA", 32.0, "EDA", "uS"))
    twin = TwinPhysiology(TwinProfile(), start_time=0.0, seed=3)
    rec.marker({"event": "start", "text": "session start: hand", "arousal_window": [0.3, 0.7]}, 0.0)
    decisions = [(10.0, "controller", "start"), (25.0, "therapist", EVIL), (40.0, "safety", "HR")]
    for t in np.arange(0.5, seconds + 1e-9, 0.5):
        chunk = twin.advance(float(t))
        if physiology:
            rec.raw("heart", chunk.ecg, chunk.ecg_t)
            rec.raw("eda", chunk.eda, chunk.eda_t)
        rec.intensity(twin.intensity, float(t))
        rec.frame(2.0, int(t * 2), float(t))
        if float(t).is_integer():
            arousal = None if t <= 5 else (0.5 if t <= 30 else 0.9)
            rec.features(
                FeatureSnapshot(float(t), twin.true_heart_rate, twin.true_scl, 2.0, arousal, True)
            )
        for when, source, reason in decisions:
            if abs(t - when) < 1e-9:
                target = {"controller": 0.2, "therapist": 0.5, "safety": 0.3}[source]
                rec.marker(
                    {
                        "event": "intensity",
                        "previous": twin.intensity,
                        "target": target,
                        "step": 0,
                        "source": source,
                        "reason": reason,
                        "text": f"intensity ({source})",
                    },
                    float(t),
                )
                twin.set_intensity(target)
    rec.marker({"event": "suds", "value": 40, "text": "SUDS 40"}, 30.0)
    rec.marker(
        {
            "event": "quality",
            "role": "heart",
            "flag": "dropout",
            "start": 20.0,
            "end": 22.5,
            "text": "quality heart:dropout",
        },
        22.5,
    )
    rec.marker({"event": "stop", "state": "finished", "text": "session finished"}, seconds)
    rec.flush()
    recorder.close()
    return path


def test_report_of_a_real_session(session: SessionResult, report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    summary = json.loads((session.folder / "summary.json").read_text())
    assert "<title>vrtherapy session report: heights-demo</title>" in html
    for section in SECTIONS:
        assert f'<section id="{section}">' in html
    assert html.count('<tr class="decision">') == len(summary["decisions"]) > 0
    for key in ("heights", summary["software"], "demo", summary["reason"]):
        assert key in html
    assert "data:image/png;base64," in html
    assert "None recorded." in html  # no SUDS/NRS in the demo
    assert "CPU time per frame, 99th percentile" in html


def test_report_has_no_external_references(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", html, flags=re.I)
    assert refs and all(r.startswith("data:") for r in refs)
    assert "<script" not in html.lower()
    assert not re.search(r"""(?:src|href)\s*=\s*["']https?://""", html, flags=re.I)


def test_handmade_recording_sections_and_escaping(tmp_path: Path) -> None:
    rec = _handmade(tmp_path / "hand.xdf")
    html = build_report(rec, tmp_path / "hand.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &#34;quoted&#34;" in html
    assert "<script" not in html
    assert html.count('<tr class="decision">') == 3
    assert 'class="src-safety">safety' in html and 'class="src-therapist">therapist' in html
    assert "SUDS 40" in html and "Participant (pseudonym)" in html and "P-0042" in html
    assert "Window 0.30 &ndash; 0.70 (from start marker)" in html
    inside = re.search(r"Inside the window</th><td>([\d.]+) %", html)
    assert inside is not None and 40.0 < float(inside.group(1)) < 50.0  # 25 of 55 known s
    # dropout of 2.5 s in 60 s on the heart role
    assert re.search(r"role heart \(quality flags\)</td><td class=\"n\">95\.\d %", html)
    assert "dropout x1" in html


def test_missing_physiology_is_a_recording_error(tmp_path: Path) -> None:
    rec = _handmade(tmp_path / "nophys.xdf", physiology=False, seconds=5.0)
    with pytest.raises(RecordingError, match="no physiology"):
        build_report(rec, tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize(("content", "message"), [(b"", "empty"), (b"<html>", "not an XDF")])
def test_bad_input_is_a_recording_error(tmp_path: Path, content: bytes, message: str) -> None:
    bad = tmp_path / "bad.xdf"
    bad.write_bytes(content)
    with pytest.raises(RecordingError, match=message):
        build_report(bad, tmp_path / "r.html")


def test_never_overwrites_without_force(session: SessionResult, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    out.write_text("earlier report")
    with pytest.raises(VrTherapyError, match=r"r\.html already exists"):
        build_report(session.recording, out)
    assert out.read_text() == "earlier report"
    build_report(session.recording, out, force=True)
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_report_command(
    session: SessionResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    add_report_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "cli.html"
    args = parser.parse_args(["report", str(session.recording), "-o", str(out)])
    assert cmd_report(args) == 0
    assert out.exists()
    line = capsys.readouterr().out.strip()
    assert line.startswith("report: ") and "\n" not in line
    with pytest.raises(VrTherapyError):
        cmd_report(args)


def test_time_format() -> None:
    assert _mmss(119.99) == "02:00.0"
    assert _mmss(61.24) == "01:01.2"
    assert _mmss(None) == "n/a"


@pytest.mark.slow
@needs_chromium  # CI installs it: absent there = fail
def test_renders_in_headless_chromium_without_errors(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    assert CHROMIUM is not None
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            f"--screenshot={shot}",
            "--window-size=1280,2400",
            report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    errors = [
        line
        for line in proc.stderr.splitlines()
        if "CONSOLE" in line or "Uncaught" in line or "net::ERR" in line
    ]
    assert errors == []
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[:2] == (2400, 1280)
    # not blank: a good share of the page is drawn (text, tables, figure)
    assert float(np.mean(pixels[..., :3] < 0.9)) > 0.02
