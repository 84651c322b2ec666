"""Which recorded channel is which physiological signal: the role map of a raw stream.

A session writes, into the ``<desc>`` of every raw physiology stream it records, a
``<vrtherapy>`` element (``docs/recording.md``) naming the roles read from that stream
(``heart``, ``ppg``, ``hr``, ``eda``), the channel of each and the live session's unit
conversion. :func:`parse_role_map` reads that element; :func:`guess_role_map` stands in
for recordings made before it existed (roles from the stream type, channel 0, values as
recorded). :func:`role_signal` applies a mapping to a stream's samples.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from biosignals.conversion import Conversion
from biosignals.roles import ROLE_NAMES, ROLE_UNITS
from engine.errors import RecordingError

__all__ = [
    "FORMAT",
    "ROLE_MAP_HELP",
    "ROLE_ORDER",
    "TYPE_ROLES",
    "RoleMapping",
    "RoleSignal",
    "StreamRoles",
    "guess_role_map",
    "in_role_order",
    "parse_role_map",
    "role_signal",
]

#: The ``<format>`` version of the ``<vrtherapy>`` element this reader understands.
FORMAT = 1
#: Older recordings (no ``<vrtherapy>``): stream type (upper case) -> role.
TYPE_ROLES: dict[str, str] = {"ECG": "heart", "PPG": "ppg", "HR": "hr", "EDA": "eda", "GSR": "eda"}
#: One sentence on what a role map is, for error messages.
ROLE_MAP_HELP = (
    "a role map is the <desc><vrtherapy><roles> element a vrtherapy session writes into "
    "the header of each raw physiology stream it records, naming which channel is the "
    "heart, ppg, hr or eda signal (docs/recording.md)"
)
#: The order roles are listed in (reports, exports); other role names follow.
ROLE_ORDER = ROLE_NAMES
_CONTENTS = ("waveform", "hr_bpm", "rr_ms", "rr_s")
_KINDS = ("linear", "reciprocal")
_CLOCKS = ("lsl", "unix", "auto", "")


@dataclass(frozen=True)
class RoleMapping:
    """One ``<role>`` of a stream: which channel, and how its values become the role unit.

    Attributes
    ----------
    role
        Protocol role (``heart``, ``ppg``, ``hr``, ``eda``).
    channel_index
        0-based column in the stream's samples.
    channel_label, unit_declared
        The channel's label and ``<unit>`` as the stream sent them (``""`` if none).
    content
        ``waveform``, ``hr_bpm``, ``rr_ms`` or ``rr_s``.
    conversion
        The live session's mapping to the role unit (``conversion.target``).
    settings
        The protocol's ``signal:`` block as recorded (``{}`` when unknown).
    """

    role: str
    channel_index: int
    channel_label: str
    unit_declared: str
    content: str
    conversion: Conversion
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def unit(self) -> str:
        """Unit of the converted values (``""`` for PPG)."""
        return self.conversion.target


@dataclass(frozen=True)
class StreamRoles:
    """A raw stream's ``<vrtherapy>`` element (or what an older recording implies).

    Attributes
    ----------
    roles
        The roles read from this stream.
    clock
        The protocol's clock setting: ``lsl``, ``unix`` or ``auto`` (``""`` unknown).
    clock_offset
        Seconds the live session added to the sender's stamps (``None`` unknown): from the
        element, or the session's ``clock`` marker.
    dejitter
        Whether the recorded stamps were re-timed to the nominal rate.
    dejitter_tau
        The dejitter time constant in seconds (``None`` unknown).
    recorded
        ``True`` when the recording carries the role map; ``False`` when it was guessed
        from the stream type (older recordings).
    clock_used
        How the sender stamped as the session decided: ``lsl`` or ``unix`` (``clock``
        itself when explicit; for ``auto`` from the session's ``clock`` marker; ``""``
        unknown).
    withheld
        Channels recorded blank (NaN, or 0 for integer formats): no consented role read
        them.
    """

    roles: tuple[RoleMapping, ...]
    clock: str = ""
    clock_offset: float | None = None
    dejitter: bool = False
    dejitter_tau: float | None = None
    recorded: bool = True
    clock_used: str = ""
    withheld: tuple[int, ...] = ()


@dataclass(frozen=True)
class RoleSignal:
    """One role's signal, converted to the role unit, on the session clock.

    Attributes
    ----------
    role
        ``heart``, ``ppg``, ``hr`` or ``eda``.
    stream, stream_type
        Name and LSL type of the raw stream it comes from.
    nominal_srate
        The stream's nominal rate in Hz (0 for irregular streams).
    timestamps
        ``(n,)`` seconds on the session's LSL clock, as recorded (may step back where a
        bridge back-dates its packets).
    values
        ``(n,)`` float64 in :attr:`unit` (the live session's conversion applied).
    mapping
        The role's channel and conversion.
    stream_roles
        The stream's clock and dejitter settings.
    """

    role: str
    stream: str
    stream_type: str
    nominal_srate: float
    timestamps: np.ndarray
    values: np.ndarray
    mapping: RoleMapping
    stream_roles: StreamRoles

    @property
    def channel_index(self) -> int:
        """Column of the raw stream this role reads."""
        return self.mapping.channel_index

    @property
    def label(self) -> str:
        """The channel's label in the stream (``""`` if none)."""
        return self.mapping.channel_label

    @property
    def unit(self) -> str:
        """Unit of :attr:`values` (``""`` for PPG)."""
        return self.mapping.unit

    @property
    def content(self) -> str:
        """``waveform``, ``hr_bpm``, ``rr_ms`` or ``rr_s``."""
        return self.mapping.content

    @property
    def is_waveform(self) -> bool:
        """Whether the values are a waveform (ECG/PPG/EDA), not heart rate numbers."""
        return self.mapping.content == "waveform"

    @property
    def heading(self) -> str:
        """Channel label (or the signal kind) and role, e.g. ``"ECG heart"``, ``"RR hr"``."""
        kind = {"heart": "ECG", "ppg": "PPG", "eda": "EDA", "hr": "HR"}.get(self.role, "")
        if not self.is_waveform:
            kind = "heart rate"
        return " ".join(p for p in (self.label or kind, self.role) if p)

    @property
    def title(self) -> str:
        """:attr:`heading` with the unit, e.g. ``"ECG heart (mV)"``, ``"RR hr (bpm)"``."""
        return f"{self.heading} ({self.unit})" if self.unit else self.heading


def in_role_order(names: Iterable[str]) -> list[str]:
    """``names`` sorted as :data:`ROLE_ORDER` (other names after, in their order)."""
    return sorted(names, key=lambda r: (*ROLE_ORDER, r).index(r))


def _text(node: ET.Element, tag: str) -> str:
    return (node.findtext(tag) or "").strip()


def _number(node: ET.Element, tag: str, where: str, default: float | None = None) -> float:
    raw = _text(node, tag)
    if not raw and default is not None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise RecordingError(f"{where} <{tag}>: {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise RecordingError(f"{where} <{tag}>: {raw!r} is not a finite number")
    return value


def _choice(node: ET.Element, tag: str, allowed: tuple[str, ...], where: str) -> str:
    raw = _text(node, tag)
    if raw not in allowed:
        shown = ", ".join(a for a in allowed if a)
        raise RecordingError(f"{where} <{tag}>: {raw!r} is not one of {shown}")
    return raw


def _settings(node: ET.Element, where: str) -> dict[str, Any]:
    raw = _text(node, "settings")
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RecordingError(f"{where} <settings>: not JSON ({exc.msg})") from None
    except RecursionError:
        raise RecordingError(f"{where} <settings>: not JSON (nested too deep)") from None
    if not isinstance(value, dict):
        raise RecordingError(f"{where} <settings>: not a JSON object")
    return value


def _mapping(node: ET.Element, channel_count: int, where: str) -> RoleMapping:
    role = _text(node, "name")
    if not role:
        raise RecordingError(f"{where} <name>: empty (one of {', '.join(ROLE_UNITS)})")
    where = f"{where} ({role})"
    raw_index = _text(node, "channel_index")
    try:
        index = int(raw_index)
    except ValueError:
        raise RecordingError(f"{where} <channel_index>: {raw_index!r} is not an integer") from None
    if not 0 <= index < channel_count:
        raise RecordingError(
            f"{where} <channel_index>: {index} is outside the stream's {channel_count} channels"
        )
    conversion = Conversion(
        "reciprocal" if _choice(node, "conversion", _KINDS, where) == "reciprocal" else "linear",
        _number(node, "offset", where),
        _number(node, "gain", where),
        _number(node, "numerator", where, 1.0),
        _text(node, "source_unit"),
        _text(node, "unit"),
    )
    return RoleMapping(
        role,
        index,
        _text(node, "channel_label"),
        _text(node, "unit_declared"),
        _choice(node, "content", _CONTENTS, where),
        conversion,
        _settings(node, where),
    )


def parse_role_map(info: ET.Element, where: str) -> StreamRoles | None:
    """The stream's ``<desc><vrtherapy>`` element, or ``None`` when it has none.

    Parameters
    ----------
    info
        The stream header's ``<info>`` element.
    where
        ``"<file>: stream '<name>'"`` for error messages.

    Raises
    ------
    RecordingError
        When the element is malformed: names the stream, the element and what is allowed.
    """
    node = info.find("desc/vrtherapy")
    if node is None:
        return None
    where = f"{where} <desc><vrtherapy>"
    version = _number(node, "format", where, float(FORMAT))
    if version != FORMAT:
        raise RecordingError(
            f"{where} <format>: {version:g} is not {FORMAT}; this recording was written by "
            f"another vrtherapy version: read it with that version"
        )
    try:
        channels = int(_text(info, "channel_count"))
    except ValueError:
        channels = 0
    roles = tuple(
        _mapping(role, channels, f"{where} <roles><role>[{k + 1}]")
        for k, role in enumerate(node.findall("roles/role"))
    )
    offset = _text(node, "clock_offset")
    clock = _choice(node, "clock", _CLOCKS, where)
    return StreamRoles(
        roles,
        clock,
        _number(node, "clock_offset", where) if offset else None,
        _text(node, "dejitter").lower() == "true",
        _number(node, "dejitter_tau", where) if _text(node, "dejitter_tau") else None,
        clock_used=clock if clock in ("lsl", "unix") else "",
        withheld=_withheld(node, channels, where),
    )


def _withheld(node: ET.Element, channel_count: int, where: str) -> tuple[int, ...]:
    out = []
    for k, item in enumerate(node.findall("withheld/channel_index")):
        raw = (item.text or "").strip()
        try:
            index = int(raw)
        except ValueError:
            raise RecordingError(
                f"{where} <withheld><channel_index>[{k + 1}]: {raw!r} is not an integer"
            ) from None
        if not 0 <= index < channel_count:
            raise RecordingError(
                f"{where} <withheld><channel_index>[{k + 1}]: {index} is outside the "
                f"stream's {channel_count} channels"
            )
        out.append(index)
    return tuple(out)


def guess_role_map(info: ET.Element) -> StreamRoles | None:
    """An older recording's stream: its role from the stream type, channel 0, values as
    recorded (older versions recorded the converted values); ``None`` when the type
    names no role."""
    role = TYPE_ROLES.get(_text(info, "type").upper())
    if role is None:
        return None
    channel = info.find("desc/channels/channel")
    label = "" if channel is None else (_text(channel, "label") or _text(channel, "name"))
    declared = "" if channel is None else _text(channel, "unit")
    unit = ROLE_UNITS[role]
    identity = Conversion("linear", 0.0, 1.0, 1.0, unit, unit)
    content = "hr_bpm" if role == "hr" else "waveform"
    return StreamRoles((RoleMapping(role, 0, label, declared, content, identity),), recorded=False)


def role_signal(
    mapping: RoleMapping,
    roles: StreamRoles,
    info: ET.Element,
    timestamps: np.ndarray,
    samples: np.ndarray,
) -> RoleSignal:
    """Apply ``mapping`` to a stream's ``(n, channels)`` samples (float64 out)."""
    try:
        rate = float(_text(info, "nominal_srate") or 0.0)
    except ValueError:
        rate = 0.0
    values = mapping.conversion(samples[:, mapping.channel_index])
    return RoleSignal(
        mapping.role,
        _text(info, "name"),
        _text(info, "type"),
        rate if math.isfinite(rate) and rate > 0 else 0.0,
        timestamps,
        values,
        mapping,
        roles,
    )
