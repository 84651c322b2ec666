"""A session recording, loaded and sorted into its parts (physiology by role, session streams).

:func:`load_session` reads an XDF file written by the engine (see ``docs/recording.md``)
and returns a :class:`SessionData`:

* ``roles``: each physiological role (``heart``, ``ppg``, ``hr``, ``eda``) as a
  :class:`~engine.export.roles.RoleSignal`: the role's channel converted to the role unit
  exactly as the live session did, found through the ``<desc><vrtherapy>`` role map of
  the raw stream (never through the LSL stream type); older recordings without role maps
  fall back to the stream type (ECG, PPG, HR, EDA/GSR; channel 0; values as recorded);
* ``physiology``: the raw streams those roles read, whole (every channel, original
  values and header), for replay and raw export;
* ``beats`` / ``scr``: the beats and skin conductance responses the live session detected
  (``vrtherapy-beats-<role>``, ``vrtherapy-scr``), when recorded;
* the intensity, features and frame timing streams, and the JSON markers decoded.

:func:`load_physiology` returns only the raw physiology streams, ready for
:class:`biosignals.replay.Replayer`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from biosignals.replay import RecordedStream
from engine.errors import RecordingError
from engine.export.roles import (
    ROLE_MAP_HELP,
    TYPE_ROLES,
    RoleSignal,
    StreamRoles,
    guess_role_map,
    parse_role_map,
    role_signal,
)
from engine.export.xdfread import XdfStream, read_xdf
from engine.privacy.keys import SiteKey

__all__ = [
    "PHYSIOLOGY_TYPES",
    "BeatSeries",
    "Marker",
    "RoleSignal",
    "ScrSeries",
    "SessionData",
    "TimeSeries",
    "load_physiology",
    "load_session",
]

#: Stream types that name a role in older recordings without role maps (case-insensitive).
PHYSIOLOGY_TYPES = tuple(TYPE_ROLES)
INTENSITY_NAME = "vrtherapy-intensity"
MARKERS_NAME = "vrtherapy-markers"
FEATURES_NAME = "vrtherapy-features"
FRAMES_NAME = "vrtherapy-frames"
BEATS_PREFIX = "vrtherapy-beats-"
SCR_NAME = "vrtherapy-scr"


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


@dataclass(frozen=True)
class BeatSeries:
    """The beats the live session detected on one waveform heart role.

    ``times`` are the beats' stamps on the session clock; ``rr`` the seconds since the
    previous detected beat and ``hr_bpm`` the extractor's instantaneous rate (NaN where
    unknown), as the controller saw them.
    """

    role: str
    times: np.ndarray
    rr: np.ndarray
    hr_bpm: np.ndarray


@dataclass(frozen=True)
class ScrSeries:
    """The skin conductance responses the live session completed (stamped at the peak)."""

    peak_times: np.ndarray
    onsets: np.ndarray
    amplitudes: np.ndarray
    rise_times: np.ndarray


@dataclass
class SessionData:
    """Everything in one session recording.

    Attributes
    ----------
    roles
        Role name -> the role's converted signal (see :class:`RoleSignal`).
    physiology
        The raw streams the roles read, whole (all channels, values and header as
        recorded), in file order.
    stream_roles
        Raw stream name -> its role map (``recorded`` False when guessed from the type);
        a name repeated in the file gets ``#<stream id>`` from its second stream on.
    beats, scr
        What the live session detected, when the recording holds it.
    other
        Numeric streams that are neither physiology nor the session's own.
    """

    path: Path
    header: dict[str, str]
    physiology: list[RecordedStream]
    intensity: TimeSeries | None
    features: TimeSeries | None
    frames: TimeSeries | None
    markers: list[Marker]
    truncated: bool = False
    other: list[RecordedStream] = field(default_factory=list)
    roles: dict[str, RoleSignal] = field(default_factory=dict)
    stream_roles: dict[str, StreamRoles] = field(default_factory=dict)
    beats: dict[str, BeatSeries] = field(default_factory=dict)
    scr: ScrSeries | None = None

    @property
    def role_maps(self) -> bool:
        """Whether the roles come from recorded role maps (False: older recording)."""
        return any(r.recorded for r in self.stream_roles.values())

    def _all_stamps(self) -> list[np.ndarray]:
        series = [self.intensity, self.features, self.frames]
        out = [s.timestamps for s in self.physiology + self.other]
        out += [s.timestamps for s in series if s is not None]
        out += [b.times for b in self.beats.values()]
        out.append(np.asarray([m.time for m in self.markers], dtype=np.float64))
        return [t for t in out if t.size]

    @property
    def has_samples(self) -> bool:
        """Whether any stream holds at least one sample (markers included)."""
        return bool(self._all_stamps())

    @property
    def t0(self) -> float:
        """The time origin of reports and exports (LSL time): the first physiology sample;
        without physiology samples the first sample of any stream; 0.0 when none."""
        firsts = [float(np.min(r.timestamps)) for r in self.roles.values() if r.timestamps.size]
        if not firsts:
            firsts = [float(np.min(t)) for t in self._all_stamps()]
        return min(firsts) if firsts else 0.0

    @property
    def t_end(self) -> float:
        """LSL time of the last sample of any stream (:attr:`t0` when there is none)."""
        ends = [float(np.max(t)) for t in self._all_stamps()]
        return max([self.t0, *ends])

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
        except (json.JSONDecodeError, RecursionError):
            event = {"text": raw}
        if not isinstance(event, dict):
            event = {"text": raw}
        out.append(Marker(float(t), event))
    return sorted(out, key=lambda m: m.time)


def _columns(stream: XdfStream, names: tuple[str, ...]) -> list[np.ndarray]:
    """The channels called ``names`` (by label, else by position) as float64, NaN if absent."""
    labels, _ = _labels(stream)
    assert isinstance(stream.values, np.ndarray)
    n, width = stream.values.shape
    out = []
    for k, name in enumerate(names):
        col = labels.index(name) if name in labels else (k if len(labels) != width else -1)
        ok = 0 <= col < width
        out.append(stream.values[:, col].astype(np.float64) if ok else np.full(n, np.nan))
    return out


def _beats(role: str, stream: XdfStream) -> BeatSeries:
    rr, hr = _columns(stream, ("rr", "hr_bpm"))
    return BeatSeries(role, stream.timestamps, rr, hr)


def _scr(stream: XdfStream) -> ScrSeries:
    onset, amp, rise = _columns(stream, ("onset", "amplitude", "rise_time"))
    return ScrSeries(stream.timestamps, onset, amp, rise)


def _sort(data: SessionData, contents: list[XdfStream]) -> list[XdfStream]:
    """Put the session's own streams in place; return the other numeric streams."""
    session = {INTENSITY_NAME: "intensity", FEATURES_NAME: "features", FRAMES_NAME: "frames"}
    rest = []
    for stream in contents:
        name, kind = stream.text("name"), stream.text("type").upper()
        if name == MARKERS_NAME or (isinstance(stream.values, list) and kind == "MARKERS"):
            data.markers.extend(_markers(stream))
        elif isinstance(stream.values, list):
            continue
        elif name in session:
            setattr(data, session[name], _series(stream))
        elif name.startswith(BEATS_PREFIX):
            data.beats[name[len(BEATS_PREFIX) :]] = _beats(name[len(BEATS_PREFIX) :], stream)
        elif name == SCR_NAME:
            data.scr = _scr(stream)
        else:
            rest.append(stream)
    data.markers.sort(key=lambda m: m.time)
    return rest


