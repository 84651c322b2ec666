"""The role map in the recording (docs/recording.md): raw streams whole, roles and their
conversions in the header, consented channels only, live beats and SCRs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import pyxdf
from session_helpers import make_session

from biosignals.conversion import Conversion, SignalSettings
from biosignals.reconnect import StreamPredicate
from biosignals.role_streams import RoleRequest, SharedStream, bind_roles
from biosignals.streams import FakeInlet, stream_meta
from engine.protocol import load_protocol, resolve_seed
from engine.record import XdfRecorder
from engine.record.rolemap import raw_stream_spec
from engine.session_record import SessionRecording

INFO = """<?xml version="1.0"?>
<info><name>OpenSignals</name><type>00:07:80:4D:2E:76</type><channel_count>4</channel_count>
<channel_format>float32</channel_format><source_id>00:07:80:4D:2E:76</source_id>
<nominal_srate>1000.000000000000</nominal_srate><version>1.1</version><uid>abc-1</uid>
<desc><manufacturer>PLUX</manufacturer><channels>
<channel><label>nSeq</label><unit></unit></channel>
<channel><label>ECGBIT1</label><unit>mV</unit></channel>
<channel><label>EDABITREV2</label><unit>uS</unit></channel>
<channel><label>ACCBITREV0</label><unit>g</unit></channel>
</channels></desc></info>"""


def _stream() -> tuple[FakeInlet, SharedStream]:
    inlet = FakeInlet(stream_meta(INFO))
    reqs = [
        RoleRequest(
            "heart", StreamPredicate(name="OpenSignals"), "ECGBIT1", SignalSettings(), "mV"
        ),
        RoleRequest("eda", StreamPredicate(name="OpenSignals"), 2, SignalSettings(), "uS"),
    ]
    return inlet, SharedStream(inlet, bind_roles(inlet.meta, reqs), keep_raw=True)


def test_raw_stream_header_keeps_the_original_and_adds_the_role_map(tmp_path: Path) -> None:
    _inlet, stream = _stream()
    spec = raw_stream_spec(stream)
    assert spec.channel_count == 4 and spec.channel_format == "float32"
    xml = spec.to_xml()
    assert xml.startswith(INFO[: INFO.index("</desc>")])  # the original, byte for byte
    root = ET.fromstring(xml)
    assert root.findtext("desc/manufacturer") == "PLUX"
    assert root.findtext("uid") == "abc-1"
    node = root.find("desc/vrtherapy")
    assert node is not None
    assert node.findtext("timestamps") == "session" and node.findtext("clock") == "auto"
    roles = {r.findtext("name"): r for r in node.findall("roles/role")}
    assert set(roles) == {"heart", "eda"}
    heart = roles["heart"]
    assert heart.findtext("channel_index") == "1" and heart.findtext("channel_label") == "ECGBIT1"
    assert heart.findtext("unit") == "mV" and heart.findtext("unit_declared") == "mV"
    assert json.loads(heart.findtext("settings") or "")["content"] == "waveform"
    withheld = [int(e.text or "") for e in node.findall("withheld/channel_index")]
    assert withheld == [0, 3]


def test_recorded_values_convert_back_exactly_as_live(tmp_path: Path) -> None:
    meta_xml = INFO.replace("<unit>mV</unit>", "<unit>microvolts</unit>")
    inlet = FakeInlet(stream_meta(meta_xml))
    req = RoleRequest("heart", StreamPredicate(name="x"), 1, SignalSettings(), "mV")
    stream = SharedStream(inlet, bind_roles(inlet.meta, [req]), keep_raw=True)
    rec = XdfRecorder(tmp_path / "r.xdf")
    rec.start()
    recording = SessionRecording(rec)
    recording.add_source("raw0", raw_stream_spec(stream), stream.withheld)
    data = np.column_stack(
        [np.arange(50.0), np.linspace(-500, 1500, 50), np.ones(50), -np.ones(50)]
    )
    data = data.astype(np.float32).astype(np.float64)  # what a float32 stream delivers
    inlet.push(data, 10.0 + np.arange(50) / 1000.0)
    live, _ = stream.views["heart"].pull()
    for values, stamps in stream.drain_raw():
        recording.raw("raw0", values, stamps)
    recording.flush()
    rec.close()
    (s,) = [
        x
        for x in pyxdf.load_xdf(str(tmp_path / "r.xdf"))[0]
        if x["info"]["name"][0] == "OpenSignals"
    ]
    series = np.asarray(s["time_series"])
    assert series.shape == (50, 4)
    assert np.isnan(series[:, [0, 2, 3]]).all()  # no role reads them: not recorded
    (role,) = ET.fromstring(raw_stream_spec(stream).to_xml()).findall("desc/vrtherapy/roles/role")
    conv = Conversion(
        role.findtext("conversion"),  # type: ignore[arg-type]
        float(role.findtext("offset") or ""),
        float(role.findtext("gain") or ""),
        float(role.findtext("numerator") or ""),
        role.findtext("source_unit") or "",
        role.findtext("unit") or "",
    )
    np.testing.assert_array_equal(conv(series[:, 1]), live)  # uV -> mV, as the session saw it
    assert role.findtext("source_unit") == "uV"


def test_a_session_records_its_beats_and_scrs(tmp_path: Path) -> None:
    protocol = load_protocol(resolve_seed("protocols", "heights-demo"))
    session, feed, recorder = make_session(tmp_path, protocol)
    summary = session.run()
    recorder.close()
    streams, _ = pyxdf.load_xdf(str(tmp_path / "rec.xdf"))
    by = {s["info"]["name"][0]: s for s in streams}
    beats = by["vrtherapy-beats-heart"]
    rr_hr = np.asarray(beats["time_series"])
    truth = np.asarray(feed.beat_times)
    assert len(beats["time_stamps"]) == pytest.approx(truth.size, rel=0.02)
    assert np.nanmedian(np.abs(60.0 / rr_hr[1:, 0] - rr_hr[1:, 1])) < 15  # HR near 60/RR
    scr = np.asarray(by["vrtherapy-scr"]["time_series"])
    assert scr.shape[1] == 3 and len(scr) >= 3
    assert np.all(scr[:, 1] > 0) and np.all(by["vrtherapy-scr"]["time_stamps"] > scr[:, 0])
    ecg_header = by["vrtherapy-twin-ECG"]["info"]["desc"][0]["vrtherapy"][0]
    assert ecg_header["roles"][0]["role"][0]["name"] == ["heart"]
    assert summary.frames > 0
