"""Re-publish recorded physiology as live LSL streams.

:class:`Replayer` takes streams already loaded from a recording (this layer does no file
IO; ``engine.export.load_physiology`` reads them from an XDF file) and re-creates one LSL
outlet per stream with the recorded name, type, rate, format, source id and the original
``<desc>`` (channel labels, units, acquisition...; the session's own ``<vrtherapy>`` role
map is left out, so the stream looks as the device sent it), and every channel's values
as recorded. Samples are pushed with their timestamps shifted so the recording starts
"now": a sample recorded at ``t`` is pushed, and stamped, at ``origin + (t - t_first) /
speed`` on the LSL clock, where ``t_first`` is the earliest sample of all streams and
``origin`` the moment the replay began. Inter-sample timing is therefore the recorded one
(scaled by ``1 / speed``), back-dated packets included (a sample is due when the latest
stamp so far is). A stream whose device stamped with Unix time (``clock="unix"``) is
stamped on the Unix clock again, so a session can read the replay with the same protocol.

``step(now)`` pushes whatever is due at ``now`` (tests drive it directly); ``start()``
runs ``step(local_clock())`` on a background thread, waiting on a ``threading.Event``
between steps so that :meth:`Replayer.stop` returns at once.
"""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from biosignals.conversion import unix_to_lsl_offset
from biosignals.errors import SignalError, StreamError
from biosignals.lsl import import_pylsl
from biosignals.streams import StreamMeta, stream_meta

__all__ = ["RecordedStream", "Replayer"]

_NUMERIC = {"float32", "double64", "int8", "int16", "int32", "int64"}
_ROLE_MAP = "vrtherapy"  # the session's element in <desc> (docs/recording.md), not the device's
_MAX_WAIT_S = 0.02
_SLACK_S = 1e-6


@dataclass(frozen=True)
class RecordedStream:
    """One recorded numeric stream, in memory.

    Parameters
    ----------
    name, type, source_id
        The stream's LSL identity as recorded.
    nominal_srate
        Nominal rate in Hz (0 for irregular streams).
    channel_format
        LSL channel format name (``"float32"``, ``"double64"``, ``"int32"``...).
    info_xml
        The recorded ``<info>`` XML (its ``<desc>`` is copied onto a replay outlet).
    samples
        ``(n, channel_count)`` values.
    timestamps
        ``(n,)`` float64 seconds on the recording's LSL clock (a back-dating device's
        stamps may step back).
    clock
        How the device stamped: ``"lsl"`` (default) or ``"unix"`` (re-stamped on the Unix
        clock when replayed).
    """

    name: str
    type: str
    source_id: str
    nominal_srate: float
    channel_format: str
    info_xml: str
    samples: np.ndarray
    timestamps: np.ndarray
    clock: str = "lsl"

    def __post_init__(self) -> None:
        if self.channel_format not in _NUMERIC:
            raise SignalError(
                f"recorded stream {self.name!r}: channel_format {self.channel_format!r} is not "
                f"numeric ({', '.join(sorted(_NUMERIC))})"
            )
        if self.samples.ndim != 2 or self.samples.shape[0] != self.timestamps.shape[0]:
            raise SignalError(
                f"recorded stream {self.name!r}: samples of shape {self.samples.shape} do not "
                f"match {self.timestamps.shape[0]} timestamps"
            )

    @property
    def channel_count(self) -> int:
        """Number of channels."""
        return int(self.samples.shape[1])

    @property
    def meta(self) -> StreamMeta:
        """Channel labels and units parsed from :attr:`info_xml`."""
        if self.info_xml:
            return stream_meta(self.info_xml)
        return StreamMeta(
            self.name,
            self.type,
            self.source_id,
            self.channel_count,
            self.nominal_srate,
            self.channel_format,
        )


def _copy_desc(source: ET.Element, target: Any, *, top: bool = False) -> None:
    """Copy an XML subtree under ``source`` onto a pylsl ``XMLElement`` (without the
    session's role map at the top of ``<desc>``)."""
    for child in source:
        if top and child.tag == _ROLE_MAP:
            continue
        if len(child):
            _copy_desc(child, target.append_child(child.tag))
        else:
            target.append_child_value(child.tag, (child.text or "").strip())


def _make_outlet(pylsl: Any, stream: RecordedStream, source_suffix: str) -> Any:
    info = pylsl.StreamInfo(
        stream.name,
        stream.type,
        stream.channel_count,
        stream.nominal_srate,
        stream.channel_format,
        stream.source_id + source_suffix,
    )
    if stream.info_xml:
        try:
            desc = ET.fromstring(stream.info_xml).find("desc")
        except ET.ParseError as exc:
            raise StreamError(
                f"recorded stream {stream.name!r}: unreadable info XML ({exc})"
            ) from None
        if desc is not None:
            _copy_desc(desc, info.desc(), top=True)
    return pylsl.StreamOutlet(info)


