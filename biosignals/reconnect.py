"""Finding LSL streams, and finding them again: predicates, deterministic resolution,
stream status, gap records and background re-resolution.

* :class:`StreamPredicate` says which stream a role wants (``type``, ``name``,
  ``source_id``; unset fields match anything); :func:`resolve_stream` listens to *every*
  stream on the network, filters by the predicate and picks deterministically
  (:func:`pick_stream`: smallest ``(source_id, uid)``), never the first to answer.

A device bridge that crashes, a Bluetooth link that drops, a laptop that sleeps: the session
must go on, know that data is missing and when, and take the stream back when it returns.

* :class:`GapTracker` watches the timestamps an inlet delivers: a step larger than the
  threshold between consecutive samples (also across pulls) is a :class:`Gap`; no data
  arriving for longer than the threshold makes the stream *stale*.
* :class:`Reopener` looks for the stream again on a background thread (a
  ``ContinuousResolver`` with the role's predicate, deterministic choice among all
  candidates, the dead outlet's uid excluded) and opens it there, so that ``pull`` never
  waits on the network; the inlet adopts the result at its next pull.
* :class:`StreamStatus` is the inlet's state; transitions are checked.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

from biosignals.errors import StreamError, StreamNotFoundError
from biosignals.lsl import import_pylsl

__all__ = [
    "DEFAULT_MIN_WAIT",
    "Gap",
    "GapTracker",
    "Link",
    "Reopener",
    "StreamPredicate",
    "StreamStatus",
    "Supervisor",
    "gap_threshold",
    "pick_stream",
    "resolve_stream",
]

#: Seconds :func:`resolve_stream` keeps listening so that every candidate can answer.
DEFAULT_MIN_WAIT = 0.5
_POLL_S = 0.01


@dataclass(frozen=True, slots=True)
class StreamPredicate:
    """Which LSL stream a role wants; fields left ``None`` match anything.

    Parameters
    ----------
    type
        Content type, e.g. ``"ECG"`` (exact, case-sensitive, as LSL compares it).
    name
        Stream name.
    source_id
        Source identifier of the device or program.
    """

    type: str | None = None
    name: str | None = None
    source_id: str | None = None

    def _fields(self) -> list[tuple[str, str]]:
        pairs = (("type", self.type), ("name", self.name), ("source_id", self.source_id))
        return [(key, value) for key, value in pairs if value is not None]

    def matches(self, info: Any) -> bool:
        """Whether a ``pylsl.StreamInfo`` (or anything with the same getters) matches."""
        getters = {"type": info.type, "name": info.name, "source_id": info.source_id}
        return all(getters[key]() == value for key, value in self._fields())

    def describe(self) -> str:
        """Human-readable form for messages, e.g. ``"type='ECG', name='x'"``."""
        fields = self._fields()
        if not fields:
            return "any stream"
        return ", ".join(f"{key}={value!r}" for key, value in fields)

    def to_xpath(self) -> str:
        """The predicate as an LSL (XPath 1.0) query, e.g. ``"type='ECG' and name='x'"``.

        Raises
        ------
        StreamError
            If a value contains both quote characters (XPath 1.0 cannot express it).
        """
        terms = []
        for key, value in self._fields():
            if "'" not in value:
                terms.append(f"{key}='{value}'")
            elif '"' not in value:
                terms.append(f'{key}="{value}"')
            else:
                raise StreamError(f"stream predicate {key}={value!r} mixes ' and \" quotes")
        return " and ".join(terms) if terms else "true()"


def pick_stream(candidates: Iterable[Any], predicate: StreamPredicate) -> Any | None:
    """Choose one matching stream deterministically: smallest ``(source_id, uid)``.

    Parameters
    ----------
    candidates
        ``pylsl.StreamInfo`` objects (duplicates by uid are fine).
    predicate
        What to match.

    Returns
    -------
    pylsl.StreamInfo or None
        The chosen stream, or ``None`` when nothing matches.
    """
    matching = [info for info in candidates if predicate.matches(info)]
    if not matching:
        return None
    return min(matching, key=lambda info: (info.source_id(), info.uid()))


def _describe_seen(infos: Sequence[Any]) -> str:
    if not infos:
        return "none"
    seen = sorted({(i.type(), i.name(), i.source_id()) for i in infos})
    shown = "; ".join(f"type={t!r} name={n!r} source_id={s!r}" for t, n, s in seen[:10])
    return shown if len(seen) <= 10 else f"{shown}; and {len(seen) - 10} more"


def resolve_stream(
    predicate: StreamPredicate, timeout: float, *, min_wait: float = DEFAULT_MIN_WAIT
) -> Any:
    """Find the one LSL stream a predicate selects, without depending on answer order.

    Listens to all streams on the network (a background ``ContinuousResolver``) until a
    match is seen, then ``min_wait`` seconds more (bounded by ``timeout``) so every other
    candidate can answer too (outlets that miss one query wave answer the next), and
    picks with :func:`pick_stream`.

    Parameters
    ----------
    predicate
        Which stream.
    timeout
        Longest time to wait in seconds (the call returns within about 10 ms of it).
    min_wait
        Listening time in seconds after the first match, before choosing among all
        candidates.

    Returns
    -------
    pylsl.StreamInfo
        The chosen stream's (partial) info; open it with :class:`LslInlet`.

    Raises
    ------
    StreamNotFoundError
        If no stream matched within ``timeout``; the message lists the streams seen.
    """
    if timeout < 0:
        raise StreamError(f"resolve_stream timeout must be >= 0, got {timeout}")
    pylsl = import_pylsl()
    resolver = pylsl.ContinuousResolver(forget_after=max(5.0, timeout + 1.0))
    start = pylsl.local_clock()
    deadline = start + timeout
    settle: float | None = None
    waiter = threading.Event()
    seen: list[Any] = []
    while True:
        seen = resolver.results()
        now = pylsl.local_clock()
        chosen = pick_stream(seen, predicate)
        if chosen is not None and settle is None:
            settle = min(now + min_wait, deadline)
        if (settle is not None and now >= settle) or now >= deadline:
            break
        waiter.wait(min(_POLL_S, max(0.0, deadline - now)))
    del resolver
    if chosen is None:
        raise StreamNotFoundError(
            f"no LSL stream with {predicate.describe()} found within {timeout:.1f} s "
            f"(streams seen: {_describe_seen(seen)})"
        )
    return chosen


T = TypeVar("T")


class StreamStatus(Enum):
    """State of a live inlet.

    ``CONNECTED``: samples arrive. ``STALE``: none for longer than the gap threshold (liblsl
    may be recovering the connection by itself). ``RESOLVING``: the connection is lost
    for good or stale too long; a new outlet matching the predicate is being looked for.
    ``CLOSED``: closed by its owner (final).
    """

    CONNECTED = "connected"
    STALE = "stale"
    RESOLVING = "resolving"
    CLOSED = "closed"


_LEGAL: dict[StreamStatus, frozenset[StreamStatus]] = {
    StreamStatus.CONNECTED: frozenset({StreamStatus.STALE, StreamStatus.RESOLVING}),
    StreamStatus.STALE: frozenset({StreamStatus.CONNECTED, StreamStatus.RESOLVING}),
    StreamStatus.RESOLVING: frozenset({StreamStatus.CONNECTED}),
    StreamStatus.CLOSED: frozenset(),
}


def check_transition(old: StreamStatus, new: StreamStatus, stream: str) -> StreamStatus:
    """Return ``new`` if ``old -> new`` is legal (same state or closing always is)."""
    if new is old or new is StreamStatus.CLOSED or new in _LEGAL[old]:
        return new
    raise StreamError(f"stream {stream!r}: illegal status change {old.value} -> {new.value}")


def gap_threshold(nominal_srate: float, irregular: float = 3.0) -> float:
    """Longest silence that is not a gap: ``max(0.5 s, 5 / rate)``; ``irregular`` if rate 0."""
    if nominal_srate > 0:
        return max(0.5, 5.0 / nominal_srate)
    return irregular


@dataclass(frozen=True, slots=True)
class Gap:
    """Missing data: no samples between ``start`` and ``end`` (LSL clock seconds).

    ``start`` is the timestamp of the last sample before the gap, ``end`` that of the
    first one after it. ``reopened`` is True when the stream came back through a newly
    resolved outlet rather than the same connection.
    """

    start: float
    end: float
    reopened: bool = False

    @property
    def duration(self) -> float:
        """``end - start`` in seconds."""
        return self.end - self.start


class GapTracker:
    """Finds gaps in a stream of timestamps and tracks when data last arrived.

    Parameters
    ----------
    threshold
        Seconds between consecutive samples (or without any arrival) that count as a gap.
    now
        LSL clock time at creation (counts as the last arrival).
    """

    def __init__(self, threshold: float, now: float) -> None:
        self.threshold = float(threshold)
        self.last_stamp: float | None = None
        self.last_arrival = float(now)

    def observe(self, stamps: np.ndarray, now: float, *, reopened: bool = False) -> list[Gap]:
        """Record a non-empty chunk of timestamps; return the gaps it closes."""
        if stamps.size == 0:
            return []
        joined = stamps if self.last_stamp is None else np.concatenate(([self.last_stamp], stamps))
        steps = np.flatnonzero(np.diff(joined) > self.threshold)
        gaps = [Gap(float(joined[i]), float(joined[i + 1])) for i in steps]
        if reopened and self.last_stamp is not None:
            if gaps and gaps[0].start == self.last_stamp:
                gaps[0] = Gap(gaps[0].start, gaps[0].end, True)
            else:  # came back through a new outlet, timestamps continuous: still a gap mark
                gaps.insert(0, Gap(self.last_stamp, float(stamps[0]), True))
        self.last_stamp = float(stamps[-1])
        self.last_arrival = float(now)
        return gaps

    def silent_for(self, now: float) -> float:
        """Seconds since data last arrived (or since creation)."""
        return now - self.last_arrival


class Reopener(Generic[T]):
    """Resolve a predicate again and open the match, on a daemon thread.

    Parameters
    ----------
    xpath
        LSL query for the candidates (``StreamPredicate.to_xpath()``).
    choose
        Picks one ``StreamInfo`` from all current candidates (deterministic), or None.
    opener
        Opens a chosen ``StreamInfo`` (blocking is fine here); raises StreamError if the
        stream does not fit (then the next candidate or attempt is tried).
    discard
        Releases a result opened after :meth:`cancel` (runs on the thread).
    exclude_uid
        uid of the outlet that was lost; never chosen again.
    settle
        Seconds to keep listening after the first candidate so all can answer.
    """

    def __init__(
        self,
        xpath: str,
        choose: Callable[[list[Any]], Any | None],
        opener: Callable[[Any], T],
        discard: Callable[[T], None],
        *,
        exclude_uid: str,
        settle: float = 0.5,
    ) -> None:
        self._xpath, self._choose, self._opener = xpath, choose, opener
        self._discard = discard
        self._excluded = {exclude_uid}
        self._settle = settle
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._result: T | None = None
        self.last_error: StreamError | None = None
        self.attempts = 0
        self._thread = threading.Thread(target=self._run, name="lsl-reopen", daemon=True)
        self._thread.start()

    def poll(self) -> T | None:
        """The opened result, once (never blocks)."""
        with self._lock:
            result, self._result = self._result, None
        return result

    @property
    def running(self) -> bool:
        """Whether the thread is still searching (or holds an unclaimed result)."""
        return self._thread.is_alive()

    def cancel(self) -> T | None:
        """Stop searching; returns a result already opened (the caller owns it), else None.

        A result the thread opens after this call is released with ``discard``.
        """
        self._stop.set()
        return self.poll()

    def join(self, timeout: float) -> None:
        """Wait for the thread to end (for closing)."""
        self._thread.join(timeout)

    def _run(self) -> None:
        pylsl = import_pylsl()
        resolver = pylsl.ContinuousResolver(pred=self._xpath, forget_after=2.0)
        first_seen: float | None = None
        while not self._stop.wait(0.05):
            infos = [i for i in resolver.results() if i.uid() not in self._excluded]
            now = pylsl.local_clock()
            if not infos:
                first_seen = None
                continue
            first_seen = now if first_seen is None else first_seen
            chosen = self._choose(infos) if now - first_seen >= self._settle else None
            if chosen is None:
                continue
            self.attempts += 1
            try:
                opened = self._opener(chosen)
            except StreamError as err:  # recorded for status reports; tried again later
                self.last_error = err
                self._excluded.add(chosen.uid())
                continue
            with self._lock:
                if not self._stop.is_set():
                    self._result = opened
                    return
            self._discard(opened)
            return


class Link(Protocol):
    """An open connection the supervisor can replace: its outlet's uid, and close()."""

    uid: str

    def close(self) -> None:
        """Release it."""
        ...


