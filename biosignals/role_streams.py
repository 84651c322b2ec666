"""Protocol roles on LSL streams: one stream opened once, however many roles read it.

Multi-channel devices are the norm: BITalino sends ECG and EDA on one 7-channel stream,
Shimmer PPG and GSR on one stream, a BrainAmp an ECG lead among 32 EEG channels. A
protocol maps each role (``heart``, ``ppg``, ``hr``, ``eda``) to a stream and a channel;
this module opens every distinct stream once and gives each role a view of its channel:

* :class:`RoleRequest` is what a protocol asks for one role (predicates, channel,
  :class:`~biosignals.conversion.SignalSettings`, the role's unit).
* :func:`open_role_streams` resolves every request, groups the roles by the stream they
  resolved to (its LSL ``uid``), checks that no two roles read the same channel and that
  roles sharing a stream agree on its clock and dejittering, and opens one
  :class:`~biosignals.streams.LslInlet` per stream.
* :class:`SharedStream` pulls every channel of its stream (as received) and hands each
  role's :class:`RoleView` its channel converted to the role's unit; the raw chunks (all
  channels) are kept for the recording when asked.

Everything that can be wrong with a request (unknown channel label, a unit that cannot
become the role's unit, two roles on one channel, contradicting clock settings) raises
:class:`~biosignals.errors.StreamError` here, before a session starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from biosignals.conversion import Conversion, SignalSettings, plan_conversion
from biosignals.errors import StreamError
from biosignals.reconnect import DEFAULT_MIN_WAIT, Gap, StreamPredicate, resolve_stream
from biosignals.streams import LslInlet, StreamMeta

__all__ = [
    "TIMING_FIELDS",
    "RawSource",
    "RoleBinding",
    "RoleRequest",
    "RoleView",
    "SharedStream",
    "bind_roles",
    "open_role_streams",
    "timing_settings",
]

TIMING_FIELDS = ("clock", "dejitter", "dejitter_tau")
"""Settings of a whole stream (its timestamps), which roles sharing it must agree on."""

_EMPTY = np.zeros(0, dtype=np.float64)


class RawSource(Protocol):
    """One stream, every channel: what :class:`SharedStream` reads from
    (:class:`~biosignals.streams.LslInlet`, :class:`~biosignals.streams.FakeInlet`)."""

    @property
    def meta(self) -> StreamMeta:
        """The stream's description."""
        ...

    def pull_all(self) -> tuple[np.ndarray, np.ndarray]:
        """``(n, channel_count)`` values as received and ``(n,)`` session-clock stamps."""
        ...

    def drain_gaps(self) -> list[Gap]:
        """Gaps closed since the last call."""
        ...

    @property
    def clock_decision(self) -> bool | None:
        """Whether stamps are Unix time (``None`` while ``clock: auto`` is undecided)."""
        ...

    @property
    def clock_offset(self) -> float | None:
        """Seconds added to the sender's stamps at the last pull with data."""
        ...

    def close(self) -> None:
        """Stop receiving."""
        ...


@dataclass(frozen=True)
class RoleRequest:
    """What a protocol asks of one role: which stream, which channel, what it sends."""

    role: str
    predicate: StreamPredicate
    channel: str | int | None = None
    settings: SignalSettings = field(default_factory=SignalSettings)
    role_unit: str = ""


@dataclass(frozen=True)
class RoleBinding:
    """One role bound to a channel of an opened stream, with its value conversion."""

    role: str
    index: int
    label: str
    declared_unit: str
    settings: SignalSettings
    conversion: Conversion


def timing_settings(stream: str, requests: Sequence[RoleRequest]) -> SignalSettings:
    """The stream-wide timestamp settings of the roles reading one stream.

    Values a role set explicitly must agree; unset ones take the explicit value.

    Raises
    ------
    StreamError
        When two roles set different clocks or dejittering for the same stream.
    """
    chosen: dict[str, object] = {}
    by: dict[str, str] = {}
    for req in requests:
        for name in TIMING_FIELDS:
            if name not in req.settings.model_fields_set:
                continue
            value = getattr(req.settings, name)
            if name in chosen and chosen[name] != value:
                raise StreamError(
                    f"roles {by[name]} and {req.role} read the same stream {stream!r} but set "
                    f"different signal.{name} ({chosen[name]!r} vs {value!r}); a stream has one "
                    "clock: give both roles the same value"
                )
            chosen[name], by[name] = value, req.role
    return SignalSettings.model_validate(chosen)


