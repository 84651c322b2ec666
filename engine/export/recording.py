"""A session recording, loaded and sorted into its parts (physiology, session streams).

:func:`load_session` reads an XDF file written by the engine (see
:mod:`engine.session_record`) and returns a :class:`SessionData`: raw physiology streams
(any numeric stream whose type is ECG/PPG/EDA/GSR/HR), the intensity, features and frame
timing streams, and the JSON markers decoded. :func:`load_physiology` returns only the
physiology, ready for :class:`biosignals.replay.Replayer`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biosignals.replay import RecordedStream
from engine.errors import RecordingError
from engine.export.xdfread import XdfStream, read_xdf
from engine.privacy.keys import SiteKey

__all__ = [
    "PHYSIOLOGY_TYPES",
    "Marker",
    "SessionData",
    "TimeSeries",
    "load_physiology",
    "load_session",
]

#: Stream types treated as raw physiology (compared case-insensitively).
PHYSIOLOGY_TYPES = ("ECG", "PPG", "EDA", "GSR", "HR")
INTENSITY_NAME = "vrtherapy-intensity"
MARKERS_NAME = "vrtherapy-markers"
FEATURES_NAME = "vrtherapy-features"
FRAMES_NAME = "vrtherapy-frames"


@dataclass(frozen=True)
class Marker:
    """One event marker: LSL time and the decoded JSON object (``{"text": ...}`` if not JSON)."""

    time: float
    event: dict[str, Any]

    @property
    def kind(self) -> str:
        """The ``event`` field (``"intensity"``, ``"quality"``...), ``"text"`` when absent."""
        return str(self.event.get("event", "text"))

    @property
    def text(self) -> str:
        """Human-readable text of the event."""
        return str(self.event.get("text") or json.dumps(self.event, sort_keys=True))


@dataclass(frozen=True)
class TimeSeries:
    """A numeric session stream: timestamps ``(n,)`` and values ``(n, channels)``."""

    timestamps: np.ndarray
    values: np.ndarray
    labels: tuple[str, ...] = ()
    units: tuple[str, ...] = ()

    def column(self, label: str) -> np.ndarray:
        """Values of the channel called ``label`` as float64."""
        if label not in self.labels:
            raise RecordingError(f"no channel {label!r} (channels: {', '.join(self.labels)})")
        return self.values[:, self.labels.index(label)].astype(np.float64)


@dataclass
class SessionData:
    """Everything in one session recording."""

    path: Path
    header: dict[str, str]
    physiology: list[RecordedStream]
    intensity: TimeSeries | None
    features: TimeSeries | None
    frames: TimeSeries | None
    markers: list[Marker]
    truncated: bool = False
    other: list[RecordedStream] = field(default_factory=list)

    @property
    def t0(self) -> float:
        """LSL time of the first physiology sample (the time origin of reports/exports)."""
        return min(float(s.timestamps[0]) for s in self.physiology if s.timestamps.size)

    @property
    def t_end(self) -> float:
        """LSL time of the last sample of any stream."""
        ends = [float(s.timestamps[-1]) for s in self.physiology if s.timestamps.size]
        for series in (self.intensity, self.features, self.frames):
            if series is not None and series.timestamps.size:
                ends.append(float(series.timestamps[-1]))
        ends.extend(m.time for m in self.markers)
        return max(ends)

    def events(self, kind: str) -> list[Marker]:
        """Markers whose ``event`` field is ``kind``."""
        return [m for m in self.markers if m.kind == kind]


def _labels(stream: XdfStream) -> tuple[tuple[str, ...], tuple[str, ...]]:
    channels = stream.info.findall("desc/channels/channel")
    labels = tuple((c.findtext("label") or c.findtext("name") or "").strip() for c in channels)
    units = tuple((c.findtext("unit") or "").strip() for c in channels)
    return labels, units


def _series(stream: XdfStream) -> TimeSeries:
    labels, units = _labels(stream)
    assert isinstance(stream.values, np.ndarray)
    return TimeSeries(stream.timestamps, stream.values, labels, units)


def _recorded(stream: XdfStream) -> RecordedStream:
    assert isinstance(stream.values, np.ndarray)
    try:
        rate = float(stream.text("nominal_srate") or 0.0)
    except ValueError:
        rate = 0.0
    return RecordedStream(
        name=stream.text("name"),
        type=stream.text("type"),
        source_id=stream.text("source_id"),
        nominal_srate=rate,
        channel_format=stream.text("channel_format"),
        info_xml=stream.info_xml,
        samples=stream.values,
        timestamps=stream.timestamps,
    )


def _markers(stream: XdfStream) -> list[Marker]:
    out = []
    assert isinstance(stream.values, list)
    for t, sample in zip(stream.timestamps, stream.values, strict=True):
        raw = sample[0] if sample else ""
        try:
            event = json.loads(raw)
        except json.JSONDecodeError:
            event = {"text": raw}
        if not isinstance(event, dict):
            event = {"text": raw}
        out.append(Marker(float(t), event))
    return sorted(out, key=lambda m: m.time)


def load_session(recording: Path, key: SiteKey | None = None) -> SessionData:
    """Load a session recording.

    Raises
    ------
    RecordingError
        When the file is not a readable XDF file, or holds no physiology samples.
    """
    path = Path(recording)
    contents = read_xdf(path, key)
    data = SessionData(path, contents.header, [], None, None, None, [], contents.truncated)
    session = {INTENSITY_NAME: "intensity", FEATURES_NAME: "features", FRAMES_NAME: "frames"}
    for stream in contents.streams:
        name, kind = stream.text("name"), stream.text("type").upper()
        if name == MARKERS_NAME or (isinstance(stream.values, list) and kind == "MARKERS"):
            data.markers.extend(_markers(stream))
        elif isinstance(stream.values, list):
            continue
        elif name in session:
            setattr(data, session[name], _series(stream))
        elif kind in PHYSIOLOGY_TYPES:
            data.physiology.append(_recorded(stream))
        else:
            data.other.append(_recorded(stream))
    data.markers.sort(key=lambda m: m.time)
    if not any(s.timestamps.size for s in data.physiology):
        found = ", ".join(f"{s.text('name')} ({s.text('type')})" for s in contents.streams)
        raise RecordingError(
            f"{path}: no physiology samples (no stream of type "
            f"{'/'.join(PHYSIOLOGY_TYPES)} with data); streams found: {found or 'none'}"
        )
    data.physiology = [s for s in data.physiology if s.timestamps.size]
    return data


def load_physiology(recording: Path, key: SiteKey | None = None) -> list[RecordedStream]:
    """The raw physiology streams of a recording (for :class:`biosignals.replay.Replayer`)."""
    return load_session(recording, key).physiology
