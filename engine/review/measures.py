"""Per-session outcome measures, computed from what the clinician report shows.

Every figure is taken from :func:`engine.report.model.build_model` (the model the session's
HTML report renders), so a measure and the report never disagree: the highest step is the
highest step of the report's decisions, the SUDS values are its answers, time in window its
arousal-window share, % valid signal the lowest "Valid" of its signal-quality table, and
HR/SCL reactivity the peaks of its "Habituation per step" rows minus the baseline marker's
reference. The columns, their units and meaning are :data:`COLUMNS` (``docs/outcomes.md``).

A value that cannot be computed (no features, no SUDS answer, a session stopped during its
baseline) is ``None`` (an empty cell), never a guess.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from engine.export.recording import Marker, SessionData
from engine.report.model import ReportModel, build_model
from therapies.prompts import SCALES

__all__ = [
    "COLUMNS",
    "STEP_COLUMNS",
    "Column",
    "column_kind",
    "columns_for",
    "measures_from_model",
    "session_measures",
    "step_column",
]

Value = str | int | float | None


@dataclass(frozen=True)
class Column:
    """One column of the outcome table: name, unit (``""`` when none), type and meaning."""

    name: str
    unit: str
    kind: str  # "str", "int" or "float"
    doc: str


COLUMNS: tuple[Column, ...] = (
    Column("session", "", "str", "session folder relative to the sessions folder"),
    Column("participant", "", "str", "pseudonymous participant ID"),
    Column("date", "UTC", "str", "when the recording started (ISO 8601, UTC)"),
    Column("protocol", "", "str", "protocol name"),
    Column("scene", "", "str", "scene name"),
    Column("status", "", "str", "ok, or what is wrong with the folder (see docs/outcomes.md)"),
    Column("problems", "", "str", "one sentence per problem found, '; '-separated"),
    Column("sealed", "", "int", "1 when the recording is encrypted at rest"),
    Column("duration_s", "s", "float", "session duration (the report's 'Duration')"),
    Column("end_state", "", "str", "finished, aborted, ... (the report's 'End state')"),
    Column("end_reason", "", "str", "why the session ended (the report's 'End reason')"),
    Column("steps_total", "", "int", "steps in the protocol's hierarchy"),
    Column("highest_step", "step (1-based)", "int", "highest hierarchy step reached"),
    Column("predicted_suds", "SUDS 0-100", "float", "first answer to the predicted-SUDS prompt"),
    Column("peak_suds", "SUDS 0-100", "float", "highest SUDS answer"),
    Column("end_suds", "SUDS 0-100", "float", "last SUDS answer"),
    Column("expectancy_violation", "SUDS 0-100", "float", "predicted_suds - peak_suds"),
    Column("within_session_change", "SUDS 0-100", "float", "peak_suds - end_suds"),
    Column("suds_answers", "count", "int", "SUDS answers given"),
    Column("prompts_asked", "count", "int", "prompts shown (every kind)"),
    Column("prompts_answered", "count", "int", "prompts answered (every kind)"),
    Column("prompts_timed_out", "count", "int", "prompts closed unanswered"),
    Column("time_in_window_pct", "%", "float", "arousal inside the window, share of known time"),
    Column("arousal_known_s", "s", "float", "time with a valid arousal after the baseline"),
    Column("valid_signal_pct", "%", "float", "lowest 'Valid' of the signal-quality rows"),
    Column("safety_events", "count", "int", "intensity decisions taken by the safety layer"),
    Column("override_events", "count", "int", "therapist decisions, plus a requested stop"),
    Column("baseline_hr_bpm", "bpm", "float", "heart rate reference set by the baseline"),
    Column("baseline_scl_us", "uS", "float", "skin conductance reference set by the baseline"),
    Column("max_hr_bpm", "bpm", "float", "highest heart rate in the session features"),
)
"""The fixed columns, in table order; per-step columns follow (:data:`STEP_COLUMNS`)."""

STEP_COLUMNS: tuple[Column, ...] = (
    Column("hr_peak_step{k}_bpm", "bpm", "float", "highest HR peak of the stretches at step k"),
    Column("hr_reactivity_step{k}_bpm", "bpm", "float", "hr_peak_step{k} - baseline_hr_bpm"),
    Column("scl_peak_step{k}_us", "uS", "float", "highest SCL peak of the stretches at step k"),
    Column("scl_reactivity_step{k}_us", "uS", "float", "scl_peak_step{k} - baseline_scl_us"),
)
"""Per hierarchy step ``k`` (1-based), for each step any session of the table reached."""

_STEP_NAME = re.compile(r"^(hr|scl)_(peak|reactivity)_step(\d+)_(bpm|us)$")
PREDICTED = "predicted_suds"


def step_column(template: Column, k: int) -> str:
    """The name of ``template`` (from :data:`STEP_COLUMNS`) for step ``k``."""
    return template.name.format(k=k)


def column_kind(name: str) -> str:
    """``str``, ``int`` or ``float``: the type of column ``name`` (step columns are floats)."""
    for c in COLUMNS:
        if c.name == name:
            return c.kind
    return "float" if _STEP_NAME.match(name) else "str"


def columns_for(rows: list[dict[str, Value]]) -> list[str]:
    """Column names for ``rows``: :data:`COLUMNS`, then the step columns of every step any
    row has, step by step."""
    steps: set[int] = set()
    for row in rows:
        for name in row:
            match = _STEP_NAME.match(name)
            if match:
                steps.add(int(match.group(3)))
    names = [c.name for c in COLUMNS]
    for k in sorted(steps):
        names += [step_column(c, k) for c in STEP_COLUMNS]
    return names


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _header(model: ReportModel, key: str) -> str:
    return next((v for k, v in model.header if k == key), "")


def _answers(markers: list[Marker], event: str) -> list[float]:
    """Values of the answered prompts of kind ``event``, in time order."""
    out = []
    for m in markers:
        if m.kind == event and m.event.get("kind") == "answered":
            value = _num(m.event.get("value"))
            if value is not None:
                out.append(value)
    return out


def _prompts(markers: list[Marker]) -> dict[str, int]:
    counts = {"asked": 0, "answered": 0, "timeout": 0}
    kinds = {*SCALES, PREDICTED}
    for m in markers:
        state = m.event.get("kind")
        if m.kind in kinds and isinstance(state, str) and state in counts:
            counts[state] += 1
    return counts


def _steps(model: ReportModel, base_hr: float | None, base_scl: float | None) -> dict[str, Value]:
    peaks: dict[int, list[float | None]] = {}
    for row in model.steps:
        if row.step is None:
            continue
        hr, scl = peaks.setdefault(row.step + 1, [None, None])
        if row.hr_peak is not None:
            peaks[row.step + 1][0] = row.hr_peak if hr is None else max(hr, row.hr_peak)
        if row.scl_peak is not None:
            peaks[row.step + 1][1] = row.scl_peak if scl is None else max(scl, row.scl_peak)
    out: dict[str, Value] = {}
    for k, (hr, scl) in sorted(peaks.items()):
        out[f"hr_peak_step{k}_bpm"] = hr
        out[f"hr_reactivity_step{k}_bpm"] = _diff(hr, base_hr)
        out[f"scl_peak_step{k}_us"] = scl
        out[f"scl_reactivity_step{k}_us"] = _diff(scl, base_scl)
    return out


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _valid_pct(model: ReportModel) -> float | None:
    values = [q.valid_pct for q in model.quality if q.valid_pct is not None]
    return min(values) if values else None


def _max_hr(model: ReportModel) -> float | None:
    hr = model.series.get("feat_hr")
    if hr is None or hr.size == 0:
        return None
    finite = hr[~(hr != hr)]  # drop NaN
    return float(finite.max()) if finite.size else None


def _steps_total(summary: dict[str, Any]) -> int | None:
    total, hierarchy = summary.get("steps_total"), summary.get("hierarchy")
    if isinstance(total, int) and not isinstance(total, bool):
        return total
    return len(hierarchy) if isinstance(hierarchy, list) else None


def measures_from_model(
    model: ReportModel, data: SessionData, summary: dict[str, Any]
) -> dict[str, Value]:
    """The measures of one session from its report model (see the module docstring).

    Returns the columns of :data:`COLUMNS` that come from the recording (``session``,
    ``status``, ``problems`` and ``sealed`` are the caller's) and the per-step columns.
    """
    steps = [d.step + 1 for d in model.decisions if d.step is not None]
    suds = _answers(data.markers, "suds")
    predicted = _answers(data.markers, PREDICTED)
    prompts = _prompts(data.markers)
    base = next(iter(data.events("baseline")), None)
    base_hr = _num(base.event.get("hr_bpm")) if base is not None else None
    base_scl = _num(base.event.get("scl_us")) if base is not None else None
    duration = _num(summary.get("duration_s"))
    reason = _header(model, "End reason")
    overrides = sum(1 for d in model.decisions if d.source == "therapist")
    out: dict[str, Value] = {
        "participant": data.header.get("participant") or None,
        "date": data.header.get("datetime") or None,
        "protocol": _header(model, "Protocol"),
        "scene": _header(model, "Scene"),
        "duration_s": duration if duration is not None else model.duration,
        "end_state": _header(model, "End state"),
        "end_reason": reason,
        "steps_total": _steps_total(summary),
        "highest_step": max(steps) if steps else None,
        "predicted_suds": predicted[0] if predicted else None,
        "peak_suds": max(suds) if suds else None,
        "end_suds": suds[-1] if suds else None,
        "suds_answers": len(suds),
        "prompts_asked": prompts["asked"],
        "prompts_answered": prompts["answered"],
        "prompts_timed_out": prompts["timeout"],
        "time_in_window_pct": model.window_stats.get("inside_pct"),
        "arousal_known_s": model.window_stats.get("known_s"),
        "valid_signal_pct": _valid_pct(model),
        "safety_events": sum(1 for d in model.decisions if d.source == "safety"),
        "override_events": overrides + (1 if reason.startswith("stop requested") else 0),
        "baseline_hr_bpm": base_hr,
        "baseline_scl_us": base_scl,
        "max_hr_bpm": _max_hr(model),
    }
    out["expectancy_violation"] = _diff(_num(out["predicted_suds"]), _num(out["peak_suds"]))
    out["within_session_change"] = _diff(_num(out["peak_suds"]), _num(out["end_suds"]))
    out.update(_steps(model, base_hr, base_scl))
    return out


def session_measures(data: SessionData, summary: dict[str, Any]) -> dict[str, Value]:
    """:func:`measures_from_model` of the report model of ``data`` and ``summary``."""
    return measures_from_model(build_model(data, summary), data, summary)
