"""Wiring for live sessions (``run``, ``demo``) and dry-runs (``simulate``).

This is the only module that knows how the parts fit: display, LSL inlets or an
in-process twin, recorder, outlets, scene sound, session. Everything is torn down in
reverse order, whatever happens, so a stopped or crashed session still leaves a finalised
recording.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from biosignals.role_streams import RoleRequest, SharedStream, open_role_streams
from biosignals.roles import ROLE_UNITS
from biosignals.streams import StreamPredicate
from biosignals.twin import TwinOutlets, TwinPhysiology, TwinProfile, TwinRunner
from biosignals.units import format_duration
from engine import __version__
from engine.audio.player import DEFAULT_VOLUME
from engine.clock import Clock, LslClock, ManualClock
from engine.console_link import LslCommandSource
from engine.console_pairing import Pairing, paired_session
from engine.console_wire import new_secret, new_session_id, source_id
from engine.display import HEADLESS, Display, capabilities, open_display
from engine.errors import ProtocolError
from engine.gcpolicy import FrameCollector
from engine.outlets import SessionOutlets
from engine.privacy.audit import model_sha256
from engine.privacy.consent import Consent, filter_streams, simulation_consent
from engine.privacy.errors import ConsentError
from engine.privacy.keys import SiteKey
from engine.privacy.session_guard import SessionPrivacy
from engine.protocol import Protocol, StreamSelector
from engine.record import StreamSpec
from engine.record.rolemap import raw_stream_spec
from engine.session import Progress, SessionSummary
from engine.session_builder import (
    DRY_RUN_BATCH_SECONDS,
    LIVE_BATCH_SECONDS,
    SessionSetup,
    build_session,
    recording,
)
from engine.session_end import close_failed, end_session
from engine.session_record import SessionRecording
from engine.session_status import session_info
from engine.session_types import IntensitySink, PromptResponder, StatusSink
from engine.sessiondir import new_session_dir
from engine.signals import SignalStop
from engine.twinfeed import TwinFeed
from engine.yamlconfig import describe_validation_error, field_name
from therapies.commands import CommandSource
from therapies.scenes import create_scene, scene_events

if TYPE_CHECKING:
    from engine.audio import AudioPlayer

DRY_RUN_FRAME_RATE = 2.0
"""Frames per simulated second in dry-runs: nothing is drawn, the controller ticks at 1 Hz,
and safety still reacts within half a second of session time."""
TWIN_ECG_RATE = 500.0
TWIN_EDA_RATE = 32.0


@dataclass
class RunOptions:
    """How to run a session (from the command line)."""

    out: Path
    participant: str = "demo"
    display: str = HEADLESS
    size: tuple[int, int] = (960, 540)
    frame_rate: float = 30.0
    screenshot: Path | None = None
    on_event: Callable[[str], None] | None = None
    on_progress: Callable[[Progress], None] | None = None
    progress_every: float = 5.0
    report: bool = True
    key: SiteKey | None = None
    consent: Consent | None = None
    mirror: bool = False
    """Headset sessions: show the headset's view in a desktop window for the therapist."""
    audio: bool | None = None
    """Scene sound: ``None`` on for live sessions on displays a person is in front of
    (their capabilities say ``audio``: window, openxr), ``False`` off, ``True`` on for any
    live display that draws. Dry-runs are always silent."""
    volume: float = DEFAULT_VOLUME
    """Master volume 0..1 when audio is on."""
    operator: str = "vrtherapy"
    """Who runs the session: the ``actor`` of its audit entries (``--operator``)."""
    encryption_opt_out: bool = False
    """``--no-encryption`` was given (``key`` is then ``None``): logged at session start."""
    batch_seconds: float | None = None
    """Session seconds of per-frame rows per recorder push; ``None``: the runner's default
    (:data:`~engine.session_builder.LIVE_BATCH_SECONDS` live,
    :data:`~engine.session_builder.DRY_RUN_BATCH_SECONDS` in dry-runs)."""


@dataclass
class SessionResult:
    """A finished session and where its files are."""

    summary: SessionSummary
    folder: Path
    recording: Path
    report: Path | None = None
    warnings: list[str] = field(default_factory=list)
    """What went wrong after the session was sealed (e.g. the report could not be
    written); the session's outcome is unchanged."""
    extra: dict[str, Any] = field(default_factory=dict)


