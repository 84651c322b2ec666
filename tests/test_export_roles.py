"""Export and replay by role: EDF+/CSV carry the roles converted to their units; replay
re-publishes each raw stream whole (all channels, original metadata, device clock)."""

from __future__ import annotations

import csv
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from recording_helpers import Role, SessionFile, Twin, lsl_info, twin, with_role_map
from waiting import wait_for

from biosignals.conversion import SignalSettings
from biosignals.lsl import import_pylsl
from biosignals.replay import Replayer
from engine.export.csv import export_csv
from engine.export.edf import export_edf
from engine.export.recording import load_physiology, load_session

SECONDS = 20.0
MAC = "98:D3:31:B2:11:34"
LABELS = ["nSeq", "ECGBIT1", "EDABITREV2", "A3", "A4", "A5", "A6"]


@pytest.fixture(scope="module")
def body() -> Twin:
    return twin(SECONDS)


def _bitalino(body: Twin, source: str = MAC) -> tuple[str, np.ndarray, np.ndarray]:
    units = ["", "microvolts", "uS", "", "", "", ""]
    info = lsl_info(
        "OpenSignals", MAC, 1000.0, "float32", list(zip(LABELS, units, strict=True)),
        source_id=source, desc={"manufacturer": "PLUX", "device": "BITalino"},
    )  # fmt: skip
    t = np.arange(1, round(SECONDS * 1000) + 1) / 1000.0
    values = np.zeros((t.size, 7), dtype=np.float32)
    values[:, 0] = np.arange(t.size) % 16
    values[:, 1] = np.interp(t, body.ecg_t, body.ecg) * 1000.0  # microvolts
    values[:, 2] = np.interp(t, body.eda_t, body.eda)
    values[:, 3:] = np.arange(4) + 0.5
    return with_role_map(info, [Role("heart", 1), Role("eda", 2)]), values, t


