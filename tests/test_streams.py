"""LSL inlet adapter: predicates, deterministic resolution, channel selection, FakeInlet.

The ``lsl`` tests use real outlets on loopback; every stream gets a uuid source_id/name so
tests (and other processes on this machine) never see each other's streams.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lsl_helpers import pull_until

from biosignals.errors import SignalError, StreamError, StreamNotFoundError
from biosignals.lsl import import_pylsl
from biosignals.streams import (
    FakeInlet,
    Inlet,
    LslInlet,
    StreamMeta,
    StreamPredicate,
    pick_stream,
    resolve_stream,
    stream_meta,
)

pylsl = import_pylsl()


def uid() -> str:
    return uuid.uuid4().hex[:12]


def meta(count: int = 1, labels: tuple[str, ...] = ()) -> StreamMeta:
    return StreamMeta("fake", "ECG", "fake-1", count, 500.0, "float32", labels, (), "")


class FakeInfo:
    """Enough of pylsl.StreamInfo for predicate and pick tests."""

    def __init__(self, type_: str, name: str, source_id: str, uid_: str) -> None:
        self._v = (type_, name, source_id, uid_)

    def type(self) -> str:
        return self._v[0]

    def name(self) -> str:
        return self._v[1]

    def source_id(self) -> str:
        return self._v[2]

    def uid(self) -> str:
        return self._v[3]


# ----------------------------------------------------------------------------- pure
def test_predicate_matches_describes_and_quotes() -> None:
    info = FakeInfo("ECG", "x", "dev-1", "u")
    assert StreamPredicate(type="ECG").matches(info)
    assert StreamPredicate(type="ECG", name="x", source_id="dev-1").matches(info)
    assert not StreamPredicate(type="ECG", name="y").matches(info)
    assert StreamPredicate().matches(info)
    assert StreamPredicate(type="ECG", name="x").describe() == "type='ECG', name='x'"
    assert StreamPredicate().describe() == "any stream"
    assert StreamPredicate(type="ECG", name="o'k").to_xpath() == "type='ECG' and name=\"o'k\""
    with pytest.raises(StreamError, match="quotes"):
        StreamPredicate(name="a'b\"c").to_xpath()


def test_pick_is_deterministic_smallest_source_id_then_uid() -> None:
    infos = [
        FakeInfo("ECG", "a", "dev-2", "u1"),
        FakeInfo("ECG", "a", "dev-1", "u9"),
        FakeInfo("ECG", "a", "dev-1", "u3"),
        FakeInfo("EDA", "a", "dev-0", "u0"),
    ]
    for order in (infos, infos[::-1]):
        chosen = pick_stream(order, StreamPredicate(type="ECG"))
        assert chosen is not None and (chosen.source_id(), chosen.uid()) == ("dev-1", "u3")
    assert pick_stream(infos, StreamPredicate(type="PPG")) is None


def test_fake_inlet_contract() -> None:
    inlet = FakeInlet(meta(3, ("a", "b", "c")), channel="b")
    assert isinstance(inlet, Inlet)
    samples, stamps = inlet.pull()
    assert samples.shape == (0,) and stamps.shape == (0,) and samples.dtype == np.float64
    inlet.push([[1, 2, 3], [4, 5, 6]], [10.0, 10.1])
    inlet.push(np.array([[7, 8, 9]], dtype=np.float32), [10.2])
    samples, stamps = inlet.pull()
    np.testing.assert_array_equal(samples, [2.0, 5.0, 8.0])
    np.testing.assert_array_equal(stamps, [10.0, 10.1, 10.2])
    assert samples.dtype == np.float64 and stamps.dtype == np.float64
    assert inlet.pull()[0].size == 0  # consumed
    with pytest.raises(SignalError, match="3 channel"):
        inlet.push([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(SignalError, match="timestamps"):
        inlet.push([[1, 2, 3]], [1.0, 2.0])
    inlet.close()
    with pytest.raises(StreamError, match="closed"):
        inlet.pull()


def test_one_channel_fake_takes_flat_samples_and_index_selection() -> None:
    inlet = FakeInlet(meta())
    inlet.push([0.5, 0.6], [1.0, 2.0])
    np.testing.assert_array_equal(inlet.pull()[0], [0.5, 0.6])
    assert FakeInlet(meta(3), channel=2)._index == 2


def test_unknown_channel_names_stream_and_labels() -> None:
    with pytest.raises(StreamError, match=r"'fake'.*'nope'.*'a', 'b', 'c'"):
        FakeInlet(meta(3, ("a", "b", "c")), channel="nope")
    with pytest.raises(StreamError, match="out of range"):
        FakeInlet(meta(3), channel=3)
    with pytest.raises(StreamError, match="2 channel_labels for 3"):
        meta(3, ("a", "b"))


def test_stream_meta_from_xml_label_or_name() -> None:
    xml = (
        "<?xml version='1.0'?><info><name>n</name><type>EEG</type><channel_count>2"
        "</channel_count><channel_format>double64</channel_format><source_id>s</source_id>"
        "<nominal_srate>0.000</nominal_srate><desc><channels>"
        "<channel><label>Fz</label><unit>microvolts</unit></channel>"
        "<channel><name>Cz</name></channel></channels></desc></info>"
    )
    m = stream_meta(xml)
    assert (m.name, m.type, m.source_id, m.channel_count) == ("n", "EEG", "s", 2)
    assert m.nominal_srate == 0.0 and m.channel_format == "double64"
    assert m.channel_labels == ("Fz", "Cz") and m.channel_units == ("microvolts", "")
    with pytest.raises(StreamError, match="unreadable"):
        stream_meta("<info>")


def _info(count: str, rate: str) -> str:
    return (
        f"<info><name>dev</name><type>ECG</type><channel_count>{count}</channel_count>"
        f"<nominal_srate>{rate}</nominal_srate></info>"
    )


@pytest.mark.parametrize(
    ("count", "rate", "says"),
    [
        ("two", "500", "channel_count 'two' in its description is not a number"),
        ("1.5", "500", "channel_count '1.5'"),
        ("0", "500", "channel_count 0 in its description is not 1..100000"),
        ("-3", "500", "channel_count -3"),
        ("999999999", "500", "channel_count 999999999"),
        ("1", "fast", "nominal_srate 'fast' in its description is not a number"),
        ("1", "nan", "nominal_srate nan is not a finite rate"),
        ("1", "-500", "nominal_srate -500.0"),
        ("1", "inf", "nominal_srate inf"),
    ],
)
def test_a_description_with_bad_numbers_is_one_stream_error(
    count: str, rate: str, says: str
) -> None:
    # descriptions come from devices and from recorded files: never a ValueError or a
    # billion-entry label tuple
    with pytest.raises(StreamError, match="stream 'dev': ") as err:
        stream_meta(_info(count, rate))
    assert says in str(err.value)


@settings(max_examples=300, deadline=None)
@given(
    count=st.one_of(st.integers(-10, 10**12).map(str), st.text(max_size=12)),
    rate=st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text(max_size=12)),
    extra=st.text(max_size=40),
)
def test_any_description_is_a_stream_meta_or_a_stream_error(
    count: str, rate: str, extra: str
) -> None:
    from xml.sax.saxutils import escape

    xml = _info(escape(count), escape(rate)).replace("</info>", f"{escape(extra)}</info>")
    try:
        m = stream_meta(xml)
    except StreamError:
        return
    assert 1 <= m.channel_count <= 100_000
    assert m.nominal_srate >= 0.0 and np.isfinite(m.nominal_srate)
    assert len(m.channel_labels) == m.channel_count


# ----------------------------------------------------------------------------- real LSL
def make_outlet(
    type_: str,
    name: str,
    source_id: str,
    labels: list[str] | None = None,
    rate: float = 100.0,
) -> Any:
    info = pylsl.StreamInfo(name, type_, len(labels or [""]), rate, "float32", source_id)
    if labels:
        channels = info.desc().append_child("channels")
        for label in labels:
            ch = channels.append_child("channel")
            ch.append_child_value("label", label)
            ch.append_child_value("unit", "microvolts")
    return pylsl.StreamOutlet(info)


@pytest.fixture
def inlets() -> Iterator[list[LslInlet]]:
    opened: list[LslInlet] = []
    yield opened
    for inlet in opened:
        inlet.close()


@pytest.mark.lsl
@pytest.mark.parametrize("by", ["type", "name", "source_id"])
def test_loopback_values_and_timestamps_exact(by: str, inlets: list[LslInlet]) -> None:
    ident = uid()
    outlet = make_outlet(f"T{ident}", f"n{ident}", f"s{ident}")
    predicate = StreamPredicate(**{by: {"type": "T", "name": "n", "source_id": "s"}[by] + ident})
    info = resolve_stream(predicate, timeout=3.0)
    inlet = LslInlet(info)
    inlets.append(inlet)
    assert inlet.meta.source_id == f"s{ident}" and inlet.meta.nominal_srate == 100.0
    assert outlet.have_consumers()  # subscribed by the constructor
    values = np.arange(50, dtype=np.float32).reshape(-1, 1) * 0.25
    stamps = pylsl.local_clock() - 1.0 + np.arange(50) / 100.0
    outlet.push_chunk(values, timestamp=stamps.tolist())
    got, got_t = pull_until(inlet, 50)
    np.testing.assert_array_equal(got, values[:, 0].astype(np.float64))
    assert np.max(np.abs(got_t - stamps)) < 1e-3


@pytest.mark.lsl
def test_channel_selection_by_label_and_unknown_label(inlets: list[LslInlet]) -> None:
    ident = uid()
    outlet = make_outlet("Multi", f"m{ident}", f"s{ident}", labels=["Fz", "Cz", "Pz"])
    info = resolve_stream(StreamPredicate(source_id=f"s{ident}"), timeout=3.0)
    inlet = LslInlet(info, channel="Cz")
    inlets.append(inlet)
    assert inlet.meta.channel_labels == ("Fz", "Cz", "Pz")
    assert inlet.meta.channel_units == ("microvolts",) * 3
    assert "<label>Cz</label>" in inlet.meta.info_xml
    assert outlet.have_consumers()
    data = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], dtype=np.float32)
    outlet.push_chunk(data)
    got, _ = pull_until(inlet, 3)
    np.testing.assert_array_equal(got, [2.0, 5.0, 8.0])
    with pytest.raises(StreamError, match=rf"m{ident}.*'Oz'.*'Fz', 'Cz', 'Pz'"):
        LslInlet(info, channel="Oz")


@pytest.mark.lsl
def test_same_type_source_id_picks_the_right_one(inlets: list[LslInlet]) -> None:
    ident = uid()
    kind = f"Twin{ident}"
    outlets = [make_outlet(kind, f"n{ident}", f"{ident}-{k}") for k in "ba"]
    chosen = resolve_stream(StreamPredicate(type=kind, source_id=f"{ident}-b"), timeout=3.0)
    assert chosen.source_id() == f"{ident}-b"
    either = resolve_stream(StreamPredicate(type=kind), timeout=3.0)
    assert either.source_id() == f"{ident}-a"  # smallest, whatever answered first
    inlet = LslInlet(chosen)
    inlets.append(inlet)
    assert outlets[0].have_consumers() and not outlets[1].have_consumers()
    outlets[0].push_sample([42.0])
    outlets[1].push_sample([-1.0])
    got, _ = pull_until(inlet, 1)
    np.testing.assert_array_equal(got, [42.0])


@pytest.mark.lsl
def test_no_stream_raises_within_timeout() -> None:
    start = pylsl.local_clock()
    with pytest.raises(StreamNotFoundError, match=r"no LSL stream with type='Nothing\w+'.*1\.0 s"):
        resolve_stream(StreamPredicate(type=f"Nothing{uid()}"), timeout=1.0)
    assert pylsl.local_clock() - start < 2.0


@pytest.mark.lsl
def test_closed_inlet_refuses_pull(inlets: list[LslInlet]) -> None:
    ident = uid()
    _outlet = make_outlet("Closing", f"c{ident}", f"s{ident}")
    inlet = LslInlet(resolve_stream(StreamPredicate(source_id=f"s{ident}"), timeout=3.0))
    inlet.close()
    inlet.close()
    with pytest.raises(StreamError, match="closed"):
        inlet.pull()


@pytest.mark.lsl
def test_pull_does_not_block_after_open(inlets: list[LslInlet]) -> None:
    ident = uid()
    outlet = make_outlet("Blocking", f"b{ident}", f"s{ident}")
    inlet = LslInlet(resolve_stream(StreamPredicate(source_id=f"s{ident}"), timeout=3.0))
    inlets.append(inlet)
    outlet.push_chunk(np.ones((5, 1), dtype=np.float32))
    start = pylsl.local_clock()
    first, _ = inlet.pull()  # liblsl would wait here for its first clock estimate
    assert pylsl.local_clock() - start < 0.2
    rest, _ = pull_until(inlet, 5 - first.size)
    assert first.size + rest.size == 5


def test_fake_inlet_empty_pushes_pull_as_empty() -> None:
    inlet = FakeInlet(StreamMeta("x", "ECG", "src", 1, 500.0))
    inlet.push(np.zeros(0), np.zeros(0))
    values, stamps = inlet.pull()
    assert values.size == 0 and stamps.size == 0
