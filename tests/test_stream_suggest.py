"""`vrtherapy streams` logic without LSL: listing, channel detection, settings from data,
predicates, and the printed streams: block loading as a protocol."""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from biosignals.errors import StreamError
from biosignals.streams import StreamMeta
from engine.protocol import load_protocol
from engine.stream_detect import detect_channels, rate_problem
from engine.stream_facts import DataSample, timing_settings, unit_settings
from engine.stream_listing import (
    StreamEntry,
    entry_dict,
    entry_from_xml,
    format_listing,
    number_entries,
)
from engine.stream_suggest import (
    Pick,
    _scalar,
    choose_predicates,
    plan_roles,
    propose,
    render_yaml,
)
from engine.streams_cli import select_stream

ROOT = Path(__file__).resolve().parents[1]


def entry(
    labels: tuple[str, ...] = (),
    units: tuple[str, ...] = (),
    *,
    name: str = "dev",
    type_: str = "ECG",
    rate: float = 250.0,
    fmt: str = "float32",
    source_id: str = "",
    count: int | None = None,
    number: int = 1,
    uid: str | None = None,
) -> StreamEntry:
    n = count or max(len(labels), 1)
    meta = StreamMeta(name, type_, source_id, n, rate, fmt, labels, units or ("",) * len(labels))
    return StreamEntry(meta, "lab-pc", uid or f"uid-{name}-{number}", True, number)


def roles_of(e: StreamEntry) -> dict[int, tuple[str, int, str]]:
    return {m.index: (m.role, m.score, m.hint) for m in detect_channels(e) if not m.problem}


# --- listing ---------------------------------------------------------------------------


def test_sorted_deterministically_numbered_and_deduplicated() -> None:
    b = entry(name="b", type_="EEG", uid="u2")
    a = entry(name="a", type_="eeg", uid="u1")
    c = entry(name="c", type_="Markers", uid="u3", fmt="string")
    numbered = number_entries([c, b, a, b])
    assert [(e.meta.name, e.number) for e in numbered] == [("a", 1), ("b", 2), ("c", 3)]
    assert number_entries([a, b, c]) == numbered


def test_a_53_channel_stream_is_listed_whole_and_a_wider_one_compactly() -> None:
    labels = tuple(f"E{i}" for i in range(53))
    text = format_listing([entry(labels, ("microvolts",) * 53, type_="EEG")], 2.0)
    assert "channels (all microvolts): " in text
    assert all(f"E{i}," in text or f"E{i}\n" in text for i in range(53))
    wide = entry(tuple(f"E{i}" for i in range(128)), ("uV",) * 128, type_="EEG")
    short = format_listing([wide], 2.0)
    assert "E23, ... and 104 more (--all-channels lists all)" in short and "E24" not in short
    assert "E127" in format_listing([wide], 2.0, all_channels=True)


def test_listing_marks_strings_irregular_and_missing_labels() -> None:
    markers = entry(("Markers",), name="m", type_="Markers", rate=0.0, fmt="string")
    bare = entry(name="bare", type_="EXG", count=4, number=2)
    partial = entry(("ECG", ""), ("mV", "uV"), name="p", number=3)
    text = format_listing([markers, bare, partial], 1.5)
    assert text.startswith("3 LSL streams visible (listened 1.5 s):")
    assert "irregular, string: markers or text, not a signal (no role can read it)" in text
    assert "channels: 4, no labels or units in the description (select by index 0..3)" in text
    assert "channels: ECG [mV], #1 [uV]" in text
    assert "host 'lab-pc'" in text
    assert format_listing([bare], 1.5, visible=3).startswith(
        "3 LSL streams visible (listened 1.5 s), showing 1:\n[2] type='EXG'"
    )


def test_nothing_visible_says_how_to_widen_discovery() -> None:
    text = format_listing([], 2.0)
    assert "no LSL streams visible on this machine within 2 s" in text
    assert "--wait" in text and "--lsl-config" in text


