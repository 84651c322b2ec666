"""The report's physiology, found by role: beats and HRV, heart-rate numbers, SCL and SCRs.

Roles come from :func:`engine.export.recording.load_session` (the recording's role maps,
or the stream types of older recordings), converted to the role units as the live session
did. Beats come from the heart waveform role (``heart``, else ``ppg``); a ``heart``/``hr``
role that carries numbers (``hr_bpm``, ``rr_ms``, ``rr_s``) is drawn as a heart-rate
series; skin conductance from ``eda``. What the live session detected (its recorded beats
and SCRs) is preferred; the extractors are re-run on the raw signal only when a recording
lacks them, and an extractor that cannot run (rate out of its range) becomes a note.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from biosignals.errors import SignalError
from engine.export.recording import RoleSignal, SessionData
from engine.export.roles import in_role_order
from engine.report.analysis import (
    Beats,
    Gaps,
    beats_from_ecg,
    beats_from_ppg,
    clean_beats,
    monotonic,
    rmssd_windows,
    scr_from_eda,
    signal_gaps,
)

if TYPE_CHECKING:
    from engine.report.model import ReportModel

__all__ = ["SourceRow", "add_physiology", "source_rows"]


@dataclass(frozen=True)
class SourceRow:
    """Where one role's signal came from, for the report's header."""

    role: str
    signal: str
    stream: str
    conversion: str
    samples: int


def _stream_text(r: RoleSignal) -> str:
    rate = f"{r.nominal_srate:g} Hz" if r.nominal_srate > 0 else "irregular"
    label = f" {r.label!r}" if r.label else ""
    return f"{r.stream!r} (type {r.stream_type!r}), channel {r.channel_index + 1}{label}, {rate}"


def _conversion_text(r: RoleSignal) -> str:
    if not r.stream_roles.recorded:
        return "values as recorded (older recording: role taken from the stream type)"
    c = r.mapping.conversion
    body = f"(x - {c.offset:g}) * {c.gain:g}"
    formula = body if c.kind == "linear" else f"{c.numerator:g} / ({body})"
    text = f"{c.describe()}: {formula}"
    sr = r.stream_roles
    if sr.clock:
        used = f" (used: {sr.clock_used})" if sr.clock_used and sr.clock_used != sr.clock else ""
        offset = f", offset {sr.clock_offset:.3f} s" if sr.clock_offset is not None else ""
        text += f"; clock {sr.clock}{used}{offset}"
    if sr.dejitter:
        tau = f" (tau {sr.dejitter_tau:g} s)" if sr.dejitter_tau is not None else ""
        text += f"; dejittered{tau}"
    return text


def source_rows(data: SessionData) -> list[SourceRow]:
    """One row per role, in the order heart, ppg, hr, eda, then any other role."""
    order = in_role_order(data.roles)
    return [
        SourceRow(
            role,
            data.roles[role].title,
            _stream_text(data.roles[role]),
            _conversion_text(data.roles[role]),
            int(data.roles[role].timestamps.size),
        )
        for role in order
    ]


def _heart_wave(data: SessionData) -> RoleSignal | None:
    for role in ("heart", "ppg"):
        r = data.roles.get(role)
        if r is not None and r.is_waveform:
            return r
    return None


def _recomputed(model: ReportModel, wave: RoleSignal) -> Beats | None:
    if wave.timestamps.size == 0:
        model.notes.append(f"Role {wave.role} ({wave.title}) holds no samples: beats n/a.")
        return None
    detect = beats_from_ecg if wave.role == "heart" else beats_from_ppg
    try:
        beats = detect(wave.values, wave.timestamps, wave.nominal_srate)
    except SignalError as exc:
        model.notes.append(f"Beats not detected in {wave.title}: {exc}.")
        return None
    model.notes.append(
        f"Beats: {beats.times.size} detected offline in {wave.title} (this recording holds "
        "no beats from the live session)."
    )
    return beats


def _beats(model: ReportModel, data: SessionData, t0: float) -> Beats | None:
    wave = _heart_wave(data)
    beats: Beats | None
    live = data.beats.get(wave.role) if wave is not None else None
    if live is None and wave is None and data.beats:
        live = next(iter(data.beats.values()))
    if live is not None:
        beats = clean_beats(live.times, live.rr[1:])
        ok = np.isfinite(live.hr_bpm)
        model.series["beat_t"], model.series["beat_hr"] = live.times[ok] - t0, live.hr_bpm[ok]
        model.notes.append(
            f"Beats: {live.times.size} detected by the live session on role {live.role} "
            "(as the controller saw them)."
        )
    elif wave is not None:
        beats = _recomputed(model, wave)
        if beats is not None:
            model.series["beat_t"], model.series["beat_hr"] = beats.hr_times - t0, beats.hr_bpm
    else:
        return None
    if wave is not None and wave.role == "ppg":
        model.labels["beat_hr"] = "beat-to-beat (pulse)"
    return beats


def _hr_numbers(model: ReportModel, data: SessionData, t0: float) -> bool:
    for role in ("hr", "heart", "ppg"):
        r = data.roles.get(role)
        if r is not None and not r.is_waveform:
            model.series["hr_stream_t"], model.series["hr_stream"] = r.timestamps - t0, r.values
            model.labels["hr_stream"] = r.title
            return True
    return False


def _rr_beats(model: ReportModel, data: SessionData) -> Beats | None:
    """Beats from a role carrying RR intervals (``rr_ms``/``rr_s``, converted to bpm)."""
    for role in ("hr", "heart", "ppg"):
        r = data.roles.get(role)
        if r is not None and r.content in ("rr_ms", "rr_s") and r.timestamps.size > 1:
            order = np.argsort(r.timestamps, kind="stable")
            with np.errstate(divide="ignore", invalid="ignore"):
                rr = 60.0 / r.values[order]
            model.notes.append(f"HRV from the RR intervals of {r.title}.")
            return clean_beats(r.timestamps[order], rr[1:])
    return None


def _eda(model: ReportModel, data: SessionData, t0: float) -> bool:
    eda = data.roles.get("eda")
    have = eda is not None and eda.timestamps.size > 0
    if eda is not None and have:
        model.series["eda_t"], model.series["eda"] = eda.timestamps - t0, eda.values
    if data.scr is not None:
        model.series["scr_t"] = data.scr.peak_times - t0
        model.series["scr_amp"] = data.scr.amplitudes
        model.notes.append(
            f"SCRs: {data.scr.peak_times.size} completed in the live session (as the "
            "controller saw them)."
        )
        return have
    model.series["scr_t"], model.series["scr_amp"] = np.zeros(0), np.zeros(0)
    if eda is None or not have:
        return False
    try:
        scr = scr_from_eda(eda.values, eda.timestamps, eda.nominal_srate)
    except SignalError as exc:
        model.notes.append(f"SCRs not detected in {eda.title}: {exc}.")
        return True
    model.series["scr_t"], model.series["scr_amp"] = scr.peak_times - t0, scr.amplitudes
    model.notes.append(
        f"SCRs: {scr.peak_times.size} detected offline in {eda.title} (this recording holds "
        "no SCRs from the live session)."
    )
    return True


def add_physiology(model: ReportModel, data: SessionData, t0: float, end: float) -> dict[str, Gaps]:
    """Fill ``model.series`` (beats, RMSSD, HR numbers, SCL, SCRs) and notes from the roles;
    return the sample gaps of each raw physiology stream by name."""
    gaps = {  # stream_roles is keyed like the streams, in their order (names made unique)
        key: signal_gaps(monotonic(s.timestamps), s.nominal_srate)
        for key, s in zip(data.stream_roles, data.physiology, strict=True)
    }
    for name, roles in data.stream_roles.items():
        if roles.withheld:
            model.notes.append(
                f"Stream {name!r}: {len(roles.withheld)} of its channels not recorded "
                "(no consented role reads them)."
            )
    beats = _beats(model, data, t0)
    if beats is None:
        beats = _rr_beats(model, data)
    if beats is not None:
        rm = rmssd_windows(beats, t0, t0 + end)
        model.series["rmssd_t"], model.series["rmssd"] = rm[:, 0] - t0, rm[:, 1]
    hr_numbers = _hr_numbers(model, data, t0)
    if beats is None and not hr_numbers:
        model.notes.append(
            "No heart role (heart or ppg waveform, or heart-rate numbers): heart rate from "
            "the physiology n/a; HRV n/a."
        )
    elif beats is None:
        model.notes.append("HRV n/a: the heart roles carry heart-rate numbers, not beats.")
    if not _eda(model, data, t0):
        reason = "holds no samples" if "eda" in data.roles else "is not in this recording"
        model.notes.append(f"Skin conductance and SCRs n/a: the eda role {reason}.")
    return gaps