@pytest.fixture(scope="module")
def recording(body: Twin, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """BITalino (ECG in microvolts + EDA on one 7-channel stream) and RR intervals (hr)."""
    rec = SessionFile(tmp_path_factory.mktemp("roles") / "recording.xdf")
    info, values, t = _bitalino(body)
    rec.raw(info, values, t)
    rr = lsl_info("PolarH10 RR", "RR", 0.0, "float32", [("RR", "ms")])
    rr_ms = np.diff(body.beats) * 1000.0
    rec.raw(with_role_map(rr, [Role("hr", 0, SignalSettings(content="rr_ms"))]), rr_ms[:, None],
            body.beats[1:])  # fmt: skip
    for k in range(int(SECONDS)):
        rec.intensity(0.1 * (k % 5), float(k))
    rec.marker({"event": "start", "text": "session start"}, 0.0)
    rec.beats(
        "heart", body.beats, np.r_[np.nan, np.diff(body.beats)], 60 / np.r_[1, np.diff(body.beats)]
    )
    return rec.close()


def test_edf_holds_the_roles_converted_with_units(recording: Path, tmp_path: Path) -> None:
    import pyedflib

    data = load_session(recording)
    out = export_edf(recording, tmp_path / "r.edf")
    reader = pyedflib.EdfReader(str(out))
    try:
        labels = reader.getSignalLabels()
        assert labels == ["ECGBIT1 heart", "RR hr", "EDABITREV2 eda", "Intensity"]
        units = [reader.getPhysicalDimension(i) for i in range(4)]
        assert units == ["mV", "bpm", "uS", ""]
        assert [reader.getSampleFrequency(i) for i in range(4)] == [1000.0, 10.0, 1000.0, 10.0]
        assert reader.getTransducer(0) == "OpenSignals channel 2"
        heart = data.roles["heart"]
        got = reader.readSignal(0)
        step = (reader.getPhysicalMaximum(0) - reader.getPhysicalMinimum(0)) / 65535
        idx = np.rint((heart.timestamps - data.t0) * 1000.0).astype(int)
        assert np.max(np.abs(got[idx] - heart.values)) <= step * 0.51 + 1e-9
        assert 0.3 < float(np.max(np.abs(got))) < 5.0  # mV, not the recorded microvolts
        hr = reader.readSignal(1)  # bpm held at 10 Hz
        assert abs(float(np.median(hr[20:])) - float(np.median(data.roles["hr"].values))) < 3.0
    finally:
        reader.close()


def test_edf_of_an_older_recording_reads_roles_by_type(body: Twin, tmp_path: Path) -> None:
    import pyedflib

    rec = SessionFile(tmp_path / "old.xdf")
    rec.raw(lsl_info("dev-ECG", "ECG", 500.0, "float32", [("II", "millivolts")]),
            body.ecg[:, None], body.ecg_t)  # fmt: skip
    rec.raw(lsl_info("dev-GSR", "GSR", 32.0, "float32", [("GSR", "microsiemens")]),
            body.eda[:, None], body.eda_t)  # fmt: skip
    out = export_edf(rec.close(), tmp_path / "old.edf")
    reader = pyedflib.EdfReader(str(out))
    try:
        assert reader.getSignalLabels() == ["II heart", "GSR eda"]
        assert [reader.getPhysicalDimension(i) for i in range(2)] == ["mV", "uS"]
        got = reader.readSignal(1)
        assert abs(float(np.median(got)) - float(np.median(body.eda))) < 0.01
    finally:
        reader.close()


def test_csv_holds_roles_and_raw_streams_whole(recording: Path, tmp_path: Path) -> None:
    paths = export_csv(recording, tmp_path / "csv")
    names = [p.name for p in paths]
    assert names[:3] == ["role-heart.csv", "role-hr.csv", "role-eda.csv"]
    assert {"OpenSignals.csv", "PolarH10_RR.csv", "vrtherapy-beats-heart.csv"} <= set(names)
    with (tmp_path / "csv" / "role-heart.csv").open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["lsl_time_s", "time_s", "ECGBIT1 heart [mV]"]
    data = load_session(recording)
    np.testing.assert_allclose([float(r[2]) for r in rows[1:]], data.roles["heart"].values,
                               rtol=1e-8)  # fmt: skip
    raw = np.loadtxt(tmp_path / "csv" / "OpenSignals.csv", delimiter=",", skiprows=1)
    assert raw.shape == (data.physiology[0].samples.shape[0], 9)
    np.testing.assert_array_equal(raw[:, 2:].astype(np.float32), data.physiology[0].samples)
    header = (tmp_path / "csv" / "OpenSignals.csv").read_text().splitlines()[0]
    assert header.startswith("lsl_time_s,time_s,nSeq,ECGBIT1 [microvolts],EDABITREV2 [uS]")
    assert (tmp_path / "csv" / "role-hr.csv").read_text().splitlines()[0].endswith("RR hr [bpm]")


def _pull_all(inlet: object, n: int, timeout: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    values, stamps = [], []

    def arrived() -> bool:  # pull_chunk blocks until data comes (0.2 s at most)
        v, t = inlet.pull_chunk(timeout=0.2)  # type: ignore[attr-defined]
        if t:
            values.append(np.asarray(v))
            stamps.append(np.asarray(t))
        return sum(len(x) for x in stamps) >= n

    wait_for(arrived, timeout, interval=0.0, what=f"{n} replayed samples")
    return np.concatenate(values), np.concatenate(stamps)


@pytest.mark.lsl
def test_replay_publishes_every_channel_with_the_original_info(body: Twin, tmp_path: Path) -> None:
    """A 7-channel stream replays as 7 channels with the device's <desc> (not the role
    map); a stream the session found stamped with Unix time (``clock: auto`` and its
    ``clock`` marker) is stamped on the Unix clock again."""
    pylsl = import_pylsl()
    tag = uuid.uuid4().hex[:8]
    info, values, t = _bitalino(body, source=f"{MAC}-{tag}")
    keep = t < 2.0
    rec = SessionFile(tmp_path / "recording.xdf")
    rec.raw(info, values[keep], t[keep])
    muse = lsl_info("Muse-PPG", "PPG", 64.0, "float32", [("PPG1", ""), ("PPG2", "")],
                    source_id=f"muse-{tag}")  # fmt: skip
    ppg_t = np.arange(1, 129) / 64.0
    ppg = np.column_stack([np.sin(ppg_t), np.cos(ppg_t)]).astype(np.float32)
    rec.raw(with_role_map(muse, [Role("ppg", 1)], clock="auto"), ppg, ppg_t)
    clock = {"event": "clock", "stream": "Muse-PPG", "roles": ["ppg"], "clock": "unix"}
    rec.marker({**clock, "offset_s": -1.7e9, "text": "Muse-PPG stamps with Unix time"}, 0.1)
    streams = load_physiology(rec.close())
    assert [s.clock for s in streams] == ["lsl", "unix"]
    assert "<vrtherapy>" in streams[0].info_xml  # the loaded raw stream is untouched
    replayer = Replayer(streams, speed=1.0)
    replayer.open()
    inlets = []
    for s in streams:
        found = pylsl.resolve_byprop("source_id", s.source_id, timeout=5.0)
        assert found, s.source_id
        inlet = pylsl.StreamInlet(found[0])
        inlet.open_stream(timeout=5.0)
        inlets.append(inlet)
    try:
        now = pylsl.local_clock()
        replayer.step(now)
        replayer.step(now + replayer.duration + 1.0)
        assert replayer.done
        got, stamps = _pull_all(inlets[0], int(keep.sum()))
        assert got.shape == (int(keep.sum()), 7)
        np.testing.assert_array_equal(got.astype(np.float32), values[keep])
        np.testing.assert_allclose(np.diff(stamps), np.diff(t[keep]), atol=1e-6)
        full = ET.fromstring(inlets[0].info(timeout=5.0).as_xml())
        assert full.findtext("type") == MAC and full.findtext("channel_count") == "7"
        assert full.findtext("desc/manufacturer") == "PLUX"
        assert full.findtext("desc/device") == "BITalino"
        labels = [c.findtext("label") for c in full.findall("desc/channels/channel")]
        assert labels == LABELS and full.find("desc/vrtherapy") is None
        got2, stamps2 = _pull_all(inlets[1], ppg_t.size)
        np.testing.assert_array_equal(got2.astype(np.float32), ppg)
        assert abs(float(stamps2[0]) - time.time()) < 60.0  # Unix time, as the device sent
    finally:
        for inlet in inlets:
            inlet.close_stream()
        replayer.stop()