def _role_maps(path: Path, streams: list[XdfStream]) -> dict[int, StreamRoles]:
    """Stream id -> role map: recorded ones; when the file has none, guessed from types."""
    found = {}
    for s in streams:
        roles = parse_role_map(s.info, f"{path}: stream {s.text('name')!r}")
        if roles is not None:
            found[s.stream_id] = roles
    if found:
        return found
    guessed: dict[int, StreamRoles] = {}
    taken: set[str] = set()
    for s in sorted(streams, key=lambda s: s.timestamps.size == 0):  # streams with data first
        roles = guess_role_map(s.info)
        if roles is not None and roles.roles[0].role not in taken:
            taken.add(roles.roles[0].role)
            guessed[s.stream_id] = roles
    return guessed


def _clock_used(roles: StreamRoles, name: str, markers: list[Marker]) -> StreamRoles:
    """``clock: auto`` resolved by the session's ``clock`` marker for this stream."""
    if roles.clock_used or not roles.recorded:
        return roles
    mine = {m.role for m in roles.roles}
    for m in markers:
        e = m.event
        said = e.get("roles")
        if m.kind != "clock" or e.get("stream") != name or e.get("clock") not in ("lsl", "unix"):
            continue
        if isinstance(said, list) and mine and not mine & set(map(str, said)):
            continue  # another stream of the same name
        offset = e.get("offset_s")
        if not isinstance(offset, int | float) or isinstance(offset, bool):
            offset = roles.clock_offset
        return replace(roles, clock_used=str(e["clock"]), clock_offset=offset)
    return roles


