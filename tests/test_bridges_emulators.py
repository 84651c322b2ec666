"""The bridge emulators (tests/bridges) and the docs/devices snippets, without a network.

* Each emulator's streams, parsed the way the engine parses them (``stream_meta`` of the
  ``StreamInfo`` XML), carry the facts read in the bridge's source (names, types,
  source_ids, rates, formats, channel labels and units); its packets are shaped like the
  real app's (packet sizes, stamped or not, Unix clocks, back-dating, resolution).
* Every ``docs/devices/*.yaml`` snippet validates, is shown verbatim in docs/devices.md,
  and fits its emulator: each role's predicates pick exactly one stream, its channel
  exists, its unit converts to physical values that match the truth, Unix-stamped streams
  are read with a Unix-aware clock and bunched (one stamp per packet) streams dejittered.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import numpy as np
import pytest
from bridges import BRIDGES, SNIPPETS, make_bridge
from bridges.base import Bridge, BridgeRunner, Packet, StreamDef, stream_info
from bridges.bitalino import VCC
from bridges.truth import Truth
from bridges.zephyr import SUMMARY_FIELDS
from conftest import ROOT, run_cli

from biosignals.conversion import plan_conversion
from biosignals.lsl import import_pylsl
from biosignals.roles import ROLE_UNITS
from biosignals.streams import StreamMeta, StreamPredicate, stream_meta
from engine.protocol import load_protocol

pylsl = import_pylsl()
DEVICES = ROOT / "docs" / "devices"
DEVICES_MD = ROOT / "docs" / "devices.md"
T0, UNIX = 1000.0, 1.7e9

# snippet, stream key: name, type, source_id, rate, format, channels, {label: unit} checked
FACTS: list[tuple[str, str, str, str, str, float, str, int, dict[str, str]]] = [
    ("polar", "ecg", "PolarBand", "ECG", "myuid2424", 130.0, "float32", 1,
     {"ECG": "microvolts"}),
    ("exciteometer", "hr", "HeartRate", "ExciteOMeter", "A1B2C3D4", 0.0, "int16", 1, {}),
    ("exciteometer", "rr", "RRinterval", "ExciteOMeter", "A1B2C3D4", 0.0, "float32", 1, {}),
    ("muse", "eeg", "Muse", "EEG", "Muse00:55:DA:B0:12:34", 256.0, "float32", 5,
     {"TP9": "microvolts", "Right AUX": "microvolts"}),
    ("muse", "ppg", "Muse", "PPG", "Muse00:55:DA:B0:12:34", 64.0, "float32", 3,
     {"PPG1": "mmHg", "PPG2": "mmHg", "PPG3": "mmHg"}),
    ("e4", "acc", "acc", "ACC", "ACC-empatica_e4", 32.0, "int32", 3, {}),
    ("e4", "bvp", "bvp", "BVP", "BVP-empatica_e4", 64.0, "float32", 1, {}),
    ("e4", "gsr", "gsr", "GSR", "GSR-empatica_e4", 4.0, "float32", 1, {}),
    ("e4", "tmp", "tmp", "Temp", "Temp-empatica_e4", 4.0, "float32", 1, {}),
    ("emotibit", "ppg_ir", "PPG_IR", "PPGInfrared", "MD-V5-0000123", 25.0, "float32", 1, {}),
    ("emotibit", "eda", "EDA", "EDA", "MD-V5-0000123", 15.0, "float32", 1, {}),
    ("emotibit", "hr", "HR", "HeartRate", "MD-V5-0000123", 0.0, "float32", 1, {}),
    ("zephyr", "ecg", "ZephyrECG", "ECG", "BHT012345-ECG", 250.0, "float32", 1,
     {"ECG1": "millivolts"}),
    ("zephyr", "summary", "ZephyrSummary", "Misc", "BHT012345-Summary", 1.0, "float32", 53,
     {"heart_rate": "BPM", "seq_no": "", "heart_rate_variability": "ms"}),
    ("zephyr", "rtor", "ZephyrRtoR", "Misc", "BHT012345-RtoR", 1000 / 56, "float32", 1,
     {"RtoR": "milliseconds"}),
    ("zephyr", "markers", "ZephyrMarkers", "Markers", "BHT012345-Markers", 0.0, "string", 1, {}),
    ("bitalino", "opensignals", "OpenSignals", "98:D3:41:FD:4F:D9", "98:D3:41:FD:4F:D9",
     1000.0, "float32", 7, {"nSeq": "", "ECGBIT1": "mV", "EDABITREV2": "\u00b5S", "RAW3": ""}),
    ("shimmer", "shimmer", "Shimmer_D1A5", "Shimmer3", "Shimmer_D1A5", 128.0, "float32", 5,
     {"GSR_Skin_Conductance": "uS", "GSR_Skin_Resistance": "kOhms", "PPG_A13": "mV"}),
    ("brainamp", "eeg", "BrainAmpSeries", "EEG", "BrainAmpSeries_SR-500.000000", 500.0,
     "float32", 32, {"Fp1": "microvolts", "ECG": "microvolts"}),
    ("brainamp-raw", "eeg", "BrainAmpSeries-Dev_1", "EEG", "BrainAmpSeries-Dev_1_SR-500.000000",
     500.0, "int16", 32, {"ECG": "microvolts"}),
]  # fmt: skip


def _bridge(snippet: str, seed: int = 2) -> Bridge:
    return make_bridge(snippet, Truth(T0, seed), seed, UNIX)


def _meta(sd: StreamDef) -> StreamMeta:
    return stream_meta(stream_info(pylsl, sd).as_xml())


def _packets(bridge: Bridge, key: str, seconds: float = 30.0) -> list[Packet]:
    return [p for p in bridge.packets(T0 + seconds) if p.key == key]


@pytest.mark.parametrize(
    ("snippet", "key", "name", "kind", "source_id", "rate", "fmt", "count", "units"), FACTS
)
def test_emulated_stream_carries_the_facts_from_the_bridge_source(
    snippet: str, key: str, name: str, kind: str, source_id: str, rate: float, fmt: str,
    count: int, units: dict[str, str],
) -> None:  # fmt: skip
    meta = _meta(_bridge(snippet).stream(key))
    assert (meta.name, meta.type, meta.source_id) == (name, kind, source_id)
    assert meta.nominal_srate == pytest.approx(rate)
    assert (meta.channel_format, meta.channel_count) == (fmt, count)
    for label, unit in units.items():
        assert meta.channel_units[meta.channel_index(label)] == unit
    if not units:
        assert meta.channel_labels == ("",) * count  # no <desc> channel list


@pytest.mark.lsl
@pytest.mark.parametrize("snippet", sorted(SNIPPETS))
def test_runner_pushes_every_packet_into_real_outlets(snippet: str) -> None:
    bridge = _bridge(snippet)
    runner = BridgeRunner(bridge, pylsl, suffix=f"-{uuid.uuid4().hex[:12]}")  # never seen
    try:
        packets = bridge.packets(T0 + 3.0)
        for packet in packets:
            runner.push(packet)
    finally:
        runner.stop()
    expected: dict[str, int] = {}
    for p in packets:
        expected[p.key] = expected.get(p.key, 0) + len(p.values)
    assert runner.pushed == expected and expected


def test_every_emulator_is_used_by_a_snippet_and_every_snippet_file_has_one() -> None:
    assert {name for name, _ in SNIPPETS.values()} == set(BRIDGES)
    assert {p.stem for p in DEVICES.glob("*.yaml")} == set(SNIPPETS)


def test_polar_declares_its_channel_with_a_name_tag_and_pushes_73_sample_notifications() -> None:
    bridge = _bridge("polar")
    xml = stream_info(pylsl, bridge.stream("ecg")).as_xml()
    assert "<name>ECG</name>" in xml and "<label>" not in xml
    packets = _packets(bridge, "ecg")
    assert {len(p.values) for p in packets} == {73}
    assert all(p.how == "samples" and p.stamps is None for p in packets)
    spacing = np.diff([p.at for p in packets])
    assert np.mean(spacing) == pytest.approx(73 / 130, abs=0.01)
    assert np.all(packets[0].values == np.round(packets[0].values))  # integer microvolts


def test_zephyr_ecg_chunks_are_back_dated_and_step_back_at_packet_joins() -> None:
    packets = _packets(_bridge("zephyr"), "ecg", 60.0)
    assert {len(p.values) for p in packets} == {63}
    assert all(p.how == "chunk" and p.chunk_stamp is None for p in packets)
    # what liblsl makes of push_chunk without a stamp: last row "now", back-dated at 250 Hz
    stamps = np.concatenate([p.at - (62 - np.arange(63)) / 250.0 for p in packets])
    steps = np.diff(stamps)
    assert steps.min() < -0.005 and steps.min() >= -0.0361
    counts = np.concatenate([p.values[:, 0] for p in packets]) / 0.025
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)  # 0.025 mV resolution


def test_zephyr_summary_is_created_late_with_53_fields_and_the_device_heart_rate() -> None:
    bridge = _bridge("zephyr")
    assert bridge.stream("summary").lazy and len(SUMMARY_FIELDS) == 53
    packets = _packets(bridge, "summary", 60.0)
    hr = np.array([p.values[0, SUMMARY_FIELDS.index("heart_rate")] for p in packets])
    truth = bridge.truth.hr(np.array([p.at for p in packets]))
    assert np.all(hr == np.round(hr)) and np.max(np.abs(hr[5:] - truth[5:])) < 3.0


@pytest.mark.parametrize(("snippet", "key", "rate"), [("muse", "ppg", 64.0), ("e4", "gsr", 4.0)])
def test_unix_clock_bridges_stamp_samples_with_wall_clock_time(
    snippet: str, key: str, rate: float
) -> None:
    packets = _packets(_bridge(snippet), key)
    stamps = np.concatenate([p.stamps for p in packets if p.stamps is not None])
    assert len(stamps) == sum(len(p.values) for p in packets)
    np.testing.assert_allclose(np.diff(stamps), 1.0 / rate, rtol=1e-9)
    lag = stamps[0] - UNIX - T0  # stamp of the first sample vs when it was measured
    assert 0.0 < lag < 0.5


def test_e4_forwarder_has_no_inter_beat_interval_stream() -> None:
    assert {sd.type for sd in _bridge("e4").streams()} == {"ACC", "BVP", "GSR", "Temp"}


def test_emotibit_sends_every_100_ms_one_stream_per_channel() -> None:
    bridge = _bridge("emotibit")
    assert len(bridge.streams()) == 19
    assert all(sd.channel_count == 1 and sd.source_id == "MD-V5-0000123" for sd in bridge.streams())
    packets = _packets(bridge, "ppg_ir")
    assert {len(p.values) for p in packets} <= {1, 2, 3}
    assert np.median(np.diff([p.at for p in packets])) == pytest.approx(0.105, abs=0.01)
    assert all(p.stamps is None for p in packets)


def test_bitalino_eda_is_10_bit_and_holds_one_value_for_about_a_second() -> None:
    packets = _packets(_bridge("bitalino"), "opensignals", 40.0)
    values = np.concatenate([p.values for p in packets])
    assert values.shape[1] == 7 and set(np.unique(values[:, 0])) == set(range(16))
    step = VCC / (0.132 * 1024)
    eda = values[:, 3]
    np.testing.assert_allclose(eda / step, np.round(eda / step), atol=1e-6)
    changes = np.flatnonzero(np.diff(eda) != 0)
    assert np.max(np.diff(changes)) >= 1000  # samples at 1000 Hz without a change


def test_shimmer_resistance_and_conductance_are_one_reading() -> None:
    packets = _packets(_bridge("shimmer"), "shimmer")
    values = np.concatenate([p.values for p in packets])
    np.testing.assert_allclose(values[:, 2] * values[:, 3], 1000.0, rtol=1e-9)
    assert all(p.stamps is None and p.how == "samples" for p in packets)
    assert max(len(p.values) for p in packets) >= 4  # several samples per Bluetooth read


def test_brainamp_raw_sends_int16_counts_of_a_tenth_microvolt() -> None:
    values = np.concatenate([p.values for p in _packets(_bridge("brainamp-raw"), "eeg")])
    assert np.all(values == np.round(values)) and np.abs(values).max() <= 32767
    assert 10000 < values[:, 31].max() < 14000  # the ~1.2 mV R peak on the ECG lead
    floats = np.concatenate([p.values for p in _packets(_bridge("brainamp"), "eeg")])
    np.testing.assert_allclose(floats[:, 31].max(), values[:, 31].max() * 0.1, rtol=0.05)


def test_exciteometer_pushes_heart_rate_then_whole_millisecond_rrs_per_notification() -> None:
    bridge = _bridge("exciteometer")
    packets = bridge.packets(T0 + 30.0)
    rr = np.concatenate([p.values[:, 0] for p in packets if p.key == "rr"])
    assert np.all(rr == np.round(rr)) and rr.min() > 700 and rr.max() < 1000
    assert packets[0].key == "hr" and all(p.stamps is None for p in packets)


# ----------------------------------------------------------------- snippets vs emulators


def _streams_block(text: str) -> str:
    """The ``streams:`` block of a protocol file: its line and the indented lines after."""
    match = re.search(r"^streams:\n(?:[ #].*\n)+", text, re.M)
    assert match, "no streams: block"
    return match.group(0)


@pytest.mark.parametrize("snippet", sorted(SNIPPETS))
def test_snippet_streams_block_is_shown_verbatim_in_devices_md(snippet: str) -> None:
    block = _streams_block((DEVICES / f"{snippet}.yaml").read_text(encoding="utf-8"))
    assert block in DEVICES_MD.read_text(encoding="utf-8"), (
        f"docs/devices/{snippet}.yaml's streams: block is not in docs/devices.md"
    )


def test_snippet_files_validate_with_the_cli() -> None:
    result = run_cli("validate", *sorted(str(p) for p in DEVICES.glob("*.yaml")))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": ok (") == len(SNIPPETS)


def _physical_ok(role: str, values: np.ndarray, at: np.ndarray, truth: Truth) -> str | None:
    """Why converted values do not look like the role's truth (None when they do)."""
    v = values[np.isfinite(values)]
    if role == "heart" and not 0.8 < np.ptp(v) < 3.0:
        return f"ECG spans {np.ptp(v):.3g} mV, not ~1.5 mV"
    if role == "eda" and abs(np.median(v) / np.median(truth.scl(at)) - 1) > 0.1:
        return f"EDA median {np.median(v):.3g} µS vs true SCL {np.median(truth.scl(at)):.3g}"
    if role == "hr" and abs(np.median(v) - np.median(truth.hr(at))) > 3:
        return f"heart rate median {np.median(v):.3g} bpm vs true {np.median(truth.hr(at)):.3g}"
    if role == "ppg" and not np.std(v) > 0:
        return "PPG is flat"
    return None


