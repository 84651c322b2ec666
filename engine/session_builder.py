"""Building a session from its parts — the one way ``run``, ``demo``, ``simulate``, the
benchmarks and the tests put a :class:`~engine.session.Session` together.

:class:`SessionSetup` names what a session is wired to (protocol, clock, display, the
streams with their roles, sinks, command sources, a status sink, a prompt responder);
:func:`open_recording` starts the recording a session writes into (the batch interval is a
parameter: live sessions push every 0.25 s, dry-runs every 5 s of session time);
:func:`build_session` makes the scene (unless given), the raw streams' recorded headers
and the session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from biosignals.role_streams import SharedStream
from engine import __version__
from engine.clock import Clock
from engine.display.base import Display
from engine.protocol import Protocol
from engine.record import StreamSpec, XdfRecorder
from engine.record.rolemap import raw_stream_spec
from engine.record.writer import RecordSink
from engine.session import Session
from engine.session_record import SessionRecording
from engine.session_types import (
    IntensitySink,
    Progress,
    PromptResponder,
    SampleSource,
    StatusSink,
)
from therapies.commands import CommandSource
from therapies.scenes import create_scene
from therapies.scenes.base import Scene

__all__ = [
    "DRY_RUN_BATCH_SECONDS",
    "LIVE_BATCH_SECONDS",
    "SessionSetup",
    "build_session",
    "open_recording",
    "recording",
    "role_sources",
]

LIVE_BATCH_SECONDS = 0.25
"""Session seconds of per-frame rows per recorder push in live sessions (a kill loses at
most this plus the recorder's flush interval)."""
DRY_RUN_BATCH_SECONDS = 5.0
"""The same in dry-runs, whose session time runs ~400x faster than the wall clock."""


@dataclass
class SessionSetup:
    """What a session is wired to (see :class:`~engine.session.Session` for each part)."""

    protocol: Protocol
    clock: Clock
    display: Display
    streams: Sequence[SharedStream]
    sinks: Sequence[IntensitySink] = ()
    commands: Sequence[CommandSource] = ()
    publish: StatusSink | None = None
    """Where a live session publishes its status for a therapist console (its LSL
    outlets, :class:`engine.outlets.SessionOutlets`); ``None`` in dry-runs."""
    responder: PromptResponder | None = None
    scene: Scene | None = None
    """The scene, when the caller needs it first (its sound); else made from the protocol."""
    raw_specs: Sequence[StreamSpec] | None = None
    """The streams' recorded headers, when the caller made them first (to fail before a
    session folder exists); else made here."""
    frame_rate: float = 60.0
    on_event: Callable[[str], None] | None = None
    on_progress: Callable[[Progress], None] | None = None
    progress_every: float = 5.0


def role_sources(streams: Sequence[SharedStream]) -> dict[str, tuple[SampleSource, float]]:
    """``{role: (view, nominal rate)}`` of every role the streams carry."""
    return {
        role: (view, stream.meta.nominal_srate)
        for stream in streams
        for role, view in stream.views.items()
    }


def open_recording(
    path: Path,
    protocol: Protocol,
    participant: str,
    *,
    head_pose: bool = False,
    batch_seconds: float = LIVE_BATCH_SECONDS,
    sink_factory: Callable[[Path], RecordSink] | None = None,
) -> SessionRecording:
    """Start the XDF recording of a session at ``path`` (sealed with ``sink_factory``)."""
    recorder = XdfRecorder(
        path,
        file_header={
            "software": f"vrtherapy {__version__}",
            "protocol": protocol.protocol,
            "participant": participant,
        },
        sink_factory=sink_factory,
    )
    recorder.start()
    return SessionRecording(recorder, head_pose=head_pose, batch_seconds=batch_seconds)


@contextmanager
def recording(
    path: Path,
    protocol: Protocol,
    participant: str,
    *,
    head_pose: bool = False,
    batch_seconds: float = LIVE_BATCH_SECONDS,
    sink_factory: Callable[[Path], RecordSink] | None = None,
) -> Iterator[SessionRecording]:
    """:func:`open_recording`, flushed and closed however the block ends."""
    rec = open_recording(
        path,
        protocol,
        participant,
        head_pose=head_pose,
        batch_seconds=batch_seconds,
        sink_factory=sink_factory,
    )
    try:
        yield rec
    finally:
        try:
            rec.flush()
        finally:
            rec.recorder.close()


def build_session(setup: SessionSetup, recording: SessionRecording | None = None) -> Session:
    """The session of ``setup``, recording into ``recording`` (``None``: nothing)."""
    protocol = setup.protocol
    scene = setup.scene or create_scene(protocol.scene, protocol.seed)
    specs: Sequence[StreamSpec] = []
    if recording is not None:
        specs = setup.raw_specs or [raw_stream_spec(stream) for stream in setup.streams]
    return Session(
        protocol,
        clock=setup.clock,
        display=setup.display,
        scene=scene,
        sources=role_sources(setup.streams),
        streams=setup.streams,
        recording=recording,
        raw_specs=specs,
        sinks=setup.sinks,
        frame_rate=setup.frame_rate,
        on_event=setup.on_event,
        on_progress=setup.on_progress,
        progress_every=setup.progress_every,
        prompt_answerer=setup.responder,
        commands=setup.commands,
        publish=setup.publish,
    )