def test_entry_from_full_xml_keeps_host_and_uid() -> None:
    xml = (
        "<?xml version='1.0'?><info><name>OpenSignals</name><type>00:07:80</type>"
        "<channel_count>2</channel_count><channel_format>float32</channel_format>"
        "<source_id>x</source_id><nominal_srate>1000</nominal_srate><uid>abc</uid>"
        "<hostname>lab-pc</hostname><desc><channels><channel><label>nSeq</label></channel>"
        "<channel><label>ECGBIT1</label><unit>mV</unit></channel></channels></desc></info>"
    )
    e = entry_from_xml(xml)
    assert (e.hostname, e.uid, e.meta.channel_labels) == ("lab-pc", "abc", ("nSeq", "ECGBIT1"))
    d = entry_dict(e)
    assert d["channels"][1] == {"index": 1, "label": "ECGBIT1", "unit": "mV"}
    assert d["irregular"] is False and d["string"] is False


# --- detection -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "unit", "role", "hint"),
    [
        ("ECG", "", "heart", ""),
        ("ECG1", "millivolts", "heart", ""),
        ("ECGBIT1", "mV", "heart", ""),
        ("ExG", "uV", "heart", ""),
        ("ECG LL-RA", "mV", "heart", ""),
        ("EDA", "", "eda", ""),
        ("EDABITREV2", "uS", "eda", ""),
        ("GSR", "", "eda", ""),
        ("GSR Skin Conductance", "uS", "eda", ""),
        ("GSR Skin Resistance", "kOhms", "eda", "resistance"),
        ("PPG", "", "ppg", ""),
        ("PPG2", "mmHg", "ppg", ""),
        ("PPG Infrared", "", "ppg", ""),
        ("BVP", "", "ppg", ""),
        ("heart_rate", "BPM", "hr", "hr_bpm"),
        ("HR", "", "hr", "hr_bpm"),
        ("RR", "ms", "hr", "rr"),
        ("IBI", "s", "hr", "rr"),
        ("RR interval", "", "hr", "rr"),
    ],
)
def test_channel_labels_name_their_role(label: str, unit: str, role: str, hint: str) -> None:
    rate = 0.0 if role == "hr" else 256.0  # RR content belongs on an irregular stream
    e = entry(("nSeq", label, "A4"), ("", unit, ""), type_="00:07:80:58:49:12", rate=rate)
    assert roles_of(e) == {1: (role, roles_of(e)[1][1], hint)}
    assert roles_of(e)[1][1] >= 2


@pytest.mark.parametrize(
    "label",
    ["nSeq", "Timestamp", "GSR Range", "breathing_rate", "ecg_noise", "Fp1", "A4",
     "Low Noise Accelerometer X", "heart_rate_confidence", "PPG ambient"],
)  # fmt: skip
def test_labels_that_are_not_a_role(label: str) -> None:
    found = roles_of(entry(("x", label), type_="Misc"))
    assert all(role == "ppg" and score == 1 for role, score, _ in found.values()) or not found


def test_preferred_variants_outrank_plain_labels() -> None:
    e = entry(("ECG LA-RA", "ECG LL-RA", "PPG Red", "PPG Infrared"), type_="Shimmer3")
    scores = {i: s for i, (_, s, _) in roles_of(e).items()}
    assert scores[1] > scores[0] and scores[3] > scores[2]


def test_unit_and_stream_type_fill_in_for_missing_labels() -> None:
    assert roles_of(entry(("",), ("bpm",), type_="Misc")) == {0: ("hr", 2, "hr_bpm")}
    assert roles_of(entry(("",), ("kOhm",), type_="Misc")) == {0: ("eda", 2, "resistance")}
    assert roles_of(entry(count=1, type_="ECG")) == {0: ("heart", 2, "")}
    assert roles_of(entry(("gsr",), name="gsr", type_="GSR", rate=4.0))[0][0] == "eda"
    assert roles_of(entry(count=1, name="bvp", type_="Misc", rate=64.0)) == {0: ("ppg", 2, "")}
    assert roles_of(entry(count=1, type_="PPGInfrared", rate=64.0)) == {0: ("ppg", 2, "")}
    assert roles_of(entry(("nSeq", "A1", "A2"), type_="ECG")) == {1: ("heart", 1, "")}
    # a unit alone says nothing on a wide stream's voltage channels
    assert roles_of(entry(("Fp1", "Fp2"), ("uV", "uV"), type_="EEG")) == {}


def test_string_streams_fill_no_role() -> None:
    assert detect_channels(entry(("ECG",), type_="ECG", fmt="string")) == []


