"""The patient twin in a session report: its fit drawn over the recorded HR and SCL.

``vrtherapy report SESSION --twin patient.yaml`` drives the twin's mean response
(:mod:`biosignals.twin_mean`) with the intensity this session showed and draws what the
features would have read (dashed, over the session's own HR and SCL), with the RMSE and
R² of the fit. When the session is one of those the twin was fitted to (its sidecar lists
it), the twin plays that session of its course, that day's resting levels included;
otherwise it plays the session after its fit: the overlay is then a prediction.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biosignals.twin_mean import IntensityCourse, MeanParams, mean_response
from biosignals.twin_profile import TwinProfile
from engine.export.recording import SessionData
from engine.protocol import resolve_seed
from engine.twin_profiles import load_patient
from engine.twinfit.output import sidecar_path
from engine.twinfit.trace import TwinFitError, session_trace

__all__ = ["TwinOverlay", "TwinSummary", "add_twin", "twin_overlay"]

GRID_DT = 0.25


@dataclass(frozen=True)
class TwinOverlay:
    """Which twin to draw, and which session of its course this recording is."""

    profile: TwinProfile
    session: int
    fitted: bool
    source: str

    @property
    def label(self) -> str:
        """Legend text."""
        how = f"fit, session {self.session + 1}" if self.fitted else "prediction"
        return f"twin {self.profile.name} ({how})"


@dataclass(frozen=True)
class TwinSummary:
    """What the report says about the overlay."""

    label: str
    source: str
    fitted: bool
    hr_rmse: float | None
    hr_r2: float | None
    scl_rmse: float | None
    scl_r2: float | None


def _same(a: str, b: Path) -> bool:
    try:
        return os.path.realpath(a) == os.path.realpath(b)
    except (OSError, ValueError):
        return False


def twin_overlay(name_or_path: str, recording: Path) -> TwinOverlay:
    """The twin ``name_or_path`` (a profile file or shipped name) for ``recording``.

    Raises
    ------
    ProtocolError
        The profile cannot be loaded.
    """
    profile = load_patient(name_or_path)
    path = resolve_seed("patients", name_or_path)
    sidecar = sidecar_path(path)
    sessions: list[object] = []
    if sidecar.is_file():
        try:
            sessions = list(json.loads(sidecar.read_text(encoding="utf-8")).get("sessions", []))
        except (OSError, ValueError, AttributeError, RecursionError):
            sessions = []
    for k, s in enumerate(sessions):
        if isinstance(s, dict) and _same(str(s.get("path", "")), recording):
            return TwinOverlay(profile, k, True, str(path))
    return TwinOverlay(profile, profile.session, False, str(path))


def _fit_stats(obs: np.ndarray, pred: np.ndarray) -> tuple[float | None, float | None]:
    ok = np.isfinite(obs) & np.isfinite(pred)
    if ok.sum() < 3:
        return None, None
    r = obs[ok] - pred[ok]
    total = float(np.sum((obs[ok] - obs[ok].mean()) ** 2))
    return float(np.sqrt(np.mean(r**2))), (1.0 - float(r @ r) / total if total > 0 else None)


def add_twin(
    series: dict[str, np.ndarray], data: SessionData, overlay: TwinOverlay
) -> TwinSummary | str:
    """Add ``twin_t``, ``twin_hr``, ``twin_scl`` (s from ``data.t0``) to ``series``.

    Returns the summary, or why the overlay cannot be drawn (a recording without
    intensity, heart data or a complete baseline).
    """
    try:
        trace = session_trace(data)
    except TwinFitError as exc:
        return f"The twin is not drawn: {exc}"
    params = MeanParams.from_profile(overlay.profile, overlay.session)
    course = IntensityCourse.from_samples(
        trace.intensity_t, trace.intensity, trace.duration, GRID_DT
    )
    model = mean_response(course, params)
    t = trace.feature_t
    series["twin_t"] = t + _origin_offset(data)
    series["twin_hr"] = model.hr_feature(t)
    hr_rmse, hr_r2 = _fit_stats(trace.hr, series["twin_hr"])
    scl_rmse = scl_r2 = None
    if trace.has_eda:
        series["twin_scl"] = model.scl_feature(t)
        scl_rmse, scl_r2 = _fit_stats(trace.scl, series["twin_scl"])
    return TwinSummary(
        overlay.label, overlay.source, overlay.fitted, hr_rmse, hr_r2, scl_rmse, scl_r2
    )


def _origin_offset(data: SessionData) -> float:
    """Seconds from the report's origin (first physiology sample) to the session start."""
    assert data.intensity is not None
    start = next(iter(data.events("start")), None)
    origin = start.time if start is not None else float(np.min(data.intensity.timestamps))
    return origin - data.t0
