"""Readers find physiology by role (docs/recording.md), never by LSL stream type.

Each recording here is written with the engine's recorder, its raw streams carrying the
``<desc><vrtherapy>`` role map a session writes, laid out like the real bridges of issue
#13: BrainAmp (ECG on an ``EEG``-typed amplifier, microvolts), OpenSignals (BITalino, type
a MAC address, ECG and EDA on one 7-channel stream), int16 counts with a scale, App-Zephyr
(ECG back-dated per 63-sample packet), RR intervals at rate 0, and an older recording
without role maps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from recording_helpers import Role, SessionFile, Twin, lsl_info, twin, with_role_map

from biosignals.conversion import SignalSettings
from engine.errors import RecordingError
from engine.export.recording import load_physiology, load_session
from engine.report import build_report
from engine.report.model import build_model

SECONDS = 60.0


@pytest.fixture(scope="module")
def body() -> Twin:
    return twin(SECONDS)


def _report_model(path: Path) -> tuple[str, object]:
    data = load_session(path)
    model = build_model(data, {})
    html = build_report(path, path.with_suffix(".html")).read_text(encoding="utf-8")
    return html, model


def _beat_hr(model: object) -> float:
    series = model.series  # type: ignore[attr-defined]
    assert series["beat_hr"].size > 30
    return float(np.median(series["beat_hr"]))


def test_ecg_on_an_eeg_typed_amplifier_in_microvolts(tmp_path: Path, body: Twin) -> None:
    """BrainAmp: 32 channels typed EEG, the ECG lead on channel 5 in microvolts."""
    labels = [f"E{k}" for k in range(32)]
    labels[5] = "ECG"
    info = lsl_info(
        "BrainAmpSeries", "EEG", 500.0, "float32", [(x, "microvolts") for x in labels],
        desc={"manufacturer": "Brain Products"},
    )  # fmt: skip
    rng = np.random.default_rng(1)
    values = rng.normal(0.0, 20.0, (body.ecg.size, 32)).astype(np.float32)
    values[:, 5] = (body.ecg * 1000.0).astype(np.float32)
    rec = SessionFile(tmp_path / "brainamp.xdf")
    rec.raw(with_role_map(info, [Role("heart", 5)]), values, body.ecg_t)
    path = rec.close()

    data = load_session(path)
    heart = data.roles["heart"]
    assert (heart.stream, heart.stream_type, heart.channel_index) == ("BrainAmpSeries", "EEG", 5)
    assert heart.unit == "mV" and heart.label == "ECG" and heart.title == "ECG heart (mV)"
    np.testing.assert_allclose(heart.values, values[:, 5].astype(np.float64) * 0.001)
    assert data.physiology[0].samples.shape == (body.ecg.size, 32)  # raw stream whole
    html, model = _report_model(path)
    assert abs(_beat_hr(model) - body.hr_bpm) < 3.0
    assert "ECG heart (mV)" in html and "uV -&gt; mV: (x - 0) * 0.001" in html
    assert "No heart role" not in html


def _opensignals(body: Twin) -> tuple[str, np.ndarray, np.ndarray]:
    """BITalino via OpenSignals: 1000 Hz, type = device MAC, ECG mV on 1, EDA uS on 2."""
    labels = ["nSeq", "ECGBIT1", "EDABITREV2", "A3", "A4", "A5", "A6"]
    units = ["", "mV", "uS", "", "", "", ""]
    mac = "98:D3:31:B2:11:34"
    channels = list(zip(labels, units, strict=True))
    desc = {"manufacturer": "PLUX"}
    info = lsl_info("OpenSignals", mac, 1000.0, "float32", channels, source_id=mac, desc=desc)
    t = np.arange(1, round(SECONDS * 1000) + 1) / 1000.0
    values = np.zeros((t.size, 7), dtype=np.float32)
    values[:, 0] = np.arange(t.size) % 16
    values[:, 1] = np.interp(t, body.ecg_t, body.ecg)
    values[:, 2] = np.interp(t, body.eda_t, body.eda)
    values[:, 3:] = np.arange(4)
    return with_role_map(info, [Role("heart", 1), Role("eda", 2)]), values, t


def test_two_roles_on_one_multichannel_stream(tmp_path: Path, body: Twin) -> None:
    info, values, t = _opensignals(body)
    rec = SessionFile(tmp_path / "bitalino.xdf")
    rec.raw(info, values, t)
    path = rec.close()

    data = load_session(path)
    assert sorted(data.roles) == ["eda", "heart"] and len(data.physiology) == 1
    assert data.roles["heart"].label == "ECGBIT1" and data.roles["eda"].channel_index == 2
    np.testing.assert_array_equal(data.roles["eda"].values, values[:, 2].astype(np.float64))
    assert data.physiology[0].samples.shape == (t.size, 7)
    html, model = _report_model(path)
    assert abs(_beat_hr(model) - body.hr_bpm) < 3.0
    series = model.series  # type: ignore[attr-defined]
    assert series["eda"].size == t.size and series["scr_t"].size > 0
    assert html.count('<tr class="role">') == 2


def test_int16_counts_with_a_scale(tmp_path: Path, body: Twin) -> None:
    info = lsl_info("Shimmer_ECG", "Shimmer3", 500.0, "int16", [("ECG LL-RA", "")])
    counts = np.round(body.ecg / 0.005).astype(np.int16)
    settings = SignalSettings(unit="counts", scale=0.005, offset=-3.0)
    rec = SessionFile(tmp_path / "shimmer.xdf")
    rec.raw(with_role_map(info, [Role("heart", 0, settings)]), counts[:, None], body.ecg_t)
    path = rec.close()

    data = load_session(path)
    assert data.physiology[0].samples.dtype == np.int16
    heart = data.roles["heart"]
    np.testing.assert_array_equal(heart.values, (counts.astype(np.float64) + 3.0) * 0.005)
    _, model = _report_model(path)
    assert abs(_beat_hr(model) - body.hr_bpm) < 3.0


def _zephyr_stamps(n: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    """App-Zephyr: each 63-sample packet is stamped backwards from its arrival time."""
    k = np.arange(n)
    packet, pos = k // 63, k % 63
    true_last = (packet * 63 + 62 + 1) / rate
    arrival = true_last + rng.uniform(0.0, 0.040, packet.max() + 1)[packet]
    return arrival - (62 - pos) / rate


@pytest.mark.parametrize("role_map", [True, False], ids=["role-map", "older-recording"])
def test_back_dated_ecg_packets_do_not_stop_the_report(
    tmp_path: Path, body: Twin, role_map: bool
) -> None:
    """Stamps step back by up to 36 ms at packet joins; no live beats in the file, so the
    report re-detects beats offline, as the live pipeline does (non-decreasing stamps)."""
    ecg = body.ecg[::2]  # 250 Hz
    stamps = _zephyr_stamps(ecg.size, 250.0, np.random.default_rng(7))
    assert np.min(np.diff(stamps)) < -0.030
    info = lsl_info("ZephyrECG", "ECG", 250.0, "float32", [("ECG", "mV")])
    rec = SessionFile(tmp_path / "zephyr.xdf")
    rec.raw(with_role_map(info, [Role("heart", 0)]) if role_map else info, ecg[:, None], stamps)
    path = rec.close()

    data = load_session(path)
    np.testing.assert_array_equal(data.roles["heart"].timestamps, stamps)  # as recorded
    html, model = _report_model(path)
    assert abs(_beat_hr(model) - body.hr_bpm) < 3.0
    assert "detected offline" in html and "non-decreasing" not in html


def test_rr_intervals_at_rate_zero_and_hr_numbers_at_one_hz(tmp_path: Path) -> None:
    """``hr`` with rr_ms on an irregular stream, ``heart`` with hr_bpm at 1 Hz (Zephyr
    summary, type Misc): both are heart-rate numbers, never fed to a waveform extractor;
    the RR intervals give RMSSD."""
    body = twin(130.0)
    rr_ms = np.diff(body.beats) * 1000.0
    rr_info = lsl_info("PolarH10 RR", "RR", 0.0, "float32", [("RR", "ms")])
    summary = lsl_info("ZephyrSummary", "Misc", 1.0, "float32", [("HR", "bpm"), ("BR", "")])
    rows = np.column_stack([np.full(59, body.hr_bpm), np.full(59, 14.0)])
    rec = SessionFile(tmp_path / "hr.xdf")
    rr_role = Role("hr", 0, SignalSettings(content="rr_ms"))
    rec.raw(with_role_map(rr_info, [rr_role]), rr_ms[:, None], body.beats[1:])
    bpm_role = Role("heart", 0, SignalSettings(content="hr_bpm"))
    rec.raw(with_role_map(summary, [bpm_role]), rows, np.arange(1.0, 60.0))
    path = rec.close()

    data = load_session(path)
    np.testing.assert_allclose(data.roles["hr"].values, 60000.0 / rr_ms.astype(np.float32))
    assert data.roles["hr"].nominal_srate == 0.0 and data.roles["hr"].unit == "bpm"
    assert not data.roles["heart"].is_waveform
    html, model = _report_model(path)
    series = model.series  # type: ignore[attr-defined]
    assert abs(float(np.median(series["hr_stream"])) - body.hr_bpm) < 3.0
    assert "HRV from the RR intervals of RR hr (bpm)" in html
    rmssd = series["rmssd"][np.isfinite(series["rmssd"])]
    true_rmssd = 1000.0 * float(np.sqrt(np.mean(np.diff(np.diff(body.beats)) ** 2)))
    assert rmssd.size == 2 and np.all(np.abs(rmssd - true_rmssd) < 0.2 * true_rmssd)
    assert "sampling_rate" not in html
    summary_only = load_session(path)
    del summary_only.roles["hr"]
    assert (
        "HRV n/a: the heart roles carry heart-rate numbers, not beats."
        in build_model(summary_only, {}).notes
    )


def test_older_recording_without_role_maps_reads_by_type(tmp_path: Path, body: Twin) -> None:
    rec = SessionFile(tmp_path / "old.xdf")
    rec.raw(lsl_info("dev-ECG", "ECG", 500.0, "float32", [("II", "mV")]), body.ecg[:, None],
            body.ecg_t)  # fmt: skip
    rec.raw(lsl_info("dev-GSR", "GSR", 32.0, "float32", [("GSR", "uS")]), body.eda[:, None],
            body.eda_t)  # fmt: skip
    rec.raw(lsl_info("dev-Acc", "Accelerometer", 32.0, "float32", [("x", "g")]),
            body.eda[:, None], body.eda_t)  # fmt: skip
    path = rec.close()

    data = load_session(path)
    assert sorted(data.roles) == ["eda", "heart"] and not data.role_maps
    assert [s.name for s in data.other] == ["dev-Acc"]
    np.testing.assert_array_equal(data.roles["heart"].values, body.ecg.astype(np.float32))
    html, model = _report_model(path)
    assert abs(_beat_hr(model) - body.hr_bpm) < 3.0
    assert "role taken from the stream type" in html


def test_role_maps_win_over_stream_types(tmp_path: Path, body: Twin) -> None:
    """With role maps in the file, an ECG-typed stream the session did not read is not
    physiology: the session's roles say what is."""
    rec = SessionFile(tmp_path / "mixed.xdf")
    ecg = lsl_info("chest", "ExciteOMeter", 500.0, "float32", [("ECG", "mV")])
    rec.raw(with_role_map(ecg, [Role("heart", 0)]), body.ecg[:, None], body.ecg_t)
    rec.raw(lsl_info("spare", "ECG", 500.0, "float32", [("II", "mV")]), body.ecg[:, None],
            body.ecg_t)  # fmt: skip
    data = load_session(rec.close())
    assert list(data.roles) == ["heart"] and data.roles["heart"].stream == "chest"
    assert [s.name for s in data.other] == ["spare"]


