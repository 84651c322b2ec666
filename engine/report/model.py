"""What a clinician report shows, computed from a loaded recording (no HTML, no plotting).

All times in the model are seconds from the first physiology sample (``t0``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.errors import RecordingError
from engine.export.recording import Marker, SessionData
from engine.report.analysis import (
    Beats,
    Gaps,
    Responses,
    beats_from_ecg,
    flag_intervals,
    rmssd_windows,
    scr_from_eda,
    signal_gaps,
    union_length,
)

__all__ = ["Answer", "Decision", "QualityRow", "ReportModel", "StepRow", "build_model"]

_ECG_TYPES = ("ECG",)
_EDA_TYPES = ("EDA", "GSR")
_ANSWER_KINDS = ("suds", "nrs")
_ANSWER_KEYS = ("value", "answer", "score", "rating")
_END_WINDOW_S = 30.0


@dataclass(frozen=True)
class Decision:
    """One intensity decision."""

    time: float
    previous: float | None
    target: float | None
    step: int | None
    source: str
    reason: str


@dataclass(frozen=True)
class Answer:
    """A SUDS or NRS answer."""

    time: float
    kind: str
    value: float | None
    text: str


@dataclass(frozen=True)
class StepRow:
    """Habituation within one stretch at a constant intensity target."""

    start: float
    end: float
    step: int | None
    target: float | None
    source: str
    hr_peak: float | None
    hr_end: float | None
    scl_peak: float | None
    scl_end: float | None
    answers: str


@dataclass(frozen=True)
class QualityRow:
    """Signal quality of one role (flags) or stream (data gaps)."""

    name: str
    valid_pct: float | None
    flags: str
    dropouts: int
    dropout_s: float


@dataclass
class ReportModel:
    """Everything the report shows."""

    header: list[tuple[str, str]]
    duration: float
    decisions: list[Decision]
    steps: list[StepRow]
    answers: list[Answer]
    quality: list[QualityRow]
    frames: dict[str, float]
    window: tuple[float, float] | None
    window_source: str
    window_stats: dict[str, float]
    series: dict[str, np.ndarray] = field(default_factory=dict)
    events: list[tuple[float, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _decisions(data: SessionData, t0: float) -> list[Decision]:
    out = []
    for m in data.events("intensity"):
        e = m.event
        step = e.get("step")
        out.append(
            Decision(
                m.time - t0,
                _num(e.get("previous")),
                _num(e.get("target")),
                int(step) if isinstance(step, int) and not isinstance(step, bool) else None,
                str(e.get("source", "")),
                str(e.get("reason", e.get("text", ""))),
            )
        )
    return out


def _answers(data: SessionData, t0: float) -> list[Answer]:
    out = []
    for m in data.markers:
        if m.kind.lower() not in _ANSWER_KINDS:
            continue
        value = next((_num(m.event.get(k)) for k in _ANSWER_KEYS if k in m.event), None)
        out.append(Answer(m.time - t0, m.kind.upper(), value, m.text))
    return out


def _stats(t: np.ndarray, v: np.ndarray, a: float, b: float) -> tuple[float | None, float | None]:
    """Peak within [a, b) and median of its last 30 s (finite values only)."""
    sel = (t >= a) & (t < b) & np.isfinite(v)
    if not sel.any():
        return None, None
    tt, vv = t[sel], v[sel]
    tail = vv[tt >= max(a, b - _END_WINDOW_S)]
    return float(vv.max()), float(np.median(tail if tail.size else vv[-1:]))


def _steps(model: ReportModel, end: float) -> list[StepRow]:
    t_f = model.series.get("feat_t", np.zeros(0))
    hr, scl = model.series.get("feat_hr", np.zeros(0)), model.series.get("feat_scl", np.zeros(0))
    rows = []
    for i, d in enumerate(model.decisions):
        b = model.decisions[i + 1].time if i + 1 < len(model.decisions) else end
        if b <= d.time:
            continue
        hp, he = _stats(t_f, hr, d.time, b)
        sp, se = _stats(t_f, scl, d.time, b)
        ans = ", ".join(
            f"{a.kind} {a.value:g}" if a.value is not None else a.kind
            for a in model.answers
            if d.time <= a.time < b
        )
        rows.append(StepRow(d.time, b, d.step, d.target, d.source, hp, he, sp, se, ans))
    return rows


def _window(data: SessionData, summary: dict[str, Any]) -> tuple[tuple[float, float] | None, str]:
    candidates: list[tuple[Any, str]] = [
        (summary.get("arousal_window"), "summary.json"),
        ((summary.get("controller") or {}).get("arousal_window"), "summary.json (controller)"),
    ]
    candidates += [(m.event.get("arousal_window"), f"{m.kind} marker") for m in data.markers]
    for value, source in candidates:
        if isinstance(value, list | tuple) and len(value) == 2:
            lo, hi = _num(value[0]), _num(value[1])
            if lo is not None and hi is not None and lo < hi:
                return (lo, hi), source
    return None, "unknown: neither summary.json nor the markers name the arousal window"


def _window_stats(model: ReportModel, active_from: float, end: float) -> dict[str, float]:
    t, ar = model.series.get("feat_t", np.zeros(0)), model.series.get("feat_arousal", np.zeros(0))
    if t.size == 0:
        return {}
    hold = np.diff(np.append(t, end))
    sel = (t >= active_from) & np.isfinite(ar) & (hold > 0)
    known = float(hold[sel].sum())
    stats = {
        "known_s": known,
        "unknown_s": float(hold[(t >= active_from) & ~np.isfinite(ar)].sum()),
    }
    if model.window is not None and known > 0:
        lo, hi = model.window
        a, h = ar[sel], hold[sel]
        stats["inside_pct"] = 100.0 * float(h[(a >= lo) & (a <= hi)].sum()) / known
        stats["below_pct"] = 100.0 * float(h[a < lo].sum()) / known
        stats["above_pct"] = 100.0 * float(h[a > hi].sum()) / known
    return stats


def _quality(data: SessionData, t0: float, end: float, gaps: dict[str, Gaps]) -> list[QualityRow]:
    rows = []
    span = max(end, 1e-9)
    for role, items in sorted(flag_intervals(data.markers, end + t0).items()):
        covered = union_length([(a - t0, b - t0) for _, a, b in items])
        kinds: dict[str, int] = {}
        for flag, _, _ in items:
            kinds[flag] = kinds.get(flag, 0) + 1
        drops = [(a, b) for flag, a, b in items if flag == "dropout"]
        rows.append(
            QualityRow(
                f"role {role} (quality flags)",
                max(0.0, 100.0 * (1.0 - covered / span)),
                ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items())) or "none",
                len(drops),
                union_length(drops),
            )
        )
    for name, g in gaps.items():
        valid = max(0.0, 100.0 * (1.0 - g.total_s / span))
        rows.append(QualityRow(f"stream {name} (sample gaps)", valid, "-", g.count, g.total_s))
    return rows


def _frames(data: SessionData) -> dict[str, float]:
    if data.frames is None or data.frames.timestamps.size == 0:
        return {}
    cpu = data.frames.values[:, 0].astype(np.float64)
    t = data.frames.timestamps
    span = float(t[-1] - t[0])
    return {
        "frames": float(t.size),
        "cpu_p50": float(np.nanpercentile(cpu, 50)),
        "cpu_p99": float(np.nanpercentile(cpu, 99)),
        "cpu_max": float(np.nanmax(cpu)),
        "rate": (t.size - 1) / span if span > 0 else 0.0,
    }


def _physiology(model: ReportModel, data: SessionData, t0: float, end: float) -> dict[str, Gaps]:
    gaps: dict[str, Gaps] = {}
    beats: Beats | None = None
    scr: Responses | None = None
    for s in data.physiology:
        gaps[s.name] = signal_gaps(s.timestamps, s.nominal_srate)
        kind, x = s.type.upper(), s.samples[:, 0].astype(np.float64)
        if kind in _ECG_TYPES and beats is None and s.nominal_srate >= 100:
            beats = beats_from_ecg(x, s.timestamps, s.nominal_srate)
            model.series["beat_t"], model.series["beat_hr"] = beats.hr_times - t0, beats.hr_bpm
            rm = rmssd_windows(beats, t0, t0 + end)
            model.series["rmssd_t"], model.series["rmssd"] = rm[:, 0] - t0, rm[:, 1]
        elif kind in _EDA_TYPES and scr is None and 4 <= s.nominal_srate <= 1000:
            scr = scr_from_eda(x, s.timestamps, s.nominal_srate)
            model.series["eda_t"], model.series["eda"] = s.timestamps - t0, x
            model.series["scr_t"], model.series["scr_amp"] = scr.peak_times - t0, scr.amplitudes
        elif kind == "HR" and "hr_stream" not in model.series:
            model.series["hr_stream_t"], model.series["hr_stream"] = s.timestamps - t0, x
    if beats is None:
        model.notes.append(
            "No ECG stream at >= 100 Hz: R-peaks, beat-to-beat HR and HRV not shown."
        )
    if scr is None:
        model.notes.append("No EDA/GSR stream: skin conductance and SCRs not shown.")
    return gaps


def _header(data: SessionData, summary: dict[str, Any], end: float) -> list[tuple[str, str]]:
    h = data.header
    duration = _num(summary.get("duration_s"))
    dur = duration if duration is not None else end
    state = summary.get("state") or next(
        (str(m.event.get("state")) for m in data.events("stop")), ""
    )
    reason = summary.get("reason") or next((m.text for m in data.events("stop")), "")
    return [
        ("Protocol", str(summary.get("protocol") or h.get("protocol") or "unknown")),
        ("Scene", str(summary.get("scene") or "unknown")),
        ("Software", str(summary.get("software") or h.get("software") or "unknown")),
        ("Participant (pseudonym)", h.get("participant") or "not recorded"),
        ("Recorded (UTC)", h.get("datetime") or "unknown"),
        ("Duration", f"{round(dur * 10) // 600} min {round(dur * 10) % 600 / 10:04.1f} s"),
        ("End state", str(state or "unknown")),
        ("End reason", str(reason or "unknown")),
        ("Recording file", data.path.name),
    ]


def build_model(data: SessionData, summary: dict[str, Any]) -> ReportModel:
    """Compute the report's content from a loaded recording and its ``summary.json``."""
    t0 = data.t0
    end = data.t_end - t0
    if end <= 0:
        raise RecordingError(f"{data.path}: the recording spans no time")
    window, window_source = _window(data, summary)
    model = ReportModel(
        _header(data, summary, end),
        end,
        _decisions(data, t0),
        [],
        _answers(data, t0),
        [],
        {},
        window,
        window_source,
        {},
    )
    if data.features is not None and data.features.timestamps.size:
        f = data.features
        model.series["feat_t"] = f.timestamps - t0
        for key, label in (("hr", "heart_rate"), ("scl", "scl"), ("arousal", "arousal")):
            model.series[f"feat_{key}"] = (
                f.column(label) if label in f.labels else np.full(f.timestamps.size, np.nan)
            )
    if data.intensity is not None:
        model.series["int_t"] = data.intensity.timestamps - t0
        model.series["int"] = data.intensity.values[:, 0].astype(np.float64)
    gaps = _physiology(model, data, t0, end)
    model.steps = _steps(model, end)
    active = next((m.time - t0 for m in data.events("baseline")), 0.0)
    model.window_stats = _window_stats(model, active, end)
    model.quality = _quality(data, t0, end, gaps)
    model.frames = _frames(data)
    model.events = _marked_events(data.markers, t0)
    if data.truncated:
        model.notes.append("The recording ends in a torn chunk (crash?); data up to it is shown.")
    return model


def _marked_events(markers: list[Marker], t0: float) -> list[tuple[float, str, str]]:
    out = []
    for m in markers:
        source = str(m.event.get("source", ""))
        if m.kind == "intensity" and source in ("safety", "therapist"):
            out.append((m.time - t0, source, m.text))
        elif m.kind == "stop":
            out.append((m.time - t0, "stop", m.text))
    return out
