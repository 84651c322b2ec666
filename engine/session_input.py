"""A session's input: the display's keys, clicks and gaze, and commands from every source.

Each step the session polls its display once: prompt keys, gaze and clicks go to the
prompt scheduler; the keys nobody claimed become commands (Esc stop, Up/Down the
therapist's step). Then the command sources are drained in order — the session's own
queue first (a stop signal), then those it was given (the therapist console's command
link) — and every command is applied through :meth:`SessionInput._apply`, recorded as one
marker, applied or not, with what came of it; a :class:`~therapies.commands.CommandRejection`
(a console sample that failed its checks) is recorded as a ``command_rejected`` marker and
nothing else. Commands go to the safety layer (steps, hold, resume, stop), the prompt
scheduler (ask, answer), the scene (scene events the protocol's ``console.events`` allows),
the feature pipeline (ignore or watch a sensor) or the recording alone (notes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import MappingProxyType
from typing import Any, Final

from biosignals.errors import SignalError
from biosignals.pipeline import FeaturePipeline
from engine.display.base import Display
from engine.session_types import PromptResponder, SessionState, SessionSummary
from therapies.commands import (
    Command,
    CommandKind,
    CommandQueue,
    CommandRejection,
    CommandSource,
)
from therapies.controllers import ControllerError, IntensityDecision, check_answer
from therapies.prompt_gaze import PromptGaze
from therapies.prompts import KINDS, PromptEvent, PromptScheduler
from therapies.safety import SAFETY_COMMANDS, SafetyLayer, SafetyOutcome, stop_reason
from therapies.scenes.base import Scene

__all__ = ["KEY_COMMANDS", "SessionInput"]

KEY_COMMANDS: Final = MappingProxyType(
    {"escape": CommandKind.STOP, "up": CommandKind.STEP_UP, "down": CommandKind.STEP_DOWN}
)
"""Display keys (keyboard, headset controller) that are commands."""
_QUIET_SOURCES = ("keyboard", "controller")
"""Sources whose commands are recorded without a line on the therapist's terminal (their
effect, the intensity decision, has one)."""


class SessionInput:
    """Input handling for :class:`~engine.session.Session` (a mixin; see module docstring)."""

    display: Display
    scene: Scene
    prompts: PromptScheduler
    gaze: PromptGaze
    safety: SafetyLayer
    summary: SessionSummary
    prompt_answerer: PromptResponder | None
    pipeline: FeaturePipeline
    scene_events: tuple[str, ...]
    command_sources: tuple[CommandSource, ...]
    requests: CommandQueue
    _state: SessionState
    _mark: Callable[[float, dict[str, Any]], None]
    _decide: Callable[[float, list[IntensityDecision]], None]
    stop: Callable[[float, str], None]

    @property
    def done(self) -> bool:  # provided by Session
        raise NotImplementedError

    def _input(self, now: float) -> None:
        """Poll the display once, route prompt input, apply every command."""
        events = self.display.poll()
        if events.quit:
            self.stop(now, "display closed")
            return
        answered, keys = self.gaze.confirm(now, events.keys)
        self._prompt_events(answered)
        self._prompt_events(self.prompts.update(now, keys))
        clicks = [(c.origin, c.direction) for c in events.clicks]
        self._prompt_events(self.gaze.update(now, events.head, clicks, self.display.panel_layout))
        source = "controller" if self.display.capabilities.head_pose else "keyboard"
        commands: list[Command | CommandRejection] = [  # answer keys never reach the overrides
            Command(KEY_COMMANDS[k], source) for k in self.prompts.passthrough if k in KEY_COMMANDS
        ]
        for queue in (self.requests, *self.command_sources):
            commands += queue.drain(now)
        for command in commands:
            if self.done:
                return
            if isinstance(command, CommandRejection):
                self._mark(now, command.marker())  # recorded, never applied
            else:
                self._apply(now, command)

    def _apply(self, now: float, command: Command) -> None:
        """Apply one command; record it (and its outcome) as one marker."""
        marker = command.marker()
        applied, result = self._dispatch(now, command)
        marker["applied"], marker["result"] = applied, result
        if command.source not in _QUIET_SOURCES:
            marker["text"] = f"{command.kind.value} from {command.who}: {result}"
        self.summary.commands.append(marker)
        self._mark(now, marker)
        if applied and command.kind is CommandKind.STOP:
            reason = stop_reason(command)
            if self._state is SessionState.BASELINE and command.text is None:
                reason += " during baseline"
            self.stop(now, reason)

    def _dispatch(self, now: float, command: Command) -> tuple[bool, str]:
        kind = command.kind
        if kind is CommandKind.STOP:
            return True, "stopping"
        if kind in SAFETY_COMMANDS:
            if self._state is not SessionState.ACTIVE:
                return False, "ignored: the controller starts after the baseline"
            return True, self._safety_command(now, command)
        if kind is CommandKind.NOTE:
            return True, "noted"
        if kind is CommandKind.SCENE_EVENT:
            return self._scene_event(str(command.event))
        if kind in (CommandKind.IGNORE_STREAM, CommandKind.WATCH_STREAM):
            return self._stream_command(command)
        return self._prompt_command(now, command)

    def _stream_command(self, command: Command) -> tuple[bool, str]:
        """Ignore or watch a sensor's stream role (:meth:`FeaturePipeline.ignore`)."""
        role = str(command.role)
        try:
            if command.kind is CommandKind.IGNORE_STREAM:
                self.pipeline.ignore(role)
                return True, f"{role} ignored: its quality flags no longer count"
            self.pipeline.watch(role)
        except SignalError as exc:
            return False, f"refused: {exc}"
        return True, f"{role} watched again"

    def _safety_command(self, now: float, command: Command) -> str:
        outcome: SafetyOutcome = self.safety.command(now, command)
        for note in outcome.notes:
            self._mark(now, {"event": "note", "text": note})
        self._decide(now, outcome.decisions)
        if outcome.decisions:
            return outcome.decisions[-1].explain()
        return "; ".join(outcome.notes) or "no change (at the end of the hierarchy)"

    def _scene_event(self, event: str) -> tuple[bool, str]:
        if event in self.scene.events and event not in self.scene_events:
            allowed = ", ".join(self.scene_events) or "none"
            return False, f"refused: the protocol does not allow scene event {event} ({allowed})"
        try:
            self.scene.trigger(event)
        except ValueError as exc:
            return False, f"refused: {exc}"
        return True, f"scene event {event}"

    def _prompt_command(self, now: float, command: Command) -> tuple[bool, str]:
        kind = next((k for k in KINDS if k == command.prompt), None)
        if kind is None:
            return False, f"refused: {command.prompt!r} is not one of {', '.join(KINDS)}"
        if kind not in self.prompts.kinds and command.kind is CommandKind.ASK_PROMPT:
            known = ", ".join(self.prompts.kinds) or "none"
            return False, f"refused: the protocol has no {kind} prompt (prompts: {known})"
        try:
            if command.kind is CommandKind.ASK_PROMPT:
                self._prompt_events(self.prompts.request(kind, now, source=command.source))
                return True, f"{kind} asked"
            value = check_answer(kind, int(command.value or 0))
        except (ControllerError, ValueError) as exc:
            return False, f"refused: {exc}"
        open_prompt = self.prompts.open
        if open_prompt is not None and open_prompt.kind == kind:
            self._prompt_events(self.prompts.answer(value, now, source=command.source))
        else:
            self._prompt_events(self.prompts.record(kind, value, now, source=command.source))
        return True, f"{kind} {value} recorded"

    def _prompt_events(self, events: Sequence[PromptEvent]) -> None:
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
