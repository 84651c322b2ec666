"""Replaying recorded physiology on LSL: values, timing and metadata as recorded."""

from __future__ import annotations

import argparse
import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from waiting import wait_for

from biosignals.errors import SignalError
from biosignals.lsl import import_pylsl
from biosignals.replay import RecordedStream, Replayer
from biosignals.streams import LslInlet, StreamPredicate, resolve_stream
from biosignals.twin import TwinProfile
from engine.export.cli import add_replay_parser
from engine.export.recording import load_physiology
from engine.live import RunOptions, SessionResult, run_simulated, with_duration
from engine.protocol import load_protocol, resolve_seed


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> SessionResult:
    """A real 30 s dry-run of the heights demo."""
    out = tmp_path_factory.mktemp("replay-session")
    protocol = with_duration(load_protocol(resolve_seed("protocols", "heights-demo")), 30.0)
    return run_simulated(protocol, RunOptions(out=out, display="null"), TwinProfile())


def _first_seconds(streams: list[RecordedStream], seconds: float) -> list[RecordedStream]:
    t0 = min(float(s.timestamps[0]) for s in streams)
    out = []
    for s in streams:
        keep = s.timestamps < t0 + seconds
        out.append(replace(s, samples=s.samples[keep], timestamps=s.timestamps[keep]))
    return out


def _stream(n: int = 10, fmt: str = "float32") -> RecordedStream:
    return RecordedStream(
        "x", "ECG", "x", 100.0, fmt, "", np.zeros((n, 1), np.float32), np.arange(n) / 100.0
    )


def test_replayer_checks_its_input() -> None:
    with pytest.raises(SignalError, match="no streams"):
        Replayer([])
    with pytest.raises(SignalError, match="speed"):
        Replayer([_stream()], speed=0.0)
    with pytest.raises(SignalError, match="no samples"):
        Replayer([_stream(0)])
    with pytest.raises(SignalError, match="not numeric"):
        _stream(fmt="string")


def test_load_physiology_keeps_original_metadata(session: SessionResult) -> None:
    streams = load_physiology(session.recording)
    ecg = next(s for s in streams if s.type == "ECG")
    assert ecg.name == "vrtherapy-twin-ECG" and ecg.nominal_srate == 500.0
    assert ecg.meta.channel_labels == ("ECG",) and ecg.meta.channel_units == ("millivolts",)
    assert ecg.samples.dtype == np.float32


@pytest.mark.lsl
def test_step_pushes_what_is_due(session: SessionResult) -> None:
    pylsl = import_pylsl()
    streams = _first_seconds(load_physiology(session.recording), 2.0)
    replayer = Replayer(streams, speed=2.0, source_suffix=f"-{uuid.uuid4().hex[:8]}")
    try:
        now = pylsl.local_clock()
        first = replayer.step(now)
        assert first == sum(
            int(s.timestamps[0] == min(x.timestamps[0] for x in streams)) for s in streams
        )
        half = replayer.step(now + 0.5)  # 0.5 s at speed 2 = 1 s of recording
        t_first = min(float(s.timestamps[0]) for s in streams)
        due = sum(int(np.sum(s.timestamps <= t_first + 1.0)) for s in streams)
        assert first + half == due
        assert not replayer.done
        replayer.step(now + replayer.duration)
        assert replayer.done
    finally:
        replayer.stop()


@pytest.mark.lsl
def test_live_inlet_receives_recorded_values_timing_and_metadata(session: SessionResult) -> None:
    streams = _first_seconds(load_physiology(session.recording), 3.0)
    suffix = f"-replay-{uuid.uuid4().hex[:8]}"
    replayer = Replayer(streams, speed=1.0, source_suffix=suffix)
    replayer.open()
    inlets = {
        s.type: LslInlet(resolve_stream(StreamPredicate(source_id=s.source_id + suffix), 5.0))
        for s in streams
    }
    got: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {k: [] for k in inlets}
    try:
        replayer.start()
        want = {s.type: s.timestamps.size for s in streams}

        def all_received() -> bool:
            for kind, inlet in inlets.items():
                values, stamps = inlet.pull()
                if stamps.size:
                    got[kind].append((values, stamps))
            return all(sum(v.size for v, _ in got[k]) >= want[k] for k in want)

        wait_for(all_received, replayer.duration + 5.0, what=f"every replayed sample ({want})")
        assert replayer.done
        for s in streams:
            inlet = inlets[s.type]
            assert inlet.meta.name == s.name and inlet.meta.nominal_srate == s.nominal_srate
            assert inlet.meta.channel_labels == s.meta.channel_labels
            assert inlet.meta.channel_units == s.meta.channel_units
            values = np.concatenate([v for v, _ in got[s.type]])
            stamps = np.concatenate([t for _, t in got[s.type]])
            np.testing.assert_array_equal(values, s.samples[:, 0].astype(np.float64))
            rel_got, rel_want = stamps - stamps[0], s.timestamps - s.timestamps[0]
            assert np.max(np.abs(rel_got - rel_want)) < 1e-3
    finally:
        for inlet in inlets.values():
            inlet.close()
        replayer.stop()


def test_replay_parser(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_replay_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["replay", str(tmp_path / "r.xdf"), "--speed", "4"])
    assert args.recording == tmp_path / "r.xdf" and args.speed == 4.0


@pytest.mark.lsl
def test_wait_for_consumers_is_false_alone_and_true_once_a_recorder_connects(
    session: SessionResult,
) -> None:
    streams = _first_seconds(load_physiology(session.recording), 1.0)
    suffix = f"-replay-{uuid.uuid4().hex[:8]}"
    replayer = Replayer(streams, speed=1.0, source_suffix=suffix)
    inlets: list[LslInlet] = []
    try:
        assert replayer.wait_for_consumers(0.3) is False  # nobody listens yet
        inlets = [
            LslInlet(resolve_stream(StreamPredicate(source_id=s.source_id + suffix), 5.0))
            for s in streams[:-1]
        ]
        assert replayer.wait_for_consumers(0.5) is False  # one stream still has no consumer
        inlets.append(
            LslInlet(resolve_stream(StreamPredicate(source_id=streams[-1].source_id + suffix), 5.0))
        )
        assert replayer.wait_for_consumers(10.0) is True
        assert not replayer.done  # waiting played nothing
    finally:
        for inlet in inlets:
            inlet.close()
        replayer.stop()


@pytest.mark.lsl
def test_replay_cli_waiting_for_a_consumer_that_never_comes_exits_1(
    session: SessionResult,
) -> None:
    alone = run_cli("replay", str(session.recording), "--wait-for-consumer", "0.5")
    assert alone.returncode == 1, alone.stderr
    assert "no consumer connected to every stream within 0.5 s" in alone.stderr
    assert "nothing was played" in alone.stderr
    for bad in ("-1", "nan", "inf"):
        r = run_cli("replay", str(session.recording), "--wait-for-consumer", bad)
        assert r.returncode == 2 and f"--wait-for-consumer: '{bad}' is not a number" in r.stderr
