"""What every bridge emulator is made of: stream definitions, device packets, a publisher.

A bridge emulator (one module per bridge) says

* which LSL streams the real app creates (:class:`StreamDef`: name, type, source_id,
  rate, format, channels with their ``<label>``/``<name>``, ``<unit>``, ``<type>`` and any
  other ``<desc>`` children), and
* how samples reach LSL (:class:`Packet`): which device samples arrive together, when the
  app pushes them (device packets plus radio latency, :class:`PacketClock`) and how:
  ``push_sample`` one row at a time or ``push_chunk``, with or without timestamps.

:class:`BridgeRunner` turns that into real ``pylsl`` outlets and pushes every packet when
it is due, on a background thread, in real time. Emulators are pure: they take the LSL
and wall clock readings they need as arguments, so the unit tests run them on made-up
times without any network.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from bridges.truth import Truth

__all__ = [
    "Bridge",
    "BridgeRunner",
    "Channel",
    "Packet",
    "PacketClock",
    "StreamDef",
    "stream_info",
]


@dataclass(frozen=True)
class Channel:
    """One ``<desc><channels><channel>``: ``tag`` is ``label`` or ``name`` (Polar uses name);
    ``extra`` are further children in order, e.g. ``(("scalingfactor", "0.100000"),)``."""

    label: str
    unit: str | None = None
    type: str | None = None
    tag: str = "label"
    extra: tuple[tuple[str, str], ...] = ()
    order: tuple[str, ...] = ("label", "type", "unit")


@dataclass(frozen=True)
class StreamDef:
    """One LSL stream exactly as the real app declares it.

    ``channels`` is the ``<desc><channels>`` list, or an int: that many channels and no
    ``<desc>`` channel list at all. ``desc`` adds other ``<desc>`` children (nested as
    ``(tag, value or children)``). ``lazy``: the app creates the outlet only when the first
    data arrives (App-Zephyr's summary). ``chunk_size``/``max_buffered``: outlet arguments.
    """

    key: str
    name: str
    type: str
    rate: float
    fmt: str
    source_id: str
    channels: tuple[Channel, ...] | int
    desc: tuple[tuple[str, Any], ...] = ()
    chunk_size: int = 0
    max_buffered: int = 360
    lazy: bool = False

    @property
    def channel_count(self) -> int:
        """Number of channels."""
        return self.channels if isinstance(self.channels, int) else len(self.channels)

    @property
    def labels(self) -> tuple[str, ...]:
        """Channel labels (empty strings where the stream declares none)."""
        if isinstance(self.channels, int):
            return ("",) * self.channels
        return tuple(c.label for c in self.channels)


def _append(node: Any, tag: str, value: Any) -> None:
    if isinstance(value, tuple):
        child = node.append_child(tag)
        for sub_tag, sub_value in value:
            _append(child, sub_tag, sub_value)
    else:
        node.append_child_value(tag, str(value))


def stream_info(pylsl: Any, sd: StreamDef) -> Any:
    """The ``pylsl.StreamInfo`` the real app builds for ``sd``."""
    info = pylsl.StreamInfo(sd.name, sd.type, sd.channel_count, sd.rate, sd.fmt, sd.source_id)
    desc = info.desc()
    if not isinstance(sd.channels, int):
        node = desc.append_child("channels")
        for ch in sd.channels:
            child = node.append_child("channel")
            values = {"label": ch.label, "type": ch.type, "unit": ch.unit}
            for tag in ch.order:
                value = values[tag]
                if value is not None:
                    child.append_child_value(ch.tag if tag == "label" else tag, value)
            for tag, value in ch.extra:
                child.append_child_value(tag, value)
    for tag, value in sd.desc:
        _append(desc, tag, value)
    return info


@dataclass
class Packet:
    """Samples the app hands to one outlet at once.

    ``how``: ``"samples"`` = one ``push_sample`` per row, ``"chunk"`` = one ``push_chunk``.
    ``stamps``: per-row timestamps (sender clock) for ``"samples"``; ``None`` lets liblsl
    stamp each push with its clock. ``chunk_stamp``: for ``"chunk"``, the stamp of the last
    row (liblsl back-dates the others at the nominal rate); ``None`` = now.
    """

    key: str
    at: float
    values: np.ndarray
    how: Literal["samples", "chunk"] = "samples"
    stamps: np.ndarray | None = None
    chunk_stamp: float | None = None


@dataclass
class PacketClock:
    """Device packets of ``size`` samples at ``rate`` from ``start`` (LSL clock).

    Sample ``k`` is acquired at ``start + k / rate``; a packet is complete when its last
    sample is, and reaches the app ``latency`` later (uniform in ``(lo, hi)`` seconds per
    packet, never overtaking the previous packet).
    """

    start: float
    rate: float
    size: int
    latency: tuple[float, float] = (0.0, 0.0)
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    next_index: int = 0
    _arrival: float | None = None
    _last: float = -np.inf

    def _pending(self) -> float:
        if self._arrival is None:
            ready = self.start + (self.next_index + self.size - 1) / self.rate
            lo, hi = self.latency
            lag = float(self.rng.uniform(lo, hi)) if hi > lo else lo
            self._arrival = max(ready + lag, self._last)
        return self._arrival

    @property
    def next_due(self) -> float:
        """When the next packet reaches the app."""
        return self._pending()

    def due(self, until: float) -> list[tuple[np.ndarray, float]]:
        """Packets arriving up to ``until``: ``(acquisition times of the samples, arrival)``."""
        out = []
        while self._pending() <= until:
            arrival = self._pending()
            k = self.next_index + np.arange(self.size)
            out.append((self.start + k / self.rate, arrival))
            self.next_index += self.size
            self._last, self._arrival = arrival, None
        return out


class Bridge(ABC):
    """An emulated bridge app: its streams and, given the time, the packets it pushes.

    Parameters
    ----------
    truth
        The person measured.
    seed
        Seeds device noise and radio latency.
    unix_offset
        ``time.time() - pylsl.local_clock()`` when the app starts (bridges that stamp with
        the wall clock use it; a real app reads ``time.time()``).
    """

    #: Registry name (``docs/devices/<name>.yaml``).
    name: str = ""

    def __init__(self, truth: Truth, seed: int = 0, unix_offset: float = 0.0) -> None:
        self.truth, self.seed, self.unix_offset = truth, seed, float(unix_offset)
        self.rng = np.random.default_rng(seed + 1000)
        self.start = truth.t0

    @abstractmethod
    def streams(self) -> tuple[StreamDef, ...]:
        """Every stream the app publishes."""

    @abstractmethod
    def packets(self, until: float) -> list[Packet]:
        """Packets due up to ``until`` (LSL clock) not returned before, oldest first."""

    @abstractmethod
    def next_due(self) -> float:
        """When the next packet is due (LSL clock)."""

    def stream(self, key: str) -> StreamDef:
        """The stream definition called ``key``."""
        for sd in self.streams():
            if sd.key == key:
                return sd
        raise KeyError(key)

    def noise(self, size: int, sd: float) -> np.ndarray:
        """White noise from the bridge's own generator."""
        return self.rng.normal(0.0, sd, size)


def collect(groups: Sequence[list[Packet]]) -> list[Packet]:
    """All packets of several streams, in the order they are due."""
    return sorted((p for g in groups for p in g), key=lambda p: p.at)


class BridgeRunner:
    """Publishes a :class:`Bridge` on real LSL outlets, in real time, on a thread.

    Parameters
    ----------
    bridge
        What to publish.
    pylsl
        The ``pylsl`` module (imported through ``biosignals.lsl``).
    suffix
        Appended to every name and source_id (tests on the shared LSL config use a uuid).
    """

    def __init__(self, bridge: Bridge, pylsl: Any, suffix: str = "") -> None:
        self.bridge, self._pylsl, self.suffix = bridge, pylsl, suffix
        self.outlets: dict[str, Any] = {}
        for sd in bridge.streams():
            if not sd.lazy:
                self._outlet(sd.key)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.pushed: dict[str, int] = {}

    def _outlet(self, key: str) -> Any:
        if key not in self.outlets:
            sd = self.bridge.stream(key)
            if self.suffix:
                sd = replace(sd, name=sd.name + self.suffix, source_id=sd.source_id + self.suffix)
            info = stream_info(self._pylsl, sd)
            self.outlets[key] = self._pylsl.StreamOutlet(info, sd.chunk_size, sd.max_buffered)
        return self.outlets[key]

    def push(self, packet: Packet) -> None:
        """Hand one packet to its outlet the way the real app does."""
        outlet = self._outlet(packet.key)
        values = packet.values
        if self.bridge.stream(packet.key).fmt.startswith("int"):
            values = values.astype(np.int64)  # pylsl wants ints for integer formats
        rows = values.tolist()
        if packet.how == "chunk":
            if packet.chunk_stamp is None:
                outlet.push_chunk(rows)
            else:
                outlet.push_chunk(rows, packet.chunk_stamp)
        elif packet.stamps is None:
            for row in rows:
                outlet.push_sample(row)
        else:
            for row, stamp in zip(rows, packet.stamps.tolist(), strict=True):
                outlet.push_sample(row, stamp)
        self.pushed[packet.key] = self.pushed.get(packet.key, 0) + len(rows)

    def start(self, clock: Callable[[], float] | None = None) -> None:
        """Start publishing on a daemon thread."""
        now = clock or self._pylsl.local_clock
        self._thread = threading.Thread(target=self._loop, args=(now,), daemon=True)
        self._thread.start()

    def _loop(self, now: Callable[[], float]) -> None:
        try:
            while not self._stop.is_set():
                t = now()
                for packet in self.bridge.packets(t):
                    self.push(packet)
                self._stop.wait(min(0.05, max(0.001, self.bridge.next_due() - now())))
        except BaseException as err:  # reported by stop()
            self.error = err

    def stop(self) -> None:
        """Stop the thread, close the outlets; re-raise what ended the thread early."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.outlets.clear()
        if self.error is not None:
            raise RuntimeError(f"bridge {self.bridge.name} stopped: {self.error}") from self.error
