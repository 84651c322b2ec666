"""Commands as data: every way of steering a live session, from any source.

A :class:`Command` says what is wanted (step up or down, hold or resume the controller,
stop, ask or answer a prompt, a note, a scene event, ignore or watch a sensor), who sent
it (its ``source``: keyboard, headset controller, gaze, simulated patient, therapist
console, a stop signal) and, where known, the person (``operator``). The session drains
an ordered list of :class:`CommandSource` objects each step — the display's keys are one,
the console's command link another — and applies every command through one path: the
safety layer for intensity and stop, the prompt scheduler for prompts, the scene for scene
events, the feature pipeline for ignoring a sensor. Each command becomes one marker in the
recording, applied or not, with what came of it. A source may also hand over a
:class:`CommandRejection`: something that arrived but is no command (a console sample that
fails its signature check); the session records it as a ``command_rejected`` marker and
applies nothing.
"""

from __future__ import annotations

import enum
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Protocol

from biosignals.errors import VrTherapyError

__all__ = [
    "COMMAND_SOURCES",
    "NEEDS",
    "Command",
    "CommandError",
    "CommandKind",
    "CommandQueue",
    "CommandRejection",
    "CommandSource",
]

COMMAND_SOURCES = ("keyboard", "controller", "gaze", "twin", "console", "signal")
"""Where commands come from."""


class CommandError(VrTherapyError):
    """A command that cannot be a command (missing or wrong fields)."""


class CommandKind(enum.Enum):
    """What a command asks for."""

    STEP_UP = "step_up"
    STEP_DOWN = "step_down"
    HOLD = "hold"
    """Freeze the controller (safety still acts)."""
    RESUME = "resume"
    STOP = "stop"
    ASK_PROMPT = "ask_prompt"
    ANSWER_PROMPT = "answer_prompt"
    NOTE = "note"
    SCENE_EVENT = "scene_event"
    IGNORE_STREAM = "ignore_stream"
    """Disregard a stream role's quality flags (an unplugged sensor): see
    :meth:`biosignals.pipeline.FeaturePipeline.ignore`."""
    WATCH_STREAM = "watch_stream"
    """Take an ignored stream role into account again."""


_NEEDS: dict[CommandKind, tuple[str, ...]] = {
    CommandKind.ASK_PROMPT: ("prompt",),
    CommandKind.ANSWER_PROMPT: ("prompt", "value"),
    CommandKind.NOTE: ("text",),
    CommandKind.SCENE_EVENT: ("event",),
    CommandKind.IGNORE_STREAM: ("role",),
    CommandKind.WATCH_STREAM: ("role",),
}
NEEDS: Final = MappingProxyType(_NEEDS)
"""The fields each kind needs (kinds not listed need none)."""


@dataclass(frozen=True)
class Command:
    """One command (see the module docstring).

    Parameters
    ----------
    kind
        What it asks for.
    source
        One of :data:`COMMAND_SOURCES`.
    operator
        The person who sent it, where known (a console login); ``None`` otherwise.
    prompt
        ``"suds"`` or ``"nrs"`` for ask/answer.
    value
        The answer, on the prompt's scale.
    text
        A note's text; for ``stop``, the reason (else one is made from the source).
    event
        A scene event's name (the scene declares its events).
    id
        A sender's id for the command (applied at most once per session).
    role
        The stream role an ``ignore_stream`` / ``watch_stream`` command is about.

    Raises
    ------
    CommandError
        A field the kind needs is missing, or the source is unknown.
    """

    kind: CommandKind
    source: str
    operator: str | None = None
    prompt: str | None = None
    value: int | None = None
    text: str | None = None
    event: str | None = None
    id: str | None = None
    role: str | None = None

    def __post_init__(self) -> None:
        if self.source not in COMMAND_SOURCES:
            raise CommandError(
                f"command source {self.source!r} is not one of {', '.join(COMMAND_SOURCES)}"
            )
        missing = [f for f in _NEEDS.get(self.kind, ()) if getattr(self, f) is None]
        if missing:
            raise CommandError(f"command {self.kind.value} needs {', '.join(missing)}")

    @property
    def who(self) -> str:
        """The operator's name, or the source (``"keyboard"``...)."""
        return self.operator or self.source

    def marker(self) -> dict[str, Any]:
        """The command as a recording marker (fields that are set)."""
        out: dict[str, Any] = {
            "event": "command",
            "command": self.kind.value,
            "source": self.source,
        }
        for name in ("operator", "prompt", "value", "text", "id", "role"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.event is not None:
            out["scene_event"] = self.event
        return out


@dataclass(frozen=True)
class CommandRejection:
    """Something a source received that is not a command it may hand on (bad signature,
    replayed id, malformed...): recorded, never applied.

    Parameters
    ----------
    reason
        Why it was rejected, one sentence.
    source
        One of :data:`COMMAND_SOURCES`.
    id
        The id it claimed, where one could be read.
    kind
        The kind it claimed, where one could be read.
    """

    reason: str
    source: str
    id: str | None = None
    kind: str | None = None

    def marker(self) -> dict[str, Any]:
        """``{"event": "command_rejected", "reason", "id", "source", ...}`` for the recording."""
        out: dict[str, Any] = {
            "event": "command_rejected",
            "reason": self.reason,
            "id": self.id,
            "source": self.source,
            "text": f"{self.source} command rejected: {self.reason}",
        }
        if self.kind is not None:
            out["command"] = self.kind
        return out


class CommandSource(Protocol):
    """Anything that hands the session commands: drained once per step, in order."""

    def drain(self, now: float) -> Sequence[Command | CommandRejection]:
        """The commands (and rejected samples) that arrived since the last call."""
        ...


class CommandQueue:
    """A thread-safe :class:`CommandSource` others push into (a network listener thread,
    a signal handler); commands with an ``id`` already seen are dropped (at most once).

    :meth:`drain` takes no lock (the deque's ``popleft`` is atomic), so a signal handler
    that pushes while the session thread drains cannot deadlock it.
    """

    def __init__(self) -> None:
        self._items: deque[Command] = deque()
        self._lock = threading.Lock()
        self._seen: set[str] = set()

    def push(self, command: Command) -> bool:
        """Queue ``command``; ``False`` (and dropped) when its id was seen before."""
        with self._lock:
            if command.id is not None:
                if command.id in self._seen:
                    return False
                self._seen.add(command.id)
            self._items.append(command)
            return True

    def drain(self, now: float) -> list[Command]:
        """Everything pushed since the last call, in order."""
        items: list[Command] = []
        while self._items:
            items.append(self._items.popleft())
        return items
