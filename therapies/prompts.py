"""In-scene self-report prompts: SUDS (0-100), pain NRS (0-10) and predicted SUDS (0-100,
asked once when an exposure session starts). Pure state, no GL, no IO.

A :class:`PromptScheduler` opens prompts on a schedule (``every``, from ``first_after`` after
the active phase starts), once at the session's start (:meth:`PromptScheduler.begin`: the
predicted SUDS) or on demand (a therapist key, or :meth:`PromptScheduler.request`),
one at a time (others queue), takes the answer from keys (digits + Enter, or Left/Right
steps + Enter) or from another input path (:meth:`PromptScheduler.answer`, e.g. gaze or a
controller ray), and closes unanswered prompts after ``timeout``. Every change is returned
as a :class:`PromptEvent` for the session to record and to feed to the controller.

Keys: while a prompt is open it claims digits, Left/Right, Enter and Backspace; the
on-demand key is always claimed. Everything else (Escape, the therapist's Up/Down) passes
through: see :attr:`PromptScheduler.passthrough`. Left/Right rather than Up/Down step the
value so that a patient answering never moves the exposure.

A value can only be confirmed once chosen: Enter with nothing typed or stepped is ignored,
so an idle Enter never records a default. Left/Right start from the patient's previous
answer of that kind (else the scale midpoint).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from biosignals.errors import VrTherapyError
from biosignals.units import Duration
from therapies.scenes.base import Gauge, Overlay

PromptKind = Literal["suds", "nrs", "predicted_suds"]
PromptEventKind = Literal["asked", "answered", "timeout", "cancelled"]
KINDS: tuple[PromptKind, ...] = ("suds", "nrs")
"""Kinds asked on a schedule or on demand (the therapist's key, a console); their answers go
to the controller."""
PREDICTED_SUDS: PromptKind = "predicted_suds"
"""The expectancy question, asked once at the session's start; recorded, never given to the
controller (it is not a rating of the moment)."""

DIGIT_KEYS = {str(d): str(d) for d in range(10)} | {f"[{d}]": str(d) for d in range(10)}
"""pygame key names of the digit row and the keypad -> digit."""
CONFIRM_KEYS = ("return", "enter")
STEP_KEYS = {"left": -1, "right": +1}
ERASE_KEYS = ("backspace",)
PROMPT_KEYS = frozenset((*DIGIT_KEYS, *CONFIRM_KEYS, *STEP_KEYS, *ERASE_KEYS))
"""Keys an open prompt claims."""

MIN_TIMEOUT = 1.0
"""Shortest prompt timeout (s): nobody reads and answers a scale faster; it also keeps
``every`` (which must be longer) from being so short that the schedule's arithmetic
overflows."""

PROMPT_ANCHOR = (0.5, 0.42)
PROMPT_HEIGHT = 0.28
PROMPT_HELP = "Type a number or use Left / Right, then Enter"
PROMPT_FG = (0.97, 0.96, 0.92, 1.0)
PROMPT_BG = (0.12, 0.2, 0.27, 0.92)


class PromptError(VrTherapyError):
    """A prompt scheduler was misused (started twice, unknown kind)."""


@dataclass(frozen=True)
class Scale:
    """A rating scale: range, step for Left/Right, and the words shown."""

    low: int
    high: int
    step: int
    question: str
    anchors: str
    label: str

    @property
    def digits(self) -> int:
        """Most digits a typed answer can have."""
        return len(str(self.high))

    def clip(self, value: int) -> int:
        """``value`` limited to the scale."""
        return min(max(int(value), self.low), self.high)


SCALES: dict[str, Scale] = {
    "suds": Scale(
        0, 100, 10, "How anxious are you right now?", "0  calm\tmost anxious ever  100", "SUDS"
    ),
    "nrs": Scale(
        0,
        10,
        1,
        "How much pain do you feel right now?",
        "0  no pain\tworst pain imaginable  10",
        "pain",
    ),
    PREDICTED_SUDS: Scale(
        0,
        100,
        10,
        "How anxious do you expect to be at the hardest step?",
        "0  calm\tmost anxious ever  100",
        "predicted SUDS",
    ),
}


class PromptConfig(BaseModel, frozen=True, extra="forbid"):
    """One prompt's schedule (protocol keys ``prompts.suds`` / ``prompts.nrs``).

    Parameters
    ----------
    every
        Ask every this long during the active phase; ``None``: only on demand.
    timeout
        An unanswered prompt closes after this long and is recorded as a timeout (1 s to
        10 min).
    first_after
        First scheduled prompt this long after the active phase starts (with ``every``).
    """

    every: Duration | None = Field(default=None, gt=0.0)
    timeout: Duration = Field(default=20.0, ge=MIN_TIMEOUT, le=600.0)
    first_after: Duration = Field(default=0.0, ge=0.0)

    @model_validator(mode="after")
    def _coherent(self) -> PromptConfig:
        if self.every is None:
            if self.first_after > 0.0:
                raise ValueError("first_after needs every (without every, prompts are on demand)")
        elif self.every <= self.timeout:
            raise ValueError(
                f"every ({self.every:g} s) must be longer than timeout ({self.timeout:g} s)"
            )
        return self


class PredictedSudsConfig(BaseModel, frozen=True, extra="forbid"):
    """The expectancy question (protocol key ``prompts.predicted_suds``): "How anxious do you
    expect to be at the hardest step?" (0-100), asked once when the session starts, before
    the baseline rest, so that expectancy violation (predicted vs peak SUDS) can be computed.

    Parameters
    ----------
    timeout
        An unanswered question closes after this long and is recorded as a timeout (1 s to
        10 min).
    """

    timeout: Duration = Field(default=60.0, ge=MIN_TIMEOUT, le=600.0)


class GazeConfig(BaseModel, frozen=True, extra="forbid"):
    """Answering prompts by head gaze (protocol key ``prompts.gaze``), where the display
    reports a head pose (headset, desktop window); see :mod:`therapies.prompt_gaze`.

    Parameters
    ----------
    enabled
        Place the panel in the world and answer by dwelling; False: head-locked panel,
        keys/controller only.
    dwell
        How long the gaze must rest on one value to answer it (0.5 s to 10 s).
    """

    enabled: bool = True
    dwell: Duration = Field(default=2.0, ge=0.5, le=10.0)


class PromptsConfig(BaseModel, frozen=True, extra="forbid"):
    """Which prompts a protocol uses (protocol key ``prompts``).

    Parameters
    ----------
    suds, nrs
        SUDS 0-100 and pain NRS 0-10; ``None``: not asked (not even on demand).
    predicted_suds
        The expectancy question at the session's start (see :class:`PredictedSudsConfig`);
        ``None``: not asked. Exposure protocols only (the protocol checks).
    on_demand_key
        Key (pygame name) that asks every configured prompt now, SUDS first.
    gaze
        Gaze answering (see :class:`GazeConfig`).
    """

    suds: PromptConfig | None = None
    nrs: PromptConfig | None = None
    predicted_suds: PredictedSudsConfig | None = None
    on_demand_key: str = "s"
    gaze: GazeConfig = GazeConfig()

    @field_validator("on_demand_key")
    @classmethod
    def _free_key(cls, key: str) -> str:
        if key in PROMPT_KEYS or key in ("escape", "up", "down") or not key:
            raise ValueError(
                f"{key!r} is taken (digits, left, right, return, enter, backspace answer "
                "prompts; escape, up, down belong to the session); choose another key"
            )
        return key


@dataclass(frozen=True)
class Prompt:
    """The open prompt: what is asked, since when, and the value chosen so far."""

    kind: PromptKind
    asked_at: float
    deadline: float
    value: int | None = None
    typed: str = ""

    @property
    def scale(self) -> Scale:
        """The rating scale."""
        return SCALES[self.kind]


@dataclass(frozen=True)
class PromptEvent:
    """Something that happened to a prompt.

    Parameters
    ----------
    time
        When (the deadline for a timeout), on the session clock.
    kind
        ``"suds"``, ``"nrs"`` or ``"predicted_suds"``.
    event
        ``"asked"``, ``"answered"``, ``"timeout"`` or ``"cancelled"`` (session ended).
    value
        The answer (``answered`` only).
    latency
        Seconds from asked to answered (``answered`` only).
    source
        How it came about: ``schedule``, ``start``, ``key`` or ``request`` for ``asked``;
        ``keys`` or
        the :meth:`PromptScheduler.answer` caller's word (``gaze``...) for ``answered``.
    """

    time: float
    kind: PromptKind
    event: PromptEventKind
    value: int | None = None
    latency: float | None = None
    source: str = ""

    def describe(self) -> str:
        """One line for people, e.g. ``'SUDS answered 40 after 3.2 s (keys)'``."""
        label = SCALES[self.kind].label
        if self.event == "answered":
            return f"{label} answered {self.value} after {self.latency:.1f} s ({self.source})"
        if self.event == "asked":
            return f"{label} asked ({self.source})"
        if self.event == "timeout":
            return f"{label} prompt timed out unanswered"
        return f"{label} prompt cancelled unanswered"

    def marker(self) -> dict[str, object]:
        """The recording marker: ``{"event": kind, "kind": event, "value", ..., "text"}``."""
        return {
            "event": self.kind,
            "kind": self.event,
            "value": self.value,
            "latency": self.latency,
            "source": self.source,
            "text": self.describe(),
        }


def prompt_text(scale: Scale, value: int | None, help_line: str, status: str = "") -> str:
    """A prompt panel's text: question, value, scale anchors, ``status`` and ``help_line``.

    Six lines (the scale is drawn after the third); ``status`` takes the blank line above
    the help, so the panel keeps its size and layout whatever it shows.
    """
    shown = "\u2013" if value is None else str(value)
    return "\n".join((scale.question, "", f"<    {shown}    >", scale.anchors, status, help_line))


class PromptScheduler:
    """Opens, answers and times out prompts (see module docstring).

    Parameters
    ----------
    config
        Which prompts, how often, how long to wait.
    """

    def __init__(self, config: PromptsConfig) -> None:
        self.config = config
        self._started_at: float | None = None
        self._schedule: dict[PromptKind, tuple[float, float]] = {}  # kind -> (due, every)
        self._queue: list[tuple[PromptKind, str]] = []
        self._open: Prompt | None = None
        self._last_answer: dict[PromptKind, int] = {}
        self._passthrough: tuple[str, ...] = ()

    @property
    def open(self) -> Prompt | None:
        """The prompt on screen, if any."""
        return self._open

    @property
    def passthrough(self) -> tuple[str, ...]:
        """Keys of the last :meth:`update` that no prompt claimed, in order (for the session)."""
        return self._passthrough

    @property
    def kinds(self) -> tuple[PromptKind, ...]:
        """The configured prompt kinds, SUDS first."""
        return tuple(k for k in KINDS if self._config(k) is not None)

    def _config(self, kind: PromptKind) -> PromptConfig | None:
        config: PromptConfig | None = getattr(self.config, kind)
        return config

    def _timeout(self, kind: PromptKind) -> float:
        config: PromptConfig | PredictedSudsConfig | None = getattr(self.config, kind)
        return (config or PromptConfig()).timeout

    def begin(self, now: float) -> list[PromptEvent]:
        """The session starts at ``now``: ask the predicted SUDS when configured (source
        ``start``); an empty list otherwise."""
        if self.config.predicted_suds is None:
            return []
        self._enqueue(PREDICTED_SUDS, "start")
        return self._open_next(now)

    def start(self, now: float) -> None:
        """The active phase begins at ``now``: scheduled prompts count from here.

        Raises
        ------
        PromptError
            Already started.
        """
        if self._started_at is not None:
            raise PromptError(f"PromptScheduler.start({now}) called twice")
        self._started_at = now
        for kind in self.kinds:
            config = self._config(kind)
            if config is not None and config.every is not None:
                self._schedule[kind] = (now + config.first_after, config.every)

    def request(self, kind: PromptKind, now: float, source: str = "request") -> list[PromptEvent]:
        """Ask ``kind`` now (or after the open prompt); works before :meth:`start` too."""
        if kind not in SCALES:
            raise PromptError(f"prompt kind {kind!r} is not one of {', '.join(SCALES)}")
        self._enqueue(kind, source)
        return self._open_next(now)

    def update(self, now: float, keys: tuple[str, ...] = ()) -> list[PromptEvent]:
        """Advance to ``now``: time out, open due prompts, then apply ``keys`` in order.

        Parameters
        ----------
        now
            Session time.
        keys
            Keys pressed since the last update (pygame names). Unclaimed ones are left in
            :attr:`passthrough`.

        Returns
        -------
        list of PromptEvent
            In time order.
        """
        events = self._expire(now)
        for kind, (due, every) in self._schedule.items():
            if now >= due:  # one prompt however many slots were missed; stay on the grid
                self._enqueue(kind, "schedule")
                self._schedule[kind] = (due + every * (int((now - due) // every) + 1), every)
        events += self._open_next(now)
        passed: list[str] = []
        for key in keys:
            if key == self.config.on_demand_key and self.kinds:
                for kind in self.kinds:
                    self._enqueue(kind, "key")
                events += self._open_next(now)
            elif self._open is not None and key in PROMPT_KEYS:
                events += self._key(key, now)
            else:
                passed.append(key)
        self._passthrough = tuple(passed)
        return events

    def answer(self, value: float, now: float, source: str = "external") -> list[PromptEvent]:
        """Answer the open prompt with ``value`` from another input (gaze, controller ray).

        ``value`` is rounded and clipped to the open prompt's scale. When no prompt is open
        (or it expired before ``now``: then the list holds its timeout) no answer is
        recorded; check :attr:`open` first to tell the patient.
        """
        events = self._expire(now)
        if self._open is None:
            return events
        return events + self._close_answered(self._open.scale.clip(round(value)), now, source)

    def record(
        self, kind: PromptKind, value: int, now: float, source: str = "external"
    ) -> list[PromptEvent]:
        """An answer given without a prompt of that kind on screen (the patient said it
        aloud and the therapist entered it): recorded like an answer, nothing closes.

        Raises
        ------
        PromptError
            Unknown ``kind``.
        """
        if kind not in SCALES:
            raise PromptError(f"prompt kind {kind!r} is not one of {', '.join(SCALES)}")
        value = SCALES[kind].clip(value)
        self._last_answer[kind] = value
        return [*self._expire(now), PromptEvent(now, kind, "answered", value, None, source)]

    def cancel(self, now: float) -> list[PromptEvent]:
        """Close the open prompt unanswered and drop the queue (the session is ending)."""
        self._queue.clear()
        if self._open is None:
            return []
        kind, self._open = self._open.kind, None
        return [PromptEvent(now, kind, "cancelled")]

    def overlay(self) -> Overlay | None:
        """The panel for the open prompt, or ``None``."""
        prompt = self._open
        if prompt is None:
            return None
        scale = prompt.scale
        where = None
        if prompt.value is not None:
            where = (prompt.value - scale.low) / (scale.high - scale.low)
        text = prompt_text(scale, prompt.value, PROMPT_HELP)
        gauge = Gauge(where, scale.high // scale.step + 1, after_line=2)
        return Overlay(text, PROMPT_ANCHOR, PROMPT_HEIGHT, PROMPT_FG, PROMPT_BG, gauge=gauge)

    def _enqueue(self, kind: PromptKind, source: str) -> None:
        busy = (self._open is not None and self._open.kind == kind) or any(
            k == kind for k, _ in self._queue
        )
        if not busy:
            self._queue.append((kind, source))

    def _open_next(self, now: float) -> list[PromptEvent]:
        if self._open is not None or not self._queue:
            return []
        kind, source = self._queue.pop(0)
        self._open = Prompt(kind, now, now + self._timeout(kind))
        return [PromptEvent(now, kind, "asked", source=source)]

    def _expire(self, now: float) -> list[PromptEvent]:
        prompt = self._open
        if prompt is None or now < prompt.deadline:
            return []
        self._open = None
        return [PromptEvent(prompt.deadline, prompt.kind, "timeout"), *self._open_next(now)]

    def _close_answered(self, value: int, now: float, source: str) -> list[PromptEvent]:
        prompt = self._open
        assert prompt is not None
        self._open = None
        self._last_answer[prompt.kind] = value
        event = PromptEvent(now, prompt.kind, "answered", value, now - prompt.asked_at, source)
        return [event, *self._open_next(now)]

    def _key(self, key: str, now: float) -> list[PromptEvent]:
        prompt = self._open
        assert prompt is not None
        scale = prompt.scale
        if key in CONFIRM_KEYS:
            if prompt.value is None:
                return []
            return self._close_answered(prompt.value, now, "keys")
        if key in DIGIT_KEYS:
            typed = prompt.typed if len(prompt.typed) < scale.digits else ""
            typed += DIGIT_KEYS[key]
            self._open = replace(prompt, typed=typed, value=scale.clip(int(typed)))
        elif key in ERASE_KEYS:
            if not prompt.typed:
                return []
            typed = prompt.typed[:-1]
            self._open = replace(
                prompt, typed=typed, value=scale.clip(int(typed)) if typed else None
            )
        else:
            if prompt.value is None:
                base = self._last_answer.get(prompt.kind, (scale.low + scale.high) // 2)
            else:
                base = prompt.value
            self._open = replace(
                prompt, typed="", value=scale.clip(base + STEP_KEYS[key] * scale.step)
            )
        return []
