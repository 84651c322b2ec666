"""What an LSL stream says about itself: :class:`StreamMeta`, parsed from its XML
description by :func:`stream_meta`, and the value conversion planned from it.

Re-exported by :mod:`biosignals.streams`.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from biosignals.conversion import Conversion, SignalSettings, plan_conversion
from biosignals.errors import StreamError

__all__ = ["EMPTY", "StreamMeta", "plan_for", "stream_meta"]

EMPTY = np.zeros(0, dtype=np.float64)
MAX_CHANNELS = 100_000  # far above any device; keeps a corrupt header from filling memory

_N = TypeVar("_N", int, float)


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

    name = text(root, "name")
    count = _number(text(root, "channel_count") or "0", int, name, "channel_count")
    rate = _number(text(root, "nominal_srate") or "0", float, name, "nominal_srate")
    if not 1 <= count <= MAX_CHANNELS:
        raise StreamError(
            f"stream {name!r}: channel_count {count} in its description is not 1..{MAX_CHANNELS}"
        )
    if not (math.isfinite(rate) and rate >= 0.0):
        raise StreamError(f"stream {name!r}: nominal_srate {rate!r} is not a finite rate >= 0 Hz")
    channels = root.findall("desc/channels/channel")
    labels = tuple(text(ch, "label") or text(ch, "name") for ch in channels)
    units = tuple(text(ch, "unit") for ch in channels)
    if len(channels) != count:
        labels, units = (), ()
    return StreamMeta(
        name=name,
        type=text(root, "type"),
        source_id=text(root, "source_id"),
        channel_count=count,
        nominal_srate=rate,
        channel_format=text(root, "channel_format"),
        channel_labels=labels,
        channel_units=units,
        info_xml=info_xml,
    )


def plan_for(
    meta: StreamMeta, index: int, settings: SignalSettings | None, role_unit: str
) -> Conversion | None:
    """The conversion of channel ``index`` to ``role_unit`` under ``settings`` (None: none)."""
    if settings is None:
        return None
    return plan_conversion(role_unit, settings, meta.channel_units[index], stream=meta.name)


def _number(value: str, kind: Callable[[str], _N], stream: str, tag: str) -> _N:
    """``kind(value)`` for the description's field ``tag``; StreamError naming it if not."""
    try:
        return kind(value)
    except (ValueError, OverflowError):
        raise StreamError(
            f"stream {stream!r}: {tag} {value!r} in its description is not a number"
        ) from None
