"""What a twin is fitted to: one session's intensity, features and SUDS answers.

:func:`session_trace` reads a loaded recording (:func:`engine.export.recording.load_session`,
sealed recordings decrypted in memory) into a :class:`SessionTrace`: the intensity shown,
the features the controller saw at each tick (heart rate, SCL, SCR rate) and the SUDS
answers, on seconds from the session's start. A recording that cannot be fitted (no
intensity, no heart data, a baseline that never completed) raises :class:`TwinFitError`
with one sentence saying what is missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import VrTherapyError
from engine.export.recording import SessionData
from engine.twinfit.sensors import SensorCounts, sensor_counts

__all__ = ["SessionTrace", "TwinFitError", "check_one_participant", "session_trace"]


class TwinFitError(VrTherapyError):
    """A twin cannot be fitted to (or forecast from) the input given."""


@dataclass(frozen=True)
class SessionTrace:
    """One session as the fit sees it; times are seconds from the session's start.

    ``hr``, ``scl`` and ``scr_rate`` hold NaN where the features were not valid (the
    baseline's first seconds, sensor faults); ``scl`` and ``scr_rate`` are all NaN when
    the session streamed no skin conductance. ``sensors``: the dropouts, artefacts and
    noise the recording shows (:mod:`engine.twinfit.sensors`).
    """

    path: Path
    participant: str
    recorded: str
    protocol: str
    duration: float
    baseline_end: float
    intensity_t: np.ndarray
    intensity: np.ndarray
    feature_t: np.ndarray
    hr: np.ndarray
    scl: np.ndarray
    scr_rate: np.ndarray
    suds_t: np.ndarray
    suds: np.ndarray
    sensors: SensorCounts = field(default_factory=lambda: SensorCounts(0.0, 0.0, 0, (), 0))

    @property
    def name(self) -> str:
        """Short name for messages: the session folder, else the file."""
        return self.path.parent.name if self.path.parent.name else self.path.name

    @property
    def has_eda(self) -> bool:
        """Whether any SCL value is known."""
        return bool(np.isfinite(self.scl).any())

    @property
    def exposure(self) -> bool:
        """Whether the intensity shown ever changed (else nothing shows the response)."""
        return bool(self.intensity.size) and float(np.ptp(self.intensity)) > 1e-3


def _column(data: SessionData, label: str) -> np.ndarray:
    f = data.features
    assert f is not None
    if label in f.labels:
        return f.column(label)
    return np.full(f.timestamps.size, np.nan)


def _answers(data: SessionData, origin: float) -> tuple[np.ndarray, np.ndarray]:
    times, values = [], []
    for m in data.events("suds"):
        value = m.event.get("value")
        if m.event.get("kind", "answered") != "answered":
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value):
            times.append(m.time - origin)
            values.append(float(value))
    return np.asarray(times, dtype=np.float64), np.asarray(values, dtype=np.float64)


def _origin(data: SessionData) -> float:
    """The session's start: its ``start`` marker, else the first intensity sample."""
    start = next(iter(data.events("start")), None)
    if start is not None:
        return start.time
    assert data.intensity is not None
    return float(np.min(data.intensity.timestamps))


def session_trace(data: SessionData) -> SessionTrace:
    """The fit's view of a loaded recording.

    Raises
    ------
    TwinFitError
        No intensity stream (or no sample in it), no heart rate in the features, or a
        session that ended before its baseline was complete.
    """
    path = data.path
    if data.intensity is None or data.intensity.timestamps.size == 0:
        raise TwinFitError(
            f"{path}: no intensity recorded (stream vrtherapy-intensity is missing or empty): "
            f"a twin is fitted to how the patient responded to the intensity shown"
        )
    hr = _column(data, "heart_rate") if data.features is not None else np.zeros(0)
    if data.features is None or not np.isfinite(hr).any():
        roles = ", ".join(sorted(data.roles)) or "none"
        raise TwinFitError(
            f"{path}: no heart data: the features stream holds no heart rate (roles "
            f"recorded: {roles}); a twin needs a heart, ppg or hr role"
        )
    origin = _origin(data)
    end = max(data.t_end, float(np.max(data.intensity.timestamps))) - origin
    baseline = next(iter(data.events("baseline")), None)
    if baseline is None:
        raise TwinFitError(
            f"{path}: the session ended at {end:.0f} s, before its baseline was complete: "
            f"there is no resting reference and no exposure to fit"
        )
    f = data.features
    suds_t, suds = _answers(data, origin)
    return SessionTrace(
        path=path,
        participant=data.header.get("participant", ""),
        recorded=data.header.get("datetime", ""),
        protocol=data.header.get("protocol", ""),
        duration=float(end),
        baseline_end=float(baseline.time - origin),
        intensity_t=data.intensity.timestamps - origin,
        intensity=data.intensity.values[:, 0].astype(np.float64),
        feature_t=f.timestamps - origin,
        hr=hr,
        scl=_column(data, "scl"),
        scr_rate=_column(data, "scr_rate"),
        suds_t=suds_t,
        suds=suds,
        sensors=sensor_counts(data, origin, float(end)),
    )


def check_one_participant(traces: list[SessionTrace]) -> None:
    """Refuse sessions of different participants in one fit (one twin per person).

    Raises
    ------
    TwinFitError
        Naming the first two sessions whose participants differ.
    """
    first = traces[0]
    for other in traces[1:]:
        if other.participant != first.participant:
            raise TwinFitError(
                f"sessions of different participants in one fit: {first.path} is "
                f"{first.participant or 'unnamed'}, {other.path} is "
                f"{other.participant or 'unnamed'}; a twin is fitted to one participant's "
                f"sessions"
            )
