"""The report renders every partial recording (#14): cut off anywhere, stopped during the
baseline, without valid arousal, decisions, features or markers. Missing numbers read
"n/a" with the reason; only a file with nothing to show is a RecordingError."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from recording_helpers import Role, SessionFile, lsl_info, raw_spec, twin, with_role_map

from biosignals.features import FeatureSnapshot
from engine.errors import RecordingError
from engine.export.recording import load_session
from engine.live import RunOptions, SessionResult, run_simulated, with_duration
from engine.protocol import Protocol, load_protocol, resolve_seed
from engine.record.xdf import MAGIC, decode_varlen
from engine.report import build_report
from engine.report.model import build_model
from engine.twin_profiles import load_patient

SECTIONS = ("header", "timeline", "decisions", "habituation", "arousal-window", "quality")
CUTS = 50
#: The only errors a cut file may give: nothing in it to show.
NOTHING_TO_SHOW = ("the file is empty", "not an XDF file", "no physiology in this recording")


def _demo(protocol: Protocol, out: Path, **patient: float) -> SessionResult:
    profile = load_patient("typical")
    if patient:
        profile = profile.model_copy(update=patient)
    return run_simulated(protocol, RunOptions(out=out, display="null", report=False), profile)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> SessionResult:
    """``vrtherapy simulate`` of heights-demo, typical patient, 60 s, plaintext."""
    protocol = with_duration(load_protocol(resolve_seed("protocols", "heights-demo")), 60.0)
    return _demo(protocol, tmp_path_factory.mktemp("partial"))


def _chunks(raw: bytes) -> list[tuple[int, int, int]]:
    """(start, end, tag) of every chunk."""
    out, pos = [], len(MAGIC)
    while pos < len(raw):
        length, start = decode_varlen(raw, pos)
        out.append((pos, start + length, int.from_bytes(raw[start : start + 2], "little")))
        pos = start + length
    return out


def _offsets(raw: bytes) -> list[int]:
    """50 cut positions: inside the magic, the file header, every stream header, at and
    inside the first samples chunks, then spread over the file (mostly inside chunks)."""
    chunks = _chunks(raw)
    headers = [c for c in chunks if c[2] in (1, 2)]
    picked = {0, 2, len(MAGIC), headers[0][0] + 1, headers[-1][1]}
    for start, end, _ in headers:
        picked.add((start + end) // 2)
    first_samples = next(c for c in chunks if c[2] == 3)
    picked |= {first_samples[0] + 3, (first_samples[0] + first_samples[1]) // 2}
    spread = np.linspace(first_samples[1], len(raw) - 1, CUTS - len(picked), dtype=np.int64)
    picked |= {int(x) for x in spread}
    k = 0
    while len(picked) < CUTS:  # spread positions may coincide with the ones above
        picked.add(len(raw) - 2 - k)
        k += 1
    return sorted(picked)[:CUTS]


def _first_role_header_end(raw: bytes) -> int:
    """Byte offset after which the file holds a physiology stream header."""
    for start, end, tag in _chunks(raw):
        if tag != 2:
            continue
        info = ET.fromstring(raw[raw.index(b"<", start) : end])
        if info.find("desc/vrtherapy") is not None or info.findtext("type") in ("ECG", "EDA"):
            return end
    raise AssertionError("no physiology stream header in the demo recording")


def _assert_renders_with_reasons(html: str) -> None:
    for section in SECTIONS:
        assert f'<section id="{section}">' in html
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", html)
    assert not {"None", "nan", "-nan", "inf"} & set(cells)
    inside = re.search(r"Inside the window</th><td>([^<]*)</td>", html)
    assert inside is not None
    if inside.group(1) == "n/a":
        assert re.search(r'id="window-reason">n/a: [^<]{20,}</p>', html)


@pytest.mark.slow
def test_cut_recordings_render_or_say_there_is_nothing(demo: SessionResult, tmp_path: Path) -> None:
    raw = demo.recording.read_bytes()
    offsets = _offsets(raw)
    assert len(offsets) == CUTS
    physiology_from = _first_role_header_end(raw)
    outcomes: dict[str, int] = {"rendered": 0, "nothing to show": 0}
    for i, offset in enumerate(offsets):
        folder = tmp_path / f"cut-{i:02d}-{offset}"
        folder.mkdir()
        cut = folder / "recording.xdf"
        cut.write_bytes(raw[:offset])
        if i % 2:  # half of them beside the session's summary.json
            shutil.copy(demo.folder / "summary.json", folder / "summary.json")
        try:
            out = build_report(cut, folder / "report.html")
        except RecordingError as exc:
            assert any(s in str(exc) for s in NOTHING_TO_SHOW), (offset, str(exc))
            assert offset < physiology_from, (offset, str(exc))
            outcomes["nothing to show"] += 1
            continue
        assert offset >= physiology_from
        _assert_renders_with_reasons(out.read_text(encoding="utf-8"))
        outcomes["rendered"] += 1
    assert outcomes["rendered"] >= 35 and outcomes["nothing to show"] >= 5, outcomes


def test_recording_cut_off_during_the_baseline(tmp_path: Path) -> None:
    """A session killed 10 s into a 20 s baseline, its file torn: no baseline marker, no
    valid arousal, no decisions, no stop marker."""
    body = twin(10.0)
    rec = SessionFile(tmp_path / "recording.xdf", participant="P-7", protocol="heights-demo")
    ecg = lsl_info("ecg", "ECG", 500.0, "float32", [("ECG", "mV")])
    rec.raw(with_role_map(ecg, [Role("heart", 0)]), body.ecg[:, None], body.ecg_t)
    eda = lsl_info("eda", "EDA", 32.0, "float32", [("EDA", "uS")])
    rec.raw(with_role_map(eda, [Role("eda", 0)]), body.eda[:, None], body.eda_t)
    rec.marker({"event": "state", "state": "baseline", "reason": "baseline for 20 s"}, 0.0)
    rec.marker({"event": "start", "text": "session start", "arousal_window": [0.25, 0.75]}, 0.0)
    for t in np.arange(0.0, 10.0, 1.0):
        rec.features(FeatureSnapshot(float(t), 70.0, 5.0, 2.0, None, True))
        rec.intensity(0.0, float(t))
        rec.frame(1.5, int(t * 30), float(t))
    path = rec.close()
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) - 100])  # torn inside the stream footers
    html = build_report(path, tmp_path / "r.html").read_text(encoding="utf-8")
    _assert_renders_with_reasons(html)
    assert "Window 0.25 &ndash; 0.75 (from start marker)" in html
    assert (
        "n/a: no valid arousal; the baseline never completed: the recording is cut off at "
        "00:10.0 (torn chunk: crash?)" in html
    )
    assert "No intensity decisions were recorded; the recording is cut off at 00:10.0" in html
    assert "unknown: no stop marker (the recording is cut off: crash?)" in html


def test_baseline_of_zero_seconds(tmp_path: Path) -> None:
    """``baseline: 0s``: the baseline sets no reference, so no arousal is ever valid."""
    protocol = with_duration(load_protocol(resolve_seed("protocols", "heights-demo")), 30.0)
    result = _demo(protocol.model_copy(update={"baseline": 0.0}), tmp_path)
    summary = json.loads((result.folder / "summary.json").read_text())
    model = build_model(load_session(result.recording), summary)
    assert model.window is not None and model.window_stats["known_s"] == 0.0
    html = build_report(result.recording, tmp_path / "r.html").read_text(encoding="utf-8")
    _assert_renders_with_reasons(html)
    assert "Inside the window</th><td>n/a</td>" in html
    assert (
        "n/a: no valid arousal after the baseline (unknown for 00:30.0; the baseline set "
        "no reference (HR and SCL unknown at its end))" in html
    )


def test_signal_loss_stop_during_the_baseline(tmp_path: Path) -> None:
    """``on_signal_loss: stop`` and a sensor dropout in the baseline: the session stops
    when the baseline ends, before any valid arousal."""
    protocol = with_duration(load_protocol(resolve_seed("protocols", "heights-demo")), 60.0)
    safety = protocol.safety.model_copy(update={"on_signal_loss": "stop"})
    protocol = protocol.model_copy(update={"seed": 1, "safety": safety})
    result = _demo(protocol, tmp_path, dropout_rate_per_hour=120.0, dropout_duration=20.0)
    data = load_session(result.recording)
    stop, base = data.events("stop")[0], data.events("baseline")[0]
    assert "signal lost" in stop.text and stop.time - base.time < 0.1  # the case at hand
    html = build_report(result.recording, tmp_path / "r.html").read_text(encoding="utf-8")
    _assert_renders_with_reasons(html)
    assert "Inside the window</th><td>n/a</td>" in html
    assert "the session ended at 00:20.0 (session aborted: signal lost" in html


def test_only_headers_no_samples(tmp_path: Path) -> None:
    info = lsl_info("ecg", "ECG", 500.0, "float32", [("ECG", "mV")])
    rec = SessionFile(tmp_path / "empty.xdf")
    rec.stream(raw_spec(with_role_map(info, [Role("heart", 0)])))
    path = rec.close()
    html = build_report(path, tmp_path / "r.html").read_text(encoding="utf-8")
    _assert_renders_with_reasons(html)
    assert "holds stream headers but no samples" in html
    assert "Role heart (ECG heart (mV)) holds no samples: beats n/a." in html


def test_physiology_stops_early_and_no_features_or_markers(tmp_path: Path) -> None:
    """The ECG ends at 20 s of 60, EDA never had samples, no features, no markers."""
    body = twin(20.0)
    rec = SessionFile(tmp_path / "early.xdf")
    ecg = lsl_info("ecg", "ECG", 500.0, "float32", [("ECG", "mV")])
    rec.raw(with_role_map(ecg, [Role("heart", 0)]), body.ecg[:, None], body.ecg_t)
    eda = lsl_info("eda", "EDA", 32.0, "float32", [("EDA", "uS")])
    rec.stream(raw_spec(with_role_map(eda, [Role("eda", 0)])))
    for t in np.arange(0.0, 60.0, 1.0):
        rec.intensity(0.2, float(t))
    path = rec.close()
    html = build_report(path, tmp_path / "r.html").read_text(encoding="utf-8")
    _assert_renders_with_reasons(html)
    assert "n/a: no controller features (arousal) in this recording" in html
    assert "Skin conductance and SCRs n/a: the eda role holds no samples." in html
    assert "No intensity decisions were recorded" in html