def bind_roles(meta: StreamMeta, requests: Sequence[RoleRequest]) -> list[RoleBinding]:
    """Bind each request to its channel of ``meta`` and plan its conversion.

    Raises
    ------
    StreamError
        Unknown channel label or index (the message lists the labels found), a unit that
        cannot become the role's unit, or two roles on one channel.
    """
    bindings: list[RoleBinding] = []
    for req in requests:
        index = meta.channel_index(req.channel)
        taken = next((b for b in bindings if b.index == index), None)
        if taken is not None:
            label = meta.channel_labels[index] or f"index {index}"
            raise StreamError(
                f"roles {taken.role} and {req.role} both read channel {label!r} of stream "
                f"{meta.name!r}: give each role its own channel (streams.<role>.channel)"
            )
        declared = meta.channel_units[index]
        conversion = plan_conversion(req.role_unit, req.settings, declared, stream=meta.name)
        label = meta.channel_labels[index]
        bindings.append(RoleBinding(req.role, index, label, declared, req.settings, conversion))
    return bindings


class RoleView:
    """One role's channel of a :class:`SharedStream`, with the inlet contract the session
    uses (``meta``, ``pull``, ``drain_gaps``, ``close``)."""

    def __init__(self, stream: SharedStream, binding: RoleBinding) -> None:
        self._stream, self.binding = stream, binding
        self._values: list[np.ndarray] = []
        self._stamps: list[np.ndarray] = []
        self._gaps: list[Gap] = []

    @property
    def meta(self) -> StreamMeta:
        """The whole stream's description."""
        return self._stream.meta

    @property
    def role(self) -> str:
        """The protocol role this view serves."""
        return self.binding.role

    def _add(self, values: np.ndarray, stamps: np.ndarray) -> None:
        self._values.append(values)
        self._stamps.append(stamps)

    def pull(self) -> tuple[np.ndarray, np.ndarray]:
        """The role's channel in the role's unit (float64) since the last pull, and stamps."""
        self._stream.fill()
        if not self._stamps:
            return _EMPTY.copy(), _EMPTY.copy()
        if len(self._stamps) == 1:
            values, stamps = self._values[0], self._stamps[0]
        else:
            values, stamps = np.concatenate(self._values), np.concatenate(self._stamps)
        self._values, self._stamps = [], []
        return values, stamps

    def drain_gaps(self) -> list[Gap]:
        """Gaps of the stream since the last call (every role of a stream sees each gap)."""
        self._stream.fill()
        gaps, self._gaps = self._gaps, []
        return gaps

    def close(self) -> None:
        """Close the whole stream (idempotent)."""
        self._stream.close()


