"""Messy device bridges on real LSL loopback: each case is published by a real outlet and
read through protocol-style settings only (no device-specific code).

Every stream gets a uuid name/source_id so tests never see each other's streams.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
import pytest
from lsl_helpers import pull_until

from biosignals.conversion import SignalSettings
from biosignals.errors import StreamError
from biosignals.lsl import import_pylsl
from biosignals.streams import LslInlet, StreamPredicate, open_inlet, resolve_stream

pylsl = import_pylsl()
pytestmark = pytest.mark.lsl
S = SignalSettings


def uid() -> str:
    return uuid.uuid4().hex[:12]


def outlet(
    type_: str,
    *,
    channels: list[tuple[str, str, str]] | None = None,
    count: int = 1,
    rate: float = 100.0,
    fmt: str = "float32",
    source_id: str | None = None,
    name: str | None = None,
) -> tuple[Any, StreamPredicate]:
    """A real outlet; ``channels`` = (tag, label, unit) per channel, or no ``desc`` at all."""
    ident = uid()
    name = name or f"dev{ident}"
    source_id = f"src{ident}" if source_id is None else source_id
    info = pylsl.StreamInfo(name, type_, len(channels or []) or count, rate, fmt, source_id)
    if channels:
        node = info.desc().append_child("channels")
        for tag, label, unit in channels:
            ch = node.append_child("channel")
            ch.append_child_value(tag, label)
            if unit:
                ch.append_child_value("unit", unit)
    return pylsl.StreamOutlet(info), StreamPredicate(name=name)


@pytest.fixture
def opened() -> Iterator[list[LslInlet]]:
    inlets: list[LslInlet] = []
    yield inlets
    for inlet in inlets:
        inlet.close()


def open_(
    opened: list[LslInlet], predicate: StreamPredicate, min_wait: float = 0.2, **kw: Any
) -> LslInlet:
    """Open by predicate; a short ``min_wait`` is fine where only one stream can match."""
    inlet = open_inlet(predicate, 3.0, min_wait=min_wait, **kw)
    opened.append(inlet)
    return inlet


def test_channel_named_by_name_tag_in_microvolts(opened: list[LslInlet]) -> None:
    chans = [("name", "ACC", "g"), ("name", "ECG", "microvolts"), ("name", "RESP", "")]
    out, pred = outlet("ExG", channels=chans)
    inlet = open_(opened, pred, channel="ECG", settings=S(), role_unit="mV")
    assert inlet.meta.channel_labels == ("ACC", "ECG", "RESP")
    out.push_chunk(np.array([[0.0, 1500.0, 9.0], [0.0, -200.0, 9.0]], dtype=np.float32))
    values, _ = pull_until(inlet, 2)
    np.testing.assert_allclose(values, [1.5, -0.2], rtol=1e-6)
    assert inlet.conversion is not None and inlet.conversion.describe() == "uV -> mV"


def test_no_description_signal_on_channel_2_by_index(opened: list[LslInlet]) -> None:
    out, pred = outlet("ExG", count=4)
    inlet = open_(opened, pred, channel=2, settings=S(unit="uV"), role_unit="mV")
    assert inlet.meta.channel_labels == ("",) * 4
    out.push_chunk(np.array([[1, 2, 3000, 4], [5, 6, -7000, 8]], dtype=np.float32))
    values, _ = pull_until(inlet, 2)
    np.testing.assert_allclose(values, [3.0, -7.0])
    with pytest.raises(StreamError, match="no channel labelled 'ECG'; it has no labels"):
        open_(opened, pred, channel="ECG")


def test_int32_raw_counts_with_scale_and_offset(opened: list[LslInlet]) -> None:
    out, pred = outlet("OpenSignals", channels=[("label", "nSeq", ""), ("label", "A2", "")],
                       fmt="int32")  # fmt: skip
    ecg = S(unit="counts", scale=3.3 / (1100 * 1024) * 1000, offset=512)
    inlet = open_(opened, pred, channel="A2", settings=ecg, role_unit="mV")
    adc = np.array([[0, 512], [1, 1023], [2, 0]], dtype=np.int32)
    out.push_chunk(adc)
    values, _ = pull_until(inlet, 3)
    np.testing.assert_allclose(values, (adc[:, 1] / 1024 - 0.5) * 3.3 / 1100 * 1000, rtol=1e-12)


@pytest.mark.parametrize(
    ("unit", "sent", "expected"),
    [("kOhm", [100.0, 250.0, 0.0], [10.0, 4.0, np.nan]), ("nS", [5000.0, 12500.0], [5.0, 12.5])],
)
def test_skin_resistance_and_nanosiemens_to_microsiemens(
    unit: str, sent: list[float], expected: list[float], opened: list[LslInlet]
) -> None:
    out, pred = outlet("GSR", channels=[("label", "GSR", unit)], rate=32.0)
    inlet = open_(opened, pred, settings=S(), role_unit="uS")
    out.push_chunk(np.array(sent, dtype=np.float32).reshape(-1, 1))
    values, _ = pull_until(inlet, len(sent))
    np.testing.assert_allclose(values, expected, rtol=1e-6)


def test_mislabelled_unit_is_refused_then_overridden(opened: list[LslInlet]) -> None:
    out, pred = outlet("EDA", channels=[("label", "EDA", "mmHg")], rate=4.0)
    with pytest.raises(StreamError, match=r"declares unit 'mmHg'.*signal\.unit"):
        open_(opened, pred, settings=S(), role_unit="uS")
    inlet = open_(opened, pred, settings=S(unit="uS"), role_unit="uS")
    out.push_chunk(np.array([[2.5], [2.75]], dtype=np.float32))
    values, _ = pull_until(inlet, 2)
    np.testing.assert_allclose(values, [2.5, 2.75])


@pytest.mark.parametrize("clock", ["unix", "auto"])
def test_unix_clock_timestamps_are_mapped_to_lsl(
    clock: Literal["unix", "auto"], opened: list[LslInlet]
) -> None:
    out, pred = outlet("ECG", channels=[("label", "ECG", "mV")])
    inlet = open_(opened, pred, settings=S(clock=clock), role_unit="mV")
    lsl_sent = pylsl.local_clock() - 0.5 + np.arange(20) / 100.0
    unix_sent = time.time() - 0.5 + np.arange(20) / 100.0  # what the bridge stamps
    out.push_chunk(np.ones((20, 1), dtype=np.float32), timestamp=unix_sent.tolist())
    _, stamps = pull_until(inlet, 20)
    assert stamps.size == 20
    assert np.max(np.abs(stamps - lsl_sent)) < 0.005


def test_bunched_packet_timestamps_are_dejittered(opened: list[LslInlet]) -> None:
    out, pred = outlet("ECG", channels=[("label", "ECG", "uV")], rate=100.0)
    inlet = open_(opened, pred, settings=S(dejitter=True), role_unit="mV")
    true = pylsl.local_clock() - 5.0 + np.arange(400) / 100.0
    packet_stamp = true[(np.arange(400) // 10) * 10 + 9]  # all 10 get the last one's time
    out.push_chunk(np.zeros((400, 1), dtype=np.float32), timestamp=packet_stamp.tolist())
    _, stamps = pull_until(inlet, 400)
    assert stamps.size == 400 and np.all(np.diff(stamps) > 0)
    np.testing.assert_allclose(np.diff(stamps[200:]), 0.01, atol=0.0005)
    assert np.all(np.abs(stamps - true) < 0.1)  # within one packet of the truth
    assert np.unique(np.round(np.diff(packet_stamp), 6)).tolist() == [0.0, 0.1]


def test_irregular_heart_rate_in_bpm(opened: list[LslInlet]) -> None:
    out, pred = outlet("HR", channels=[("label", "HR", "bpm")], rate=0.0)
    inlet = open_(opened, pred, settings=S(content="hr_bpm"), role_unit="mV")
    beats = pylsl.local_clock() - 3 + np.array([0.0, 0.8, 1.61, 2.45])
    out.push_chunk(np.array([[75], [74], [72], [71]], dtype=np.float32), timestamp=beats.tolist())
    values, stamps = pull_until(inlet, 4)
    np.testing.assert_allclose(values, [75, 74, 72, 71])
    np.testing.assert_allclose(stamps, beats, atol=1e-3)
    assert inlet.meta.nominal_srate == 0.0 and inlet.gaps == ()


def test_rr_intervals_in_ms_become_bpm_at_beat_times(opened: list[LslInlet]) -> None:
    out, pred = outlet("RR", channels=[("label", "RR", "ms")], rate=0.0)
    inlet = open_(opened, pred, settings=S(content="rr_ms"), role_unit="bpm")
    beats = pylsl.local_clock() - 2 + np.array([0.0, 0.8, 1.55])
    out.push_chunk(np.array([[800], [800], [750]], dtype=np.float32), timestamp=beats.tolist())
    values, stamps = pull_until(inlet, 3)
    np.testing.assert_allclose(values, [75.0, 75.0, 80.0])
    np.testing.assert_allclose(stamps, beats, atol=1e-3)
    with pytest.raises(StreamError, match=r"irregular.*dejitter"):
        open_(opened, pred, settings=S(content="rr_ms", dejitter=True), role_unit="bpm")


def test_same_name_and_type_chosen_by_source_id_and_deterministic(
    opened: list[LslInlet],
) -> None:
    ident = uid()
    kind, name = f"EDA{ident}", f"Shimmer{ident}"
    outs = {k: outlet(kind, name=name, source_id=f"{ident}-{k}", rate=10.0)[0] for k in "cab"}
    inlet = open_(opened, StreamPredicate(type=kind, name=name, source_id=f"{ident}-b"))
    assert inlet.meta.source_id == f"{ident}-b"
    # all candidates must have time to answer: the default min_wait (0.5 s)
    either = open_(opened, StreamPredicate(type=kind, name=name), min_wait=0.5)
    assert either.meta.source_id == f"{ident}-a"  # smallest of all candidates, not the first
    again = resolve_stream(StreamPredicate(type=kind, name=name), 3.0)
    assert again.source_id() == f"{ident}-a"
    for k, out in outs.items():
        out.push_sample([float(ord(k))])
    np.testing.assert_array_equal(pull_until(inlet, 1)[0], [float(ord("b"))])
    np.testing.assert_array_equal(pull_until(either, 1)[0], [float(ord("a"))])
