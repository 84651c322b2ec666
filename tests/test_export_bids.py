"""BIDS export from hand-made recordings: physio on its grid (dropouts n/a, irregular heart
rate at 4 Hz), events from every kind of marker, and the real CLI + the official validator."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from bids_helpers import snapshot, unchanged, validate
from conftest import run_cli as vrtherapy
from recording_helpers import Role, SessionFile, lsl_info, twin, with_role_map

from biosignals.conversion import SignalSettings
from engine.export.bids_events import events_tsv, session_events, time_zero
from engine.export.bids_physio import physio_bytes, physio_tables
from engine.export.recording import load_session

START = 0.5
DROP = (10.0, 12.0)  # the BITalino's samples in [10, 12) never arrived
GAP = (60.0, 66.0)  # the chest strap sent no beat for 6 s


def _bitalino(rec: SessionFile) -> tuple[np.ndarray, np.ndarray]:
    """ECG (channel 1, mV) and EDA (channel 2, uS) at 100 Hz with a 2 s dropout."""
    body = twin(90.0)
    t = np.arange(0.0, 90.0, 0.01)
    keep = (t < DROP[0]) | (t >= DROP[1])
    ecg = np.interp(t, body.ecg_t, body.ecg)
    eda = np.interp(t, body.eda_t, body.eda)
    values = np.column_stack([np.zeros_like(t), ecg, eda])[keep]
    info = lsl_info(
        "BITalino",
        "ECG",
        100.0,
        "float32",
        [("A0", ""), ("ECG", "mV"), ("EDA", "uS")],
        desc={"manufacturer": "PLUX", "device": "BITalino", "serial_number": "98:D3"},
    )
    rec.raw(with_role_map(info, [Role("heart", 1), Role("eda", 2)]), values, t[keep])
    return t[keep], values


def _polar(rec: SessionFile) -> tuple[np.ndarray, np.ndarray]:
    """RR intervals (ms) at each beat on an irregular stream, none during GAP."""
    beats = twin(90.0, seed=5).beats
    rr_ms = np.diff(beats) * 1000.0
    stamps = beats[1:]
    keep = (stamps < GAP[0]) | (stamps >= GAP[1])
    info = lsl_info("PolarH10 RR", "RR", 0.0, "float32", [("RR", "ms")])
    rr_role = Role("hr", 0, SignalSettings(content="rr_ms"))
    rec.raw(with_role_map(info, [rr_role]), rr_ms[keep, None], stamps[keep])
    return stamps[keep], 60000.0 / rr_ms[keep].astype(np.float32)


MARKERS = [
    ({"event": "state", "state": "baseline", "reason": "baseline for 20 s"}, START),
    ({"event": "start", "protocol": "hand-made", "text": "session start"}, START),
    ({"event": "predicted_suds", "kind": "asked", "source": "start", "value": None}, START),
    (
        {"event": "predicted_suds", "kind": "answered", "value": 80, "latency": 4.5},
        START + 4.5,
    ),
    ({"event": "baseline", "hr_bpm": 71.5, "scl_us": 4.0, "text": "baseline"}, 20.5),
    (
        {"event": "intensity", "source": "controller", "step": 0, "target": 0.2, "previous": 0.0},
        20.5,
    ),
    (
        {
            "event": "intensity",
            "source": "therapist",
            "step": 1,
            "target": 0.5,
            "previous": 0.2,
            "reason": "Dr Smith raised a step",
            "text": "intensity 0.20 -> 0.50 (step 2, therapist): Dr Smith raised a step",
        },
        30.5,
    ),
    ({"event": "quality", "role": "eda", "flag": "flatline", "start": 31.0, "end": None}, 31.0),
    ({"event": "quality", "role": "eda", "flag": "flatline", "start": 31.0, "end": 34.0}, 34.0),
    ({"event": "quality", "role": "heart", "flag": "dropout", "start": 80.0, "end": None}, 80.0),
    (
        {"event": "intensity", "source": "safety", "step": 0, "target": 0.2, "previous": 0.5},
        40.5,
    ),
    ({"event": "suds", "kind": "asked", "source": "schedule", "value": None}, 50.5),
    ({"event": "suds", "kind": "timeout", "value": None}, 70.5),
    ({"event": "gap", "role": "hr", "start": 60.0, "end": 66.0, "reopened": False}, 66.0),
    (
        {
            "event": "command",
            "command": "scene_event",
            "source": "console",
            "scene_event": "cough",
            "operator": "Dr Smith",
            "applied": True,
        },
        55.0,
    ),
    (
        {
            "event": "command",
            "command": "note",
            "source": "console",
            "operator": "Dr Smith",
            "text": "Jane Doe looked pale",
        },
        56.0,
    ),
    ({"event": "clock", "stream": "BITalino", "clock": "lsl", "offset_s": 0.0}, 1.0),
    ({"event": "stop", "state": "aborted", "text": "session aborted: stop key"}, 85.5),
]


def _session(path: Path) -> Path:
    rec = SessionFile(path, participant="P-0100", protocol="hand-made")
    _bitalino(rec)
    _polar(rec)
    for event, t in MARKERS:
        rec.marker(event, t)
    return rec.close()


def test_regular_streams_keep_every_row_at_its_time_and_name_the_device(tmp_path: Path) -> None:
    data = load_session(_session(tmp_path / "rec.xdf"))
    t_zero = time_zero(data)
    assert t_zero == START
    tables = {t.label: t for t in physio_tables(data, t_zero)}
    assert sorted(tables) == ["ecg", "eda", "hr"]
    ecg = tables["ecg"]
    assert ecg.sidecar["SamplingFrequency"] == 100.0 and ecg.sidecar["Columns"] == ["ecg"]
    assert ecg.sidecar["StartTime"] == -START and ecg.sidecar["ecg"]["Units"] == "mV"
    assert ecg.sidecar["Manufacturer"] == "PLUX"
    assert ecg.sidecar["ManufacturersModelName"] == "BITalino"
    assert ecg.sidecar["DeviceSerialNumber"] == "98:D3"
    rows = ecg.values
    assert rows.size == 9000  # 0.00 .. 89.99 s: the dropout keeps its rows
    assert np.isnan(rows[1000:1200]).all() and np.isfinite(np.delete(rows, range(1000, 1200))).all()
    np.testing.assert_allclose(rows[1200], data.roles["heart"].values[1000])
    assert tables["eda"].sidecar["eda"]["Units"] == "uS"
    lines = gzip.decompress(physio_bytes(ecg)).decode().splitlines()
    assert len(lines) == 9000 and lines[1000] == "n/a" and "\t" not in lines[0]
    assert float(lines[1200]) == pytest.approx(rows[1200], rel=1e-6)


def test_irregular_heart_rate_is_interpolated_at_4_hz_with_gaps_left_empty(
    tmp_path: Path,
) -> None:
    data = load_session(_session(tmp_path / "rec.xdf"))
    (hr,) = [t for t in physio_tables(data, time_zero(data)) if t.label == "hr"]
    stamps, bpm = data.roles["hr"].timestamps, data.roles["hr"].values
    assert hr.sidecar["SamplingFrequency"] == 4.0 and hr.sidecar["Columns"] == ["heart_rate"]
    assert hr.sidecar["heart_rate"]["Units"] == "bpm"
    assert "interpolated onto a 4 Hz grid" in hr.sidecar["heart_rate"]["Description"]
    assert hr.sidecar["StartTime"] == pytest.approx(stamps[0] - START, abs=1e-6)
    grid_t = stamps[0] + np.arange(hr.values.size) / 4.0
    assert grid_t[-1] <= stamps[-1] < grid_t[-1] + 0.25
    in_gap = (grid_t > stamps[stamps < GAP[0]][-1]) & (grid_t < stamps[stamps >= GAP[1]][0])
    assert in_gap.sum() >= 20 and np.isnan(hr.values[in_gap]).all()
    elsewhere = ~in_gap
    np.testing.assert_allclose(hr.values[elsewhere], np.interp(grid_t[elsewhere], stamps, bpm))


def test_every_marker_kind_becomes_an_event_without_names_or_free_text(tmp_path: Path) -> None:
    data = load_session(_session(tmp_path / "rec.xdf"))
    rows = session_events(data, time_zero(data))
    got = [(r.onset, r.duration, r.trial_type, r.value, r.step, r.source, r.role) for r in rows]
    assert got == [
        (0.0, None, "state_baseline", None, None, None, None),
        (0.0, None, "session_start", None, None, None, None),
        (0.0, None, "predicted_suds_asked", None, None, "start", None),
        (4.5, None, "predicted_suds_answered", 80, None, None, None),
        (20.0, None, "baseline_end", 71.5, None, None, None),
        (20.0, 10.0, "intensity_step", 0.2, 1, "controller", None),
        (30.0, 10.0, "override", 0.5, 2, "therapist", None),
        (30.5, 3.0, "quality_flatline", None, None, None, "eda"),
        (40.0, 45.0, "safety_step", 0.2, 1, "safety", None),
        (50.0, None, "suds_asked", None, None, "schedule", None),
        (54.5, None, "scene_event", "cough", None, "console", None),
        (55.5, None, "command_note", None, None, "console", None),
        (59.5, 6.0, "signal_gap", None, None, None, "hr"),
        (70.0, None, "suds_timeout", None, None, None, None),
        (79.5, 5.5, "quality_dropout", None, None, None, "heart"),
        (85.0, None, "session_stop", None, None, None, None),
    ]
    answered = next(r for r in rows if r.trial_type == "predicted_suds_answered")
    assert answered.response_time == 4.5
    text = events_tsv(rows)
    assert "Dr Smith" not in text and "Jane Doe" not in text
    assert "(step 2, therapist): operator raised a step" in text
    header, first, *_ = text.splitlines()
    assert header.split("\t")[:3] == ["onset", "duration", "trial_type"]
    assert first.split("\t")[:3] == ["0", "n/a", "state_baseline"]


def _session_folder(base: Path) -> Path:
    """A session folder made by hand (no manifest, no audit log beside it)."""
    folder = base / "sessions" / "P-0100" / "20261201-093000-hand-made"
    folder.mkdir(parents=True)
    _session(folder / "recording.xdf")
    (folder / "consent.json").write_text(json.dumps({"streams": ["heart", "eda", "hr"]}))
    return folder


def test_cli_exports_a_dataset_the_bids_validator_accepts(tmp_path: Path) -> None:
    folder = _session_folder(tmp_path)
    before = snapshot(tmp_path / "sessions")
    out = tmp_path / "bids"
    r = vrtherapy("export", str(folder), "--format", "bids", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == (
        f"export: BIDS dataset {out}: 1 sessions of 1 participants, 8 files"
    )
    assert validate(out) == []
    beh = out / "sub-P0100" / "ses-1" / "beh"
    stem = "sub-P0100_ses-1_task-handmade"
    physio = [f"{stem}_recording-{k}_physio" for k in ("ecg", "eda", "hr")]
    expected = [f"{stem}_events.tsv", f"{stem}_events.json"]
    expected += [f"{name}.{ext}" for name in physio for ext in ("tsv.gz", "json")]
    assert sorted(p.name for p in beh.iterdir()) == sorted(expected)
    sidecar = json.loads((beh / f"{stem}_events.json").read_text())
    assert "override" in sidecar["trial_type"]["Levels"]
    assert (out / "participants.tsv").read_text() == "participant_id\nsub-P0100\n"
    description = json.loads((out / "dataset_description.json").read_text())
    assert (
        description["DatasetType"] == "raw" and description["GeneratedBy"][0]["Name"] == "vrtherapy"
    )
    unchanged(tmp_path / "sessions", before)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".bids")]


def test_cli_refusals_are_one_sentence_and_write_nothing(tmp_path: Path) -> None:
    folder = _session_folder(tmp_path)
    before = snapshot(tmp_path / "sessions")
    empty = tmp_path / "empty"
    empty.mkdir()
    bids = ("--format", "bids")
    cases = [
        ((str(empty), *bids, "--out", str(tmp_path / "o1")), "holds no session folders"),
        ((str(folder), *bids), "needs --out DIR"),
        ((str(folder), *bids, "--out", str(folder / "bids")), "inside the session folder"),
        ((str(folder), *bids, "--out", str(folder / "exports" / "b")), "inside the session"),
        ((str(tmp_path / "nowhere"), *bids, "--out", str(tmp_path / "o2")), "does not exist"),
        ((str(tmp_path), *bids, "--out", str(tmp_path / "sessions")), "not an empty folder"),
    ]
    for args, words in cases:
        r = vrtherapy("export", *args)
        assert r.returncode == 2, (args, r.stderr)
        assert words in r.stderr and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "sessions"]
    assert list(empty.iterdir()) == []
    unchanged(tmp_path / "sessions", before)


@pytest.mark.parametrize(
    "content",
    [b"", b"XDF:" + bytes(range(256)) * 4, b"not an xdf file at all\n", b"XDF:\x01\x05\x00\x02"],
    ids=["empty", "random-chunks", "not-xdf", "cut-header"],
)
def test_an_unreadable_recording_is_one_sentence_and_leaves_nothing(
    tmp_path: Path, content: bytes
) -> None:
    folder = _session_folder(tmp_path)
    (folder / "recording.xdf").write_bytes(content)
    before = snapshot(tmp_path / "sessions")
    out = tmp_path / "bids"
    r = vrtherapy("export", str(tmp_path / "sessions"), "--format", "bids", "--out", str(out))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    (error,) = [line for line in r.stderr.splitlines() if "error:" in line]  # (+ the warning
    assert "recording.xdf" in error, r.stderr  # that a folder without a manifest is unchecked)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sessions"]
    unchanged(tmp_path / "sessions", before)
