"""What ``vrtherapy streams`` shows about each visible LSL stream (pure: no LSL here).

An :class:`StreamEntry` is one stream's full description (:class:`StreamMeta`) plus where
it comes from (hostname, uid) and its number in the listing. :func:`number_entries` sorts
deterministically, :func:`format_listing` writes the text a therapist reads and
:func:`entry_dict` the ``--json`` form.
"""

from __future__ import annotations

import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from biosignals.streams import StreamMeta, stream_meta

__all__ = [
    "COMPACT_CHANNELS",
    "StreamEntry",
    "describe_entry",
    "entry_dict",
    "entry_from_xml",
    "format_listing",
    "number_entries",
]

#: Streams with more channels than this show the first ones and a count, unless asked
#: for every channel (a 53-channel EEG cap is still listed whole).
COMPACT_CHANNELS = 64
_SHOWN_WHEN_COMPACT = 24
_WIDTH = 92


@dataclass(frozen=True, slots=True)
class StreamEntry:
    """One visible stream as listed.

    Parameters
    ----------
    meta
        The stream's description (labels and units from its ``<desc>``).
    hostname, uid
        Where it comes from; the uid is unique per outlet.
    full
        Whether the full description arrived (else labels and units are unknown).
    number
        1-based position in the sorted listing (0 until :func:`number_entries`).
    """

    meta: StreamMeta
    hostname: str
    uid: str
    full: bool = True
    number: int = 0

    @property
    def is_string(self) -> bool:
        """Whether the stream carries text (markers, events) rather than numbers."""
        return self.meta.channel_format == "string"


def entry_from_xml(info_xml: str, *, full: bool = True) -> StreamEntry:
    """A :class:`StreamEntry` from a stream's XML (``StreamInfo.as_xml()``).

    Raises
    ------
    StreamError
        If the XML cannot be read.
    """
    meta = stream_meta(info_xml)
    root = ET.fromstring(info_xml)  # parsed fine just above
    return StreamEntry(
        meta, (root.findtext("hostname") or "").strip(), (root.findtext("uid") or "").strip(), full
    )


def number_entries(entries: Iterable[StreamEntry]) -> list[StreamEntry]:
    """Sort by (type, name, source_id, hostname, uid), case-insensitively first, and
    number from 1; duplicates of one uid are dropped."""
    unique = {e.uid or f"#{i}": e for i, e in enumerate(entries)}

    def key(e: StreamEntry) -> tuple[str, ...]:
        m = e.meta
        fields = (m.type, m.name, m.source_id, e.hostname)
        return (*(f.casefold() for f in fields), *fields, e.uid)

    ordered = sorted(unique.values(), key=key)
    return [replace(e, number=i) for i, e in enumerate(ordered, 1)]


def describe_entry(entry: StreamEntry) -> str:
    """One-line identity, e.g. ``[3] type='ECG' name='PolarBand' source_id='x'``."""
    m = entry.meta
    return f"[{entry.number}] type={m.type!r} name={m.name!r} source_id={m.source_id!r}"


def rate_text(rate: float) -> str:
    """``"130 Hz"``, ``"17.86 Hz"`` or ``"irregular"`` (nominal rate 0)."""
    return "irregular" if rate <= 0 else f"{rate:.6g} Hz"


def _channel_items(meta: StreamMeta, with_units: bool) -> list[str]:
    items = []
    for i, (label, unit) in enumerate(zip(meta.channel_labels, meta.channel_units, strict=True)):
        text = label or f"#{i}"
        items.append(f"{text} [{unit}]" if with_units and unit else text)
    return items


def channel_lines(entry: StreamEntry, all_channels: bool = False) -> list[str]:
    """The channels of one stream as wrapped lines (labels with units; a unit shared by
    every channel is said once)."""
    meta = entry.meta
    n = meta.channel_count
    if not entry.full:
        return [f"channels: {n} (full description not received: labels and units unknown)"]
    if not any(meta.channel_labels) and not any(meta.channel_units):
        by_index = f" (select by index 0..{n - 1})" if n > 1 and not entry.is_string else ""
        return [f"channels: {n}, no labels or units in the description{by_index}"]
    units = set(meta.channel_units)
    shared = units.pop() if len(units) == 1 and meta.channel_units[0] else ""
    items = _channel_items(meta, with_units=not shared)
    if not all_channels and n > COMPACT_CHANNELS:
        more = n - _SHOWN_WHEN_COMPACT
        items = [*items[:_SHOWN_WHEN_COMPACT], f"... and {more} more (--all-channels lists all)"]
    head = f"channels (all {shared}): " if shared else "channels: "
    return textwrap.wrap(
        head + ", ".join(items), width=_WIDTH, subsequent_indent="  ", break_on_hyphens=False
    )


def _format_text(entry: StreamEntry) -> str:
    fmt = entry.meta.channel_format
    if entry.is_string:
        return "string: markers or text, not a signal (no role can read it)"
    return fmt


def format_entry(entry: StreamEntry, all_channels: bool = False) -> list[str]:
    """Lines describing one stream: identity, rate/format/channels/host, channels."""
    m = entry.meta
    count = f"{m.channel_count} channel{'s' if m.channel_count != 1 else ''}"
    host = f"host {entry.hostname!r}" if entry.hostname else "host unknown"
    lines = [
        describe_entry(entry),
        f"    {rate_text(m.nominal_srate)}, {_format_text(entry)}, {count}, {host}",
    ]
    lines += [f"    {line}" for line in channel_lines(entry, all_channels)]
    return lines


def format_listing(
    entries: Sequence[StreamEntry],
    waited: float,
    all_channels: bool = False,
    visible: int | None = None,
) -> str:
    """The whole listing (what ``vrtherapy streams`` prints), ending in a newline.

    ``visible``: how many streams were seen in all, when ``entries`` is a selection.
    """
    if not entries:
        return (
            f"no LSL streams visible on this machine within {waited:g} s. Is the bridge "
            "running? Waiting longer: --wait SECONDS; a bridge on another computer needs a "
            "network-wide liblsl config: vrtherapy --lsl-config FILE streams (README, "
            "'Privacy').\n"
        )
    n = len(entries) if visible is None else visible
    lines = [f"{n} LSL stream{'s' if n != 1 else ''} visible (listened {waited:g} s):"]
    if len(entries) != n:
        lines[0] = lines[0][:-1] + f", showing {len(entries)}:"
    for entry in entries:
        lines += format_entry(entry, all_channels)
    lines.append(
        "A protocol's streams: block for one of them: vrtherapy streams --suggest auto --stream N"
    )
    return "\n".join(lines) + "\n"


def entry_dict(entry: StreamEntry) -> dict[str, Any]:
    """The ``--json`` form of one stream."""
    m = entry.meta
    return {
        "number": entry.number,
        "type": m.type,
        "name": m.name,
        "source_id": m.source_id,
        "hostname": entry.hostname,
        "uid": entry.uid,
        "nominal_srate": m.nominal_srate,
        "irregular": m.nominal_srate <= 0,
        "channel_format": m.channel_format,
        "string": entry.is_string,
        "channel_count": m.channel_count,
        "full_description": entry.full,
        "channels": [
            {"index": i, "label": label, "unit": unit}
            for i, (label, unit) in enumerate(zip(m.channel_labels, m.channel_units, strict=True))
        ],
    }
