"""LSL inlets: find a stream by predicate, read one channel in causal chunks.

Three pieces, each with one job:

* :class:`StreamPredicate` says which stream a role wants (``type``, ``name``,
  ``source_id``; unset fields match anything) and matches it against ``pylsl.StreamInfo``.
* :func:`resolve_stream` looks at *every* stream visible on the LSL network for a minimum
  wait, filters by the predicate and returns one deterministically: streams are ordered by
  ``(source_id, uid)`` and the smallest wins, so the choice never depends on which outlet
  happened to answer first.
* :class:`LslInlet` opens the stream, reads its full description once (:class:`StreamMeta`:
  channel labels, units, the raw XML) and :meth:`LslInlet.pull` returns every sample that has
  arrived since the last call, for one selected channel, as float64 arrays with timestamps
  on the local LSL clock. :class:`FakeInlet` has the same contract and is fed by hand, for
  fast unit tests of the code that consumes inlets.

Timestamps
    The inlet is opened with ``proc_clocksync`` only: liblsl adds its continuously updated
    ``time_correction()`` estimate to every timestamp, so pulled timestamps are on this
    machine's ``pylsl.local_clock``. The first estimate is awaited in the constructor
    (otherwise liblsl blocks the first ``pull_chunk(timeout=0)`` for it). ``proc_dejitter``
    is deliberately *not* used: it replaces the sender's timestamps by a running linear
    fit, which moves individual timestamps (most at stream start and after gaps) and would
    hide real dropouts from the quality checks downstream. ``proc_monotonize`` is not used
    either: a backwards step is a fact the quality layer should see, not have clamped away.

Seams for later work (not built yet): reconnect policy (liblsl's ``recover=True`` already
re-opens a stream whose ``source_id`` reappears), unit conversion from ``StreamMeta.
channel_units``, and derived RR/HR streams; all of them sit behind the :class:`Inlet`
protocol.
"""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike

from biosignals.errors import SignalError, StreamError, StreamNotFoundError
from biosignals.lsl import import_pylsl

__all__ = [
    "DEFAULT_MIN_WAIT",
    "FakeInlet",
    "Inlet",
    "LslInlet",
    "StreamMeta",
    "StreamPredicate",
    "pick_stream",
    "resolve_stream",
    "stream_meta",
]

#: Seconds :func:`resolve_stream` keeps listening so that every candidate can answer.
DEFAULT_MIN_WAIT = 0.5
_POLL_S = 0.01
_PULL_MAX_SAMPLES = 4096


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

    Listens to all streams on the network (a background ``ContinuousResolver``) for at least
    ``min(min_wait, timeout)`` seconds so every candidate can answer, and further until a
    match is seen or ``timeout`` is over; then picks with :func:`pick_stream`.

    Parameters
    ----------
    predicate
        Which stream.
    timeout
        Longest time to wait in seconds (the call returns within about 10 ms of it).
    min_wait
        Minimum listening time in seconds before choosing among several candidates.

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
    settle = start + min(min_wait, timeout)
    waiter = threading.Event()
    seen: list[Any] = []
    while True:
        seen = resolver.results()
        now = pylsl.local_clock()
        chosen = pick_stream(seen, predicate)
        if (chosen is not None and now >= settle) or now >= deadline:
            break
        waiter.wait(min(_POLL_S, max(0.0, deadline - now)))
    del resolver
    if chosen is None:
        raise StreamNotFoundError(
            f"no LSL stream with {predicate.describe()} found within {timeout:.1f} s "
            f"(streams seen: {_describe_seen(seen)})"
        )
    return chosen


