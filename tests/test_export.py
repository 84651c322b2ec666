"""Reading recordings (fast reader vs pyxdf) and exporting them to EDF+ and CSV.

The EDF+ file is read back with pyedflib, a second, independent EDF reader.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
import pyxdf

from biosignals.twin import TwinProfile
from engine.errors import RecordingError, VrTherapyError
from engine.export.cli import add_export_parser, cmd_export
from engine.export.csv import export_csv
from engine.export.edf import MAX_TEXT, export_edf
from engine.export.recording import load_physiology, load_session
from engine.export.xdfread import read_xdf
from engine.live import RunOptions, SessionResult, run_simulated, with_duration
from engine.protocol import load_protocol, resolve_seed


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> SessionResult:
    """A real 90 s dry-run session of the heights demo."""
    out = tmp_path_factory.mktemp("export-session")
    protocol = with_duration(load_protocol(resolve_seed("protocols", "heights-demo")), 90.0)
    return run_simulated(protocol, RunOptions(out=out, display="null"), TwinProfile())


def test_reader_matches_pyxdf_exactly(session: SessionResult) -> None:
    ours = {s.text("name"): s for s in read_xdf(session.recording).streams}
    theirs, header = pyxdf.load_xdf(str(session.recording), dejitter_timestamps=False)
    assert len(ours) == len(theirs) >= 6
    for st in theirs:
        mine = ours[st["info"]["name"][0]]
        np.testing.assert_array_equal(mine.timestamps, st["time_stamps"])
        if isinstance(mine.values, list):
            assert mine.values == st["time_series"]
        else:
            np.testing.assert_array_equal(mine.values, st["time_series"])
    assert read_xdf(session.recording).header["participant"] == header["info"]["participant"][0]


def test_session_is_sorted_into_parts(session: SessionResult) -> None:
    data = load_session(session.recording)
    types = sorted(s.type for s in data.physiology)
    assert types == ["ECG", "EDA"]
    ecg = next(s for s in data.physiology if s.type == "ECG")
    assert ecg.nominal_srate == 500.0 and ecg.meta.channel_labels == ("ECG",)
    assert data.features is not None and data.features.labels[0] == "heart_rate"
    assert data.intensity is not None and data.frames is not None
    summary = json.loads((session.folder / "summary.json").read_text())
    assert len(data.events("intensity")) == len(summary["decisions"]) > 0
    assert [m.kind for m in data.markers].count("stop") == 1
    assert load_physiology(session.recording)[0].samples.shape[1] == 1


def test_torn_tail_reads_up_to_the_cut(session: SessionResult, tmp_path: Path) -> None:
    raw = session.recording.read_bytes()
    cut = tmp_path / "cut.xdf"
    cut.write_bytes(raw[: len(raw) - 1000])
    data = load_session(cut)
    assert data.truncated
    full = load_session(session.recording)
    assert 0 < data.physiology[0].timestamps.size <= full.physiology[0].timestamps.size


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty"), (b"PK\x03\x04 not xdf at all", "not an XDF file")],
)
def test_bad_files_raise_recording_error(tmp_path: Path, content: bytes, message: str) -> None:
    bad = tmp_path / "bad.xdf"
    bad.write_bytes(content)
    with pytest.raises(RecordingError, match=message):
        load_session(bad)
    with pytest.raises(RecordingError, match=message):
        export_edf(bad, tmp_path / "x.edf")


def test_edf_read_back_by_pyedflib(session: SessionResult, tmp_path: Path) -> None:
    import pyedflib  # the second, independent reader (dev extra)

    out = export_edf(session.recording, tmp_path / "s.edf")
    data = load_session(session.recording)
    t0 = data.t0
    reader = pyedflib.EdfReader(str(out))
    try:
        labels = reader.getSignalLabels()
        assert labels == ["ECG heart", "EDA eda", "Intensity"]
        rates = [reader.getSampleFrequency(i) for i in range(reader.signals_in_file)]
        assert rates == [500.0, 32.0, 10.0]
        assert reader.getPhysicalDimension(0) == "mV"
        assert reader.getPhysicalDimension(1) == "uS"
        assert reader.getPatientCode() == data.header["participant"]
        start = dt.datetime.fromisoformat(data.header["datetime"]).replace(tzinfo=None)
        assert reader.getStartdatetime() == start
        for i, role in enumerate(("heart", "eda")):
            signal = data.roles[role]
            got = reader.readSignal(i)
            step = (reader.getPhysicalMaximum(i) - reader.getPhysicalMinimum(i)) / 65535
            idx = np.rint((signal.timestamps - t0) * signal.nominal_srate).astype(int)
            assert np.max(np.abs(got[idx] - signal.values)) <= step * 0.51 + 1e-9
        onsets, _, texts = reader.readAnnotations()
    finally:
        reader.close()
    intensity = [(o, t) for o, t in zip(onsets, texts, strict=True) if t.startswith("intensity")]
    decisions = data.events("intensity")
    assert len(intensity) == len(decisions)
    for (onset, text), m in zip(intensity, decisions, strict=True):
        assert abs(onset - (m.time - t0)) < 1e-3
        assert f"[{m.event['source']}]" in text and len(text) <= MAX_TEXT
    assert any(t.startswith("session start") for t in texts)
    assert any(t.startswith("session finished") for t in texts)


def test_edf_refuses_to_overwrite(session: SessionResult, tmp_path: Path) -> None:
    out = tmp_path / "s.edf"
    out.write_bytes(b"keep me")
    with pytest.raises(VrTherapyError, match="already exists"):
        export_edf(session.recording, out)
    assert out.read_bytes() == b"keep me"
    export_edf(session.recording, out, force=True)
    assert out.read_bytes()[:8] == b"0       "


def test_csv_export(session: SessionResult, tmp_path: Path) -> None:
    paths = export_csv(session.recording, tmp_path / "csv")
    names = [p.name for p in paths]
    assert names[-1] == "events.csv"
    assert "vrtherapy-twin-ECG.csv" in names and "vrtherapy-features.csv" in names
    assert names[:2] == ["role-heart.csv", "role-eda.csv"]
    role = (tmp_path / "csv" / "role-heart.csv").read_text().splitlines()
    assert role[0] == "lsl_time_s,time_s,ECG heart [mV]"
    data = load_session(session.recording)
    ecg = next(s for s in data.physiology if s.type == "ECG")
    table = np.loadtxt(tmp_path / "csv" / "vrtherapy-twin-ECG.csv", delimiter=",", skiprows=1)
    header = (tmp_path / "csv" / "vrtherapy-twin-ECG.csv").read_text().splitlines()[0]
    assert header == "lsl_time_s,time_s,ECG [millivolts]"
    np.testing.assert_array_equal(table[:, 2].astype(np.float32), ecg.samples[:, 0])
    np.testing.assert_allclose(table[:, 1], ecg.timestamps - data.t0, atol=1e-6)
    with (tmp_path / "csv" / "events.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(data.markers)
    assert sum(r["event"] == "intensity" for r in rows) == len(data.events("intensity"))
    with pytest.raises(VrTherapyError, match="already exists"):
        export_csv(session.recording, tmp_path / "csv")


def test_export_command(
    session: SessionResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    add_export_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "cli.edf"
    args = parser.parse_args(["export", str(session.recording), "--format", "edf", "-o", str(out)])
    assert cmd_export(args) == 0
    assert out.exists() and str(out) in capsys.readouterr().out
    args = parser.parse_args(
        ["export", str(session.recording), "--format", "csv", "-o", str(tmp_path / "c")]
    )
    assert cmd_export(args) == 0
    assert (tmp_path / "c" / "events.csv").exists()
