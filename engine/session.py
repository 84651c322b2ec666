"""A therapy session: one explicit lifecycle, one ``step(now)``, and ``run()`` that repeats it.

Each step pulls every stream without blocking, updates features and quality, lets the
safety layer (and, at its tick, the controller) decide, moves the scene and presents a
frame. Time comes only from the injected clock; the display paces the loop when it can
(vsync), otherwise the clock does (``Clock.wait_until``), so a dry-run on a
:class:`~engine.clock.ManualClock` runs as fast as the CPU allows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from biosignals.features import FeatureSnapshot
from biosignals.pipeline import FeaturePipeline
from biosignals.quality import QualityEvent
from biosignals.roles import BEAT_ROLES
from engine.clock import Clock
from engine.display.base import Display
from engine.errors import IllegalTransitionError
from engine.protocol import Protocol as TherapyProtocol
from engine.record import StreamSpec
from engine.session_input import KEY_COMMANDS, SessionInput
from engine.session_record import SessionRecording
from engine.session_status import SessionStatus
from engine.session_types import (
    LEGAL_TRANSITIONS,
    IntensitySink,
    Progress,
    PromptResponder,
    RawStream,
    SampleSource,
    SessionState,
    SessionSummary,
    StatusSink,
)
from therapies.commands import Command, CommandKind, CommandQueue, CommandSource
from therapies.controllers import IntensityDecision, create_controller
from therapies.prompt_gaze import PromptGaze
from therapies.prompts import PromptScheduler
from therapies.safety import SafetyLayer
from therapies.scenes.base import DrawList, Scene

__all__ = [
    "KEY_COMMANDS",
    "IntensitySink",
    "Progress",
    "RawStream",
    "SampleSource",
    "Session",
    "SessionState",
    "SessionSummary",
]


class Session(SessionInput):
    """One therapy session (see module docstring).

    Parameters
    ----------
    protocol
        Validated protocol.
    clock
        Time base (``LslClock`` live, ``ManualClock`` in tests/dry-runs).
    display
        Display backend (already open).
    scene
        Scene instance the protocol names.
    sources
        Inlet per role, with its nominal sampling rate: ``{role: (inlet, rate)}``.
    streams
        The streams behind the sources, recorded whole (every channel, as received)
        under the specs in ``raw_specs`` (same order); a stream read by several roles
        appears once.
    recording
        Where streams go (``None``: nothing recorded).
    raw_specs
        How each of ``streams`` is recorded (:func:`engine.record.rolemap.raw_stream_spec`).
    sinks
        Receivers of the intensity shown (LSL outlets, in-process twin).
    frame_rate
        Frames per second when the display does not pace itself.
    on_event, on_progress
        Callbacks for the CLI: event text, and a :class:`Progress` every ``progress_every`` s.
    prompt_answerer
        Answers SUDS/NRS prompts in dry-runs (a simulated patient); ``None`` live.
    commands
        Command sources drained each step after the display's keys, in this order (e.g. a
        therapist console); see :mod:`engine.session_input`.
    publish
        Where the session publishes its status for a therapist console (live sessions'
        LSL outlets); ``None``: nowhere (dry-runs). See :mod:`engine.session_status`.
    """

    def __init__(
        self,
        protocol: TherapyProtocol,
        *,
        clock: Clock,
        display: Display,
        scene: Scene,
        sources: Mapping[str, tuple[SampleSource, float]],
        streams: Sequence[RawStream] = (),
        recording: SessionRecording | None = None,
        raw_specs: Sequence[StreamSpec] = (),
        sinks: Sequence[IntensitySink] = (),
        frame_rate: float = 60.0,
        on_event: Callable[[str], None] | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        progress_every: float = 5.0,
        prompt_answerer: PromptResponder | None = None,
        commands: Sequence[CommandSource] = (),
        publish: StatusSink | None = None,
    ) -> None:
        self.protocol = protocol
        self.clock, self.display, self.scene = clock, display, scene
        self.sources = dict(sources)
        self.streams = tuple(streams)
        self.recording, self.sinks = recording, tuple(sinks)
        if recording is not None:
            self._add_recorded_streams(recording, raw_specs)
        self.frame_period = 1.0 / frame_rate
        self.on_event, self.on_progress = on_event, on_progress
        self.progress_every = progress_every
        self.pipeline = FeaturePipeline(
            {role: rate for role, (_, rate) in self.sources.items()},
            weights=protocol.arousal,
            device_ranges={
                role: sel.signal.range
                for role, sel in protocol.streams.items()
                if sel.signal.range is not None and role in self.sources
            },
        )
        self.safety = SafetyLayer(
            create_controller(protocol.controller, seed=protocol.seed),
            protocol.safety,
            protocol.controller.tick,
        )
        self._blank: DrawList | None = None
        self.prompts = PromptScheduler(protocol.prompts)
        self.prompt_answerer = prompt_answerer
        self.gaze = PromptGaze(self.prompts, protocol.prompts.gaze)
        """Gaze and click answers, where the display reports a head pose."""
        display.set_prompt_key(protocol.prompts.on_demand_key)  # a headset's menu button
        self.requests = CommandQueue()
        """The session's own command source, drained first (a stop signal)."""
        self.command_sources = tuple(commands)
        self._state = SessionState.CREATED
        self.summary = SessionSummary(protocol.protocol, self._state, "not started")
        self._t0 = self._last = self._next_tick = self._next_progress = 0.0
        self._intensity = 0.0
        self._session_tick = False
        self.features = FeatureSnapshot(0.0, None, None, None, None, False)
        self.scene_events = protocol.console.enabled_events(tuple(scene.events))
        """The scene events a ``scene_event`` command may fire (the protocol's choice)."""
        self.status: SessionStatus | None = None
        if publish is not None:
            fps = protocol.console.thumbnail_fps if protocol.console.thumbnail else 0.0
            self.status = SessionStatus(self, publish, fps)

    def _add_recorded_streams(
        self, recording: SessionRecording, raw_specs: Sequence[StreamSpec]
    ) -> None:
        if len(raw_specs) != len(self.streams):
            raise ValueError(f"{len(raw_specs)} raw specs for {len(self.streams)} streams")
        for i, (spec, stream) in enumerate(zip(raw_specs, self.streams, strict=True)):
            recording.add_source(f"raw{i}", spec, stream.withheld)
        for role in self.sources:
            if role in BEAT_ROLES:
                recording.add_beats(role)
        if "eda" in self.sources:
            recording.add_scr()

    @property
    def state(self) -> SessionState:
        """Current lifecycle state."""
        return self._state

    @property
    def done(self) -> bool:
        """True once finished or aborted."""
        return self._state in (SessionState.FINISHED, SessionState.ABORTED)

    @property
    def started_at(self) -> float:
        """When the baseline began (0 before the start)."""
        return self._t0

    @property
    def intensity(self) -> float:
        """The intensity shown at the last frame."""
        return self._intensity

    def _transition(self, new: SessionState, now: float, reason: str) -> None:
        if new not in LEGAL_TRANSITIONS[self._state]:
            raise IllegalTransitionError(
                f"session cannot go from {self._state.value} to {new.value}"
            )
        self._state = new
        self.summary.state, self.summary.reason = new, reason
        self._mark(now, {"event": "state", "state": new.value, "reason": reason})

    def _mark(self, now: float, event: dict[str, Any]) -> None:
        if self.recording is not None:
            self.recording.marker(event, now)
        for sink in self.sinks:
            sink.push_marker(event, now)
        if self.on_event is not None and "text" in event:
            self.on_event(str(event["text"]))

    def start(self, now: float) -> None:
        """Begin the baseline period at ``now``."""
        self._t0 = self._last = now
        self._next_tick = now
        self._next_progress = now + self.progress_every
        self.summary.started = now
        self._transition(SessionState.BASELINE, now, f"baseline for {self.protocol.baseline:g} s")
        self._mark(
            now,
            {
                "event": "start",
                "protocol": self.protocol.protocol,
                "text": f"session start: {self.protocol.protocol}, baseline "
                f"{self.protocol.baseline:g} s",
            },
        )

    def request_stop(self, reason: str) -> None:
        """Ask the session to stop (aborted, ``reason``) at its next step; safe to call
        from a signal handler (a ``stop`` command from the source ``signal``)."""
        self.requests.push(Command(CommandKind.STOP, "signal", text=reason))

    def stop(self, now: float, reason: str) -> None:
        """Abort the session (user stop, safety, display closed)."""
        if not self.done:
            self._end(now, SessionState.ABORTED, reason)

    def _end(self, now: float, state: SessionState, reason: str) -> None:
        self._prompt_events(self.prompts.cancel(now))
        self.summary.ended = now
        self.summary.final_intensity = self._intensity
        self._transition(state, now, reason)
        self._mark(
            now, {"event": "stop", "state": state.value, "text": f"session {state.value}: {reason}"}
        )
        if self.status is not None:  # the console's last word: finished or aborted
            self.status.publish(now)
            self.status.close()

    def step(self, now: float) -> bool:
        """Advance the session to ``now`` by one frame; returns False once it has ended."""
        if self._state is SessionState.CREATED:
            self.start(now)
        if self.done:
            return False
        dt, self._last = max(0.0, now - self._last), now
        self._session_tick = False
        self._pull(now)
        self._input(now)
        if self.done:
            return False
        needs_hrv = now >= self._next_tick or now >= self._next_progress
        self.features = self.pipeline.snapshot(now, with_hrv=needs_hrv)
        if self._state is SessionState.BASELINE:
            self._baseline_step(now)
        else:
            self._active_step(now)
        if self.done:
            return False
        self._render(now, dt)
        self._progress(now)
        if self.status is not None:
            self.status.after_frame(now, self._session_tick)
        if now - self._t0 >= self.protocol.duration:
            self._end(now, SessionState.FINISHED, "protocol duration reached")
            return False
        return True

    def _pull(self, now: float) -> None:
        for role, (source, _) in self.sources.items():
            samples, timestamps = source.pull()
            for gap in source.drain_gaps():
                text = f"{role} stream gap {gap.start:.2f}-{gap.end:.2f} ({gap.duration:.2f} s)"
                self._mark(
                    gap.end,
                    {
                        "event": "gap",
                        "role": role,
                        "start": gap.start,
                        "end": gap.end,
                        "reopened": gap.reopened,
                        "text": text,
                    },
                )
            if samples.size == 0:
                continue
            out = self.pipeline.update(role, samples, timestamps)
            self._quality(out.quality)
            if self.recording is not None and out.beats and role in BEAT_ROLES:
                self.recording.beats(role, out.beats)
            beats = [(b.time, b.hr_bpm) for b in out.beats if b.hr_bpm is not None]
            if beats and role in BEAT_ROLES:
                times, rates = zip(*beats, strict=True)
                self.safety.controller.observe_hr(times, rates)
        self._record_streams()
        self._quality(self.pipeline.check(now))

    def _record_streams(self) -> None:
        """Raw chunks of every stream, completed SCRs and stream notes into the recording."""
        for i, stream in enumerate(self.streams):
            for note in stream.drain_notes():
                self._mark(self._last, dict(note))
            chunks = stream.drain_raw()
            if self.recording is not None:
                for values, stamps in chunks:
                    self.recording.raw(f"raw{i}", values, stamps)
        if self.pipeline.eda is not None:
            done = self.pipeline.eda.drain_completed()
            if self.recording is not None:
                self.recording.scr(done)

    def _quality(self, events: list[QualityEvent]) -> None:
        for event in events:
            self.summary.quality_events += 1
            t = event.start if event.end is None else event.end
            self._mark(
                t,
                {
                    "event": "quality",
                    "role": event.role,
                    "flag": event.flag,
                    "start": event.start,
                    "end": event.end,
                    "text": "quality " + event.describe(),
                },
            )

    def _tick_due(self, now: float) -> bool:
        if now < self._next_tick:
            return False
        tick = self.protocol.controller.tick
        self._next_tick += tick * (int((now - self._next_tick) // tick) + 1)
        self._session_tick = True
        return True

    def _baseline_step(self, now: float) -> None:
        if self._tick_due(now):
            self.pipeline.collect_baseline(self.features)
            if self.recording is not None:
                self.recording.features(self.features)
        if now - self._t0 >= self.protocol.baseline:
            base = self.pipeline.arousal.fix_baseline()
            self._transition(SessionState.ACTIVE, now, "baseline complete")
            self.prompts.start(now)
            hr = f"{base.hr_bpm:.0f} bpm" if base.hr_bpm is not None else "unknown"
            scl = f"{base.scl_us:.2f} uS" if base.scl_us is not None else "unknown"
            self._mark(
                now,
                {
                    "event": "baseline",
                    "hr_bpm": base.hr_bpm,
                    "scl_us": base.scl_us,
                    "text": f"baseline: HR {hr}, SCL {scl}",
                },
            )
            ceiling = self.protocol.safety.max_heart_rate
            if base.hr_bpm is not None and base.hr_bpm >= ceiling:
                self.stop(
                    now,
                    f"baseline heart rate {base.hr_bpm:.0f} bpm is at or above the "
                    f"ceiling {ceiling:.0f}: exposure cannot start safely",
                )
                return
            self._decide(now, [self.safety.start(now)])

    def _active_step(self, now: float) -> None:
        outcome = self.safety.update(now, self.features)
        for note in outcome.notes:
            self._mark(now, {"event": "note", "text": note})
        self._decide(now, outcome.decisions)
        if outcome.stop_reason is not None:
            self.stop(now, outcome.stop_reason)
            return
        if self._tick_due(now):
            self._count_window()
            if self.recording is not None:
                self.recording.features(self.features)
        hr = self.features.hr_bpm
        if hr is not None and (self.summary.max_hr is None or hr > self.summary.max_hr):
            self.summary.max_hr = hr

    def _count_window(self) -> None:
        a = self.features.arousal
        if a is None:
            return
        lo, hi = self.protocol.controller.arousal_window
        self.summary.ticks_with_arousal += 1
        self.summary.ticks_in_window += int(lo <= a <= hi)

    def _decide(self, now: float, decisions: list[IntensityDecision]) -> None:
        for d in decisions:
            self.summary.decisions.append(d)
            if d.step is not None:
                self.summary.max_step = max(self.summary.max_step, d.step)
            self._mark(
                now,
                {
                    "event": "intensity",
                    "previous": d.previous,
                    "target": d.target,
                    "step": d.step,
                    "source": d.source,
                    "reason": d.reason,
                    "text": "intensity " + d.explain(),
                },
            )

    def _render(self, now: float, dt: float) -> None:
        if self._state is SessionState.ACTIVE:
            self._intensity = self.safety.intensity(now)
        parameters = self.safety.controller.scene_parameters(self._intensity)
        if parameters:  # e.g. the breathing pacer's rate and reward
            self.scene.set_parameters(parameters)
        self.scene.update(self._intensity, dt)
        if self._blank is not None:  # a display that draws nothing needs no new draw list
            draw_list = self._blank
        else:
            draw_list = self.scene.draw_list()
            if not self.display.capabilities.draws:
                self._blank = draw_list
        overlays = self.gaze.overlays()
        if overlays:
            draw_list = dataclasses.replace(draw_list, overlays=(*draw_list.overlays, *overlays))
        timing = self.display.present(draw_list)
        self.summary.frames += 1
        for sink in self.sinks:
            sink.push_intensity(self._intensity, now)
        if self.recording is not None:
            self.recording.intensity(self._intensity, now)
            frame = self.display.last_frame
            self.recording.frame(float(timing.cpu_ms), int(timing.frame_index), now, frame)

    def _progress(self, now: float) -> None:
        if self.on_progress is None or now < self._next_progress:
            return
        self._next_progress += self.progress_every
        self.on_progress(
            Progress(
                now,
                now - self._t0,
                self.protocol.duration,
                self._state,
                self._intensity,
                self.safety.controller.step,
                self.features,
            )
        )

    def run(self, between_frames: Callable[[], object] | None = None) -> SessionSummary:
        """Step until the session ends; pace by the display or, failing that, the clock.

        ``between_frames`` is called after each frame was presented, before the next one
        starts (the garbage collector's safe point: :class:`engine.gcpolicy.FrameCollector`).
        """
        now = self.clock.now()
        while self.step(now):
            if between_frames is not None:
                between_frames()
            if not self.display.paced:
                self.clock.wait_until(now + self.frame_period)
            now = self.clock.now()
        return self.summary
