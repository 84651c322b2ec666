"""One stream, several roles: channels per role, converted per role, recorded once."""

from __future__ import annotations

import numpy as np
import pytest

from biosignals.conversion import SignalSettings
from biosignals.errors import StreamError
from biosignals.reconnect import StreamPredicate
from biosignals.role_streams import (
    RoleRequest,
    SharedStream,
    bind_roles,
    timing_settings,
)
from biosignals.streams import FakeInlet, StreamMeta

S = SignalSettings
P = StreamPredicate(name="OpenSignals")
LABELS = ("nSeq", "ECGBIT1", "EDABITREV2", "ACCBITREV0", "LUXBITREV0", "RESPBIT0", "EMG0")
UNITS = ("", "mV", "uS", "g", "%", "%", "mV")


def bitalino_like() -> FakeInlet:
    meta = StreamMeta(
        "OpenSignals", "00:07:80:4D:2E:76", "00:07:80:4D:2E:76", 7, 1000.0, "float32",
        LABELS, UNITS,
    )  # fmt: skip
    return FakeInlet(meta)


def requests(**channels: str | int) -> list[RoleRequest]:
    units = {"heart": "mV", "eda": "uS", "ppg": "", "hr": "bpm"}
    return [RoleRequest(role, P, ch, S(), units[role]) for role, ch in channels.items()]


def test_two_roles_read_their_own_channels_of_one_stream() -> None:
    inlet = bitalino_like()
    stream = SharedStream(
        inlet, bind_roles(inlet.meta, requests(heart="ECGBIT1", eda="EDABITREV2")), keep_raw=True
    )
    data = np.arange(70, dtype=np.float64).reshape(10, 7)
    inlet.push(data, np.arange(10) / 1000.0)
    ecg, t_ecg = stream.views["heart"].pull()
    eda, t_eda = stream.views["eda"].pull()
    np.testing.assert_array_equal(ecg, data[:, 1])
    np.testing.assert_array_equal(eda, data[:, 2])
    np.testing.assert_array_equal(t_ecg, t_eda)
    (raw,) = stream.drain_raw()
    np.testing.assert_array_equal(raw[0], data)  # every channel, once
    assert stream.drain_raw() == []
    assert stream.withheld == (0, 3, 4, 5, 6)


def test_each_role_converts_its_own_unit() -> None:
    meta = StreamMeta(
        "Shimmer", "Shimmer3", "sh1", 2, 128.0, "float32",
        ("PPG_A13", "GSR Skin Resistance"), ("mV", "kOhms"),
    )  # fmt: skip
    inlet = FakeInlet(meta)
    reqs = [
        RoleRequest("ppg", P, "PPG_A13", S(), ""),
        RoleRequest("eda", P, "GSR Skin Resistance", S(), "uS"),
    ]
    stream = SharedStream(inlet, bind_roles(meta, reqs))
    inlet.push(np.array([[1.5, 250.0], [1.6, 200.0]]), [0.0, 1 / 128])
    ppg, _ = stream.views["ppg"].pull()
    eda, _ = stream.views["eda"].pull()
    np.testing.assert_allclose(ppg, [1.5, 1.6])
    np.testing.assert_allclose(eda, [4.0, 5.0])  # 1000 / kOhm
    assert stream.drain_raw() == []  # keep_raw off: nothing accumulates


def test_views_pull_in_any_order_and_see_every_chunk() -> None:
    inlet = bitalino_like()
    stream = SharedStream(inlet, bind_roles(inlet.meta, requests(heart=1, eda=2)))
    early: list[float] = []
    for k in range(3):
        inlet.push(np.full((5, 7), float(k)), k * 0.005 + np.arange(5) / 1000.0)
        if k == 1:
            early = stream.views["heart"].pull()[0].tolist()
    assert early == [0.0] * 5 + [1.0] * 5
    eda, t = stream.views["eda"].pull()
    assert eda.tolist() == [0.0] * 5 + [1.0] * 5 + [2.0] * 5
    ecg, _ = stream.views["heart"].pull()
    assert ecg.tolist() == [2.0] * 5
    assert np.all(np.diff(t) > 0)


def test_a_gap_reaches_every_role() -> None:
    inlet = bitalino_like()
    stream = SharedStream(inlet, bind_roles(inlet.meta, requests(heart=1, eda=2)))
    inlet.push(np.zeros((3, 7)), [0.0, 0.001, 0.002])
    inlet.push(np.zeros((3, 7)), [2.0, 2.001, 2.002])
    stream.views["heart"].pull()
    assert len(stream.views["heart"].drain_gaps()) == 1
    assert len(stream.views["eda"].drain_gaps()) == 1


def test_two_roles_on_one_channel_are_refused() -> None:
    inlet = bitalino_like()
    with pytest.raises(StreamError, match="roles heart and eda both read channel 'ECGBIT1'"):
        bind_roles(inlet.meta, requests(heart="ECGBIT1", eda=1))


def test_an_unknown_label_lists_the_labels_found() -> None:
    inlet = bitalino_like()
    with pytest.raises(StreamError, match=r"no channel labelled 'A2'.*'ECGBIT1', 'EDABITREV2'"):
        bind_roles(inlet.meta, requests(heart="A2"))


def test_a_unit_that_cannot_become_the_role_unit_is_refused() -> None:
    inlet = bitalino_like()  # channel 3 is in g (acceleration)
    with pytest.raises(StreamError, match="declares unit 'g'"):
        bind_roles(inlet.meta, requests(eda=3))
    with pytest.raises(StreamError, match="cannot be converted"):
        bind_roles(inlet.meta, [RoleRequest("eda", P, 1, S(), "uS")])  # mV -> uS


def test_roles_sharing_a_stream_must_agree_on_its_clock() -> None:
    a = RoleRequest("heart", P, 1, S(dejitter=True), "mV")
    b = RoleRequest("eda", P, 2, S(), "uS")
    assert timing_settings("OpenSignals", [a, b]).dejitter  # unset takes the explicit value
    c = RoleRequest("eda", P, 2, S(clock="unix"), "uS")
    d = RoleRequest("heart", P, 1, S(clock="lsl"), "mV")
    with pytest.raises(StreamError, match=r"different signal\.clock"):
        timing_settings("OpenSignals", [c, d])


def test_default_clock_is_auto() -> None:
    assert S().clock == "auto"