@dataclass(frozen=True, slots=True)
class StreamMeta:
    """What a stream says about itself, read once when the inlet opens.

    ``channel_labels`` and ``channel_units`` always have ``channel_count`` entries (``""``
    where the stream's ``<desc>`` says nothing); pass ``()`` to mean "none given".

    Parameters
    ----------
    name, type, source_id
        The stream's identity.
    channel_count
        Number of channels.
    nominal_srate
        Nominal sampling rate in Hz; ``0.0`` for irregular streams.
    channel_format
        LSL channel format name, e.g. ``"float32"``, ``"double64"``, ``"string"``.
    channel_labels, channel_units
        Per-channel ``label`` (or ``name``) and ``unit`` from ``<desc><channels>``.
    info_xml
        The full stream description as LSL sent it (``""`` for fakes built by hand).
    """

    name: str
    type: str
    source_id: str
    channel_count: int
    nominal_srate: float
    channel_format: str = "float32"
    channel_labels: tuple[str, ...] = field(default=())
    channel_units: tuple[str, ...] = field(default=())
    info_xml: str = ""

    def __post_init__(self) -> None:
        if self.channel_count < 1:
            raise StreamError(f"stream {self.name!r}: channel_count must be >= 1")
        for attr in ("channel_labels", "channel_units"):
            values = tuple(getattr(self, attr))
            if not values:
                values = ("",) * self.channel_count
            if len(values) != self.channel_count:
                raise StreamError(
                    f"stream {self.name!r}: {len(values)} {attr} for {self.channel_count} channels"
                )
            object.__setattr__(self, attr, values)

    def channel_index(self, channel: str | int | None) -> int:
        """Index of a channel given by label, index or ``None`` (channel 0).

        Raises
        ------
        StreamError
            If the label is unknown or the index out of range; names the stream and
            the labels it has.
        """
        if channel is None:
            return 0
        if isinstance(channel, str):
            if channel in self.channel_labels:
                return self.channel_labels.index(channel)
            labels = ", ".join(repr(x) for x in self.channel_labels if x) or "no labels"
            raise StreamError(
                f"stream {self.name!r} (type {self.type!r}, source_id {self.source_id!r}) "
                f"has no channel labelled {channel!r}; it has {labels}"
            )
        if not 0 <= channel < self.channel_count:
            raise StreamError(
                f"stream {self.name!r} has {self.channel_count} channel(s); "
                f"channel index {channel} is out of range"
            )
        return int(channel)


def stream_meta(info_xml: str) -> StreamMeta:
    """Parse a stream's full XML description (``StreamInfo.as_xml()``) into a StreamMeta.

    Channel labels come from ``desc/channels/channel/label``, falling back to ``name``.
    """
    try:
        root = ET.fromstring(info_xml)
    except ET.ParseError as err:
        raise StreamError(f"unreadable LSL stream description: {err}") from err

    def text(node: ET.Element | None, tag: str) -> str:
        found = None if node is None else node.find(tag)
        return "" if found is None or found.text is None else found.text.strip()

    count = int(text(root, "channel_count") or 0)
    channels = root.findall("desc/channels/channel")
    labels = tuple(text(ch, "label") or text(ch, "name") for ch in channels)
    units = tuple(text(ch, "unit") for ch in channels)
    if len(channels) != count:
        labels, units = (), ()
    return StreamMeta(
        name=text(root, "name"),
        type=text(root, "type"),
        source_id=text(root, "source_id"),
        channel_count=count,
        nominal_srate=float(text(root, "nominal_srate") or 0.0),
        channel_format=text(root, "channel_format"),
        channel_labels=labels,
        channel_units=units,
        info_xml=info_xml,
    )


@runtime_checkable
class Inlet(Protocol):
    """What the session needs from a stream: metadata, non-blocking pull, close."""

    @property
    def meta(self) -> StreamMeta:
        """The stream's description."""
        ...

    def pull(self) -> tuple[np.ndarray, np.ndarray]:
        """Everything new since the last pull: ``(samples, timestamps)``, float64, (n,)."""
        ...

    def close(self) -> None:
        """Stop receiving; pulling afterwards raises StreamError."""
        ...


_EMPTY = np.zeros(0, dtype=np.float64)