def test_rates_the_roles_cannot_run_at_are_problems() -> None:
    assert rate_problem("heart", 1.0) and rate_problem("ppg", 512.0)
    assert rate_problem("eda", 0.0).startswith("the stream is irregular")
    assert not rate_problem("hr", 0.0) and not rate_problem("heart", 130.0)
    rtor = detect_channels(entry(("RtoR",), ("ms",), type_="RR", rate=17.9))
    assert rtor[0].problem and "ZephyrRtoR" in rtor[0].problem
    summary = entry(("heart_rate", "ecg_amplitude"), ("bpm", "mV"), type_="Misc", rate=1.0)
    assert roles_of(summary) == {0: ("hr", 3, "hr_bpm")}


# --- settings from data ----------------------------------------------------------------


def sample(values: np.ndarray, stamps: np.ndarray, lsl_now: float = 1000.0) -> DataSample:
    return DataSample(values.reshape(len(stamps), -1), stamps, 2.0, lsl_now, 1.8e9)


def test_bunched_stamps_ask_for_dejitter_and_even_ones_do_not() -> None:
    t = 500.0 + np.arange(260) / 130.0
    bunched = np.repeat(t[72::73], 73)[:260]
    bunched = np.concatenate([bunched, np.full(260 - bunched.size, t[-1])])
    got, notes = timing_settings(130.0, sample(np.zeros(260), bunched))
    assert got == {"clock": "auto", "dejitter": True} and "share one timestamp" in notes[1]
    got, notes = timing_settings(130.0, sample(np.zeros(260), t))
    assert got == {"clock": "auto"} and "LSL clock" in notes[0]


def test_unix_back_dated_irregular_and_missing_data_are_noted() -> None:
    unix = 1.8e9 + np.arange(128) / 64.0
    _, notes = timing_settings(64.0, sample(np.zeros(128), unix))
    assert "Unix time" in notes[0] and "clock: auto" in notes[0]
    back = np.concatenate([500 + np.arange(63) / 250, 500.2 + np.arange(63) / 250])
    _, notes = timing_settings(250.0, sample(np.zeros(126), back))
    assert any("step backwards 1 times" in n for n in notes)
    _, notes = timing_settings(0.0, sample(np.zeros(2), np.array([500.0, 500.8])))
    assert "dejitter does not apply" in notes[-1]
    got, notes = timing_settings(130.0, None)
    assert got == {"clock": "auto"} and notes[0].startswith("check: no samples")
    _, notes = timing_settings(100.0, sample(np.zeros(100), 500 + np.arange(100) / 50.0))
    assert "check: about 50 samples/s arrived, the stream declares 100 Hz" in notes[-1]


def ecg(scale: float) -> np.ndarray:
    t = np.arange(1000) / 500.0
    return scale * (1.2 * np.exp(-(((np.mod(t, 0.8) - 0.4) / 0.01) ** 2)))


def settings_for(
    role: str, label: str, unit: str, values: np.ndarray | None
) -> tuple[dict[str, object], str]:
    e = entry((label,), (unit,), type_="X", rate=500.0)
    match = detect_channels(e)[0]
    data = None if values is None else sample(values, 500 + np.arange(values.size) / 500.0)
    got, notes = unit_settings(role, match, unit, data)
    return dict(got), " ".join(notes)


@pytest.mark.parametrize(
    ("unit", "scale", "expected", "check"),
    [
        ("microvolts", 1.0, "mV", True),  # declared uV, values are mV
        ("microvolts", 1000.0, "uV", False),
        ("mV", 1000.0, "uV", True),
        ("mV", 1.0, "mV", False),
        ("", 1.0, "mV", True),
        ("mmHg", 1000.0, "uV", True),
    ],
)
def test_ecg_unit_follows_declared_unit_unless_values_contradict(
    unit: str, scale: float, expected: str, check: bool
) -> None:
    got, notes = settings_for("heart", "ECG", unit, ecg(scale))
    assert got == {"unit": expected}
    assert ("check:" in notes) is check


def test_raw_counts_ask_for_scale_and_offset() -> None:
    counts = np.round(512 + 300 * np.sin(np.arange(1000) / 20.0))
    got, notes = settings_for("heart", "ECG", "", counts)
    assert got == {"unit": "counts"} and "scale and offset" in notes