def test_live_beats_and_scrs_are_preferred(tmp_path: Path, body: Twin) -> None:
    rec = SessionFile(tmp_path / "live.xdf")
    ecg = lsl_info("ecg", "ECG", 500.0, "float32", [("ECG", "mV")])
    rec.raw(with_role_map(ecg, [Role("heart", 0)]), body.ecg[:, None], body.ecg_t)
    eda = lsl_info("eda", "EDA", 32.0, "float32", [("EDA", "uS")])
    rec.raw(with_role_map(eda, [Role("eda", 0)]), body.eda[:, None], body.eda_t)
    times = np.arange(1.0, 59.0, 0.9)
    rr = np.concatenate([[np.nan], np.diff(times)])
    rec.beats("heart", times, rr, np.full(times.size, 66.5))
    peaks = np.array([12.0, 30.0, 47.5])
    rec.scrs(peaks, peaks - 1.5, np.array([0.2, 0.5, 0.3]))
    path = rec.close()

    data = load_session(path)
    assert data.beats["heart"].times.size == times.size and data.scr is not None
    html, model = _report_model(path)
    series = model.series  # type: ignore[attr-defined]
    assert set(series["beat_hr"].tolist()) == {66.5}
    np.testing.assert_allclose(series["scr_t"] + data.t0, peaks)
    np.testing.assert_allclose(series["scr_amp"], [0.2, 0.5, 0.3])
    assert f"Beats: {times.size} detected by the live session" in html
    assert "SCRs: 3 completed in the live session" in html


