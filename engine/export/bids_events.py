"""A session's markers as a BIDS ``_events.tsv`` (onset, duration, trial_type, ...) and its
JSON sidecar. Pure: no file is written here.

Onsets are seconds from the run's time zero (the session's ``start`` marker). What each
marker becomes (``trial_type``):

* intensity decisions: ``intensity_step`` (the controller), ``override`` (the therapist),
  ``safety_step`` (the safety layer: ceiling, signal loss); ``value`` the intensity shown
  from then on, ``step`` (1-based), ``duration`` until the next decision or the end;
* prompts: ``<kind>_<event>``, e.g. ``suds_asked``, ``suds_answered``,
  ``predicted_suds_answered``, ``nrs_timeout``; ``value`` the answer, ``response_time``
  the seconds from asked to answered;
* commands: ``scene_event`` (``value`` the event's name), else ``command_<kind>``
  (``step_up``, ``hold``, ``ask_prompt``...); ``command_rejected``;
* signal quality: ``quality_<flag>`` and ``signal_gap``, at the interval's start with its
  ``duration`` (a flag still raised at the end lasts to the end), ``role`` the signal;
* the session: ``session_start``, ``baseline_end`` (``value`` the baseline heart rate),
  ``session_stop``, ``state_<state>``, ``note``.

``description`` is the marker's own text, where it has one. Operators' names (every
``operator`` a command marker names) are replaced by ``operator`` wherever they appear, and
a note's free text is left out: a research export carries no staff names and no free text
that could name the patient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from engine.export.recording import Marker, SessionData

__all__ = ["COLUMNS", "EventRow", "events_sidecar", "events_tsv", "session_events", "time_zero"]

COLUMNS = (
    "onset",
    "duration",
    "trial_type",
    "value",
    "response_time",
    "step",
    "source",
    "role",
    "description",
)
_SKIP = ("clock",)
"""Markers that say how the recording was made, not what happened."""
_DESCRIPTIONS = {
    "onset": "seconds from the session's start (the start marker)",
    "duration": "seconds; n/a for an instant",
    "trial_type": "what happened (levels below)",
    "value": "intensity shown (0-1) for intensity changes; the answer for prompts (SUDS and "
    "predicted SUDS 0-100, pain NRS 0-10); the event's name for scene events; the "
    "baseline heart rate (bpm) for baseline_end",
    "response_time": "seconds from a prompt being asked to its answer",
    "step": "hierarchy step shown from then on (1 = the first)",
    "source": "who or what caused it (controller, therapist, safety, keys, gaze, twin, "
    "console, schedule, start...)",
    "role": "the physiological signal concerned (heart, ppg, hr, eda)",
    "description": "the event in words, as recorded",
}


@dataclass(frozen=True)
class EventRow:
    """One row of ``_events.tsv`` (``None`` is written ``n/a``)."""

    onset: float
    duration: float | None
    trial_type: str
    value: object = None
    response_time: float | None = None
    step: int | None = None
    source: str | None = None
    role: str | None = None
    description: str | None = None


def time_zero(data: SessionData) -> float:
    """The run's time zero (LSL time): the session's ``start`` marker, else the first
    physiology sample."""
    starts = data.events("start")
    return starts[0].time if starts else data.t0


def _text(m: Marker) -> str | None:
    text = m.event.get("text")
    return str(text) if text else None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _intensity(m: Marker, rel: float, ends: float) -> EventRow:
    e = m.event
    source = str(e.get("source", ""))
    kind = {"controller": "intensity_step", "therapist": "override"}.get(source, "safety_step")
    step = e.get("step")
    return EventRow(
        rel,
        max(0.0, ends - rel),
        kind,
        _number(e.get("target")),
        step=step + 1 if isinstance(step, int) and not isinstance(step, bool) else None,
        source=source or None,
        description=_text(m),
    )


def _interval(m: Marker, t_zero: float, end: float, kind: str) -> EventRow | None:
    e = m.event
    start, stop = _number(e.get("start")), _number(e.get("end"))
    if kind.startswith("quality") and stop is None:
        return None  # the ending marker carries the interval; open ones are added later
    start = m.time if start is None else start
    stop = end if stop is None else stop
    role = str(e.get("role", "")) or None
    return EventRow(start - t_zero, max(0.0, stop - start), kind, role=role, description=_text(m))


def _command(m: Marker, rel: float) -> EventRow:
    e = m.event
    command = str(e.get("command", ""))
    if command == "scene_event":
        kind, value = "scene_event", e.get("scene_event")
    else:
        kind, value = f"command_{command}", e.get("value")
    source = str(e.get("source", "")) or None
    text = None  # a note's free text stays out
    if command != "note":
        text = f"{command} from {source or '?'}: {e.get('result', '')}".rstrip(": ")
    return EventRow(rel, None, kind, value, source=source, description=text)


def _row(m: Marker, rel: float, t_zero: float, end: float) -> EventRow | None:
    kind, e = m.kind, m.event
    if kind in ("suds", "nrs", "predicted_suds"):
        latency = _number(e.get("latency"))
        return EventRow(
            rel,
            None,
            f"{kind}_{e.get('kind', 'answered')}",
            e.get("value"),
            response_time=latency if e.get("kind") == "answered" else None,
            source=str(e.get("source", "")) or None,
            description=_text(m),
        )
    if kind == "quality":
        return _interval(m, t_zero, end, f"quality_{e.get('flag', 'flag')}")
    if kind == "gap":
        return _interval(m, t_zero, end, "signal_gap")
    if kind == "command":
        return _command(m, rel)
    if kind == "command_rejected":
        return EventRow(rel, None, kind, source=str(e.get("source", "")) or None)
    if kind == "note":
        return EventRow(rel, None, "note")
    named = {"start": "session_start", "stop": "session_stop", "baseline": "baseline_end"}
    if kind in named:
        return EventRow(rel, None, named[kind], _number(e.get("hr_bpm")), description=_text(m))
    if kind == "state":
        state, reason = e.get("state", ""), e.get("reason", "")
        return EventRow(rel, None, f"state_{state}", description=f"{state}: {reason}")
    return EventRow(rel, None, kind, description=_text(m))


def _open_quality(markers: list[Marker], t_zero: float, end: float) -> list[EventRow]:
    """Quality flags raised and never cleared: they last to the end of the recording."""
    opened: dict[tuple[str, str], Marker] = {}
    for m in markers:
        if m.kind != "quality":
            continue
        key = (str(m.event.get("role", "")), str(m.event.get("flag", "")))
        if m.event.get("end") is None:
            opened.setdefault(key, m)
        else:
            opened.pop(key, None)
    rows = []
    for (role, flag), m in opened.items():
        start = _number(m.event.get("start")) or m.time
        rows.append(
            EventRow(start - t_zero, max(0.0, end - start), f"quality_{flag}", role=role or None)
        )
    return rows


def session_events(data: SessionData, t_zero: float) -> list[EventRow]:
    """Every marker of the session as rows, sorted by onset (see the module docstring)."""
    stops = data.events("stop")
    end = stops[-1].time if stops else data.t_end
    markers = [m for m in data.markers if m.kind not in _SKIP]
    decisions = [m for m in markers if m.kind == "intensity"]
    rows: list[EventRow] = []
    for m in markers:
        rel = m.time - t_zero
        if m.kind == "intensity":
            later = [d.time for d in decisions if d.time > m.time]
            row: EventRow | None = _intensity(m, rel, (later[0] if later else end) - t_zero)
        else:
            row = _row(m, rel, t_zero, end)
        if row is not None:
            rows.append(row)
    rows += _open_quality(markers, t_zero, end)
    names = {str(m.event["operator"]) for m in markers if m.event.get("operator")}
    rows = [replace(r, description=_scrub(r.description, names)) for r in rows]
    return sorted(rows, key=lambda r: r.onset)


def _scrub(text: str | None, names: set[str]) -> str | None:
    """``text`` with every operator's name replaced by ``operator``."""
    if text is None:
        return None
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, "operator")
    return text


