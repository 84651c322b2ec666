"""What a recorded stream is: name, type, shape, format and channel metadata.

A :class:`StreamSpec` becomes the XDF StreamHeader ``<info>`` XML (the same shape as
``pylsl.StreamInfo.as_xml()``). A raw LSL stream's own XML can be passed through unchanged
as ``info_xml``; it is checked against the spec so the samples written match what the
header tells a reader.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import numpy as np

from engine.errors import RecordingError

__all__ = ["CHANNEL_FORMATS", "ChannelSpec", "StreamSpec"]

#: XDF channel formats this recorder writes, and their little-endian numpy dtypes
#: (``None`` for strings, which are written as length-prefixed UTF-8).
CHANNEL_FORMATS: dict[str, np.dtype[np.generic] | None] = {
    "float32": np.dtype("<f4"),
    "double64": np.dtype("<f8"),
    "int8": np.dtype("<i1"),
    "int16": np.dtype("<i2"),
    "int32": np.dtype("<i4"),
    "int64": np.dtype("<i8"),
    "string": None,
}


@dataclass(frozen=True)
class ChannelSpec:
    """One channel's metadata, written as ``<desc><channels><channel>``.

    Parameters
    ----------
    label
        Channel label (e.g. ``"ECG lead II"``).
    unit
        Physical unit (e.g. ``"mV"``, ``"uS"``); empty when unitless.
    type
        Channel content type (e.g. ``"ECG"``); empty when not given.
    """

    label: str
    unit: str = ""
    type: str = ""


@dataclass(frozen=True)
class StreamSpec:
    """A stream to record: becomes one XDF StreamHeader.

    Parameters
    ----------
    name, type
        LSL stream name and content type. Names are unique within one recording.
    channel_count
        Number of channels (>= 1).
    nominal_srate
        Nominal sampling rate in Hz; ``0.0`` for irregular streams (markers, events).
    channel_format
        ``'float32'``, ``'double64'``, ``'int8'``, ``'int16'``, ``'int32'``, ``'int64'`` or
        ``'string'`` (LSL's formats).
    source_id
        LSL source id, empty when none.
    channels
        Per-channel metadata; empty, or exactly ``channel_count`` entries.
    info_xml
        A raw LSL stream's full ``<info>`` XML (``pylsl.StreamInfo.as_xml()``). When given
        it is written as-is so the original metadata (``<desc>``, uid, hostname...) is
        kept; its name, channel_count, channel_format and nominal_srate must agree with
        this spec.

    Raises
    ------
    RecordingError
        When the fields are inconsistent (checked on construction).
    """

    name: str
    type: str
    channel_count: int
    nominal_srate: float
    channel_format: str
    source_id: str = ""
    channels: tuple[ChannelSpec, ...] = ()
    info_xml: str | None = None

    def __post_init__(self) -> None:
        where = f"stream {self.name!r}"
        if not self.name:
            raise RecordingError("stream spec: name must not be empty")
        if self.channel_format not in CHANNEL_FORMATS:
            allowed = ", ".join(CHANNEL_FORMATS)
            raise RecordingError(
                f"{where}: channel_format {self.channel_format!r} is not one of {allowed}"
            )
        if self.channel_count < 1:
            raise RecordingError(f"{where}: channel_count must be >= 1, got {self.channel_count}")
        if not (math.isfinite(self.nominal_srate) and self.nominal_srate >= 0):
            raise RecordingError(
                f"{where}: nominal_srate must be finite and >= 0, got {self.nominal_srate}"
            )
        if self.channels and len(self.channels) != self.channel_count:
            raise RecordingError(
                f"{where}: {len(self.channels)} channel specs for channel_count "
                f"{self.channel_count}"
            )
        if self.info_xml is not None:
            self._check_info_xml(self.info_xml)

    @property
    def dtype(self) -> np.dtype[np.generic] | None:
        """Little-endian numpy dtype of the values; ``None`` for string streams."""
        return CHANNEL_FORMATS[self.channel_format]

    def to_xml(self) -> str:
        """The StreamHeader ``<info>`` XML: ``info_xml`` as-is when given, else built."""
        if self.info_xml is not None:
            return self.info_xml
        info = ET.Element("info")
        fields = {
            "name": self.name,
            "type": self.type,
            "channel_count": str(self.channel_count),
            "channel_format": self.channel_format,
            "source_id": self.source_id,
            "nominal_srate": repr(float(self.nominal_srate)),
            "version": "1.1",
        }
        for tag, text in fields.items():
            ET.SubElement(info, tag).text = text
        desc = ET.SubElement(info, "desc")
        if self.channels:
            channels = ET.SubElement(desc, "channels")
            for ch in self.channels:
                node = ET.SubElement(channels, "channel")
                ET.SubElement(node, "label").text = ch.label
                ET.SubElement(node, "unit").text = ch.unit
                ET.SubElement(node, "type").text = ch.type
        return '<?xml version="1.0"?>\n' + ET.tostring(info, encoding="unicode")

    def _check_info_xml(self, xml: str) -> None:
        where = f"stream {self.name!r}: info_xml"
        try:
            root = ET.fromstring(xml)
        except ET.ParseError as exc:
            raise RecordingError(f"{where} is not well-formed XML ({exc})") from exc
        if root.tag != "info":
            raise RecordingError(f"{where}: root element is <{root.tag}>, expected <info>")
        expected = {
            "name": self.name,
            "channel_count": str(self.channel_count),
            "channel_format": self.channel_format,
        }
        for tag, want in expected.items():
            got = (root.findtext(tag) or "").strip()
            if got != want:
                raise RecordingError(f"{where}: <{tag}> is {got!r} but the spec says {want!r}")
        srate_text = (root.findtext("nominal_srate") or "").strip()
        try:
            srate = float(srate_text)
        except ValueError as exc:
            raise RecordingError(
                f"{where}: <nominal_srate> {srate_text!r} is not a number"
            ) from exc
        if srate != float(self.nominal_srate):
            raise RecordingError(
                f"{where}: <nominal_srate> is {srate} but the spec says {self.nominal_srate}"
            )