def _assign_roles(data: SessionData, streams: list[XdfStream]) -> None:
    maps = _role_maps(data.path, streams)
    owner: dict[str, str] = {}
    for stream in streams:
        roles = maps.get(stream.stream_id)
        if roles is None:
            data.other.append(_recorded(stream))
            continue
        roles = _clock_used(roles, stream.text("name"), data.markers)
        raw = replace(_recorded(stream), clock="unix" if roles.clock_used == "unix" else "lsl")
        key = raw.name if raw.name not in data.stream_roles else f"{raw.name}#{stream.stream_id}"
        data.physiology.append(raw)
        data.stream_roles[key] = roles
        for mapping in roles.roles:
            if mapping.role in owner:
                raise RecordingError(
                    f"{data.path}: role {mapping.role!r} is mapped twice, in streams "
                    f"{owner[mapping.role]!r} and {key!r}"
                )
            owner[mapping.role] = key
            data.roles[mapping.role] = role_signal(
                mapping, roles, stream.info, raw.timestamps, raw.samples
            )


def _no_roles(path: Path, streams: list[XdfStream]) -> RecordingError:
    found = ", ".join(f"{s.text('name')} (type {s.text('type')!r})" for s in streams)
    return RecordingError(
        f"{path}: no physiology in this recording: no stream carries a role map, and none "
        f"is typed {'/'.join(PHYSIOLOGY_TYPES)} as in recordings made before role maps; "
        f"{ROLE_MAP_HELP}. Streams found: {found or 'none'}"
    )


MAX_SPAN_S = 7 * 86400.0
"""Longest time a recording's timestamps may span (a session lasts hours): beyond it a
timestamp is damaged (bit rot in a float), and reports would lay out windows over it."""


def _check_times(path: Path, streams: list[XdfStream]) -> None:
    """RecordingError naming the stream and sample whose timestamp is damaged."""
    firsts = []
    for s in streams:
        bad = np.flatnonzero(~np.isfinite(s.timestamps))
        if bad.size:
            k = int(bad[0])
            raise RecordingError(
                f"{path}: stream {s.text('name')!r}: sample {k} has timestamp "
                f"{s.timestamps[k]} (not finite): the recording is damaged"
            )
        if s.timestamps.size:
            firsts.append(float(np.median(s.timestamps)))
    if not firsts:
        return
    centre = float(np.median(firsts))
    for s in streams:
        off = np.flatnonzero(np.abs(s.timestamps - centre) > MAX_SPAN_S)
        if off.size:
            k = int(off[0])
            raise RecordingError(
                f"{path}: stream {s.text('name')!r}: sample {k} has timestamp "
                f"{s.timestamps[k]:.6g}, more than {MAX_SPAN_S / 86400:g} days from the "
                f"session's other samples: the recording is damaged"
            )


def load_session(recording: Path, key: SiteKey | None = None) -> SessionData:
    """Load a session recording (see the module docstring for what it holds).

    A cut-off file loads up to its last whole chunk (``truncated``); roles whose stream
    header is there but whose samples are not have empty signals.

    Raises
    ------
    RecordingError
        When the file is not a readable XDF file, a role map is malformed, or no stream
        carries a role (neither a role map nor an older recording's physiology type).
    """
    path = Path(recording)
    contents = read_xdf(path, key)
    _check_times(path, contents.streams)
    data = SessionData(path, contents.header, [], None, None, None, [], contents.truncated)
    numeric = _sort(data, contents.streams)
    _assign_roles(data, numeric)
    if not data.roles:
        raise _no_roles(path, contents.streams)
    return data


def load_physiology(recording: Path, key: SiteKey | None = None) -> list[RecordedStream]:
    """The raw physiology streams of a recording, whole (for :class:`biosignals.replay.Replayer`).

    Raises
    ------
    RecordingError
        As :func:`load_session`, and when the physiology streams hold no samples.
    """
    data = load_session(recording, key)
    if not any(s.timestamps.size for s in data.physiology):
        names = ", ".join(s.name for s in data.physiology)
        raise RecordingError(f"{data.path}: the physiology streams ({names}) hold no samples")
    return data.physiology
