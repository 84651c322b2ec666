"""The sensors' faults of a course: dropout and artefact rates and noise, from the recordings.

A fitted twin that forecasts with clean sensors climbs the hierarchy differently from a
participant whose electrodes lose contact and pick up movement: dropouts and artefacts
raise quality flags, and the signal-loss policy holds or lowers the intensity while they
last. :func:`sensor_counts` reads what one recording shows of its sensors (the quality
flags the session raised, ``docs/recording.md``, and the raw waveforms);
:func:`estimate_sensors` pools the sessions into the
:class:`~biosignals.twin_profile.TwinProfile` fields the twin model simulates the same
faults with:

``dropout_rate_per_hour``, ``dropout_duration``
    every ``dropout`` flag of a waveform or rate stream (heart, ppg, hr, eda) is one
    dropout; the rate is per stream (dropouts over stream-hours recorded), the duration
    the median of the flags that ended.
``artifact_rate_per_hour``
    ``artifact`` flags of the EDA (the twin's motion artefacts always move it; the ECG's
    artifact flag also answers to ectopic beats, which are not movement: a course with
    4 PVCs/min and clean sensors got 17-25 flags per hour on the heart); flags within
    :data:`SAME_ARTEFACT` s of the previous one counted once, flags within
    :data:`DROPOUT_EDGE` s of a dropout's start or end left out (the jump where samples
    stop or come back is flagged too); per hour of *live* time: the session's time
    outside an open artefact flag, an EDA dropout, and the windows round dropout edges.
    A second artefact while a flag is open raises no new flag (the flag lasts 5-30 s
    while the signal settles), so counting per session hour would miss it: this is a
    counter's dead-time correction (non-paralysable). Artefacts too small to raise a
    flag are still not counted; recordings without EDA give no artefact rate.
``artifact_us``
    the median of the EDA artefacts' sizes (largest deviation within 1.5 s before to
    2.5 s after the flag's start from the median level of the 2.5 s before that) over
    :data:`SIZE_MEDIAN` (the twin draws sizes ``artifact_us * (1 + 0.3 |z|)``).
``ecg_noise_mv``, ``eda_noise_us``
    white noise from the median absolute second difference of the raw ECG (mV) and EDA
    (µS) samples (the signals themselves hardly curve from one sample to the next); kept
    at the population default unless the course is clearly noisier
    (:data:`NOISIER` times the default).

A course without any flag gets exactly the population defaults (zero rates). The ECG
artefacts' size (``artifact_mv``) is not estimated: it hides in the QRS complexes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from biosignals.eda import SCR_DROP_BEFORE_ARTIFACT
from biosignals.twin_profile import TwinProfile
from engine.export.recording import Marker, SessionData

__all__ = ["SensorCounts", "SensorEstimate", "estimate_sensors", "sensor_counts"]

SAME_ARTEFACT = 2.0
"""s: artefact flags this close are one movement (a twin artefact lasts 2 s)."""
DROPOUT_EDGE = 3.0
"""s: an artefact flag this close to a dropout's start or end is the dropout's own jump."""
BUMP_BEFORE = (4.0, 1.5)
"""s before an EDA artefact flag's start: the level is the median of this window."""
BUMP_AFTER = 2.5
"""s after the flag's start within which the artefact's peak lies (a twin artefact: 2 s)."""
SIZE_MEDIAN = 1.0 + 0.3 * 0.6745
"""Median size of a twin's EDA artefact in units of ``artifact_us`` (``1 + 0.3 |z|``)."""
NOISIER = 1.5
"""A noise estimate below this multiple of the population default keeps the default."""
_FAULT_ROLES = ("heart", "ppg", "hr", "eda")
_DEFAULTS = TwinProfile()


@dataclass(frozen=True)
class SensorCounts:
    """What one recording shows of its sensors."""

    session_hours: float
    stream_hours: float
    dropouts: int
    dropout_durations: tuple[float, ...]
    artifacts: int
    live_hours: float = 0.0
    artifact_sizes_us: tuple[float, ...] = ()
    ecg_noise_mv: float | None = None
    eda_noise_us: float | None = None
    eda_dead: tuple[tuple[float, float], ...] = ()
    """Seconds from the session's start in which the EDA extractor could count no SCR:
    each EDA artefact flag from :data:`~biosignals.eda.SCR_DROP_BEFORE_ARTIFACT` before
    its start to its end (the extractor drops the onsets there), each EDA dropout."""


