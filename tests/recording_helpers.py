"""Recordings for the reader tests, written with the engine's recorder.

Raw streams carry their LSL ``<info>`` XML (built by pylsl, as a device bridge's outlet
would send it) with the ``<desc><vrtherapy>`` role map of docs/recording.md added; the
session's own streams (markers, features, intensity, frames, beats, SCRs) are written with
the names and channels the contract gives.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biosignals.conversion import SignalSettings, plan_conversion
from biosignals.features import FeatureSnapshot
from biosignals.lsl import import_pylsl
from biosignals.roles import ROLE_UNITS
from biosignals.streams import stream_meta
from biosignals.twin_model import TwinPhysiology, TwinProfile
from engine.record import ChannelSpec, StreamSpec, XdfRecorder
from engine.session_record import FEATURES, FRAMES, INTENSITY, MARKERS

BEATS_CHANNELS = (ChannelSpec("rr", "s", "RR"), ChannelSpec("hr_bpm", "bpm", "HR"))
SCR_CHANNELS = (
    ChannelSpec("onset", "s", "time"),
    ChannelSpec("amplitude", "uS", "EDA"),
    ChannelSpec("rise_time", "s", "time"),
)


@dataclass(frozen=True)
class Twin:
    """Simulated physiology: ECG (mV, 500 Hz), EDA (uS, 32 Hz) and the true beats."""

    ecg_t: np.ndarray
    ecg: np.ndarray
    eda_t: np.ndarray
    eda: np.ndarray
    beats: np.ndarray

    @property
    def hr_bpm(self) -> float:
        """The true mean heart rate over the whole signal."""
        return float(60.0 / np.mean(np.diff(self.beats)))


def twin(seconds: float, seed: int = 3) -> Twin:
    """``seconds`` of the typical patient's physiology, starting at t = 0."""
    body = TwinPhysiology(TwinProfile(), start_time=0.0, seed=seed)
    chunks = [body.advance(float(t)) for t in np.arange(0.5, seconds + 1e-9, 0.5)]
    cat = np.concatenate
    return Twin(
        cat([c.ecg_t for c in chunks]),
        cat([c.ecg for c in chunks]),
        cat([c.eda_t for c in chunks]),
        cat([c.eda for c in chunks]),
        cat([c.beat_times for c in chunks]),
    )


@dataclass(frozen=True)
class Role:
    """One role a session read from a stream: its channel and the protocol's signal block."""

    name: str
    channel: int
    settings: SignalSettings = field(default_factory=SignalSettings)


def lsl_info(
    name: str,
    type_: str,
    rate: float,
    fmt: str,
    channels: Sequence[tuple[str, str]],
    *,
    source_id: str = "",
    desc: dict[str, str] | None = None,
) -> str:
    """A stream's ``<info>`` XML exactly as pylsl builds it (uid, hostname, ``<desc>``...)."""
    pylsl = import_pylsl()
    info = pylsl.StreamInfo(name, type_, len(channels), rate, fmt, source_id or name)
    root = info.desc()
    for key, value in (desc or {}).items():
        root.append_child_value(key, value)
    chans = root.append_child("channels")
    for label, unit in channels:
        ch = chans.append_child("channel")
        ch.append_child_value("label", label)
        ch.append_child_value("unit", unit)
    return str(info.as_xml())


def role_element(
    info_xml: str,
    roles: Sequence[Role],
    *,
    clock: str = "lsl",
    clock_offset: float | None = None,
    dejitter: bool = False,
    dejitter_tau: float = 10.0,
    withheld: Sequence[int] = (),
) -> ET.Element:
    """The ``<vrtherapy>`` element of docs/recording.md, with the live session's conversions
    (``plan_conversion`` on the channel's declared unit, as the session plans them)."""
    meta = stream_meta(info_xml)
    node = ET.Element("vrtherapy")
    fields = {
        "format": "1",
        "timestamps": "session",
        "clock": clock,
        "dejitter": "true" if dejitter else "false",
        "dejitter_tau": repr(float(dejitter_tau)),
    }
    if clock_offset is not None:
        fields["clock_offset"] = repr(float(clock_offset))
    for tag, text in fields.items():
        ET.SubElement(node, tag).text = text
    holder = ET.SubElement(node, "roles")
    for role in roles:
        declared = meta.channel_units[role.channel]
        conv = plan_conversion(ROLE_UNITS[role.name], role.settings, declared, stream=meta.name)
        entry = ET.SubElement(holder, "role")
        values: dict[str, Any] = {
            "name": role.name,
            "channel_index": str(role.channel),
            "channel_label": meta.channel_labels[role.channel],
            "unit_declared": declared,
            "content": role.settings.content,
            "unit": conv.target,
            "conversion": conv.kind,
            "offset": repr(float(conv.offset)),
            "gain": repr(float(conv.gain)),
            "numerator": repr(float(conv.numerator)),
            "source_unit": conv.source,
            "settings": json.dumps(role.settings.model_dump(), sort_keys=True),
        }
        for tag, text in values.items():
            ET.SubElement(entry, tag).text = text
    if withheld:
        blank = ET.SubElement(node, "withheld")
        ET.SubElement(blank, "reason").text = "no consented role reads these channels"
        for index in withheld:
            ET.SubElement(blank, "channel_index").text = str(index)
    return node


