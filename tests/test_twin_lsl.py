"""The twin on real LSL (loopback): metadata, rates, and following the intensity stream."""

from __future__ import annotations

import threading
import uuid

import numpy as np
import pytest
from waiting import wait_for

from biosignals.errors import StreamError
from biosignals.lsl import described, import_pylsl
from biosignals.streams import LslInlet, StreamPredicate, resolve_stream
from biosignals.twin import (
    INTENSITY_STREAM_NAME,
    INTENSITY_STREAM_TYPE,
    TwinOutlets,
    TwinPhysiology,
    TwinProfile,
    TwinRunner,
)

pylsl = import_pylsl()
pytestmark = pytest.mark.lsl


def test_runner_publishes_ecg_and_eda_with_metadata() -> None:
    prefix = f"twin-{uuid.uuid4().hex[:12]}"
    twin = TwinPhysiology(TwinProfile(), start_time=pylsl.local_clock(), seed=1)
    outlets = TwinOutlets(twin, source_prefix=prefix, listen_intensity=False)
    runner = TwinRunner(outlets, period=0.02)
    ecg = LslInlet(resolve_stream(StreamPredicate(source_id=f"{prefix}-ecg"), timeout=3.0))
    eda = LslInlet(resolve_stream(StreamPredicate(source_id=f"{prefix}-eda"), timeout=3.0))
    try:
        assert (ecg.meta.name, ecg.meta.type, ecg.meta.nominal_srate) == (
            "vrtherapy-twin-ECG",
            "ECG",
            500.0,
        )
        assert ecg.meta.channel_labels == ("ECG",) and ecg.meta.channel_units == ("millivolts",)
        assert ecg.meta.channel_format == "float32" and ecg.meta.channel_count == 1
        assert "<manufacturer>vrtherapy</manufacturer>" in ecg.meta.info_xml
        assert "<model>twin</model>" in ecg.meta.info_xml
        assert (eda.meta.name, eda.meta.type, eda.meta.nominal_srate) == (
            "vrtherapy-twin-EDA",
            "EDA",
            32.0,
        )
        assert eda.meta.channel_labels == ("EDA",) and eda.meta.channel_units == ("microsiemens",)
        runner.start()
        assert runner.running
        with pytest.raises(StreamError, match="already started"):
            runner.start()
        got: dict[str, list[np.ndarray]] = {"ecg": [], "ecg_t": [], "eda": [], "eda_t": []}

        def received_1_5_s() -> bool:
            for key, inlet in (("ecg", ecg), ("eda", eda)):
                values, stamps = inlet.pull()
                got[key].append(values)
                got[f"{key}_t"].append(stamps)
            stamps = np.concatenate(got["ecg_t"])
            return stamps.size > 0 and stamps[-1] - stamps[0] >= 1.5

        wait_for(received_1_5_s, 10.0, interval=0.05, what="1.5 s of the twin's ECG")
        runner.stop()
        assert not runner.running
    finally:
        runner.stop()
        ecg.close()
        eda.close()
        outlets.close()
    ecg_t, eda_t = np.concatenate(got["ecg_t"]), np.concatenate(got["eda_t"])
    span = ecg_t[-1] - ecg_t[0]
    assert span > 1.2
    assert (ecg_t.size - 1) / span == pytest.approx(500.0, rel=1e-3)  # the twin's own clock
    assert (eda_t.size - 1) / (eda_t[-1] - eda_t[0]) == pytest.approx(32.0, rel=1e-2)
    np.testing.assert_allclose(np.diff(ecg_t), 1 / 500, atol=1e-4)  # gapless
    assert abs(ecg_t[-1] - pylsl.local_clock()) < 1.0  # real time on the LSL clock
    ecg_v = np.concatenate(got["ecg"])
    assert 1.0 < ecg_v.max() < 1.6  # R peaks in mV arrived
    assert np.all((np.concatenate(got["eda"]) > 3.0) & (np.concatenate(got["eda"]) < 6.0))


