"""What a session is made of and gives back: its states, summary and progress, and the
typed seams to its collaborators (sample sources, recorded streams, intensity sinks, the
simulated patient's prompt answers). The display's seam is
:class:`engine.display.base.Display`; the scene's :class:`therapies.scenes.base.Scene`;
commands come through :class:`therapies.commands.CommandSource`."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from biosignals.features import FeatureSnapshot
from biosignals.reconnect import Gap
from therapies.controllers import IntensityDecision

__all__ = [
    "LEGAL_TRANSITIONS",
    "IntensitySink",
    "Progress",
    "PromptResponder",
    "RawStream",
    "SampleSource",
    "SessionState",
    "SessionSummary",
    "StatusSink",
]


class SessionState(enum.Enum):
    """Lifecycle of a session."""

    CREATED = "created"
    BASELINE = "baseline"
    ACTIVE = "active"
    FINISHED = "finished"
    ABORTED = "aborted"


LEGAL_TRANSITIONS = {
    SessionState.CREATED: {SessionState.BASELINE, SessionState.ABORTED},
    SessionState.BASELINE: {SessionState.ACTIVE, SessionState.ABORTED},
    SessionState.ACTIVE: {SessionState.FINISHED, SessionState.ABORTED},
    SessionState.FINISHED: set(),
    SessionState.ABORTED: set(),
}


class SampleSource(Protocol):
    """One role's samples (:class:`~biosignals.role_streams.RoleView`,
    :class:`~biosignals.streams.LslInlet`, :class:`~biosignals.streams.FakeInlet`)."""

    def pull(self) -> tuple[np.ndarray, np.ndarray]:
        """Samples (in the role's unit) and timestamps since the last pull; never blocks."""
        ...

    def drain_gaps(self) -> list[Gap]:
        """Gaps in the stream closed since the last call."""
        ...


class RawStream(Protocol):
    """A stream the session records whole (:class:`~biosignals.role_streams.SharedStream`):
    its raw chunks and its notes (e.g. the ``clock: auto`` decision) since the last call."""

    @property
    def withheld(self) -> tuple[int, ...]:
        """Channels no role reads (recorded blank)."""
        ...

    def drain_raw(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Raw chunks (every channel, as received) since the last call."""
        ...

    def drain_notes(self) -> list[dict[str, object]]:
        """Events for the markers since the last call."""
        ...


class IntensitySink(Protocol):
    """Anything that follows the session: the intensity shown every frame, and its event
    markers (LSL outlets, the in-process twin, the scene's sound)."""

    def push_intensity(self, value: float, timestamp: float) -> None:
        """The intensity shown at ``timestamp``."""
        ...

    def push_marker(self, event: Mapping[str, Any], timestamp: float) -> None:
        """An event marker: the same object the recording holds (sinks that do not publish
        markers ignore it; none may change it)."""
        ...


class StatusSink(Protocol):
    """Where a live session publishes its status for a therapist console
    (:class:`engine.outlets.SessionOutlets`; docs/console.md)."""

    session_id: str
    """The session's id, in the status object."""
    thumbnail: bool
    """Whether it publishes thumbnails of the patient's view."""

    def push_status(self, status: Mapping[str, Any], timestamp: float) -> None:
        """The status object, at every controller tick and whenever the state changes."""
        ...

    def push_features(self, row: Sequence[float], timestamp: float) -> None:
        """One row of :data:`engine.console_wire.FEATURE_CHANNELS` at a controller tick."""
        ...

    def push_thumbnail(self, data_url: str, timestamp: float) -> None:
        """A thumbnail of the patient's view as a ``data:`` URL (called from a worker
        thread)."""
        ...


class PromptResponder(Protocol):
    """Answers a prompt the moment it is asked (a simulated patient in dry-runs)."""

    def __call__(self, kind: str) -> int | None:
        """The answer to a ``"suds"`` or ``"nrs"`` prompt, or ``None`` for no answer."""
        ...


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
    commands: list[dict[str, Any]] = field(default_factory=list)
    """Every command the session received, as its marker (applied or not)."""

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
