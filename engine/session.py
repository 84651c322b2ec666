"""A therapy session: one explicit lifecycle, one ``step(now)``, and ``run()`` that repeats it.

Each step pulls every stream without blocking, updates features and quality, lets the
safety layer (and, at its tick, the controller) decide, moves the scene and presents a
frame. Time comes only from the injected clock; the display paces the loop when it can
(vsync), otherwise the clock does (``Clock.wait_until``), so a dry-run on a
:class:`~engine.clock.ManualClock` runs as fast as the CPU allows.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from biosignals.features import FeatureSnapshot
from biosignals.pipeline import FeaturePipeline
from biosignals.quality import QualityEvent
from engine.clock import Clock
from engine.errors import IllegalTransitionError
from engine.protocol import Protocol as TherapyProtocol
from engine.record import StreamSpec
from engine.session_record import SessionRecording
from therapies.controllers import IntensityDecision, create_controller
from therapies.prompt_gaze import PromptGaze
from therapies.prompts import PromptEvent, PromptScheduler
from therapies.safety import Command, SafetyLayer

PACER_PROMINENCE = 0.6
"""Scene intensity (pacer size/distance) in breathing sessions, where intensity is reward."""
WAVEFORM_HEART_ROLES = ("heart", "ppg")
"""Roles whose extractor detects beats (recorded as ``vrtherapy-beats-<role>``)."""
KEY_COMMANDS = {"escape": Command.STOP, "up": Command.STEP_UP, "down": Command.STEP_DOWN}


class SessionState(enum.Enum):
    """Lifecycle of a session."""

    CREATED = "created"
    BASELINE = "baseline"
    ACTIVE = "active"
    FINISHED = "finished"
    ABORTED = "aborted"


_LEGAL = {
    SessionState.CREATED: {SessionState.BASELINE, SessionState.ABORTED},
    SessionState.BASELINE: {SessionState.ACTIVE, SessionState.ABORTED},
    SessionState.ACTIVE: {SessionState.FINISHED, SessionState.ABORTED},
    SessionState.FINISHED: set(),
    SessionState.ABORTED: set(),
}


class SampleSource(Protocol):
    """An inlet: ``pull()`` returns (samples, timestamps) without blocking."""

    def pull(self) -> tuple[np.ndarray, np.ndarray]: ...


class RawStream(Protocol):
    """A stream the session records whole (:class:`~biosignals.role_streams.SharedStream`):
    its raw chunks and its notes (e.g. the ``clock: auto`` decision) since the last call."""

    @property
    def withheld(self) -> tuple[int, ...]:
        """Channels no role reads (recorded blank)."""
        ...

    def drain_raw(self) -> list[tuple[np.ndarray, np.ndarray]]: ...

    def drain_notes(self) -> list[dict[str, Any]]: ...


class IntensitySink(Protocol):
    """Anything that wants the intensity shown (LSL outlet, in-process twin)."""

    def push_intensity(self, value: float, timestamp: float) -> None: ...


class DisplayLike(Protocol):
    """What the session needs of a display (see ``engine.display``)."""

    paced: bool

    def poll(self) -> Any: ...

    def present(self, draw_list: Any) -> Any: ...


@dataclass
class SessionSummary:
    """What happened, for the CLI and the report."""

    protocol: str
    state: SessionState
    reason: str
    started: float | None = None
    ended: float | None = None
    frames: int = 0
    decisions: list[IntensityDecision] = field(default_factory=list)
    max_step: int = 0
    max_hr: float | None = None
    final_intensity: float = 0.0
    quality_events: int = 0
    answers: list[tuple[float, str, int]] = field(default_factory=list)
    ticks_with_arousal: int = 0
    ticks_in_window: int = 0

    @property
    def time_in_window(self) -> float | None:
        """Share (0..1) of the active phase's ticks with arousal inside the window."""
        if not self.ticks_with_arousal:
            return None
        return self.ticks_in_window / self.ticks_with_arousal

    @property
    def safety_events(self) -> int:
        """Decisions taken by the safety layer (ceiling, signal loss)."""
        return sum(d.source == "safety" for d in self.decisions)

    @property
    def duration(self) -> float:
        """Session length in seconds."""
        if self.started is None or self.ended is None:
            return 0.0
        return self.ended - self.started


