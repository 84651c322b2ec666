"""Helpers for the console tests: a session on a manual clock wired like a live one (command
link, status outlets), a console's command outlet, and reading a recording's markers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyxdf

from biosignals.lsl import import_pylsl
from biosignals.twin import TwinPhysiology, TwinProfile
from engine.clock import ManualClock
from engine.console_link import LslCommandSource
from engine.console_wire import STREAMS, make_command, new_secret, new_session_id, source_id
from engine.display.base import Display
from engine.display.null import NullDisplay
from engine.protocol import Protocol, load_protocol, resolve_seed
from engine.record import XdfRecorder
from engine.session import Session
from engine.session_builder import SessionSetup, build_session, open_recording
from engine.session_types import StatusSink
from engine.twinfeed import TwinFeed

pylsl = import_pylsl()
FPS = 10.0
START = 100.0


def short_protocol(**update: Any) -> Protocol:
    """heights-demo with a 10 s baseline (and ``update``), validated."""
    data = load_protocol(resolve_seed("protocols", "heights-demo")).model_dump()
    data.update({"baseline": 10.0, **update})
    return Protocol.model_validate(data)


class Rig:
    """A session with a real command link (``LslCommandSource``) on a manual clock."""

    def __init__(
        self,
        tmp_path: Path,
        protocol: Protocol | None = None,
        *,
        publish: StatusSink | None = None,
        sid: str | None = None,
        display: Display | None = None,
        feed_cls: type[TwinFeed] = TwinFeed,
        **feed_attrs: float,
    ) -> None:
        self.sid = sid or new_session_id()
        self.secret = new_secret()
        self.protocol = protocol or short_protocol()
        self.clock = ManualClock(START)
        self.feed = feed_cls(
            TwinPhysiology(TwinProfile(), start_time=START, seed=3), self.clock, 500.0, 32.0
        )
        for k, v in feed_attrs.items():
            setattr(self.feed, k, v)
        self.link = LslCommandSource(self.sid, self.secret)
        self.path = tmp_path / "rec.xdf"
        rec = open_recording(self.path, self.protocol, "P-TEST")
        sinks: tuple[Any, ...] = (self.feed,) if publish is None else (self.feed, publish)
        setup = SessionSetup(
            self.protocol,
            self.clock,
            display or NullDisplay(),
            self.feed.streams(),
            sinks=sinks,
            commands=(self.link,),
            publish=publish,
            frame_rate=FPS,
        )
        self.session: Session = build_session(setup, rec)
        self.recorder: XdfRecorder = rec.recorder

    def step(self) -> bool:
        """One frame."""
        alive = self.session.step(self.clock.now())
        self.clock.advance(1.0 / FPS)
        return alive

    def run_until(self, t: float) -> None:
        """Frames until session time ``START + t``."""
        while self.clock.now() < START + t and self.step():
            pass

    def command(self, kind: str, operator: str = "dr.lee", **fields: Any) -> dict[str, Any]:
        """A command signed with this session's secret, stamped now."""
        return make_command(self.sid, self.secret, kind, operator, self.clock.now(), **fields)

    def close(self) -> list[dict[str, Any]]:
        """End the recording and the link; the markers recorded."""
        if not self.session.done:
            self.session.stop(self.clock.now(), "test over")
        self.link.close()
        self.recorder.close()
        return recorded_markers(self.path)


def recorded_markers(path: Path) -> list[dict[str, Any]]:
    streams, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    by = {s["info"]["name"][0]: s for s in streams}
    return [json.loads(m[0]) for m in by["vrtherapy-markers"]["time_series"]]


def console_outlet(sid: str) -> Any:
    """A console's command outlet for session ``sid`` (what ``vrtherapy console`` opens)."""
    name, stream_type = STREAMS["commands"]
    info = pylsl.StreamInfo(
        name, stream_type, 1, pylsl.IRREGULAR_RATE, "string", source_id("commands", sid)
    )
    return pylsl.StreamOutlet(info)


def send(outlet: Any, command: dict[str, Any] | str) -> None:
    """Push one command sample (an object as its JSON, or raw text)."""
    text = command if isinstance(command, str) else json.dumps(command)
    outlet.push_sample([text])