def test_no_role_data_is_one_clear_error(tmp_path: Path, body: Twin) -> None:
    rec = SessionFile(tmp_path / "norole.xdf")
    info = lsl_info("BrainAmpSeries", "EEG", 500.0, "float32", [("ECG", "microvolts")])
    rec.raw(info, body.ecg[:, None], body.ecg_t)
    rec.marker({"event": "start", "text": "session start"}, 0.5)
    path = rec.close()
    with pytest.raises(RecordingError) as err:
        load_session(path)
    message = str(err.value)
    assert "no stream carries a role map" in message and "<desc><vrtherapy><roles>" in message
    assert "BrainAmpSeries (type 'EEG')" in message and "vrtherapy-markers" in message
    with pytest.raises(RecordingError, match="role map"):
        build_report(path, tmp_path / "r.html")
    with pytest.raises(RecordingError, match="role map"):
        load_physiology(path)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("<gain>0.001</gain>", "<gain>abc</gain>", r"<role>\[1\] \(heart\) <gain>: 'abc' is not"),
        ("<channel_index>1</channel_index>", "<channel_index>9</channel_index>",
         r"<channel_index>: 9 is outside the stream's 2 channels"),
        ("<content>waveform</content>", "<content>ecg</content>", "<content>: 'ecg' is not one"),
        ("<format>1</format>", "<format>2</format>", "<format>: 2 is not 1"),
        ("<settings>{", "<settings>[{", "<settings>: not JSON"),
    ],
)  # fmt: skip
def test_malformed_role_map_names_stream_and_field(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    info = lsl_info("amp", "EEG", 500.0, "float32", [("Fp1", "uV"), ("ECG", "uV")])
    xml = with_role_map(info, [Role("heart", 1)])
    assert old in xml
    rec = SessionFile(tmp_path / "bad.xdf")
    rec.raw(xml.replace(old, new), np.zeros((3, 2), np.float32), np.array([1.0, 1.002, 1.004]))
    path = rec.close()
    with pytest.raises(RecordingError, match=message) as err:
        load_session(path)
    assert "stream 'amp' <desc><vrtherapy>" in str(err.value)


def test_clock_marker_and_withheld_channels(tmp_path: Path, body: Twin) -> None:
    """``clock: auto`` is resolved by the session's ``clock`` marker; channels no
    consented role reads are recorded blank and listed under ``<withheld>``."""
    labels = [f"E{k}" for k in range(8)]
    info = lsl_info("amp", "EEG", 500.0, "float32", [(x, "uV") for x in labels])
    values = np.full((body.ecg.size, 8), np.nan, dtype=np.float32)
    values[:, 3] = body.ecg * 1000.0
    rec = SessionFile(tmp_path / "auto.xdf")
    withheld = [0, 1, 2, 4, 5, 6, 7]
    xml = with_role_map(info, [Role("heart", 3)], clock="auto", withheld=withheld)
    rec.raw(xml, values, body.ecg_t)
    rec.marker({"event": "clock", "stream": "other", "roles": ["eda"], "clock": "unix"}, 0.0)
    clock = {"event": "clock", "stream": "amp", "roles": ["heart"], "clock": "lsl"}
    rec.marker({**clock, "offset_s": 0.25, "text": "amp: LSL clock"}, 0.1)
    path = rec.close()

    data = load_session(path)
    roles = data.stream_roles["amp"]
    assert (roles.clock, roles.clock_used, roles.clock_offset) == ("auto", "lsl", 0.25)
    assert roles.withheld == tuple(withheld) and data.physiology[0].clock == "lsl"
    html, model = _report_model(path)
    assert abs(_beat_hr(model) - body.hr_bpm) < 3.0
    assert "clock auto (used: lsl), offset 0.250 s" in html
    assert "Stream &#39;amp&#39;: 7 of its channels not recorded" in html


def test_streams_sharing_a_name_keep_their_roles(tmp_path: Path, body: Twin) -> None:
    """Two devices of one bridge publish under one name; XDF tells them apart by id."""
    from engine.record import xdf

    ecg = with_role_map(lsl_info("OpenSignals", "ECG", 500.0, "float32", [("ECG", "mV")]),
                       [Role("heart", 0)])  # fmt: skip
    eda = with_role_map(lsl_info("OpenSignals", "EDA", 32.0, "float32", [("EDA", "uS")]),
                        [Role("eda", 0)])  # fmt: skip
    parts = [xdf.MAGIC, xdf.file_header_chunk({"participant": "P-1"})]
    parts += [xdf.stream_header_chunk(1, ecg), xdf.stream_header_chunk(2, eda)]
    for sid, x, t in ((1, body.ecg, body.ecg_t), (2, body.eda, body.eda_t)):
        record = xdf.sample_dtype(np.dtype("<f4"), 1)
        parts.append(xdf.numeric_samples_chunk(sid, x[:, None], t, record))
    path = tmp_path / "twins.xdf"
    path.write_bytes(b"".join(parts))

    data = load_session(path)
    assert list(data.stream_roles) == ["OpenSignals", "OpenSignals#2"]
    assert data.roles["heart"].stream_type == "ECG" and data.roles["eda"].stream_type == "EDA"
    html, model = _report_model(path)
    assert abs(_beat_hr(model) - body.hr_bpm) < 3.0
    assert "stream OpenSignals#2 (sample gaps)" in html


def test_waveforms_below_the_extractor_rates_become_notes(tmp_path: Path, body: Twin) -> None:
    """An ECG at 50 Hz and an EDA at 2 Hz: the report says why beats and SCRs are n/a."""
    rec = SessionFile(tmp_path / "slow.xdf")
    ecg = lsl_info("slow-ecg", "ECG", 50.0, "float32", [("ECG", "mV")])
    rec.raw(with_role_map(ecg, [Role("heart", 0)]), body.ecg[::10, None], body.ecg_t[::10])
    eda = lsl_info("slow-eda", "EDA", 2.0, "float32", [("EDA", "uS")])
    rec.raw(with_role_map(eda, [Role("eda", 0)]), body.eda[::16, None], body.eda_t[::16])
    html, model = _report_model(rec.close())
    assert "Beats not detected in ECG heart (mV): EcgExtractor: sampling_rate must be" in html
    assert "SCRs not detected in EDA eda (uS): EdaExtractor: sampling_rate must be" in html
    assert model.series["eda"].size == body.eda[::16].size  # type: ignore[attr-defined]


def test_ppg_role_gives_pulse_beats(tmp_path: Path, body: Twin) -> None:
    """Muse/E4-like PPG at 64 Hz as the only heart role: pulse beats detected offline."""
    t = np.arange(1, round(64 * SECONDS) + 1) / 64.0
    wave = np.zeros_like(t)
    for beat in body.beats:  # one pulse 200 ms after each R-peak
        d = t - (beat + 0.2)
        wave += np.where(d > 0, (d / 0.12) * np.exp(1 - d / 0.12), 0.0)
    info = lsl_info("Muse", "PPG", 64.0, "float32", [("PPG1", ""), ("PPG2", ""), ("PPG3", "")])
    values = np.column_stack([np.zeros_like(t), wave, np.zeros_like(t)]).astype(np.float32)
    rec = SessionFile(tmp_path / "ppg.xdf")
    rec.raw(with_role_map(info, [Role("ppg", 1)]), values, t)
    html, model = _report_model(rec.close())
    assert abs(_beat_hr(model) - body.hr_bpm) < 3.0
    assert model.labels["beat_hr"] == "beat-to-beat (pulse)"  # type: ignore[attr-defined]
    assert "detected offline in PPG1" not in html and "detected offline in PPG2 ppg" in html