def with_duration(protocol: Protocol, duration: float | None) -> Protocol:
    """``protocol`` with another duration, re-validated (baseline must still fit)."""
    if duration is None:
        return protocol
    data = protocol.model_dump()
    data["duration"] = duration
    try:
        return Protocol.model_validate(data)
    except ValidationError as exc:
        named = ("duration",), ("baseline",)  # both messages name their fields
        problems = describe_validation_error(
            exc, Protocol, name=lambda loc: "" if loc in named else field_name(loc)
        )
        raise ProtocolError(
            f"--duration {format_duration(duration)}: {problems} (protocol {protocol.protocol})"
        ) from None


def role_requests(protocol: Protocol) -> list[RoleRequest]:
    """What the protocol's ``streams:`` block asks of LSL, one request per role."""
    return [
        RoleRequest(
            role,
            StreamPredicate(sel.type, sel.name, sel.source_id),
            sel.channel,
            sel.signal,
            ROLE_UNITS[role],
        )
        for role, sel in protocol.streams.items()
    ]


def _open_streams(protocol: Protocol, stack: ExitStack) -> list[SharedStream]:
    streams = open_role_streams(role_requests(protocol), protocol.stream_timeout, keep_raw=True)
    for stream in streams:
        stack.callback(stream.close)
    return streams


@dataclass
class _Run:
    """One session about to run: what the live or dry-run path has set up for it."""

    protocol: Protocol
    opts: RunOptions
    clock: Clock
    display: Display
    streams: Sequence[SharedStream]
    sinks: tuple[IntensitySink, ...]
    consent: Consent
    signals: SignalStop
    batch_seconds: float
    answerer: PromptResponder | None = None
    audio: bool = False
    commands: Sequence[CommandSource] = ()
    publish: StatusSink | None = None


def _execute(run: _Run) -> SessionResult:
    """Record and run the session, then end it: summary, audit stop and integrity, and
    only then the report (see :mod:`engine.session_end`)."""
    protocol, opts = run.protocol, run.opts
    raw_specs = [raw_stream_spec(stream) for stream in run.streams]  # before any folder
    folder = new_session_dir(opts.out, protocol.protocol, opts.participant)
    guard = SessionPrivacy(
        opts.out,
        folder,
        consent=run.consent,
        key=opts.key,
        actor=opts.operator,
        encryption_opt_out=opts.encryption_opt_out,
    )
    guard.start(protocol.protocol, model_sha256(protocol), f"vrtherapy {__version__}")
    try:
        summary = _run_recorded(run, folder, guard, raw_specs)
    except BaseException as exc:  # the audit entry is closed whatever happened
        close_failed(guard, exc)
        raise
    if opts.screenshot is not None:
        run.display.screenshot(opts.screenshot)
    result = SessionResult(summary, folder, folder / guard.recording_name)
    ending = end_session(summary, protocol, guard, result.recording, opts.key, opts.report)
    result.report, result.warnings = ending.report, ending.warnings
    return result


def _run_recorded(
    run: _Run, folder: Path, guard: SessionPrivacy, raw_specs: list[StreamSpec]
) -> SessionSummary:
    opts, clock = run.opts, run.clock
    with recording(
        folder / guard.recording_name,
        run.protocol,
        opts.participant,
        head_pose=run.display.capabilities.head_pose,
        batch_seconds=run.batch_seconds,
        sink_factory=guard.sink_factory,
    ) as rec:
        scene = create_scene(run.protocol.scene, run.protocol.seed)
        with _audio(scene, opts, rec, clock, run.audio) as player:
            setup = SessionSetup(
                run.protocol,
                clock,
                run.display,
                run.streams,
                sinks=run.sinks if player is None else (*run.sinks, player),
                commands=run.commands,
                publish=run.publish,
                responder=run.answerer,
                scene=scene,
                raw_specs=raw_specs,
                frame_rate=opts.frame_rate,
                on_event=opts.on_event,
                on_progress=opts.on_progress,
                progress_every=opts.progress_every,
            )
            session = build_session(setup, rec)
            run.signals.attach(session)
            try:
                with FrameCollector() as collector:  # no collector pause inside a frame
                    return session.run(collector.safe_point)
            finally:
                if not session.done:
                    session.stop(clock.now(), "interrupted")