def with_role_map(info_xml: str, roles: Sequence[Role], **options: Any) -> str:
    """``info_xml`` with the ``<vrtherapy>`` element added inside ``<desc>``."""
    root = ET.fromstring(info_xml)
    desc = root.find("desc")
    if desc is None:
        desc = ET.SubElement(root, "desc")
    desc.append(role_element(info_xml, roles, **options))
    return ET.tostring(root, encoding="unicode")


def raw_spec(info_xml: str) -> StreamSpec:
    """The recorder spec of a raw stream whose header is ``info_xml`` (written as-is)."""
    meta = stream_meta(info_xml)
    return StreamSpec(
        meta.name,
        meta.type,
        meta.channel_count,
        meta.nominal_srate,
        meta.channel_format,
        meta.source_id,
        info_xml=info_xml,
    )


class SessionFile:
    """A recording built by hand: raw streams, markers, features, beats and SCRs.

    Everything is pushed before :meth:`close`; timestamps are seconds on the session clock.
    """

    def __init__(self, path: Path, **header: str) -> None:
        self.recorder = XdfRecorder(path, file_header=header or {"participant": "P-0042"})
        self.path = path
        self._ids: dict[str, int] = {}
        self.recorder.start()

    def stream(self, spec: StreamSpec) -> int:
        """Add a stream once (by name) and return its id."""
        if spec.name not in self._ids:
            self._ids[spec.name] = self.recorder.add_stream(spec)
        return self._ids[spec.name]

    def raw(self, info_xml: str, values: np.ndarray, stamps: np.ndarray) -> None:
        """A raw stream with its (role-mapped) header and every channel's values."""
        self.recorder.push(self.stream(raw_spec(info_xml)), values, stamps)

    def marker(self, event: dict[str, Any], t: float) -> None:
        """One JSON event on ``vrtherapy-markers``."""
        self.recorder.push_marker(self.stream(MARKERS), json.dumps(event), t)

    def features(self, snap: FeatureSnapshot) -> None:
        """One controller tick on ``vrtherapy-features``."""
        row = [
            np.nan if v is None else float(v)
            for v in (snap.hr_bpm, snap.scl_us, snap.scr_rate, snap.arousal)
        ]
        self.recorder.push(self.stream(FEATURES), [row], [snap.time])

    def intensity(self, value: float, t: float) -> None:
        """The intensity shown at ``t``."""
        self.recorder.push(self.stream(INTENSITY), [value], [t])

    def frame(self, cpu_ms: float, index: int, t: float) -> None:
        """One frame-timing row."""
        self.recorder.push(self.stream(FRAMES), [[cpu_ms, index, 0.0, 0.0, 1.0, 0.0]], [t])

    def beats(self, role: str, times: np.ndarray, rr: np.ndarray, hr: np.ndarray) -> None:
        """The live session's beats on ``vrtherapy-beats-<role>``."""
        spec = StreamSpec(
            f"vrtherapy-beats-{role}", "Beats", 2, 0.0, "float32", f"vrtherapy-beats-{role}",
            channels=BEATS_CHANNELS,
        )  # fmt: skip
        self.recorder.push(self.stream(spec), np.column_stack([rr, hr]), times)

    def scrs(self, peaks: np.ndarray, onsets: np.ndarray, amps: np.ndarray) -> None:
        """The live session's completed SCRs on ``vrtherapy-scr`` (stamped at the peak)."""
        spec = StreamSpec(
            "vrtherapy-scr", "SCR", 3, 0.0, "double64", "vrtherapy-scr", channels=SCR_CHANNELS
        )
        self.recorder.push(
            self.stream(spec), np.column_stack([onsets, amps, peaks - onsets]), peaks
        )

    def close(self) -> Path:
        """Close the recorder; returns the file."""
        self.recorder.close()
        return self.path