@dataclass(frozen=True)
class Progress:
    """Periodic status for progress lines."""

    time: float
    elapsed: float
    total: float
    state: SessionState
    intensity: float
    step: int | None
    features: FeatureSnapshot


class Session:
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
    """

    def __init__(
        self,
        protocol: TherapyProtocol,
        *,
        clock: Clock,
        display: DisplayLike,
        scene: Any,
        sources: Mapping[str, tuple[SampleSource, float]],
        streams: Sequence[RawStream] = (),
        recording: SessionRecording | None = None,
        raw_specs: Sequence[StreamSpec] = (),
        sinks: tuple[IntensitySink, ...] = (),
        frame_rate: float = 60.0,
        on_event: Callable[[str], None] | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        progress_every: float = 5.0,
        prompt_answerer: Callable[[str], int | None] | None = None,
    ) -> None:
        self.protocol = protocol
        self.clock, self.display, self.scene = clock, display, scene
        self.sources = dict(sources)
        self.streams = tuple(streams)
        self.recording, self.sinks = recording, sinks
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
        self._observe_hr = getattr(self.safety.controller, "observe_hr", None)
        self._pacer_rate: float | None = getattr(protocol.controller, "pacer_rate", None)
        if self._pacer_rate is not None and hasattr(scene, "rate_per_min"):
            scene.rate_per_min = self._pacer_rate
        self._blank: Any = None
        self.prompts = PromptScheduler(protocol.prompts)
        self.prompt_answerer = prompt_answerer
        self.gaze = PromptGaze(self.prompts, protocol.prompts.gaze)
        """Gaze and click answers, where the display reports a head pose."""
        if hasattr(display, "menu_key"):  # a headset controller's menu button asks prompts
            display.menu_key = protocol.prompts.on_demand_key
        self._state = SessionState.CREATED
        self._stop_request: str | None = None
        self.summary = SessionSummary(protocol.protocol, self._state, "not started")
        self._t0 = self._last = self._next_tick = self._next_progress = 0.0
        self._intensity = 0.0
        self.features = FeatureSnapshot(0.0, None, None, None, None, False)

    def _add_recorded_streams(
        self, recording: SessionRecording, raw_specs: Sequence[StreamSpec]
    ) -> None:
        if len(raw_specs) != len(self.streams):
            raise ValueError(f"{len(raw_specs)} raw specs for {len(self.streams)} streams")
        for i, (spec, stream) in enumerate(zip(raw_specs, self.streams, strict=True)):
            recording.add_source(f"raw{i}", spec, stream.withheld)
        for role in self.sources:
            if role in WAVEFORM_HEART_ROLES:
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

    def _transition(self, new: SessionState, now: float, reason: str) -> None:
        if new not in _LEGAL[self._state]:
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
            push = getattr(sink, "push_marker", None)
            if push is not None:
                push(str(event.get("text") or event), now)
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
        from a signal handler."""
        self._stop_request = reason

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

    def step(self, now: float) -> bool:
        """Advance the session to ``now`` by one frame; returns False once it has ended."""
        if self._state is SessionState.CREATED:
            self.start(now)
        if self.done:
            return False
        if self._stop_request is not None:
            self.stop(now, self._stop_request)
            return False
        dt, self._last = max(0.0, now - self._last), now
        self._pull(now)
        commands = self._commands(now)
        if self.done:
            return False
        needs_hrv = now >= self._next_tick or now >= self._next_progress
        self.features = self.pipeline.snapshot(now, with_hrv=needs_hrv)
        if self._state is SessionState.BASELINE:
            self._baseline_step(now, commands)
        else:
            self._active_step(now, commands)
        if self.done:
            return False
        self._render(now, dt)
        self._progress(now)
        if now - self._t0 >= self.protocol.duration:
            self._end(now, SessionState.FINISHED, "protocol duration reached")
            return False
        return True

    def _pull(self, now: float) -> None:
        for role, (source, _) in self.sources.items():
            samples, timestamps = source.pull()
            drain_gaps = getattr(source, "drain_gaps", None)
            for gap in drain_gaps() if drain_gaps is not None else ():
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
            if self.recording is not None and out.beats and role in WAVEFORM_HEART_ROLES:
                self.recording.beats(role, out.beats)
            beats = [b for b in out.beats if b.hr_bpm is not None]
            if beats and self._observe_hr is not None and role in WAVEFORM_HEART_ROLES:
                self._observe_hr([b.time for b in beats], [b.hr_bpm for b in beats])
        self._record_streams()
        self._quality(self.pipeline.check(now))

    def _record_streams(self) -> None:
        """Raw chunks of every stream, completed SCRs and stream notes into the recording."""
        for i, stream in enumerate(self.streams):
            for note in stream.drain_notes():
                self._mark(self._last, note)
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

    def _commands(self, now: float) -> tuple[Command, ...]:
        events = self.display.poll()
        if getattr(events, "quit", False):
            self.stop(now, "display closed")
            return ()
        answered, keys = self.gaze.confirm(now, tuple(getattr(events, "keys", ())))
        self._prompt_events(answered)
        self._prompt_events(self.prompts.update(now, keys))
        clicks = [(c.origin, c.direction) for c in getattr(events, "clicks", ())]
        head, layout_of = getattr(events, "head", None), getattr(self.display, "panel_layout", None)
        self._prompt_events(self.gaze.update(now, head, clicks, layout_of))
        keys = self.prompts.passthrough  # answer keys never reach the override keys
        return tuple(KEY_COMMANDS[k] for k in keys if k in KEY_COMMANDS)

    def _prompt_events(self, events: list[PromptEvent]) -> None:
        """Record prompt events; answers go to the controller (and twins answer in dry-runs)."""
        for e in events:
            self._mark(e.time, e.marker())
            if e.event == "asked" and self.prompt_answerer is not None:
                value = self.prompt_answerer(e.kind)
                if value is not None:
                    self._prompt_events(self.prompts.answer(value, e.time, source="twin"))
            elif e.event == "answered" and e.value is not None:
                self.summary.answers.append((e.time, e.kind, int(e.value)))
                if self._state is SessionState.ACTIVE:
                    decision = self.safety.answer(e.time, e.kind, int(e.value))
                    if decision is not None:
                        self._decide(e.time, [decision])

    def _tick_due(self, now: float) -> bool:
        if now < self._next_tick:
            return False
        tick = self.protocol.controller.tick
        self._next_tick += tick * (int((now - self._next_tick) // tick) + 1)
        return True

    def _baseline_step(self, now: float, commands: tuple[Command, ...]) -> None:
        if Command.STOP in commands:
            self.stop(now, "stop requested (emergency stop key) during baseline")
            return
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

    def _active_step(self, now: float, commands: tuple[Command, ...]) -> None:
        outcome = self.safety.update(now, self.features, commands)
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
        if self._pacer_rate is not None and hasattr(self.scene, "reward"):
            # breathing biofeedback: the controller's target is the reward the scene shows;
            # the pacer itself stays equally prominent all session
            self.scene.reward = min(1.0, max(0.0, self._intensity))
            self.scene.update(PACER_PROMINENCE, dt)
        else:
            self.scene.update(self._intensity, dt)
        if self._blank is not None:  # a display that draws nothing needs no new draw list
            draw_list = self._blank
        else:
            draw_list = self.scene.draw_list()
            if not getattr(self.display, "draws", True):
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
            xr_frame = getattr(self.display, "last_frame", None)
            self.recording.frame(float(timing.cpu_ms), int(timing.frame_index), now, xr_frame)

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