def audio_wanted(opts: RunOptions) -> bool:
    """Whether a live session with ``opts`` plays sound (see :attr:`RunOptions.audio`)."""
    caps = capabilities(opts.display)
    if opts.audio is None:
        return caps.audio
    return opts.audio and caps.draws


def open_audio(
    scene: Any, opts: RunOptions, recording: SessionRecording, clock: Clock
) -> AudioPlayer | None:
    """An :class:`~engine.audio.AudioPlayer` for ``scene``, or ``None`` without a device.

    Sound is a cue, not a safety function: without an audio device the session goes on
    silently. That is announced through ``opts.on_event`` and recorded as one marker,
    ``{"event": "audio", "state": "unavailable", "reason": ...}``.
    """
    from engine.audio import AudioPlayer, AudioUnavailableError

    try:
        return AudioPlayer(scene, volume=opts.volume)
    except AudioUnavailableError as exc:
        text = f"audio unavailable, the session continues silently: {exc}"
        event = {"event": "audio", "state": "unavailable", "reason": str(exc), "text": text}
        recording.marker(event, clock.now())
        if opts.on_event is not None:
            opts.on_event(text)
        return None


@contextmanager
def _audio(
    scene: Any, opts: RunOptions, recording: SessionRecording, clock: Clock, wanted: bool
) -> Iterator[AudioPlayer | None]:
    player = open_audio(scene, opts, recording, clock) if wanted else None
    try:
        yield player
    finally:
        if player is not None:
            player.close()


def _consent(opts: RunOptions, roles: list[str], simulated: bool) -> tuple[Consent, list[str]]:
    """The session's consent and the roles it allows (checked before any folder is made).

    Streams not consented are neither opened nor recorded (so never exported); each is
    announced through ``opts.on_event``. A simulated patient needs no consent: it gets
    :func:`simulation_consent`. Raises :class:`ConsentError` without consent, or when it
    covers none of the protocol's streams.
    """
    consent = opts.consent
    if consent is None and simulated:
        consent = simulation_consent(roles)
    allowed = list(filter_streams(roles, consent))  # ConsentError when consent is None
    assert consent is not None
    if not allowed:
        raise ConsentError(
            f"consent covers none of the protocol's streams ({', '.join(roles)}); "
            f"consented: {', '.join(consent.streams) or 'none'}"
        )
    for role in roles:
        if role not in allowed and opts.on_event is not None:
            opts.on_event(f"stream {role} not recorded: not covered by the participant's consent")
    return consent, allowed


def run_live(
    protocol: Protocol,
    opts: RunOptions,
    twin: TwinProfile | None = None,
    signals: SignalStop | None = None,
) -> SessionResult:
    """Run a live session on the LSL clock; with ``twin``, also publish a simulated patient.

    With a twin (the demo), the protocol's stream predicates are narrowed to the twin's own
    source ids, so other LSL streams on this machine are never picked up by mistake.
    SIGTERM, SIGINT and SIGHUP stop the session cleanly (:mod:`engine.signals`; pass the
    caller's ``signals`` when it installed them earlier).
    """
    with ExitStack() as stack:
        if signals is None:
            signals = stack.enter_context(SignalStop())
        display = open_display(opts.display, size=opts.size, mirror=opts.mirror)
        stack.callback(display.close)
        clock = LslClock()
        session_id = new_session_id()
        if twin is not None:
            protocol = _start_twin(protocol, twin, clock, session_id, stack)
        consent, allowed = _consent(opts, list(protocol.streams), simulated=twin is not None)
        protocol = protocol.model_copy(
            update={"streams": {r: s for r, s in protocol.streams.items() if r in allowed}}
        )
        streams = _open_streams(protocol, stack)
        outlets, commands = _console_link(protocol, opts, session_id, streams, stack)
        batch = LIVE_BATCH_SECONDS if opts.batch_seconds is None else opts.batch_seconds
        run = _Run(
            protocol, opts, clock, display, streams, (outlets,), consent, signals,
            batch, audio=audio_wanted(opts), commands=(commands,), publish=outlets,
        )  # fmt: skip
        return _execute(run)