L = TypeVar("L", bound=Link)


class Supervisor(Generic[L]):
    """Status, gaps and re-resolution for one inlet (the bookkeeping behind LslInlet).

    Parameters
    ----------
    stream
        Stream name for messages.
    threshold
        Gap / staleness threshold in seconds (:func:`gap_threshold`).
    reresolve_after
        Seconds of staleness before re-resolving in the background.
    now
        Current LSL clock time.
    reopener
        Starts a :class:`Reopener` excluding the given (lost) uid.
    """

    def __init__(
        self,
        stream: str,
        threshold: float,
        reresolve_after: float,
        now: float,
        reopener: Callable[[str], Reopener[L]],
    ) -> None:
        self.stream = stream
        self.tracker = GapTracker(threshold, now)
        self.reresolve_after = max(float(reresolve_after), threshold)
        self._make_reopener = reopener
        self._reopener: Reopener[L] | None = None
        self._reopened = False
        self.status = StreamStatus.CONNECTED
        self.gaps: list[Gap] = []
        self._undrained = 0

    def _set(self, new: StreamStatus) -> None:
        self.status = check_transition(self.status, new, self.stream)

    @property
    def last_error(self) -> StreamError | None:
        """Why the last re-resolved candidate could not be opened, if any."""
        return None if self._reopener is None else self._reopener.last_error

    def drain(self) -> list[Gap]:
        """Gaps closed since the last call."""
        new = self.gaps[self._undrained :]
        self._undrained = len(self.gaps)
        return new

    def on_data(self, stamps: np.ndarray, now: float) -> L | None:
        """Samples arrived; returns a connection opened meanwhile that must be closed."""
        self.gaps.extend(self.tracker.observe(stamps, now, reopened=self._reopened))
        self._reopened = False
        leftover = None
        if self._reopener is not None:  # the old connection came back first
            leftover, self._reopener = self._reopener.cancel(), None
        self._set(StreamStatus.CONNECTED)
        return leftover

    def on_idle(self, now: float, current_uid: str) -> None:
        """No samples this pull: maybe stale, maybe time to re-resolve."""
        silent = self.tracker.silent_for(now)
        if self.status is StreamStatus.CONNECTED and silent > self.tracker.threshold:
            self._set(StreamStatus.STALE)
        if self.status is StreamStatus.STALE and silent > self.reresolve_after:
            self.lost(current_uid)

    def lost(self, uid: str) -> None:
        """The connection is gone for good: re-resolve in the background."""
        if self.status is not StreamStatus.RESOLVING:
            self._set(StreamStatus.RESOLVING)
        if self._reopener is None:
            self._reopener = self._make_reopener(uid)

    def adopt(self) -> L | None:
        """A newly opened connection to switch to, if the background search found one."""
        fresh = None if self._reopener is None else self._reopener.poll()
        if fresh is not None:
            self._reopener, self._reopened = None, True
        return fresh

    def close(self) -> L | None:
        """Final; returns a connection opened meanwhile that must be closed."""
        self._set(StreamStatus.CLOSED)
        leftover = None
        if self._reopener is not None:
            leftover, self._reopener = self._reopener.cancel(), None
        return leftover
