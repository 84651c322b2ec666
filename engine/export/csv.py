"""CSV export of a session recording: one file per role and per stream, plus ``events.csv``.

Each physiological role becomes ``role-<role>.csv``: the role's channel converted to the
role unit as the live session did, headed e.g. ``ECG heart [mV]``. Every numeric stream
(the raw physiology streams whole, with every channel as recorded; intensity, features,
frame timing, the live session's beats and SCRs, others) becomes ``<stream name>.csv``.
Columns: ``lsl_time_s`` (the recorded LSL timestamp), ``time_s`` (seconds from the first
physiology sample), then one per channel headed ``label [unit]``. Values are written with 9
significant digits, so float32 samples read back exactly. The event markers become
``events.csv``: ``lsl_time_s, time_s, event, source, text, json``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path

import numpy as np

from biosignals.replay import RecordedStream
from engine.errors import VrTherapyError
from engine.export.recording import (
    BEATS_PREFIX,
    FEATURES_NAME,
    FRAMES_NAME,
    INTENSITY_NAME,
    SCR_NAME,
    SessionData,
    TimeSeries,
    load_session,
)
from engine.export.roles import in_role_order
from engine.privacy.keys import SiteKey

__all__ = ["export_csv", "stream_tables"]

EVENTS = "events.csv"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "stream"


def _columns(labels: tuple[str, ...], units: tuple[str, ...], n: int) -> list[str]:
    out = []
    for k in range(n):
        label = labels[k] if k < len(labels) and labels[k] else f"ch{k + 1}"
        unit = units[k] if k < len(units) else ""
        out.append(f"{label} [{unit}]" if unit else label)
    return out


def stream_tables(data: SessionData) -> list[tuple[str, list[str], np.ndarray, np.ndarray]]:
    """``(file name, channel headers, timestamps, values)``: each role, then every numeric
    stream."""
    tables = []
    seen: set[str] = set()

    def add(name: str, headers: list[str], t: np.ndarray, v: np.ndarray) -> None:
        base = _safe(name)
        fname, k = f"{base}.csv", 2
        while fname in seen or fname == EVENTS:
            fname, k = f"{base}-{k}.csv", k + 1
        seen.add(fname)
        tables.append((fname, headers, t, v))

    for role in in_role_order(data.roles):
        r = data.roles[role]
        head = f"{r.heading} [{r.unit}]" if r.unit else r.heading
        add(f"role-{role}", [head], r.timestamps, r.values[:, None])
    streams: list[RecordedStream] = data.physiology + data.other
    for s in streams:
        meta = s.meta
        add(
            s.name,
            _columns(meta.channel_labels, meta.channel_units, s.channel_count),
            s.timestamps,
            s.samples,
        )
    named: list[tuple[str, TimeSeries | None]] = [
        (INTENSITY_NAME, data.intensity),
        (FEATURES_NAME, data.features),
        (FRAMES_NAME, data.frames),
    ]
    for name, series in named:
        if series is not None:
            cols = _columns(series.labels, series.units, series.values.shape[1])
            add(name, cols, series.timestamps, series.values)
    for role, b in data.beats.items():
        add(
            BEATS_PREFIX + role,
            ["rr [s]", "hr_bpm [bpm]"],
            b.times,
            np.column_stack([b.rr, b.hr_bpm]),
        )
    if data.scr is not None:
        c = data.scr
        values = np.column_stack([c.onsets, c.amplitudes, c.rise_times])
        add(SCR_NAME, ["onset [s]", "amplitude [uS]", "rise_time [s]"], c.peak_times, values)
    return tables


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8", newline="")
        os.replace(tmp, path)
    except OSError as exc:
        raise VrTherapyError(f"cannot write {path}: {exc.strerror}") from None


def _table_text(headers: list[str], t: np.ndarray, v: np.ndarray, t0: float) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(["lsl_time_s", "time_s", *headers])
    block = np.column_stack([t, t - t0, v.astype(np.float64)])
    fmt = ["%.6f", "%.6f"] + ["%.9g"] * v.shape[1]
    np.savetxt(buf, block, fmt=fmt, delimiter=",")
    return buf.getvalue()


def _events_text(data: SessionData, t0: float) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["lsl_time_s", "time_s", "event", "source", "text", "json"])
    for m in data.markers:
        w.writerow(
            [
                f"{m.time:.6f}",
                f"{m.time - t0:.6f}",
                m.kind,
                str(m.event.get("source", "")),
                m.text,
                json.dumps(m.event, sort_keys=True),
            ]
        )
    return buf.getvalue()


def export_csv(
    recording: Path, out_dir: Path, *, force: bool = False, key: SiteKey | None = None
) -> list[Path]:
    """Write one CSV per stream and ``events.csv`` into ``out_dir`` (created if needed).

    Returns
    -------
    list of Path
        The files written, stream files first, ``events.csv`` last.

    Raises
    ------
    VrTherapyError
        When one of the files exists and ``force`` is false (nothing is written then).
    RecordingError
        When the recording cannot be read or has no physiology.
    """
    data = load_session(Path(recording), key)
    out_dir = Path(out_dir)
    tables = stream_tables(data)
    paths = [out_dir / name for name, *_ in tables] + [out_dir / EVENTS]
    existing = [p for p in paths if p.exists()]
    if existing and not force:
        raise VrTherapyError(
            f"{existing[0]} already exists (and {len(existing) - 1} more); pass force=True "
            "(--force) to replace"
        )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VrTherapyError(f"cannot create folder {out_dir}: {exc.strerror}") from None
    t0 = data.t0
    for path, (_, headers, t, v) in zip(paths, tables, strict=False):
        _write(path, _table_text(headers, t, v, t0))
    _write(paths[-1], _events_text(data, t0))
    return paths