class SharedStream:
    """One opened stream and the roles reading it (see the module docstring).

    Parameters
    ----------
    source
        The opened stream (every channel).
    bindings
        The roles on it (from :func:`bind_roles`).
    timing
        The stream-wide timestamp settings in use (from :func:`timing_settings`).
    keep_raw
        Keep every raw chunk for :meth:`drain_raw` (the recording); off by default so
        that a caller who never drains does not accumulate data.
    """

    def __init__(
        self,
        source: RawSource,
        bindings: Sequence[RoleBinding],
        *,
        timing: SignalSettings | None = None,
        keep_raw: bool = False,
    ) -> None:
        if not bindings:
            raise StreamError(f"stream {source.meta.name!r}: no role reads it")
        self.source = source
        self.bindings = tuple(bindings)
        self.timing = timing or SignalSettings()
        self.keep_raw = keep_raw
        self.views = {b.role: RoleView(self, b) for b in self.bindings}
        self._raw: list[tuple[np.ndarray, np.ndarray]] = []
        self._notes: list[dict[str, object]] = []
        self._clock_told = self.timing.clock != "auto"
        self._closed = False

    @property
    def meta(self) -> StreamMeta:
        """The stream's description (refreshed after a reconnect)."""
        return self.source.meta

    @property
    def roles(self) -> tuple[str, ...]:
        """The roles reading this stream, in protocol order."""
        return tuple(b.role for b in self.bindings)

    @property
    def withheld(self) -> tuple[int, ...]:
        """Channels no role reads (a recording keeps only what the roles read)."""
        read = {b.index for b in self.bindings}
        return tuple(i for i in range(self.meta.channel_count) if i not in read)

    def fill(self) -> None:
        """Pull what arrived and hand every view its converted channel (never blocks)."""
        if self._closed:
            raise StreamError(f"stream {self.meta.name!r} is closed")
        values, stamps = self.source.pull_all()
        gaps = self.source.drain_gaps()
        for view in self.views.values():
            view._gaps.extend(gaps)
        if not stamps.size:
            return
        if not self._clock_told:
            self._tell_clock()
        if self.keep_raw:
            self._raw.append((values, stamps))
        for binding in self.bindings:
            column = np.asarray(values[:, binding.index], dtype=np.float64)
            self.views[binding.role]._add(binding.conversion(column), stamps)

    def _tell_clock(self) -> None:
        unix = self.source.clock_decision
        if unix is None:
            return
        self._clock_told = True
        clock = "unix" if unix else "lsl"
        offset = self.source.clock_offset
        note: dict[str, object] = {
            "event": "clock",
            "stream": self.meta.name,
            "roles": list(self.roles),
            "clock": clock,
            "offset_s": offset,
        }
        if unix:  # worth telling the therapist; the usual LSL clock is only recorded
            shift = "" if offset is None else f" ({offset:+.3f} s added)"
            note["text"] = (
                f"stream {self.meta.name}: timestamps are Unix time (clock auto), mapped to "
                f"the LSL clock{shift}"
            )
        self._notes.append(note)

    def drain_notes(self) -> list[dict[str, object]]:
        """Events for the session's markers since the last call (the ``clock: auto``
        decision, once)."""
        notes, self._notes = self._notes, []
        return notes

    def drain_raw(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Raw chunks (every channel, as received) since the last call."""
        raw, self._raw = self._raw, []
        return raw

    def close(self) -> None:
        """Close the stream (idempotent)."""
        if not self._closed:
            self._closed = True
            self.source.close()


def _resolve_all(
    requests: Sequence[RoleRequest], timeout: float, min_wait: float
) -> list[tuple[object, list[RoleRequest]]]:
    """Resolve each distinct predicate once; group the requests by the stream's uid."""
    infos: dict[StreamPredicate, object] = {}
    groups: dict[str, tuple[object, list[RoleRequest]]] = {}
    for req in requests:
        if req.predicate not in infos:
            infos[req.predicate] = resolve_stream(req.predicate, timeout, min_wait=min_wait)
        info = infos[req.predicate]
        uid = str(info.uid())  # type: ignore[attr-defined]
        groups.setdefault(uid, (info, []))[1].append(req)
    return list(groups.values())


def open_role_streams(
    requests: Sequence[RoleRequest],
    timeout: float,
    *,
    min_wait: float = DEFAULT_MIN_WAIT,
    open_timeout: float = 5.0,
    keep_raw: bool = False,
) -> list[SharedStream]:
    """Resolve and open the streams the requests name, one :class:`SharedStream` each.

    Raises
    ------
    StreamNotFoundError
        A predicate matched nothing within ``timeout``.
    StreamError
        A stream could not be opened, or a request does not fit it (see
        :func:`bind_roles`, :func:`timing_settings`). Streams opened so far are closed.
    """
    opened: list[SharedStream] = []
    try:
        for info, group in _resolve_all(requests, timeout, min_wait):
            name = str(info.name())  # type: ignore[attr-defined]
            timing = timing_settings(name, group)
            inlet = LslInlet(
                info,
                open_timeout=open_timeout,
                settings=timing,
                predicate=group[0].predicate,
            )
            try:
                bindings = bind_roles(inlet.meta, group)
            except StreamError:
                inlet.close()
                raise
            opened.append(SharedStream(inlet, bindings, timing=timing, keep_raw=keep_raw))
    except BaseException:
        for stream in opened:
            stream.close()
        raise
    return opened