def _cell(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return "n/a" if not math.isfinite(value) else f"{value:.6f}".rstrip("0").rstrip(".")
    text = " ".join(str(value).split())  # no tabs or newlines inside a cell
    return text or "n/a"


def events_tsv(rows: list[EventRow]) -> str:
    """The ``_events.tsv`` text: a header row, then one line per row."""
    lines = ["\t".join(COLUMNS)]
    for r in rows:
        cells = (
            r.onset,
            r.duration,
            r.trial_type,
            r.value,
            r.response_time,
            r.step,
            r.source,
            r.role,
            r.description,
        )
        lines.append("\t".join(_cell(c) for c in cells))
    return "\n".join(lines) + "\n"


def events_sidecar(rows: list[EventRow], task: str, scene: str) -> dict[str, Any]:
    """The ``_events.json`` sidecar: every column described, ``trial_type`` levels."""
    out: dict[str, Any] = {
        "TaskName": task,
        "TaskDescription": f"virtual-reality session, scene {scene} (vrtherapy)",
    }
    for name, text in _DESCRIPTIONS.items():
        out[name] = {"Description": text}
    levels = sorted({r.trial_type for r in rows})
    out["trial_type"]["Levels"] = {t: _level(t) for t in levels}
    for name in ("onset", "duration", "response_time"):
        out[name]["Units"] = "s"
    return out


def _level(trial_type: str) -> str:
    fixed = {
        "intensity_step": "the controller changed the intensity",
        "override": "the therapist changed the intensity",
        "safety_step": "the safety layer changed the intensity",
        "scene_event": "a scene event was fired",
        "signal_gap": "a signal's samples stopped arriving",
        "session_start": "the session (its baseline rest) started",
        "baseline_end": "the baseline rest ended; exposure or therapy began",
        "session_stop": "the session ended",
        "note": "a note was recorded (its text is not exported)",
        "command_rejected": "a command that failed its checks (never applied)",
    }
    if trial_type in fixed:
        return fixed[trial_type]
    for prefix, text in (
        ("predicted_suds_", "predicted SUDS prompt (at the hardest step, 0-100): "),
        ("suds_", "SUDS prompt (0-100): "),
        ("nrs_", "pain NRS prompt (0-10): "),
        ("quality_", "signal quality flag raised: "),
        ("command_", "command: "),
        ("state_", "session state: "),
    ):
        if trial_type.startswith(prefix):
            return text + trial_type.removeprefix(prefix)
    return trial_type
