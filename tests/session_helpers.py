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
from engine.session import Session
from engine.session_builder import SessionSetup, build_session, open_recording
from engine.twinfeed import TwinFeed

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
    32 Hz) as ``feed_cls`` with ``feed_attrs`` set, recorded to ``tmp_path / "rec.xdf"``,
    built by :func:`engine.session_builder.build_session` like every session.

    Returns the session, the feed and the (started) recorder.
    """
    clock = ManualClock(100.0)
    feed = feed_cls(
        TwinPhysiology(profile or TwinProfile(), start_time=100.0, seed=3), clock, 500.0, 32.0
    )
    for k, v in feed_attrs.items():
        setattr(feed, k, v)
    recording = open_recording(tmp_path / "rec.xdf", protocol, "P-TEST")
    setup = SessionSetup(
        protocol, clock, display or NullDisplay(), feed.streams(), sinks=(feed,), frame_rate=fps
    )
    return build_session(setup, recording), feed, recording.recorder
