"""`vrtherapy streams` against real LSL outlets on loopback, as a user runs it.

One module fixture publishes device-like streams (uuid names, so parallel runs and other
processes' streams never get in the way; the listing shows those too, so every assertion
is about our own streams): a marker stream, a string stream, a 53-channel EEG amplifier
with an ECG lead, an irregular RR stream, a BITalino-like 7-channel stream, a Shimmer-like
stream with skin resistance and PPG, a Polar-like ECG with bunched per-packet stamps and an
E4-like BVP stream stamped with Unix time. A publisher thread pushes their data in real
time, so `--suggest` reads real samples.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ROOT, run_cli
from waiting import ticks

from biosignals.lsl import import_pylsl
from engine.protocol import Protocol, load_protocol

pylsl = import_pylsl()
pytestmark = pytest.mark.lsl

EEG_LABELS = [  # 52 EEG sites and an ECG lead, as on a BrainAmp with a bipolar ECG input
    "Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "FC5", "FC1", "FC2", "FC6", "T7", "C3", "Cz",
    "C4", "T8", "TP9", "CP5", "CP1", "CP2", "CP6", "TP10", "P7", "P3", "Pz", "P4", "P8", "PO9",
    "O1", "Oz", "O2", "PO10", "AF7", "AF3", "AF4", "AF8", "F5", "F1", "F2", "F6", "FT7", "FC3",
    "FC4", "FT8", "C5", "C1", "C2", "C6", "TP7", "CP3", "CPz", "CP4", "ECG",
]  # fmt: skip
BITALINO_LABELS = ("nSeq", "ECGBIT1", "EDABITREV2", "ACCBITREV2", "A4", "A5", "A6")
BITALINO_UNITS = ("", "mV", "uS", "g", "", "", "")
MAC = "20:16:12:21:35:42"  # YAML 1.1 would read this unquoted as a number


def ecg_mv(t: np.ndarray) -> np.ndarray:
    """A spiky 72 bpm ECG-like wave in mV (R peaks of 1.2 mV)."""
    phase = np.mod(t, 60.0 / 72.0)
    return 1.2 * np.exp(-(((phase - 0.4) / 0.012) ** 2)) - 0.1


@dataclass
class Regular:
    """Pushes a regular stream's samples as time passes; stamps per ``clock``."""

    outlet: Any
    rate: float
    make: Callable[[np.ndarray], np.ndarray]
    packet: int = 1
    clock: str = "lsl"  # lsl | unix | bunched
    t0: float = field(default_factory=pylsl.local_clock)
    sent: int = 0

    def __call__(self, now: float) -> None:
        due = int((now - self.t0) * self.rate)
        n = (due - self.sent) // self.packet * self.packet
        if n <= 0:
            return
        idx = np.arange(self.sent, self.sent + n)
        t = self.t0 + idx / self.rate
        if self.clock == "unix":
            t = t + (time.time() - pylsl.local_clock())
        elif self.clock == "bunched":  # every sample of a packet gets the packet's last stamp
            t = np.repeat(t[self.packet - 1 :: self.packet], self.packet)
        self.outlet.push_chunk(self.make(idx / self.rate), [float(x) for x in t])
        self.sent += n


@dataclass
class Beats:
    """Pushes one RR interval (ms) per beat on an irregular stream."""

    outlet: Any
    rr_s: float = 0.8
    t0: float = field(default_factory=pylsl.local_clock)
    sent: int = 0

    def __call__(self, now: float) -> None:
        while self.t0 + (self.sent + 1) * self.rr_s <= now:
            self.sent += 1
            self.outlet.push_sample([self.rr_s * 1000.0], self.t0 + self.sent * self.rr_s)


class Publisher:
    """Runs every stream's push step from one thread until stopped."""

    def __init__(self, steps: list[Callable[[float], None]]) -> None:
        self.steps = steps
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        for _ in ticks(self._stop, 0.02):  # stop() ends the wait at once
            now = pylsl.local_clock()
            for step in self.steps:
                step(now)

    def __enter__(self) -> Publisher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def make_outlet(
    name: str,
    type_: str,
    channels: list[tuple[str, str]],
    rate: float,
    fmt: str = "float32",
    source_id: str = "",
    tag: str = "label",
) -> Any:
    info = pylsl.StreamInfo(name, type_, len(channels), rate, fmt, source_id)
    node = info.desc().append_child("channels")
    for label, unit in channels:
        ch = node.append_child("channel")
        ch.append_child_value(tag, label)
        if unit:
            ch.append_child_value("unit", unit)
    return pylsl.StreamOutlet(info)


