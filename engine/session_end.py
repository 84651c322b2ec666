"""How a session ends: its record is sealed first, the report comes last.

Order (docs/architecture.md, "End of session"): the recording is closed (by the caller),
then :func:`end_session` writes the summary, audits the therapist's overrides, writes the
audit stop and ``integrity.json`` — from here on the session is complete and verifiable —
and only then renders the report and adds it to the integrity manifest. A failing report
is a warning naming the step and the command that writes it later; it never changes the
session's outcome. :func:`close_failed` closes the audit entry of a session that could not
run to its end (an error in the engine, a full disk).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import __version__
from engine.privacy.keys import SiteKey
from engine.privacy.sealed import write_sealed_bytes
from engine.privacy.session_guard import SessionPrivacy
from engine.protocol import Protocol
from engine.session import SessionSummary

__all__ = ["SessionEnding", "close_failed", "end_session", "summary_dict", "write_summary"]


@dataclass
class SessionEnding:
    """What the end of a session produced besides the sealed record."""

    report: Path | None = None
    warnings: list[str] = field(default_factory=list)


def summary_dict(result: SessionSummary, protocol: Protocol) -> dict[str, Any]:
    """JSON-ready summary of a session."""
    return {
        "protocol": protocol.protocol,
        "scene": protocol.scene,
        "software": f"vrtherapy {__version__}",
        "state": result.state.value,
        "reason": result.reason,
        "duration_s": round(result.duration, 3),
        "frames": result.frames,
        "max_step": result.max_step + 1,
        "steps_total": len(protocol.controller.levels()),
        "arousal_window": list(protocol.controller.arousal_window),
        "hierarchy": [
            {"intensity": level, "label": protocol.controller.label(i)}
            for i, level in enumerate(protocol.controller.levels())
        ],
        "max_hr_bpm": result.max_hr,
        "final_intensity": round(result.final_intensity, 4),
        "quality_events": result.quality_events,
        "time_in_window": result.time_in_window,
        "safety_events": result.safety_events,
        "decisions": [
            {
                "time": d.time,
                "previous": d.previous,
                "target": d.target,
                "step": d.step,
                "source": d.source,
                "reason": d.reason,
            }
            for d in result.decisions
        ],
    }


def write_summary(folder: Path, data: dict[str, Any], key: SiteKey | None) -> Path:
    """``summary.json`` (temp + rename), or ``summary.json.sealed`` with a site key."""
    text = json.dumps(data, indent=2, sort_keys=True).encode("utf-8")
    if key is not None:  # health data: sealed like the recording
        path = folder / "summary.json.sealed"
        write_sealed_bytes(path, text, key)
        return path
    path = folder / "summary.json"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(text)
    os.replace(tmp, path)
    return path


def _audit_overrides(guard: SessionPrivacy, summary: SessionSummary) -> None:
    for d in summary.decisions:  # the therapist's overrides go into the audit trail
        if d.source == "therapist":
            guard.override(time=d.time, previous=d.previous, target=d.target, reason=d.reason)
    if summary.reason.startswith("stop requested"):
        guard.override(action="stop", reason=summary.reason)


def end_session(
    summary: SessionSummary,
    protocol: Protocol,
    guard: SessionPrivacy,
    recording: Path,
    key: SiteKey | None,
    report: bool = True,
) -> SessionEnding:
    """Summary, overrides, audit stop + integrity, then the report (module docstring).

    Call after the recording is closed. Errors before the integrity manifest is written
    propagate (the session is not complete); a failing report becomes a warning.
    """
    folder = recording.parent
    write_summary(folder, summary_dict(summary, protocol), key)
    _audit_overrides(guard, summary)
    guard.finish(summary.state.value, summary.reason, summary.duration)
    ending = SessionEnding()
    if not report:
        return ending
    try:
        ending.report = guard.write_report(recording)  # sealed if the session is
    except Exception as exc:  # reported below: the session itself is complete and sealed
        ending.warnings.append(
            f"the report was not written (step: report, {type(exc).__name__}: {exc}); the "
            f"session is complete and sealed (integrity.json); write the report later with: "
            f"vrtherapy report {recording}"
        )
    return ending


def close_failed(guard: SessionPrivacy, exc: BaseException) -> None:
    """Close the audit entry (and integrity manifest) of a session that failed to run
    to its end; a second failure here is reported inside the first one's context."""
    reason = f"failed: {type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    guard.finish("aborted", reason, 0.0)