class LslInlet:
    """One channel of a real LSL stream, pulled without blocking.

    Parameters
    ----------
    info
        A ``pylsl.StreamInfo`` from :func:`resolve_stream`.
    max_buflen
        Seconds of data liblsl buffers for this inlet while nobody pulls.
    channel
        Channel label (``desc`` ``label`` or ``name``), index, or ``None`` for channel 0.
    open_timeout
        Seconds to wait for each opening step (full description, subscription, first
        clock-offset estimate). Opening takes ~0.6 s on loopback because of the last one;
        afterwards :meth:`pull` never blocks, and every sample pushed after the
        constructor returns reaches it.

    Raises
    ------
    StreamError
        If the stream cannot be opened in time, carries strings, or has no such channel.
    """

    def __init__(
        self,
        info: Any,
        *,
        max_buflen: int = 360,
        channel: str | int | None = None,
        open_timeout: float = 5.0,
    ) -> None:
        pylsl = import_pylsl()
        self._inlet: Any = pylsl.StreamInlet(
            info, max_buflen=max_buflen, processing_flags=pylsl.proc_clocksync
        )
        self._closed = False
        try:
            self.meta: StreamMeta = stream_meta(self._inlet.info(timeout=open_timeout).as_xml())
            if self.meta.channel_format == "string":
                raise StreamError(f"stream {self.meta.name!r} carries strings, not numbers")
            self._index = self.meta.channel_index(channel)
            self._inlet.open_stream(timeout=open_timeout)  # samples queue from now on
            # With proc_clocksync the first pull would block (~0.6 s on loopback) until
            # liblsl has its first clock-offset estimate; get it here, not in the loop.
            self._inlet.time_correction(timeout=open_timeout)
        except pylsl.util.TimeoutError as err:
            self.close()
            raise StreamError(
                f"LSL stream {info.name()!r} (source_id {info.source_id()!r}) did not answer "
                f"(description, subscription or clock sync) within {open_timeout:.1f} s"
            ) from err
        except pylsl.util.LostError as err:
            self.close()
            raise StreamError(f"LSL stream {info.name()!r} was lost while opening") from err
        except StreamError:
            self.close()
            raise
        self._closed = False

    def pull(self) -> tuple[np.ndarray, np.ndarray]:
        """Return all samples that arrived since the last pull (never blocks).

        Returns
        -------
        samples : np.ndarray
            float64, shape (n,), the selected channel.
        timestamps : np.ndarray
            float64, shape (n,), on the local LSL clock.
        """
        if self._closed:
            raise StreamError(f"inlet for stream {self.meta.name!r} is closed")
        inlet = self._inlet
        values: list[np.ndarray] = []
        stamps: list[np.ndarray] = []
        while True:
            data, ts = inlet.pull_chunk(timeout=0.0, max_samples=_PULL_MAX_SAMPLES, as_numpy=True)
            if len(ts):
                values.append(np.asarray(data[:, self._index], dtype=np.float64))
                stamps.append(np.asarray(ts, dtype=np.float64))
            if len(ts) < _PULL_MAX_SAMPLES:
                break
        if not stamps:
            return _EMPTY.copy(), _EMPTY.copy()
        return np.concatenate(values), np.concatenate(stamps)

    def close(self) -> None:
        """Unsubscribe and release the inlet (idempotent)."""
        if not self._closed:
            self._closed = True
            self._inlet.close_stream()
            self._inlet = None


class FakeInlet:
    """An inlet fed by hand with :meth:`push`; same contract as :class:`LslInlet`.

    Parameters
    ----------
    meta
        The stream description the fake pretends to have.
    channel
        Channel label, index, or ``None`` for channel 0.
    """

    def __init__(self, meta: StreamMeta, *, channel: str | int | None = None) -> None:
        self.meta: StreamMeta = meta
        self._index = meta.channel_index(channel)
        self._values: list[np.ndarray] = []
        self._stamps: list[np.ndarray] = []
        self._closed = False

    def push(self, samples: ArrayLike, timestamps: ArrayLike) -> None:
        """Queue samples for the next pull.

        Parameters
        ----------
        samples
            Shape (n,) for a one-channel stream or (n, channel_count).
        timestamps
            Shape (n,), seconds on the LSL clock.
        """
        if self._closed:
            raise StreamError(f"fake inlet for stream {self.meta.name!r} is closed")
        data = np.asarray(samples, dtype=np.float64)
        ts = np.asarray(timestamps, dtype=np.float64).reshape(-1)
        if data.ndim == 1 and self.meta.channel_count == 1:
            data = data.reshape(-1, 1)
        if data.ndim != 2 or data.shape[1] != self.meta.channel_count:
            raise SignalError(
                f"fake stream {self.meta.name!r}: samples of shape {data.shape} do not have "
                f"{self.meta.channel_count} channel(s)"
            )
        if data.shape[0] != ts.shape[0]:
            raise SignalError(
                f"fake stream {self.meta.name!r}: {data.shape[0]} samples but "
                f"{ts.shape[0]} timestamps"
            )
        self._values.append(data[:, self._index].copy())
        self._stamps.append(ts.copy())

    def pull(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (and forget) everything pushed since the last pull."""
        if self._closed:
            raise StreamError(f"fake inlet for stream {self.meta.name!r} is closed")
        if not self._stamps:
            return _EMPTY.copy(), _EMPTY.copy()
        values, stamps = np.concatenate(self._values), np.concatenate(self._stamps)
        self._values.clear()
        self._stamps.clear()
        return values, stamps

    def close(self) -> None:
        """Drop queued samples; later pulls and pushes raise StreamError (idempotent)."""
        self._closed = True
        self._values.clear()
        self._stamps.clear()
