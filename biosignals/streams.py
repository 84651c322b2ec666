"""LSL inlets: find a stream by predicate, read one channel in causal chunks.

Three pieces, each with one job:

* :class:`StreamPredicate` says which stream a role wants (``type``, ``name``,
  ``source_id``; unset fields match anything) and matches it against ``pylsl.StreamInfo``.
* :func:`resolve_stream` looks at *every* stream visible on the LSL network for a minimum
  wait, filters by the predicate and returns one deterministically: streams are ordered by
  ``(source_id, uid)`` and the smallest wins, so the choice never depends on which outlet
  happened to answer first. (Both live in :mod:`biosignals.reconnect` and are re-exported
  here.)
* :class:`LslInlet` opens the stream, reads its full description once (:class:`StreamMeta`:
  channel labels, units, the raw XML) and :meth:`LslInlet.pull` returns every sample that has
  arrived since the last call, for one selected channel, as float64 arrays with timestamps
  on the local LSL clock. :class:`FakeInlet` has the same contract and is fed by hand, for
  fast unit tests of the code that consumes inlets.

Timestamps
    The inlet is opened without liblsl post-processing; :meth:`LslInlet.pull` adds liblsl's
    continuously updated ``time_correction()`` estimate itself (read with timeout 0, so
    pulled timestamps are on this machine's ``pylsl.local_clock``. ``proc_clocksync`` would
    do the same but blocks a pull for ~0.6 s whenever liblsl has no estimate yet, at open
    and again after every reconnect.) The first estimate is awaited in the constructor.
    ``proc_dejitter`` is deliberately *not* used: it replaces the sender's timestamps by a
    running linear fit, which moves individual timestamps (most at stream start and after
    gaps) and would hide real dropouts; streams that need it (bunched per-packet stamps)
    opt in to vrtherapy's own causal, gap-preserving :class:`~biosignals.conversion.
    Dejitter`. ``proc_monotonize`` is not used either: a backwards step is a fact the
    quality layer should see, not have clamped away.

Messy devices: :class:`~biosignals.conversion.SignalSettings` (unit, scale/offset, Unix
clock, dejitter, HR/RR content) make values and timestamps right without code changes; see
``docs/devices.md``. Dropouts: :attr:`LslInlet.status`, :meth:`LslInlet.drain_gaps` and
background re-resolution (:mod:`biosignals.reconnect`); ``pull`` keeps never blocking.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from biosignals.conversion import Conversion, SignalSettings, TimestampMapper
from biosignals.errors import StreamError
from biosignals.fake_inlet import FakeInlet
from biosignals.lsl import import_pylsl
from biosignals.reconnect import (
    DEFAULT_MIN_WAIT,
    Gap,
    Reopener,
    StreamPredicate,
    StreamStatus,
    Supervisor,
    gap_threshold,
    pick_stream,
    resolve_stream,
)
from biosignals.stream_meta import EMPTY, StreamMeta, plan_for, stream_meta

__all__ = [
    "DEFAULT_MIN_WAIT",
    "FakeInlet",
    "Inlet",
    "LslInlet",
    "StreamMeta",
    "StreamPredicate",
    "open_inlet",
    "pick_stream",
    "resolve_stream",
    "stream_meta",
]

_PULL_MAX_SAMPLES = 4096


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


@dataclass(slots=True)
class _Link:
    """One open ``pylsl.StreamInlet`` with what was derived from its description."""

    inlet: Any
    meta: StreamMeta
    index: int
    conversion: Conversion | None
    uid: str
    correction: float = 0.0  # liblsl's last clock offset estimate (sender LSL -> ours)

    def close(self) -> None:
        self.inlet.close_stream()

    def correction_now(self) -> float:
        """liblsl's current clock offset, or the last one while it has none (after a
        reconnect liblsl starts over; asking with a timeout would block the pull)."""
        try:
            self.correction = self.inlet.time_correction(timeout=0.0)
        except import_pylsl().util.TimeoutError:  # estimate renewing: keep the last one
            pass
        return self.correction


def _open_link(
    info: Any,
    *,
    max_buflen: int,
    channel: str | int | None,
    open_timeout: float,
    settings: SignalSettings | None,
    role_unit: str,
) -> _Link:
    """Open, read the full description, subscribe, await the first clock offset."""
    pylsl = import_pylsl()
    inlet = pylsl.StreamInlet(info, max_buflen=max_buflen, processing_flags=pylsl.proc_none)
    try:
        full = inlet.info(timeout=open_timeout)
        meta = stream_meta(full.as_xml())
        if meta.channel_format == "string":
            raise StreamError(f"stream {meta.name!r} carries strings, not numbers")
        index = meta.channel_index(channel)
        link = _Link(inlet, meta, index, plan_for(meta, index, settings, role_unit), full.uid())
        inlet.open_stream(timeout=open_timeout)  # samples queue from now on
        # The first clock-offset estimate takes ~0.6 s on loopback: await it here, not in
        # the loop (later ones are read with timeout 0, see _Link.correction_now).
        link.correction = inlet.time_correction(timeout=open_timeout)
    except pylsl.util.TimeoutError as err:
        inlet.close_stream()
        raise StreamError(
            f"LSL stream {info.name()!r} (source_id {info.source_id()!r}) did not answer "
            f"(description, subscription or clock sync) within {open_timeout:.1f} s"
        ) from err
    except pylsl.util.LostError as err:
        inlet.close_stream()
        raise StreamError(f"LSL stream {info.name()!r} was lost while opening") from err
    except StreamError:
        inlet.close_stream()
        raise
    return link


class LslInlet:
    """One channel of a real LSL stream, pulled without blocking, surviving dropouts.

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
    settings
        What the device really sends (unit, scale, clock, dejitter, content); ``None``
        passes values through unconverted on the LSL clock.
    role_unit
        The unit the consumer wants: ``"mV"`` (ECG), ``"uS"`` (EDA), ``"bpm"``, or ``""``
        (unitless, e.g. PPG). Used only with ``settings``.
    predicate
        How to find the stream again if it is lost for good; default: its ``source_id``
        (or ``type`` and ``name`` when it has none).
    stale_after
        Seconds without samples that make a gap; default ``max(0.5, 5 / rate)``, or 3 s
        for irregular streams.
    reresolve_after
        Seconds of staleness after which the predicate is resolved again in the
        background (liblsl's own recovery by ``source_id`` usually wins before).

    Raises
    ------
    StreamError
        If the stream cannot be opened in time, carries strings, has no such channel, an
        unknown or unconvertible unit, or asks to dejitter an irregular stream.
    """

    def __init__(
        self,
        info: Any,
        *,
        max_buflen: int = 360,
        channel: str | int | None = None,
        open_timeout: float = 5.0,
        settings: SignalSettings | None = None,
        role_unit: str = "",
        predicate: StreamPredicate | None = None,
        stale_after: float | None = None,
        reresolve_after: float = 5.0,
    ) -> None:
        self._pylsl = import_pylsl()
        self._open = functools.partial(
            _open_link,
            max_buflen=max_buflen,
            channel=channel,
            open_timeout=open_timeout,
            settings=settings,
            role_unit=role_unit,
        )
        self._link: _Link | None = self._open(info)
        self.meta: StreamMeta = self._link.meta
        self.settings = settings
        self.predicate = predicate or _identity_predicate(self.meta)
        threshold = stale_after or gap_threshold(self.meta.nominal_srate)
        clock = self._pylsl.local_clock
        try:
            self._times = TimestampMapper(
                settings or SignalSettings(),
                self.meta.nominal_srate,
                threshold,
                clock,
                stream=self.meta.name,
            )
        except StreamError:
            self._link.close()
            raise
        self._sup: Supervisor[_Link] = Supervisor(
            self.meta.name, threshold, reresolve_after, clock(), self._reopener
        )

    def _reopener(self, lost_uid: str) -> Reopener[_Link]:
        return Reopener(
            self.predicate.to_xpath(),
            lambda infos: pick_stream(infos, self.predicate),
            self._open,
            _Link.close,
            exclude_uid=lost_uid,
        )

    @property
    def status(self) -> StreamStatus:
        """CONNECTED, STALE, RESOLVING or CLOSED (updated at each :meth:`pull`)."""
        return self._sup.status

    @property
    def gaps(self) -> tuple[Gap, ...]:
        """Every gap seen so far, oldest first."""
        return tuple(self._sup.gaps)

    def drain_gaps(self) -> list[Gap]:
        """Gaps closed since the last call (each is reported once)."""
        return self._sup.drain()

    @property
    def conversion(self) -> Conversion | None:
        """The value mapping in use (``None`` without settings)."""
        return None if self._link is None else self._link.conversion

    @property
    def reconnect_error(self) -> StreamError | None:
        """Why the last candidate found while re-resolving could not be opened, if any."""
        return self._sup.last_error

    @property
    def clock_decision(self) -> bool | None:
        """Whether stamps are taken as Unix time (``None`` until ``clock: auto`` decided)."""
        return self._times.unix

    @property
    def clock_offset(self) -> float | None:
        """Seconds added to the sender's stamps at the last pull with data (``None`` before)."""
        return self._times.last_offset

    def pull(self) -> tuple[np.ndarray, np.ndarray]:
        """Return all samples that arrived since the last pull.

        Never blocks, and never raises for a dropped stream: while it is away the arrays
        are empty, :attr:`status` says so and the gap is reported when data resumes.

        Returns
        -------
        samples : np.ndarray
            float64, shape (n,), the selected channel, converted to ``role_unit`` when
            ``settings`` were given (bpm for heart-rate/RR content).
        timestamps : np.ndarray
            float64, shape (n,), on the local LSL clock.
        """
        values, stamps, link = self._pull_link()
        if not stamps.size:
            return EMPTY.copy(), EMPTY.copy()
        selected = np.asarray(values[:, link.index], dtype=np.float64)
        if link.conversion is not None:
            selected = link.conversion(selected)
        return selected, stamps

    def pull_all(self) -> tuple[np.ndarray, np.ndarray]:
        """Every channel of every sample that arrived since the last pull, as received.

        Like :meth:`pull` (never blocks, timestamps on the local LSL clock), but the
        values are not selected or converted: shape ``(n, channel_count)`` in the
        stream's own numeric type (``float32``, ``int16``...).
        """
        values, stamps, _ = self._pull_link()
        return values, stamps

    def _pull_link(self) -> tuple[np.ndarray, np.ndarray, _Link]:
        if self._sup.status is StreamStatus.CLOSED:
            raise StreamError(f"inlet for stream {self.meta.name!r} is closed")
        fresh = self._sup.adopt()
        if fresh is not None:
            if self._link is not None:
                self._link.close()
            self._link, self.meta = fresh, fresh.meta
        link = self._link
        assert link is not None  # only None once closed
        values, stamps = self._read(link)
        now = self._pylsl.local_clock()
        if not stamps.size:
            self._sup.on_idle(now, link.uid)
            return values, EMPTY.copy(), link
        stamps = self._times.apply(stamps, link.correction_now)
        leftover = self._sup.on_data(stamps, now)
        if leftover is not None:
            leftover.close()
        return values, stamps, link

    def _read(self, link: _Link) -> tuple[np.ndarray, np.ndarray]:
        values: list[np.ndarray] = []
        stamps: list[np.ndarray] = []
        while True:
            try:
                data, ts = link.inlet.pull_chunk(
                    timeout=0.0, max_samples=_PULL_MAX_SAMPLES, as_numpy=True
                )
            except self._pylsl.util.LostError:  # outlet gone and not recoverable by liblsl
                self._sup.lost(link.uid)
                break
            if len(ts):
                values.append(np.array(data, copy=True).reshape(len(ts), -1))
                stamps.append(np.asarray(ts, dtype=np.float64))
            if len(ts) < _PULL_MAX_SAMPLES:
                break
        if not stamps:
            return np.zeros((0, link.meta.channel_count)), EMPTY
        return np.concatenate(values), np.concatenate(stamps)

    def close(self) -> None:
        """Unsubscribe and release the inlet (idempotent)."""
        if self._sup.status is StreamStatus.CLOSED:
            return
        leftover = self._sup.close()
        for link in (leftover, self._link):
            if link is not None:
                link.close()
        self._link = None


def _identity_predicate(meta: StreamMeta) -> StreamPredicate:
    if meta.source_id:
        return StreamPredicate(source_id=meta.source_id)
    return StreamPredicate(type=meta.type, name=meta.name)


def open_inlet(
    predicate: StreamPredicate,
    timeout: float,
    *,
    channel: str | int | None = None,
    settings: SignalSettings | None = None,
    role_unit: str = "",
    min_wait: float = DEFAULT_MIN_WAIT,
    open_timeout: float = 5.0,
    stale_after: float | None = None,
    reresolve_after: float = 5.0,
) -> LslInlet:
    """Resolve ``predicate`` and open an :class:`LslInlet` that re-resolves with the same
    predicate if the stream is lost.

    Parameters
    ----------
    predicate, timeout, min_wait
        As for :func:`resolve_stream`.
    channel, settings, role_unit, open_timeout, stale_after, reresolve_after
        As for :class:`LslInlet`.

    Raises
    ------
    StreamNotFoundError
        Nothing matched within ``timeout``.
    StreamError
        The stream could not be opened or does not fit the settings.
    """
    info = resolve_stream(predicate, timeout, min_wait=min_wait)
    return LslInlet(
        info,
        channel=channel,
        open_timeout=open_timeout,
        settings=settings,
        role_unit=role_unit,
        predicate=predicate,
        stale_after=stale_after,
        reresolve_after=reresolve_after,
    )