@pytest.mark.parametrize(
    ("label", "unit", "level", "expected", "check"),
    [
        ("GSR Skin Resistance", "kOhms", 200.0, "kOhm", False),
        ("GSR Skin Resistance", "", 200.0, "kOhm", False),
        ("EDA", "uS", 5.0, "uS", False),
        ("EDA", "uS", 5000.0, "nS", True),
        ("EDA", "", 5.0, "uS", False),
    ],
)
def test_eda_unit_from_declared_unit_label_and_level(
    label: str, unit: str, level: float, expected: str, check: bool
) -> None:
    got, notes = settings_for("eda", label, unit, np.full(100, level) + np.arange(100) * 1e-3)
    assert got == {"unit": expected}
    assert ("check:" in notes) is check


@pytest.mark.parametrize(
    ("label", "unit", "values", "expected", "check"),
    [
        ("heart_rate", "BPM", [72.0, 73.0], "hr_bpm", False),
        ("RR", "ms", [800.0, 820.0], "rr_ms", False),
        ("IBI", "", [0.8, 0.82], "rr_s", False),
        ("RR", "", [800.0, 790.0], "rr_ms", False),
        ("HR", "", [800.0, 790.0], "rr_ms", True),
        ("RR", "", None, "rr_ms", True),
    ],
)
def test_heart_rate_content(
    label: str, unit: str, values: list[float] | None, expected: str, check: bool
) -> None:
    arr = None if values is None else np.array(values)
    got, notes = settings_for("hr", label, unit, arr)
    assert got == {"content": expected}
    assert ("check:" in notes) is check


def test_ppg_has_no_unit() -> None:
    got, notes = settings_for("ppg", "PPG1", "mmHg", np.sin(np.arange(100.0)))
    assert got == {} and "'mmHg' is ignored" in notes


# --- predicates, plans, YAML -----------------------------------------------------------


def test_predicates_drop_shared_source_ids_and_warn_about_look_alikes() -> None:
    polar = entry(("ECG",), name="PolarBand", source_id="myuid2424", number=1, uid="a")
    twin = entry(("ECG",), name="PolarBand", source_id="myuid2424", number=2, uid="b")
    preds, notes = choose_predicates(polar, [polar, twin])
    assert preds == {"type": "ECG", "name": "PolarBand"}
    assert "'myuid2424' left out" in notes[0] and "1 other visible stream(s)" in notes[1]
    own = entry(("ECG",), name="ZephyrECG", source_id="1234-ECG")
    assert choose_predicates(own, [own])[0]["source_id"] == "1234-ECG"


def test_nothing_fits_lists_what_was_seen() -> None:
    rr = entry(("RR",), ("ms",), name="rr", type_="RR", rate=0.0)
    with pytest.raises(StreamError, match=r"has no channel for role 'heart'.*looks like hr"):
        plan_roles([rr], "heart")
    eeg = entry(("Fp1",), ("uV",), name="cap", type_="EEG", number=2)
    with pytest.raises(StreamError, match=r"no visible stream .* 'eda'.*seen: \[1\].*\[2\]"):
        plan_roles([rr, eeg], "eda")
    slow = entry(("ECG",), name="slow", rate=50.0)
    with pytest.raises(StreamError, match="would fit but the stream is 50 Hz"):
        plan_roles([slow], "heart")
    with pytest.raises(StreamError, match="string"):
        plan_roles([entry(("m",), fmt="string")], "auto")


def bitalino() -> StreamEntry:
    labels = ("nSeq", "ECGBIT1", "EDABITREV2", "A3", "A4", "A5", "A6")
    units = ("", "mV", "uS", "", "", "", "")
    return entry(labels, units, name="OpenSignals", type_="20:16:12:21:35:42", rate=1000.0,
                 source_id="20:16:12:21:35:42")  # fmt: skip


def paste(block: str, tmp_path: Path) -> Path:
    seed = (ROOT / "seeds" / "protocols" / "heights-demo.yaml").read_text()
    start, end = seed.index("\nstreams:"), seed.index("\nstream_timeout:")
    path = tmp_path / "p.yaml"
    path.write_text(seed[: start + 1] + block + seed[end + 1 :])
    return path