def test_intensity_stream_drives_the_twin() -> None:
    ident = uuid.uuid4().hex[:12]
    info = pylsl.StreamInfo(
        INTENSITY_STREAM_NAME, INTENSITY_STREAM_TYPE, 1, 0.0, "float32", f"engine-{ident}"
    )
    intensity = pylsl.StreamOutlet(info)
    profile = TwinProfile(response_lag=0.2, habituation_floor=1.0)
    twin = TwinPhysiology(profile, start_time=pylsl.local_clock(), seed=2)
    outlets = TwinOutlets(
        twin,
        source_prefix=f"twin-{ident}",
        intensity_predicate=StreamPredicate(
            type=INTENSITY_STREAM_TYPE, source_id=f"engine-{ident}"
        ),
        resolve_interval=0.1,
    )
    runner = TwinRunner(outlets, period=0.02)
    runner.start()
    sources: list[str | None] = []

    def aroused() -> bool:
        intensity.push_sample([0.9])
        sources.append(outlets.intensity_source)
        return twin.arousal >= 0.8

    try:
        wait_for(aroused, 4.0, interval=0.05, what="the twin's arousal to reach 0.8")
        source = sources[-1]
    finally:
        runner.stop()
        outlets.close()
    assert source == f"engine-{ident}"
    assert outlets.intensity_source is None  # released by close()
    assert twin.intensity == pytest.approx(0.9)
    assert twin.arousal >= 0.8
    assert twin.true_heart_rate > 70 + 0.6 * 45


def test_closed_outlets_refuse_to_step() -> None:
    twin = TwinPhysiology(TwinProfile(), start_time=pylsl.local_clock())
    outlets = TwinOutlets(twin, source_prefix=f"twin-{uuid.uuid4().hex[:12]}")
    outlets.step(pylsl.local_clock())
    outlets.close()
    with pytest.raises(StreamError, match="after close"):
        outlets.step(pylsl.local_clock())


def test_string_intensity_stream_is_refused() -> None:
    ident = uuid.uuid4().hex[:12]
    info = pylsl.StreamInfo("words", INTENSITY_STREAM_TYPE, 1, 0.0, "string", f"words-{ident}")
    _outlet = pylsl.StreamOutlet(info)
    twin = TwinPhysiology(TwinProfile(), start_time=pylsl.local_clock())
    outlets = TwinOutlets(
        twin,
        source_prefix=f"twin-{ident}",
        intensity_predicate=StreamPredicate(source_id=f"words-{ident}"),
        resolve_interval=0.05,
    )
    try:
        with pytest.raises(StreamError, match=rf"words-{ident}.*strings"):
            wait_for(  # until step() raises
                lambda: outlets.step(pylsl.local_clock()),
                3.0,
                interval=0.02,
                what="the string stream to be refused",
            )
    finally:
        outlets.close()


def test_runner_hands_a_failed_step_to_stop() -> None:
    twin = TwinPhysiology(TwinProfile(), start_time=pylsl.local_clock())
    outlets = TwinOutlets(twin, source_prefix=f"twin-{uuid.uuid4().hex[:12]}")
    outlets.close()
    runner = TwinRunner(outlets, period=0.01)
    runner.start()
    wait_for(lambda: not runner.running, 2.0, what="the runner's thread to end")
    assert not runner.running
    with pytest.raises(StreamError, match=r"thread failed.*after close"):
        runner.stop()
    runner.stop()  # the error is reported once


def test_an_intensity_outlet_gone_before_it_answered_does_not_block_the_twin() -> None:
    """liblsl's pull reads the stream's full description first and waits for it without
    limit; an intensity outlet that vanished between being resolved and answering would
    block the twin's thread, and `TwinRunner.stop` with it, for good (seen once in CI:
    a session killed just as the twin connected)."""
    ident = uuid.uuid4().hex[:12]
    source = f"engine-{ident}"
    twin = TwinPhysiology(TwinProfile(), start_time=pylsl.local_clock(), seed=3)
    predicate = StreamPredicate(type=INTENSITY_STREAM_TYPE, source_id=source)
    outlets = TwinOutlets(
        twin, source_prefix=f"twin-{ident}", intensity_predicate=predicate, resolve_interval=0.1
    )
    info = pylsl.StreamInfo(INTENSITY_STREAM_NAME, INTENSITY_STREAM_TYPE, 1, 0.0, "float32", source)
    intensity = pylsl.StreamOutlet(info)
    # the twin's own resolver must hold the stream when it goes (a stale result, as in a
    # session killed just after being resolved)
    wait_for(lambda: bool(outlets._resolver.results()), 5.0, what="the twin to resolve it")
    stale = pylsl.resolve_bypred(predicate.to_xpath(), 1, 5.0)
    del intensity  # the outlet is gone before the twin opens an inlet on it
    returned = threading.Event()

    def step() -> None:
        outlets.step(pylsl.local_clock())
        returned.set()

    stepper = threading.Thread(target=step, daemon=True)
    try:
        stepper.start()
        stepper.join(10.0)
        assert returned.is_set(), "the twin's step blocked on the vanished intensity outlet"
        assert outlets.intensity_source == source  # it did open an inlet on the stale result
        assert twin.intensity == 0.0
        gone = pylsl.StreamInlet(stale[0], max_buflen=1)
        assert described(gone) is False  # asked without waiting
    finally:
        outlets.close()