@dataclass(frozen=True)
class SensorEstimate:
    """The course's sensor faults as twin-profile fields, with the counts behind them."""

    dropout_rate_per_hour: float
    dropout_duration: float
    artifact_rate_per_hour: float
    artifact_us: float
    ecg_noise_mv: float
    eda_noise_us: float
    dropouts: int
    artifacts: int
    stream_hours: float
    session_hours: float
    live_hours: float = 0.0
    notes: list[str] = field(default_factory=list)

    def profile_fields(self) -> dict[str, float]:
        """The fields :class:`TwinProfile` takes."""
        return {
            "dropout_rate_per_hour": self.dropout_rate_per_hour,
            "dropout_duration": self.dropout_duration,
            "artifact_rate_per_hour": self.artifact_rate_per_hour,
            "artifact_us": self.artifact_us,
            "ecg_noise_mv": self.ecg_noise_mv,
            "eda_noise_us": self.eda_noise_us,
        }

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values."""
        return asdict(self)


def _quality(data: SessionData, flag: str) -> list[Marker]:
    return [m for m in data.events("quality") if m.event.get("flag") == flag]


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _dropouts(data: SessionData, end: float) -> list[tuple[str, float, float | None]]:
    """Each dropout once: (role, start, end or None while still open at the end)."""
    found: dict[tuple[str, float], float | None] = {}
    for m in _quality(data, "dropout"):
        role, start = str(m.event.get("role", "")), _number(m.event.get("start"))
        if role not in _FAULT_ROLES or start is None:
            continue
        stop = _number(m.event.get("end"))
        if stop is not None or (role, start) not in found:
            found[(role, start)] = stop
    return [(role, start, stop) for (role, start), stop in found.items() if start < end]


def _union_length(intervals: list[tuple[float, float]]) -> float:
    total, reach = 0.0, -math.inf
    for a, b in sorted(intervals):
        if b > reach:
            total += b - max(a, reach)
            reach = b
    return total


def _artefact_flags(data: SessionData) -> dict[tuple[str, float], float | None]:
    """Each EDA artefact flag once: (role, start) -> end (None while open at the end)."""
    flags: dict[tuple[str, float], float | None] = {}
    for m in _quality(data, "artifact"):
        role, start = str(m.event.get("role", "")), _number(m.event.get("start"))
        if role != "eda" or start is None:
            continue
        if m.event.get("end") is not None or (role, start) not in flags:
            flags[(role, start)] = _number(m.event.get("end"))
    return flags


def _live_seconds(
    flags: dict[tuple[str, float], float | None],
    dropouts: list[tuple[str, float, float | None]],
    t0: float,
    t1: float,
) -> float:
    """Seconds in which a new artefact could have raised a flag (see the module docstring)."""
    edges = [t for _, a, b in dropouts for t in (a, b) if t is not None]
    flagging = {role for role, _ in flags}
    dead = [(a, t1 if b is None else b) for (_, a), b in flags.items()]
    dead += [(t - DROPOUT_EDGE, t + DROPOUT_EDGE) for t in edges]
    dead += [(a, t1 if b is None else b) for role, a, b in dropouts if role in flagging]
    clipped = [(max(a, t0), min(b, t1)) for a, b in dead if b > t0 and a < t1]
    return max(0.0, (t1 - t0) - _union_length(clipped))


def _bump(data: SessionData, start: float) -> float | None:
    """Size of the EDA artefact flagged at ``start``: the largest deviation from the level
    just before it (µS), None without EDA samples round it."""
    eda = data.roles.get("eda")
    if eda is None:
        return None
    t, v = eda.timestamps, eda.values
    before = v[(t >= start - BUMP_BEFORE[0]) & (t < start - BUMP_BEFORE[1])]
    around = v[(t >= start - BUMP_BEFORE[1]) & (t <= start + BUMP_AFTER)]
    if before.size < 8 or around.size < 8:
        return None
    return float(np.max(np.abs(around - np.median(before))))


def _artefacts(
    data: SessionData, dropouts: list[tuple[str, float, float | None]], t0: float, t1: float
) -> tuple[int, float, tuple[float, ...]]:
    """Artefacts flagged, the seconds in which a new one could have been flagged, and the
    sizes of the EDA ones (µS)."""
    if "eda" not in data.roles:
        return 0, 0.0, ()
    flags = _artefact_flags(data)
    near = np.asarray([t for _, a, b in dropouts for t in (a, b) if t is not None])
    count, last, sizes = 0, -math.inf, []
    for t in sorted({start for _, start in flags}):
        if near.size and float(np.min(np.abs(near - t))) <= DROPOUT_EDGE:
            continue
        if t - last > SAME_ARTEFACT:
            count += 1
        last = t
        if ("eda", t) in flags and (size := _bump(data, t)) is not None:
            sizes.append(size)
    return count, _live_seconds(flags, dropouts, t0, t1), tuple(sizes)


def _noise(data: SessionData, role: str) -> float | None:
    """White-noise sd of a waveform role from its second differences (None if unknown)."""
    signal = data.roles.get(role)
    if signal is None or not signal.is_waveform or signal.values.size < 100:
        return None
    v, t = signal.values, signal.timestamps
    step = np.diff(t)
    period = float(np.median(step))
    even = (step[1:] < 1.5 * period) & (step[:-1] < 1.5 * period)
    d2 = (v[2:] - 2.0 * v[1:-1] + v[:-2])[even]
    d2 = d2[np.isfinite(d2)]
    if d2.size < 100:
        return None
    return float(np.median(np.abs(d2)) / 0.6745 / math.sqrt(6.0))


def sensor_counts(data: SessionData, origin: float, end: float) -> SensorCounts:
    """The dropouts, artefacts and noise one recording shows (see the module docstring).

    ``origin`` and ``end`` are the session's start (session clock) and its length in s.
    """
    hours = max(end, 0.0) / 3600.0
    roles = [r for r in data.roles if r in _FAULT_ROLES]
    dropouts = _dropouts(data, origin + end)
    durations = tuple(b - a for _, a, b in dropouts if b is not None and b > a)
    artifacts, live, sizes = _artefacts(data, dropouts, origin, origin + end)
    return SensorCounts(
        session_hours=hours,
        stream_hours=hours * len(roles),
        dropouts=len(dropouts),
        dropout_durations=durations,
        artifacts=artifacts,
        live_hours=live / 3600.0,
        artifact_sizes_us=sizes,
        ecg_noise_mv=_noise(data, "heart"),
        eda_noise_us=_noise(data, "eda"),
        eda_dead=_eda_dead(data, dropouts, origin, end),
    )


def _eda_dead(
    data: SessionData, dropouts: list[tuple[str, float, float | None]], origin: float, end: float
) -> tuple[tuple[float, float], ...]:
    """:attr:`SensorCounts.eda_dead`: merged, clipped to the session, from its start."""
    if "eda" not in data.roles:
        return ()
    stop = origin + end
    spans = [
        (start - SCR_DROP_BEFORE_ARTIFACT, stop if flag_end is None else flag_end)
        for (_, start), flag_end in _artefact_flags(data).items()
    ]
    spans += [(a, stop if b is None else b) for role, a, b in dropouts if role == "eda"]
    merged: list[list[float]] = []
    for a, b in sorted((max(a, origin), min(b, stop)) for a, b in spans):
        if b <= a:
            continue
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return tuple((a - origin, b - origin) for a, b in merged)


def _pooled_noise(values: list[float | None], default: float, upper: float) -> float:
    known = [v for v in values if v is not None]
    if not known:
        return default
    value = float(np.median(known))
    return _g4(min(value, upper)) if value > NOISIER * default else default


def _g4(value: float) -> float:
    """Four significant digits (what the profile YAML shows)."""
    return float(f"{value:.4g}")


def estimate_sensors(counts: list[SensorCounts]) -> SensorEstimate:
    """The course's sensor faults, pooled over its sessions (see the module docstring)."""
    stream_hours = sum(c.stream_hours for c in counts)
    session_hours = sum(c.session_hours for c in counts)
    dropouts = sum(c.dropouts for c in counts)
    artifacts = sum(c.artifacts for c in counts)
    durations = [d for c in counts for d in c.dropout_durations]
    drop_rate = dropouts / stream_hours if stream_hours > 0 else 0.0
    live_hours = sum(c.live_hours for c in counts)
    art_rate = artifacts / live_hours if live_hours > 0 else 0.0
    duration = float(np.median(durations)) if durations else _DEFAULTS.dropout_duration
    sizes = [x for c in counts for x in c.artifact_sizes_us]
    size = float(np.median(sizes)) / SIZE_MEDIAN if sizes else _DEFAULTS.artifact_us
    notes = []
    if durations and float(np.max(durations)) > 120.0:
        notes.append("a dropout lasted over 120 s; dropout_duration is capped at 120 s")
    return SensorEstimate(
        dropout_rate_per_hour=_g4(min(drop_rate, 120.0)),
        dropout_duration=_g4(min(max(duration, 0.5), 120.0)),
        artifact_rate_per_hour=_g4(min(art_rate, 600.0)),
        artifact_us=_g4(min(size, 5.0)) if sizes else size,
        ecg_noise_mv=_pooled_noise([c.ecg_noise_mv for c in counts], _DEFAULTS.ecg_noise_mv, 0.5),
        eda_noise_us=_pooled_noise([c.eda_noise_us for c in counts], _DEFAULTS.eda_noise_us, 0.2),
        dropouts=dropouts,
        artifacts=artifacts,
        stream_hours=round(stream_hours, 4),
        session_hours=round(session_hours, 4),
        live_hours=round(live_hours, 4),
        notes=notes,
    )
