"""What a clinician report shows, computed from a loaded recording (no HTML, no plotting).

All times in the model are seconds from the first physiology sample (``t0``). Partial
recordings (cut off, stopped during the baseline, without features or decisions) give a
model too: a number that cannot be computed is ``None`` and its section says why
(:attr:`ReportModel.reasons`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.export.recording import Marker, SessionData
from engine.report.analysis import Gaps, flag_intervals, union_length
from engine.report.physiology import SourceRow, add_physiology, source_rows

__all__ = [
    "WINDOW_KEYS",
    "Answer",
    "Decision",
    "QualityRow",
    "ReportModel",
    "StepRow",
    "build_model",
    "mmss",
]

#: Keys of :attr:`ReportModel.window_stats` (each ``None`` when n/a).
WINDOW_KEYS = ("inside_pct", "below_pct", "above_pct", "known_s", "unknown_s")
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
    """Everything the report shows.

    ``window_stats`` always holds :data:`WINDOW_KEYS` (``None`` where n/a); ``reasons``
    says why a section's numbers are n/a (keys ``window``, ``steps``, ``frames``,
    ``decisions``, ``quality``; absent when they are all there).
    """

    header: list[tuple[str, str]]
    duration: float
    decisions: list[Decision]
    steps: list[StepRow]
    answers: list[Answer]
    quality: list[QualityRow]
    frames: dict[str, float | None]
    window: tuple[float, float] | None
    window_source: str
    window_stats: dict[str, float | None]
    series: dict[str, np.ndarray] = field(default_factory=dict)
    events: list[tuple[float, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sources: list[SourceRow] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    twin: Any = None
    """The patient twin's overlay (:class:`engine.report.twin_overlay.TwinSummary`), if
    one was asked for."""


def mmss(seconds: float | None) -> str:
    """``mm:ss.s`` (``-`` sign before it for negative times); ``n/a`` for None/NaN."""
    if seconds is None or not math.isfinite(seconds):
        return "n/a"
    sign = "-" if seconds < 0 else ""
    tenths = round(abs(seconds) * 10)
    return f"{sign}{tenths // 600:02d}:{(tenths % 600) / 10:04.1f}"


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


def _cut_off(data: SessionData, t0: float) -> str:
    """Why the session's data ends: its stop marker, or the recording's end."""
    stop = next(iter(data.events("stop")), None)
    if stop is not None:
        return f"the session ended at {mmss(stop.time - t0)} ({stop.text})"
    if data.truncated:
        return f"the recording is cut off at {mmss(data.t_end - t0)} (torn chunk: crash?)"
    return f"the recording ends at {mmss(data.t_end - t0)} without a stop marker"


def _no_arousal_reason(data: SessionData, t0: float, unknown: float) -> str:
    base = next(iter(data.events("baseline")), None)
    why = ""
    unset = base is not None and _num(base.event.get("hr_bpm")) is None
    if unset and base is not None and _num(base.event.get("scl_us")) is None:
        why = "; the baseline set no reference (HR and SCL unknown at its end)"
    return (
        f"n/a: no valid arousal after the baseline (unknown for {mmss(unknown)}{why}); "
        f"{_cut_off(data, t0)}"
    )


def _window_stats(model: ReportModel, data: SessionData, t0: float, end: float) -> None:
    """Fill ``model.window_stats`` (all keys, ``None`` where n/a) and its reason."""
    stats: dict[str, float | None] = dict.fromkeys(WINDOW_KEYS)
    model.window_stats = stats
    t, ar = model.series.get("feat_t", np.zeros(0)), model.series.get("feat_arousal", np.zeros(0))
    base = next(iter(data.events("baseline")), None)
    if t.size == 0:
        model.reasons["window"] = (
            f"n/a: no controller features (arousal) in this recording; {_cut_off(data, t0)}"
        )
        return
    active_from = 0.0 if base is None else base.time - t0
    hold = np.diff(np.append(t, end))
    after = (t >= active_from) & (hold > 0)
    sel = after & np.isfinite(ar)
    known = float(hold[sel].sum())
    stats["known_s"] = known
    stats["unknown_s"] = float(hold[after & ~np.isfinite(ar)].sum())
    if known <= 0 and base is None:
        model.reasons["window"] = (
            f"n/a: no valid arousal; the baseline never completed: {_cut_off(data, t0)}"
        )
    elif known <= 0:
        model.reasons["window"] = _no_arousal_reason(data, t0, stats["unknown_s"] or 0.0)
    elif model.window is None:
        model.reasons["window"] = f"n/a: arousal window {model.window_source}"
    else:
        lo, hi = model.window
        a, h = ar[sel], hold[sel]
        stats["inside_pct"] = 100.0 * float(h[(a >= lo) & (a <= hi)].sum()) / known
        stats["below_pct"] = 100.0 * float(h[a < lo].sum()) / known
        stats["above_pct"] = 100.0 * float(h[a > hi].sum()) / known


def _quality(data: SessionData, t0: float, end: float, gaps: dict[str, Gaps]) -> list[QualityRow]:
    rows = []
    span = end if end > 0 else None

    def valid(lost: float) -> float | None:
        return None if span is None else max(0.0, 100.0 * (1.0 - lost / span))

    for role, items in sorted(flag_intervals(data.markers, end + t0).items()):
        covered = union_length([(a - t0, b - t0) for _, a, b in items])
        kinds: dict[str, int] = {}
        for flag, _, _ in items:
            kinds[flag] = kinds.get(flag, 0) + 1
        drops = [(a, b) for flag, a, b in items if flag == "dropout"]
        rows.append(
            QualityRow(
                f"role {role} (quality flags)",
                valid(covered),
                ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items())) or "none",
                len(drops),
                union_length(drops),
            )
        )
    for name, g in gaps.items():
        rows.append(
            QualityRow(f"stream {name} (sample gaps)", valid(g.total_s), "-", g.count, g.total_s)
        )
    return rows


def _frames(data: SessionData) -> dict[str, float | None]:
    if data.frames is None or data.frames.timestamps.size == 0:
        return {}
    cpu = data.frames.values[:, 0].astype(np.float64)
    cpu = cpu[np.isfinite(cpu)]
    t = data.frames.timestamps
    span = float(t[-1] - t[0])
    have = cpu.size > 0
    return {
        "frames": float(t.size),
        "cpu_p50": float(np.percentile(cpu, 50)) if have else None,
        "cpu_p99": float(np.percentile(cpu, 99)) if have else None,
        "cpu_max": float(np.max(cpu)) if have else None,
        "rate": (t.size - 1) / span if span > 0 else None,
    }


def _header(data: SessionData, summary: dict[str, Any], end: float) -> list[tuple[str, str]]:
    h = data.header
    duration = _num(summary.get("duration_s"))
    dur = duration if duration is not None else end
    state = summary.get("state") or next(
        (str(m.event.get("state")) for m in data.events("stop")), ""
    )
    reason = summary.get("reason") or next((m.text for m in data.events("stop")), "")
    if not reason and not data.events("stop"):
        reason = "unknown: no stop marker (" + (
            "the recording is cut off: crash?)" if data.truncated else "session not ended?)"
        )
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


def _features(model: ReportModel, data: SessionData, t0: float) -> None:
    if data.features is not None and data.features.timestamps.size:
        f = data.features
        model.series["feat_t"] = f.timestamps - t0
        for key, label in (("hr", "heart_rate"), ("scl", "scl"), ("arousal", "arousal")):
            model.series[f"feat_{key}"] = (
                f.column(label) if label in f.labels else np.full(f.timestamps.size, np.nan)
            )
    if data.intensity is not None and data.intensity.timestamps.size:
        model.series["int_t"] = data.intensity.timestamps - t0
        model.series["int"] = data.intensity.values[:, 0].astype(np.float64)


def _reasons(model: ReportModel, data: SessionData, t0: float) -> None:
    """Why decisions, steps, frames or quality numbers are missing (partial recordings)."""
    cut = _cut_off(data, t0)
    if not model.decisions:
        model.reasons["decisions"] = f"No intensity decisions were recorded; {cut}."
    if any(None in (s.hr_peak, s.hr_end, s.scl_peak, s.scl_end) for s in model.steps):
        model.reasons["steps"] = "n/a: no valid session value (features) in that stretch" + (
            "" if "feat_t" in model.series else f"; no features recorded: {cut}"
        )
    if not model.frames:
        model.reasons["frames"] = f"No frame timing recorded; {cut}."
    elif None in model.frames.values():
        model.reasons["frames"] = "n/a: too few frames with a valid time to compute it."
    if model.duration <= 0:
        model.reasons["quality"] = "n/a: the recording spans no time (no samples)."


def build_model(data: SessionData, summary: dict[str, Any]) -> ReportModel:
    """Compute the report's content from a loaded recording and its ``summary.json``.

    Never fails on a partial recording: what cannot be computed is ``None`` with a reason.
    """
    t0 = data.t0
    end = max(0.0, data.t_end - t0)
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
        sources=source_rows(data),
    )
    _features(model, data, t0)
    gaps = add_physiology(model, data, t0, end)
    model.steps = _steps(model, end)
    _window_stats(model, data, t0, end)
    model.quality = _quality(data, t0, end, gaps)
    model.frames = _frames(data)
    model.events = _marked_events(data.markers, t0)
    _reasons(model, data, t0)
    if data.truncated:
        model.notes.append("The recording ends in a torn chunk (crash?); data up to it is shown.")
    if not data.has_samples:
        model.notes.append("The recording holds stream headers but no samples: nothing to plot.")
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
