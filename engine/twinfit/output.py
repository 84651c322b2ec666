"""Writing a fitted twin: the profile YAML (``--patient`` loads it) and its JSON sidecar.

``patient.yaml`` holds the fitted values, each with its 95 % interval or the reason it was
not identifiable in a comment, and goodness of fit in the header. ``patient.fit.json``
beside it (:func:`sidecar_path`) holds the same figures as data (the sensors' faults,
estimated from the quality flags, under ``sensors``), plus the bootstrap samples and the
session-to-session spread of resting levels that ``vrtherapy simulate --runs`` draws from
(:mod:`engine.twinfit.samples`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine import __version__
from engine.atomic import write_text_atomic
from engine.errors import VrTherapyError
from engine.twinfit.params import PARAMS
from engine.twinfit.result import Estimate, FitResult, Status
from engine.twinfit.sensors import SensorEstimate

__all__ = ["SIDECAR_FORMAT", "fit_json", "profile_yaml", "sidecar_path", "write_fit"]

SIDECAR_FORMAT = 1
_ORDER = (
    "resting_hr",
    "resting_scl",
    "reactivity",
    "response_lag",
    "habituation_tau",
    "habituation_floor",
    "max_scl_gain",
    "scl_lag",
    "scr_rate_rest",
    "scr_rate_gain",
    "suds_scale",
    "between_session_rate",
    "max_hr_gain",
)
_UNITS = {"resting_hr": "bpm", "resting_scl": "uS", "max_hr_gain": "bpm"}


def sidecar_path(profile: Path) -> Path:
    """``patient.yaml`` -> ``patient.fit.json`` (same folder)."""
    return profile.with_name(profile.stem + ".fit.json")


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _comment(e: Estimate) -> str:
    unit = _UNITS.get(e.name) or (PARAMS[e.name].unit if e.name in PARAMS else "")
    unit = f" {unit}" if unit else ""
    if e.status is Status.FITTED and e.low is not None and e.high is not None:
        return f"fitted{unit}; 95% interval {_fmt(e.low)}..{_fmt(e.high)}"
    if e.status is Status.WEAK and e.low is not None and e.high is not None:
        return f"WEAKLY IDENTIFIED{unit}; 95% interval {_fmt(e.low)}..{_fmt(e.high)}: {e.reason}"
    if e.status is Status.HELD:
        return f"held{unit}: {e.reason}"
    return f"NOT IDENTIFIABLE, population default{unit}: {e.reason}"


def _header(result: FitResult, sidecar: Path) -> list[str]:
    first, last = result.sessions[0], result.sessions[-1]
    lines = [
        f"Patient twin fitted by `vrtherapy twin fit` (vrtherapy {__version__}), "
        f"{datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}.",
        f"Participant {result.participant or '(not recorded)'} (pseudonym): "
        f"{len(result.sessions)} session(s), {first.recorded or '?'} .. {last.recorded or '?'}.",
        "Derived from health data and NOT encrypted: keep it with the participant's records,",
        "outside the sessions folder.",
        f"It plays the session after the last one fitted (session: {len(result.sessions)});",
        "forecast it with `vrtherapy simulate PROTOCOL --patient THIS.yaml --runs 50`.",
        f"Uncertainty, goodness of fit and bootstrap samples: {sidecar.name}.",
        f"Fit: {'converged' if result.converged else 'NOT converged'} ({result.message}); "
        f"{result.evaluations} model evaluations, {result.seconds:.1f} s.",
        "",
        "Goodness of fit (all sessions):",
    ]
    for g in result.goodness:
        if g.n:
            r2 = "n/a" if g.r2 is None else f"{g.r2:.3f}"
            lines.append(f"  {g.signal:5s} RMSE {g.rmse:.3g} {g.unit}, R^2 {r2} ({g.n} values)")
    lines.append("Sessions (course order; resting levels that day):")
    for k, s in enumerate(result.sessions):
        scl = "" if s.resting_scl is None else f", SCL {s.resting_scl:.2f} uS"
        rmse = s.rmse.get("hr")
        fit = "" if rmse is None else f", HR RMSE {rmse:.2f} bpm"
        lines.append(
            f"  {k}: {s.recorded or '?'} {s.protocol or '?'} {s.duration_s / 60:.1f} min, "
            f"resting HR {s.resting_hr:.1f} bpm{scl}{fit}"
        )
    lines.append("Fields not given take the typical twin's defaults (seeds/patients/typical.yaml).")
    return ["# " + line if line else "#" for line in lines]


def profile_yaml(result: FitResult, name: str, sidecar: Path) -> str:
    """The fitted profile as commented YAML."""
    profile = result.profile(name)
    lines = [*_header(result, sidecar), "", f"name: {name}"]
    for key in _ORDER:
        if key not in result.estimates:
            continue
        field = "scr_rate_max" if key == "scr_rate_gain" else key
        value = getattr(profile, field)
        note = _comment(result.estimates[key])
        if key == "scr_rate_gain":
            note = "scr_rate_rest + gain " + _fmt(result.value(key)) + "/min; " + note
        lines.append(f"{field + ':':22s} {_fmt(value):10s} # {note}")
    lines += [
        "",
        "# Course of treatment",
        f"session: {profile.session}                 # the next session (0 = first fitted)",
        "resting_hr_shifts: ["
        + ", ".join(_fmt(v) for v in profile.resting_hr_shifts)
        + "]  # bpm per fitted session",
    ]
    if result.eda:
        lines.append(
            "resting_scl_shifts: ["
            + ", ".join(_fmt(v) for v in profile.resting_scl_shifts)
            + "]  # uS per fitted session"
        )
    if result.sensors is not None:
        lines += _sensor_lines(result.sensors)
    return "\n".join(lines) + "\n"


def _sensor_lines(s: SensorEstimate) -> list[str]:
    """The sensors' faults: estimates from the recordings' quality flags, not fitted."""
    lines = [
        "",
        "# Sensors: estimates from the recordings' quality flags and raw samples (not the model",
        f"# fit): {s.dropouts} dropout flag(s) in {s.stream_hours:.3g} stream-hours, "
        f"{s.artifacts} artefact flag(s) in {s.live_hours:.3g} h of {s.session_hours:.3g} h",
        "# without an open flag or dropout. The ECG artefacts' size is not estimated.",
        f"dropout_rate_per_hour: {_fmt(s.dropout_rate_per_hour):8s} # per stream",
        f"dropout_duration:      {_fmt(s.dropout_duration):8s} # s, median of the dropouts",
        f"artifact_rate_per_hour: {_fmt(s.artifact_rate_per_hour):7s} # per hour of live time",
        f"artifact_us:           {_fmt(s.artifact_us):8s} # EDA artefacts' size (median)",
        f"ecg_noise_mv:          {_fmt(s.ecg_noise_mv):8s} # raw ECG noise (default unless "
        "clearly noisier)",
        f"eda_noise_us:          {_fmt(s.eda_noise_us):8s} # raw EDA noise (default unless "
        "clearly noisier)",
    ]
    return lines + [f"# note: {n}" for n in s.notes]


def fit_json(result: FitResult, name: str, profile: Path) -> dict[str, Any]:
    """The sidecar's content."""
    return {
        "format": SIDECAR_FORMAT,
        "kind": "vrtherapy twin fit",
        "software": f"vrtherapy {__version__}",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "profile": profile.name,
        "name": name,
        "participant": result.participant,
        "next_session": len(result.sessions),
        "converged": result.converged,
        "message": result.message,
        "seconds": round(result.seconds, 3),
        "evaluations": result.evaluations,
        "estimates": {k: e.to_json() for k, e in result.estimates.items()},
        "population": {k: list(PARAMS[k].population) for k in PARAMS},
        "goodness": [vars(g) for g in result.goodness],
        "sessions": [vars(s) for s in result.sessions],
        "shift_sd": result.shift_sd,
        "samples": result.samples,
        "sensors": None if result.sensors is None else result.sensors.to_json(),
    }


def _write(path: Path, text: str) -> None:
    write_text_atomic(path, text)


def write_fit(result: FitResult, out: Path, name: str, *, force: bool = False) -> tuple[Path, Path]:
    """Write ``out`` (profile YAML) and its sidecar; returns both paths.

    Raises
    ------
    VrTherapyError
        ``out`` or its sidecar exists and ``force`` is false, or they cannot be written.
    """
    sidecar = sidecar_path(out)
    for path in (out, sidecar):
        if path.exists() and not force:
            raise VrTherapyError(f"{path} already exists; pass --force to replace it")
    _write(sidecar, json.dumps(fit_json(result, name, out), indent=1, sort_keys=True) + "\n")
    _write(out, profile_yaml(result, name, sidecar))
    return out, sidecar