def _bitalino(t: np.ndarray) -> np.ndarray:
    eda = np.round((5.0 + 0.2 * np.sin(t)) / 0.0244) * 0.0244  # 10-bit steps
    cols = [np.mod(t * 1000, 16), ecg_mv(t), eda, 0.01 * np.cos(t), *([np.full_like(t, 512)] * 3)]
    return np.stack(cols, axis=1)


def _shimmer(t: np.ndarray) -> np.ndarray:
    ppg = 1500 + 80 * np.sin(2 * np.pi * 1.2 * t)
    return np.stack([t * 1000.0, 200.0 + 5 * np.sin(t), ppg, np.full_like(t, 9.8)], axis=1)


def _eeg(t: np.ndarray) -> np.ndarray:
    eeg = 20.0 * np.sin(2 * np.pi * 10 * t)[:, None] * np.ones((1, 52))
    return np.hstack([eeg, ecg_mv(t)[:, None]])  # the ECG lead holds mV, declared microvolts


@pytest.fixture(scope="module")
def devices() -> Iterator[dict[str, str]]:
    u = uuid.uuid4().hex[:10]
    names = {
        k: f"{k}-{u}"
        for k in ("markers", "text", "eeg", "rr", "bitalino", "shimmer", "polar", "bvp", "twin")
    }
    outlets = {
        "markers": make_outlet(names["markers"], "Markers", [("Markers", "")], 0, "string",
                               f"{u}-markers"),
        "text": make_outlet(names["text"], "Text", [("line", ""), ("speaker", "")], 1.0, "string",
                            f"{u}-text"),
        "eeg": make_outlet(names["eeg"], "EEG", [(x, "microvolts") for x in EEG_LABELS], 500.0,
                           source_id=f"{names['eeg']}_SR-500.000000"),
        "rr": make_outlet(names["rr"], "RR", [("RR", "ms")], 0, source_id=f"{u}-rr"),
        "bitalino": make_outlet(names["bitalino"], MAC, list(zip(BITALINO_LABELS, BITALINO_UNITS,
                                strict=True)), 1000.0, source_id=f"{u}-opensignals"),
        "shimmer": make_outlet(names["shimmer"], "Shimmer3", [("Timestamp", "mSecs"),
                               ("GSR Skin Resistance", "kOhms"), ("PPG A13", "mV"),
                               ("Low Noise Accelerometer X", "m/(s^2)")], 128.0,
                               source_id=f"{u}-shimmer"),
        "polar": make_outlet(names["polar"], "ECG", [("ECG", "microvolts")], 130.0,
                             source_id="myuid2424", tag="name"),
        "bvp": make_outlet(names["bvp"], "BVP", [("BVP", "")], 64.0, source_id=f"{u}-bvp"),
        # two outlets with one name: --stream NAME must refuse to guess
        "twin": make_outlet(names["twin"], "EDA", [("EDA", "uS")], 32.0),
        "twin2": make_outlet(names["twin"], "EDA", [("EDA", "uS")], 32.0),
    }  # fmt: skip
    outlets["markers"].push_sample(["start"])
    steps: list[Callable[[float], None]] = [
        Regular(outlets["eeg"], 500.0, _eeg, packet=20),
        Beats(outlets["rr"]),
        Regular(outlets["bitalino"], 1000.0, _bitalino, packet=10),
        Regular(outlets["shimmer"], 128.0, _shimmer),
        Regular(outlets["polar"], 130.0, lambda t: ecg_mv(t)[:, None] * 1000.0, 13, "bunched"),
        Regular(outlets["bvp"], 64.0, lambda t: np.sin(2 * np.pi * 1.2 * t)[:, None], 4, "unix"),
    ]
    with Publisher(steps):
        yield names
    del outlets


def block(stdout: str) -> str:
    """The printed streams: block, which must start at a 'streams:' line."""
    assert "\nstreams:\n" in f"\n{stdout}", stdout
    return stdout