def _console_link(
    protocol: Protocol,
    opts: RunOptions,
    session_id: str,
    streams: Sequence[SharedStream],
    stack: ExitStack,
) -> tuple[SessionOutlets, LslCommandSource]:
    """What a therapist console needs of a live session (docs/console.md): the session's
    outlets, its command link and its pairing file (removed however the session ends)."""
    started = datetime.now(UTC).isoformat(timespec="seconds")
    roles = {
        binding.role: {
            "name": stream.meta.name,
            "type": stream.meta.type,
            "source_id": stream.meta.source_id,
            "channel": binding.label or binding.index,
        }
        for stream in streams
        for binding in stream.bindings
    }
    events = protocol.console.enabled_events(scene_events(protocol.scene))
    info = session_info(
        protocol, sid=session_id, scene_events=events, roles=roles,
        participant=opts.participant, started=started,
    )  # fmt: skip
    outlets = SessionOutlets(session_id, info, thumbnail=protocol.console.thumbnail)
    stack.callback(outlets.close)
    secret = new_secret()
    commands = LslCommandSource(session_id, secret)
    stack.callback(commands.close)
    pairing = Pairing(
        session_id, secret, protocol.protocol, opts.participant, started, os.getpid(),
        {**outlets.source_ids, "commands": commands.source_id},
    )  # fmt: skip
    stack.enter_context(paired_session(pairing))
    return outlets, commands


def _start_twin(
    protocol: Protocol, twin: TwinProfile, clock: Clock, session_id: str, stack: ExitStack
) -> Protocol:
    """Publish ``twin`` on LSL for the demo; the protocol, narrowed to its streams."""
    prefix = f"vrtherapy-twin-{session_id}"
    outlets = TwinOutlets(
        TwinPhysiology(twin, start_time=clock.now(), seed=protocol.seed),
        source_prefix=prefix,
        intensity_predicate=StreamPredicate(source_id=source_id("intensity", session_id)),
    )
    stack.callback(outlets.close)
    runner = TwinRunner(outlets)
    runner.start()
    stack.callback(runner.stop)
    return protocol.model_copy(
        update={
            "streams": {
                "heart": StreamSelector(source_id=f"{prefix}-ecg"),
                "eda": StreamSelector(source_id=f"{prefix}-eda"),
            }
        }
    )


def run_simulated(
    protocol: Protocol,
    opts: RunOptions,
    twin: TwinProfile,
    signals: SignalStop | None = None,
) -> SessionResult:
    """Dry-run: the whole engine against an in-process twin on a ManualClock.

    No LSL and no waiting: the clock jumps from frame to frame.
    """
    ceiling = protocol.safety.max_heart_rate
    if twin.resting_hr >= ceiling:
        raise ProtocolError(
            f"{protocol.protocol}: safety.max_heart_rate ({ceiling:g} bpm) is not above "
            f"patient {twin.name}'s resting heart rate ({twin.resting_hr:g} bpm)"
        )
    with ExitStack() as stack:
        if signals is None:
            signals = stack.enter_context(SignalStop())
        display = open_display(opts.display, size=opts.size)
        stack.callback(display.close)
        clock = ManualClock()
        feed = TwinFeed(
            TwinPhysiology(twin, start_time=0.0, seed=protocol.seed),
            clock,
            TWIN_ECG_RATE,
            TWIN_EDA_RATE,
        )
        consent, allowed = _consent(opts, list(feed.sources()), simulated=True)
        streams = [s for s in feed.streams() if set(s.roles) <= set(allowed)]
        physiology = feed.physiology
        pacer_rate = protocol.controller.paced_breathing_rate()
        if pacer_rate is not None:  # the simulated patient follows the breathing pacer
            physiology.set_paced_breathing(pacer_rate)

        def twin_answers(kind: str) -> int | None:
            """The simulated patient answers SUDS (0-100) and pain NRS (0-10) prompts."""
            return physiology.suds() if kind == "suds" else physiology.pain_nrs()

        batch = DRY_RUN_BATCH_SECONDS if opts.batch_seconds is None else opts.batch_seconds
        run = _Run(
            protocol, opts, clock, display, streams, (feed,), consent, signals, batch,
            answerer=twin_answers,
        )  # fmt: skip
        result = _execute(run)
        result.extra["true_beats"] = len(feed.beat_times)
        return result