def test_auto_on_bitalino_gives_two_roles_of_one_stream_that_load(tmp_path: Path) -> None:
    e = bitalino()
    picks = plan_roles([e], "auto")
    assert [(p.role, p.match.index) for p in picks] == [("heart", 1), ("eda", 2)]
    t = 500 + np.arange(2000) / 1000.0
    values = np.zeros((2000, 7))
    values[:, 1] = 1.2 * np.exp(-(((np.mod(t, 0.8) - 0.4) / 0.01) ** 2))
    values[:, 2] = 5.0 + 0.01 * np.sin(t)
    data = DataSample(values, t, 2.0, 502.0, 1.8e9)
    text = render_yaml([propose(p, [e], data) for p in picks], "vrtherapy streams", 2.0)
    protocol = load_protocol(paste(text, tmp_path))
    heart, eda = protocol.streams["heart"], protocol.streams["eda"]
    assert (heart.channel, heart.signal.unit, eda.channel, eda.signal.unit) == (
        "ECGBIT1", "mV", "EDABITREV2", "uS")  # fmt: skip
    assert heart.type == eda.type == "20:16:12:21:35:42"
    assert heart.source_id == "20:16:12:21:35:42" and heart.signal.clock == "auto"


def test_alternatives_are_named_with_their_number() -> None:
    a = entry(("PPG1", "PPG2", "PPG3"), name="Muse", type_="PPG", rate=64.0, number=1)
    b = entry(("BVP",), name="bvp", type_="BVP", rate=64.0, number=2)
    (pick,) = plan_roles([a, b], "ppg")
    notes = " ".join(propose(pick, [a, b], None).notes)
    assert "also has 'PPG2', 'PPG3' for ppg" in notes and "(--stream 2)" in notes


SCALARS = ["20:16:12:21:35:42", "1", "yes", "null", "a # b", "", " x", "- a", "{x}", "PPG A13",
           "ECG LL-RA", "tab\there", "\u2028", "\x85", "\U00010000", "q\"\\"]  # fmt: skip


@pytest.mark.parametrize("text", SCALARS)
def test_scalars_read_back_as_written(text: str) -> None:
    assert yaml.safe_load(f"k: {_scalar(text)}") == {"k": text}
    assert _scalar("PPG A13") == "PPG A13" and _scalar(3) == "3" and _scalar(True) == "true"


@settings(max_examples=60, deadline=None)
@given(
    name=st.text(min_size=1, max_size=20),
    type_=st.text(min_size=1, max_size=20),
    label=st.text(st.characters(exclude_characters=string.ascii_letters), max_size=20).map(
        lambda s: f"ECG{s}"
    ),
)
def test_any_names_and_labels_render_as_yaml_that_reads_back(
    name: str, type_: str, label: str
) -> None:
    e = entry(("nSeq", label), ("", "mV"), name=name, type_=type_, source_id=name + "-id")
    match = next(m for m in detect_channels(e) if m.role == "heart")
    text = render_yaml([propose(Pick("heart", e, match), [e], None)], "cmd", 2.0)
    doc = yaml.safe_load(text)
    assert doc["streams"]["heart"]["name"] == name
    assert doc["streams"]["heart"]["type"] == type_
    assert doc["streams"]["heart"]["channel"] == label


def test_select_stream_by_number_name_or_source_id() -> None:
    a = entry(name="a", source_id="sa", number=1)
    b = entry(name="b", source_id="sb", number=2)
    b2 = entry(name="b", source_id="sc", number=3)
    assert select_stream([a, b, b2], "1") is a and select_stream([a, b, b2], "sc") is b2
    with pytest.raises(StreamError, match="matches 2 streams"):
        select_stream([a, b, b2], "b")
    with pytest.raises(StreamError, match="matches no visible stream"):
        select_stream([a, b, b2], "7")


def test_the_suggestion_shown_in_the_docs_loads(tmp_path: Path) -> None:
    docs = (ROOT / "docs" / "devices.md").read_text()
    start = docs.index("```yaml\n# Suggested by `vrtherapy streams")
    block = docs[start + len("```yaml\n") : docs.index("```\n", start + 8)]
    protocol = load_protocol(paste(block, tmp_path))
    assert protocol.streams["heart"].channel == "ECGBIT1"
    assert protocol.streams["eda"].type == "98:D3:41:FD:4F:D9"