def load_pasted(yaml_block: str, tmp_path: Path) -> Protocol:
    """Paste a suggested block into the heights-demo seed in place of its streams:."""
    seed = (ROOT / "seeds" / "protocols" / "heights-demo.yaml").read_text()
    start = seed.index("\nstreams:")
    end = seed.index("\nstream_timeout:")
    path = tmp_path / "pasted.yaml"
    path.write_text(seed[: start + 1] + yaml_block + seed[end + 1 :])
    return load_protocol(path)


def entry_lines(stdout: str, name: str) -> str:
    """The lines of one stream's entry in the text listing."""
    blocks = re.split(r"\n(?=\[\d+\] )", stdout)
    found = [b for b in blocks if f"name={name!r}" in b.splitlines()[0]]
    assert len(found) == 1, stdout
    return found[0]


def test_lists_markers_strings_and_a_53_channel_stream(devices: dict[str, str]) -> None:
    r = run_cli("streams")
    assert r.returncode == 0, r.stderr
    markers = entry_lines(r.stdout, devices["markers"])
    assert "type='Markers'" in markers and "irregular, string: markers or text" in markers
    text = entry_lines(r.stdout, devices["text"])
    assert "1 Hz, string" in text and "2 channels" in text and "line, speaker" in text
    eeg = entry_lines(r.stdout, devices["eeg"])
    assert "500 Hz, float32, 53 channels" in eeg and "channels (all microvolts)" in eeg
    listed = re.sub(r"\s+", " ", eeg.split("channels (all microvolts):")[1])
    assert [x.strip() for x in listed.split(",")] == EEG_LABELS
    bitalino = entry_lines(r.stdout, devices["bitalino"])
    assert f"type={MAC!r}" in bitalino and "1000 Hz, float32, 7 channels" in bitalino
    assert "nSeq, ECGBIT1 [mV], EDABITREV2 [uS], ACCBITREV2 [g], A4, A5, A6" in bitalino
    rr = entry_lines(r.stdout, devices["rr"])
    assert "irregular, float32, 1 channel" in rr and "channels (all ms): RR" in rr
    shimmer = entry_lines(r.stdout, devices["shimmer"])
    assert "GSR Skin Resistance [kOhms]" in shimmer
    assert "source_id='myuid2424'" in entry_lines(r.stdout, devices["polar"])
    for name in devices.values():
        assert f"name={name!r}" in r.stdout
    numbers = [int(n) for n in re.findall(r"^\[(\d+)\] ", r.stdout, re.MULTILINE)]
    assert numbers == list(range(1, len(numbers) + 1))
    assert "host '" in markers


