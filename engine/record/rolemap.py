"""The role map a raw physiology stream carries in its recorded header (docs/recording.md).

:func:`raw_stream_spec` turns an opened :class:`~biosignals.role_streams.SharedStream` into
the :class:`~engine.record.spec.StreamSpec` the recorder writes: the stream's own ``<info>``
XML kept whole, with one ``<vrtherapy>`` element added inside ``<desc>`` that says which
role reads which channel and how its values were converted, so every reader finds
physiology by role and converts it exactly as the live session did.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from biosignals.role_streams import RoleBinding, SharedStream
from biosignals.streams import StreamMeta
from engine.record.spec import CHANNEL_FORMATS, ChannelSpec, StreamSpec

__all__ = [
    "ROLE_MAP_FORMAT",
    "ROLE_MAP_TAG",
    "raw_stream_spec",
    "role_map_element",
    "withheld_channels",
]

ROLE_MAP_TAG = "vrtherapy"
ROLE_MAP_FORMAT = "1"


def _text(parent: ET.Element, tag: str, value: object) -> None:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = repr(value)
    else:
        text = str(value)
    ET.SubElement(parent, tag).text = text


def _role(parent: ET.Element, binding: RoleBinding) -> None:
    node = ET.SubElement(parent, "role")
    conv = binding.conversion
    fields: tuple[tuple[str, object], ...] = (
        ("name", binding.role),
        ("channel_index", binding.index),
        ("channel_label", binding.label),
        ("unit_declared", binding.declared_unit),
        ("content", binding.settings.content),
        ("unit", conv.target),
        ("conversion", conv.kind),
        ("offset", float(conv.offset)),
        ("gain", float(conv.gain)),
        ("numerator", float(conv.numerator)),
        ("source_unit", conv.source),
        ("settings", json.dumps(binding.settings.model_dump(), sort_keys=True)),
    )
    for tag, value in fields:
        _text(node, tag, value)


def role_map_element(stream: SharedStream) -> ET.Element:
    """The ``<vrtherapy>`` element for one stream (see docs/recording.md)."""
    root = ET.Element(ROLE_MAP_TAG)
    _text(root, "format", ROLE_MAP_FORMAT)
    _text(root, "timestamps", "session")
    _text(root, "clock", stream.timing.clock)
    _text(root, "dejitter", stream.timing.dejitter)
    _text(root, "dejitter_tau", float(stream.timing.dejitter_tau))
    roles = ET.SubElement(root, "roles")
    for binding in stream.bindings:
        _role(roles, binding)
    withheld = withheld_channels(stream)
    if withheld:
        node = ET.SubElement(root, "withheld")
        _text(node, "reason", "no consented role reads these channels: values not recorded")
        for index in withheld:
            _text(node, "channel_index", index)
    return root


def withheld_channels(stream: SharedStream) -> tuple[int, ...]:
    """Channels of ``stream`` that no (consented) role reads: recorded as NaN (0 for
    integer formats), so the stream keeps its layout but holds only consented data."""
    return stream.withheld


def _base_xml(meta: StreamMeta, channel_format: str) -> str:
    """The stream's own XML, or one built from its description (hand-made fakes)."""
    if meta.info_xml:
        return meta.info_xml
    channels = tuple(
        ChannelSpec(label, unit, meta.type)
        for label, unit in zip(meta.channel_labels, meta.channel_units, strict=True)
    )
    spec = StreamSpec(
        meta.name,
        meta.type,
        meta.channel_count,
        meta.nominal_srate,
        channel_format,
        meta.source_id,
        channels=channels if any(meta.channel_labels) or any(meta.channel_units) else (),
    )
    return spec.to_xml()


def _insert(xml: str, element: ET.Element) -> str:
    """``xml`` with ``element`` added as the last child of its top-level ``<desc>``; the
    original text is kept byte for byte around the insertion."""
    added = ET.tostring(element, encoding="unicode")
    end = xml.rfind("</desc>")
    if end >= 0:
        return xml[:end] + added + xml[end:]
    for empty in ("<desc/>", "<desc />"):
        at = xml.rfind(empty)
        if at >= 0:
            return xml[:at] + "<desc>" + added + "</desc>" + xml[at + len(empty) :]
    close = xml.rfind("</info>")
    return xml[:close] + "<desc>" + added + "</desc>" + xml[close:]


def raw_stream_spec(stream: SharedStream) -> StreamSpec:
    """How ``stream`` is recorded: every channel as received, its own header plus the
    role map. Streams in a format the recorder cannot write are recorded as double64."""
    meta = stream.meta
    fmt = meta.channel_format if meta.channel_format in CHANNEL_FORMATS else "double64"
    xml = _insert(_base_xml(meta, fmt), role_map_element(stream))
    if fmt != meta.channel_format:
        xml = xml.replace(
            f"<channel_format>{meta.channel_format}</channel_format>",
            f"<channel_format>{fmt}</channel_format>",
            1,
        )
    return StreamSpec(
        meta.name,
        meta.type,
        meta.channel_count,
        meta.nominal_srate,
        fmt,
        meta.source_id,
        info_xml=xml,
    )
