"""A session on a manual clock with an in-process twin and a real XDF recording, for tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from biosignals.twin import TwinPhysiology, TwinProfile
from engine.clock import ManualClock
from engine.display.base import Display
from engine.display.null import NullDisplay
from engine.protocol import Protocol
from engine.record import XdfRecorder
from engine.record.rolemap import raw_stream_spec
from engine.session import Session
from engine.session_record import SessionRecording
from engine.twinfeed import TwinFeed
from therapies.scenes import create_scene

FPS = 30.0
"""Default frame rate of test sessions."""


def make_session(
    tmp_path: Path,
    protocol: Protocol,
    profile: TwinProfile | None = None,
    display: Display | None = None,
    feed_cls: type[TwinFeed] = TwinFeed,
    fps: float = FPS,
    **feed_attrs: float,
) -> tuple[Session, Any, XdfRecorder]:
    """A session of ``protocol`` starting at t = 100 s: twin (seed 3, ECG 500 Hz, EDA
    32 Hz) as ``feed_cls`` with ``feed_attrs`` set, recorded to ``tmp_path / "rec.xdf"``.

    Returns the session, the feed and the (started) recorder.
    """
    clock = ManualClock(100.0)
    feed = feed_cls(
        TwinPhysiology(profile or TwinProfile(), start_time=100.0, seed=3), clock, 500.0, 32.0
    )
    for k, v in feed_attrs.items():
        setattr(feed, k, v)
    recorder = XdfRecorder(tmp_path / "rec.xdf")
    recorder.start()
    recording = SessionRecording(recorder)
    session = Session(
        protocol,
        clock=clock,
        display=display or NullDisplay(),
        scene=create_scene(protocol.scene, 0),
        sources=feed.sources(),
        streams=feed.streams(),
        recording=recording,
        raw_specs=[raw_stream_spec(stream) for stream in feed.streams()],
        sinks=(feed,),
        frame_rate=fps,
    )
    return session, feed, recorder