def _role_check(role: str, sel: Any, snippet: str) -> list[str]:
    bridge = _bridge(snippet)  # a fresh one per role: packets are handed out once
    pred = StreamPredicate(sel.type, sel.name, sel.source_id)
    matches = [sd for sd in bridge.streams() if pred.matches(stream_info(pylsl, sd))]
    if len(matches) != 1:
        return [f"{role}: {pred.describe()} matches {[sd.name for sd in matches]}"]
    sd = matches[0]
    meta = _meta(sd)
    index = meta.channel_index(sel.channel)
    conversion = plan_conversion(ROLE_UNITS[role], sel.signal, meta.channel_units[index])
    packets = _packets(bridge, sd.key, 40.0)
    at = np.concatenate([np.full(len(p.values), p.at) for p in packets])
    values = conversion(np.concatenate([p.values for p in packets])[:, index].astype(float))
    problems = [p for p in [_physical_ok(role, values, at, bridge.truth)] if p]
    unix = any(p.stamps is not None and p.stamps[0] > 1e9 for p in packets)
    if unix and sel.signal.clock == "lsl":
        problems.append(f"{role}: {sd.name} is stamped with Unix time but clock is lsl")
    bunched = sd.rate > 0 and any(p.stamps is None and p.how == "samples" and len(p.values) > 1
                                  for p in packets)  # fmt: skip
    if bunched and not sel.signal.dejitter:
        problems.append(f"{role}: {sd.name} stamps whole packets at once but dejitter is off")
    return problems


@pytest.mark.parametrize("snippet", sorted(SNIPPETS))
def test_snippet_fits_its_emulator(snippet: str) -> None:
    protocol = load_protocol(DEVICES / f"{snippet}.yaml")
    roles = protocol.streams.items()
    problems = [p for role, sel in roles for p in _role_check(role, sel, snippet)]
    assert not problems, problems