class Replayer:
    """Replay recorded streams on LSL in real time x ``speed``.

    Parameters
    ----------
    streams
        The streams to publish (at least one, with at least one sample in all).
    speed
        Playback speed factor (> 0); 2.0 plays twice as fast.
    source_suffix
        Appended to every source id (e.g. to tell a replay apart from the live device).
    wall_clock
        ``time.time`` (for the Unix stamps of ``clock="unix"`` streams; injectable).

    Raises
    ------
    SignalError
        On no streams, no samples or a bad speed.
    """

    def __init__(
        self,
        streams: list[RecordedStream],
        speed: float = 1.0,
        *,
        source_suffix: str = "",
        wall_clock: Callable[[], float] | None = None,
    ) -> None:
        if not streams:
            raise SignalError("replay: no streams to replay")
        if not (np.isfinite(speed) and speed > 0):
            raise SignalError(f"replay: speed must be > 0, got {speed}")
        firsts = [float(np.min(s.timestamps)) for s in streams if s.timestamps.size]
        if not firsts:
            raise SignalError("replay: the streams hold no samples")
        self.streams = list(streams)
        # when each sample is due: the latest stamp so far (back-dated packets wait for it)
        self._due = [np.maximum.accumulate(s.timestamps) for s in self.streams]
        self._wall_clock = time.time if wall_clock is None else wall_clock
        self._unix_offset = 0.0
        self.speed = float(speed)
        self.source_suffix = source_suffix
        self._t_first = min(firsts)
        self._next = [0] * len(self.streams)
        self._outlets: list[Any] | None = None
        self._origin: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def done(self) -> bool:
        """True once every sample has been pushed."""
        return all(i >= s.timestamps.size for i, s in zip(self._next, self.streams, strict=True))

    @property
    def error(self) -> BaseException | None:
        """The background thread's error, if it failed."""
        return self._error

    @property
    def duration(self) -> float:
        """Replay length in seconds of LSL time (recorded span / speed)."""
        last = max(float(d[-1]) for d in self._due if d.size)
        return (last - self._t_first) / self.speed

    def open(self) -> None:
        """Create the outlets (idempotent); consumers can resolve them from now on."""
        if self._outlets is None:
            pylsl = import_pylsl()
            if any(s.clock == "unix" for s in self.streams):
                self._unix_offset = unix_to_lsl_offset(pylsl.local_clock, self._wall_clock)
            self._outlets = [_make_outlet(pylsl, s, self.source_suffix) for s in self.streams]

    def wait_for_consumers(self, timeout: float) -> bool:
        """Open the outlets and block until every one has a consumer (an inlet that
        resolved it), at most ``timeout`` seconds in all; True when all have one.

        Started after this, a replay lines its first sample up with the moment a
        recorder connected, not with when this process happened to start.
        """
        self.open()
        assert self._outlets is not None
        pylsl = import_pylsl()
        deadline = pylsl.local_clock() + max(0.0, timeout)
        for outlet in self._outlets:
            remaining = deadline - pylsl.local_clock()
            if remaining <= 0 and not outlet.have_consumers():
                return False
            if not outlet.wait_for_consumers(max(remaining, 0.0)):
                return False
        return True

    def step(self, now: float) -> int:
        """Push every sample due at LSL time ``now``; the first call sets the origin.

        Returns
        -------
        int
            Number of samples pushed.
        """
        self.open()
        assert self._outlets is not None
        if self._origin is None:
            self._origin = now
        # 1 µs of slack: (t - t_first) / speed * speed must not miss the last sample by rounding
        cutoff = self._t_first + (now - self._origin) * self.speed + _SLACK_S
        pushed = 0
        for k, (stream, outlet) in enumerate(zip(self.streams, self._outlets, strict=True)):
            lo = self._next[k]
            hi = int(np.searchsorted(self._due[k], cutoff, side="right"))
            if hi <= lo:
                continue
            stamps = self._origin + (stream.timestamps[lo:hi] - self._t_first) / self.speed
            if stream.clock == "unix":
                stamps = stamps - self._unix_offset
            outlet.push_chunk(np.ascontiguousarray(stream.samples[lo:hi]), stamps.tolist())
            self._next[k] = hi
            pushed += hi - lo
        return pushed

    def _next_due(self) -> float | None:
        pending = [float(d[i]) for i, d in zip(self._next, self._due, strict=True) if i < d.size]
        if not pending or self._origin is None:
            return None
        return self._origin + (min(pending) - self._t_first) / self.speed

    def _run(self) -> None:
        pylsl = import_pylsl()
        try:
            while not self._stop.is_set() and not self.done:
                now = pylsl.local_clock()
                self.step(now)
                due = self._next_due()
                if due is None:
                    break
                self._stop.wait(min(_MAX_WAIT_S, max(0.0, due - pylsl.local_clock())))
        except BaseException as exc:  # kept for the caller: error property / stop()
            self._error = exc

    def start(self) -> None:
        """Open the outlets and replay on a background thread from now."""
        if self._thread is not None:
            raise StreamError("replay: already started")
        self.open()
        self._thread = threading.Thread(target=self._run, name="vrtherapy-replay", daemon=True)
        self._thread.start()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the replay to finish; True when done."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.done

    def stop(self) -> None:
        """Stop the thread (if any) and close the outlets; re-raises a thread failure."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._outlets = None
        if self._error is not None:
            raise StreamError(f"replay failed: {self._error}") from self._error