def test_json_listing(devices: dict[str, str]) -> None:
    r = run_cli("streams", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    by_name = {s["name"]: s for s in doc["streams"]}
    eeg = by_name[devices["eeg"]]
    assert eeg["channel_count"] == 53 and eeg["nominal_srate"] == 500.0
    assert [c["label"] for c in eeg["channels"]] == EEG_LABELS
    assert {c["unit"] for c in eeg["channels"]} == {"microvolts"}
    assert by_name[devices["markers"]]["string"] is True
    assert by_name[devices["rr"]]["irregular"] is True
    assert by_name[devices["bitalino"]]["type"] == MAC


def suggest(tmp_path: Path, role: str, stream: str) -> tuple[Protocol, str]:
    r = run_cli("streams", "--suggest", role, "--stream", stream)
    assert r.returncode == 0, r.stdout + r.stderr
    return load_pasted(block(r.stdout), tmp_path), r.stdout


@pytest.mark.slow  # reads 2 s of data
def test_suggest_auto_bitalino_reads_ecg_and_eda_of_one_stream(
    devices: dict[str, str], tmp_path: Path
) -> None:
    protocol, text = suggest(tmp_path, "auto", devices["bitalino"])
    assert set(protocol.streams) == {"heart", "eda"}
    heart, eda = protocol.streams["heart"], protocol.streams["eda"]
    assert heart.channel == "ECGBIT1" and heart.signal.unit == "mV"
    assert eda.channel == "EDABITREV2" and eda.signal.unit == "uS"
    for sel in (heart, eda):
        assert (sel.type, sel.name) == (MAC, devices["bitalino"])
        assert sel.source_id is not None and sel.source_id.endswith("-opensignals")
        assert sel.signal.clock == "auto" and not sel.signal.dejitter
    assert "Several roles read different channels of one stream" in text


@pytest.mark.slow  # reads 2 s of data
def test_suggest_auto_shimmer_resistance_and_ppg(devices: dict[str, str], tmp_path: Path) -> None:
    protocol, text = suggest(tmp_path, "auto", devices["shimmer"])
    assert set(protocol.streams) == {"ppg", "eda"}
    eda = protocol.streams["eda"]
    assert eda.channel == "GSR Skin Resistance" and eda.signal.unit == "kOhm"
    assert protocol.streams["ppg"].channel == "PPG A13"
    assert "1000 / R[kOhm]" in text


@pytest.mark.slow  # reads 2 s of data
def test_suggest_heart_on_eeg_amplifier_catches_mv_declared_microvolts(
    devices: dict[str, str], tmp_path: Path
) -> None:
    protocol, text = suggest(tmp_path, "heart", devices["eeg"])
    heart = protocol.streams["heart"]
    assert (heart.type, heart.channel, heart.signal.unit) == ("EEG", "ECG", "mV")
    assert "check: declared 'microvolts'" in text.replace("\n  #   ", " ")


@pytest.mark.slow  # reads 2 s of data
def test_suggest_hr_from_irregular_rr(devices: dict[str, str], tmp_path: Path) -> None:
    protocol, _ = suggest(tmp_path, "hr", devices["rr"])
    hr = protocol.streams["hr"]
    assert (hr.type, hr.channel, hr.signal.content) == ("RR", "RR", "rr_ms")


@pytest.mark.slow  # reads 2 s of data
def test_suggest_dejitter_for_bunched_polar_and_drops_shared_source_id(
    devices: dict[str, str], tmp_path: Path
) -> None:
    protocol, text = suggest(tmp_path, "heart", devices["polar"])
    heart = protocol.streams["heart"]
    assert heart.signal.dejitter and heart.signal.unit == "uV" and heart.source_id is None
    assert "source_id 'myuid2424' left out" in text


@pytest.mark.slow  # reads 2 s of data
def test_suggest_notes_unix_stamps(devices: dict[str, str], tmp_path: Path) -> None:
    protocol, text = suggest(tmp_path, "ppg", devices["bvp"])
    assert protocol.streams["ppg"].signal.clock == "auto"
    assert "timestamps are Unix time" in text


@pytest.mark.slow  # reads 2 s of data
def test_suggest_json(devices: dict[str, str]) -> None:
    r = run_cli("streams", "--suggest", "auto", "--stream", devices["bitalino"], "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [s["name"] for s in doc["streams"]] == [devices["bitalino"]]
    roles = doc["suggestion"]["roles"]
    assert roles["heart"]["selector"]["channel"] == "ECGBIT1"
    assert roles["eda"]["selector"]["signal"]["unit"] == "uS"
    assert doc["suggestion"]["yaml"].count("\n  heart:\n") == 1


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (
            ("--suggest", "auto", "--stream", "markers"),
            ["is a string (marker) stream: no role can read it"],
        ),
        (("--suggest", "heart", "--stream", "rr"), ["no channel for role 'heart'", "hr"]),
        (("--stream", "twin"), ["matches 2 streams", "give its number"]),
        (("--stream", "nothing-like-this"), ["matches no visible stream"]),
        (("--suggest", "ecg"), ["invalid choice: 'ecg'", "'heart'", "'auto'"]),
    ],
)
def test_clear_errors(devices: dict[str, str], args: tuple[str, ...], needles: list[str]) -> None:
    args = tuple(devices.get(a, a) for a in args)
    r = run_cli("streams", *args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    for needle in needles:
        assert needle in r.stderr, r.stderr


def test_nothing_visible_names_the_wait_and_lsl_config(tmp_path: Path) -> None:
    cfg = tmp_path / "lonely.cfg"  # ports no outlet listens on: nothing can answer
    cfg.write_text(
        "[ports]\nIPv6 = disable\nBasePort = 36500\nMulticastPort = 36499\n"
        "[multicast]\nResolveScope = machine\nKnownPeers = {127.0.0.1}\n[log]\nlevel = -2\n"
    )
    r = run_cli("--lsl-config", str(cfg), "streams", "--wait", "0.5")
    assert r.returncode == 0, r.stderr
    assert "no LSL streams visible on this machine within 0.5 s" in r.stdout
    assert "--lsl-config" in r.stdout
