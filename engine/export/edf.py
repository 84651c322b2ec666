"""EDF+ export of a session recording (physiology, intensity, events as annotations).

Layout of the file written by :func:`export_edf`:

* one signal per physiological role (``heart``, ``ppg``, ``hr``, ``eda``: the role's channel
  converted to the role unit as the live session did, labelled e.g. ``ECG heart`` in ``mV``;
  see :mod:`engine.export.roles`) at its stream's rate; EDF needs a whole number of samples
  per data record, so records last ``record_duration`` seconds (1 s by default) and a
  stream whose rate does not give whole samples per record is refused with a clear error;
* samples are placed on the uniform grid ``t0 + k / rate`` by nearest slot, where ``t0``
  is the first physiology sample of the recording; slots without a sample (signal gaps,
  the padding after a stream ends) hold the previous value (the first value before the
  stream starts) and every gap longer than 0.25 s is annotated ``no samples: <label>``;
* irregular physiology streams (rate 0) and the intensity are resampled to
  ``irregular_rate`` Hz (10 by default) by zero-order hold;
* physical ranges come from the data with a 5 % margin, so values survive within one
  16-bit quantisation step ((max - min) / 65535);
* labels (16 ASCII characters) are the channel label and the role, units the role units;
  the transducer field names the source stream and channel;
* EDF+ annotations (TAL) hold every event marker: start/stop, intensity decisions with
  source and reason, SUDS/NRS answers, quality flags (with their duration), notes.
  Texts longer than 120 characters are cut with ``...``. Onsets are seconds from ``t0``.

The start date/time is the recording's FileHeader ``datetime`` (UTC, when the recorder
started, which precedes the first sample by the session's set-up time at most).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import RecordingError, VrTherapyError
from engine.export.recording import INTENSITY_NAME, Marker, SessionData, load_session
from engine.export.roles import in_role_order
from engine.privacy.keys import SiteKey

__all__ = ["EdfChannel", "edf_annotations", "edf_channels", "export_edf"]

MAX_TEXT = 120
_GAP_S = 0.25
_UNITS = {
    "millivolts": "mV",
    "millivolt": "mV",
    "microvolts": "uV",
    "microsiemens": "uS",
    "µs": "uS",
    "normalized": "",
    "per_minute": "/min",
    "bpm": "bpm",
}


@dataclass(frozen=True)
class EdfChannel:
    """One EDF signal before writing: grid values, rate, label, unit and source stream."""

    label: str
    unit: str
    rate: float
    values: np.ndarray
    source: str


def _ascii(text: str, n: int) -> str:
    clean = "".join(c if 32 <= ord(c) < 127 else "_" for c in text.replace("µ", "u"))
    return clean.strip()[:n]


def _unit(unit: str) -> str:
    return _ascii(_UNITS.get(unit.strip().lower(), unit), 8)


def _grid(t: np.ndarray, v: np.ndarray, t0: float, rate: float, n: int) -> np.ndarray:
    """Place samples on ``t0 + k / rate`` (nearest slot, last wins), hold across gaps."""
    out = np.full(n, np.nan)
    finite = np.isfinite(v)
    idx = np.rint((t[finite] - t0) * rate).astype(np.int64)
    keep = (idx >= 0) & (idx < n)
    out[idx[keep]] = v[finite][keep]
    have = np.isfinite(out)
    if not have.any():
        return np.zeros(n)
    last = np.maximum.accumulate(np.where(have, np.arange(n), -1))
    first = int(np.argmax(have))
    last[last < 0] = first
    return out[last]


def _hold(t: np.ndarray, v: np.ndarray, t0: float, rate: float, n: int) -> np.ndarray:
    """Zero-order hold of an irregular series onto ``t0 + k / rate``."""
    grid = t0 + np.arange(n) / rate
    pos = np.searchsorted(t, grid, side="right") - 1
    vals = v[np.clip(pos, 0, max(v.size - 1, 0))] if v.size else np.zeros(n)
    return np.where(np.isfinite(vals), vals, 0.0)


def _samples_per_record(rate: float, record: float, name: str) -> int:
    spr = rate * record
    if abs(spr - round(spr)) > 1e-6 or round(spr) < 1:
        raise RecordingError(
            f"stream {name!r}: {rate:g} Hz does not give a whole number of samples per "
            f"{record:g} s EDF data record; choose another record_duration"
        )
    return round(spr)


def edf_channels(
    data: SessionData, n_records: int, record: float, irregular_rate: float
) -> list[EdfChannel]:
    """The signals of the export, in order: the roles (heart, ppg, hr, eda), then the
    intensity."""
    t0 = data.t0
    out: list[EdfChannel] = []
    for r in (data.roles[name] for name in in_role_order(data.roles)):
        regular = r.nominal_srate > 0
        rate = r.nominal_srate if regular else irregular_rate
        n = _samples_per_record(rate, record, r.stream) * n_records
        if regular:
            grid = _grid(r.timestamps, r.values, t0, rate, n)
        else:
            order = np.argsort(r.timestamps, kind="stable")
            grid = _hold(r.timestamps[order], r.values[order], t0, rate, n)
        source = f"{r.stream} channel {r.channel_index + 1}"
        out.append(EdfChannel(r.heading, _unit(r.unit), rate, grid, source))
    if data.intensity is not None and data.intensity.timestamps.size:
        n = _samples_per_record(irregular_rate, record, "intensity") * n_records
        iv = data.intensity.values[:, 0].astype(np.float64)
        out.append(
            EdfChannel(
                "Intensity",
                "",
                irregular_rate,
                _hold(data.intensity.timestamps, iv, t0, irregular_rate, n),
                INTENSITY_NAME,
            )
        )
    return out


def _text(text: str) -> str:
    clean = re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip()
    return clean if len(clean) <= MAX_TEXT else clean[: MAX_TEXT - 3].rstrip() + "..."


def _describe(m: Marker, end: float) -> tuple[float, float | None, str] | None:
    e = m.event
    kind = m.kind
    if kind == "intensity":
        prev, target = e.get("previous"), e.get("target")
        span = (
            f"{prev:.2f}->{target:.2f}"
            if isinstance(prev, int | float) and isinstance(target, int | float)
            else ""
        )
        return m.time, None, f"intensity {span} [{e.get('source', '?')}] {e.get('reason', '')}"
    if kind == "quality":
        start, stop = e.get("start"), e.get("end")
        if stop is None:
            return None  # the ending marker carries the interval
        a = float(start) if isinstance(start, int | float) else m.time
        return a, max(0.0, float(stop) - a), f"quality {e.get('role', '?')}:{e.get('flag', '?')}"
    if kind in ("suds", "nrs"):
        value = next((e[k] for k in ("value", "answer", "score", "rating") if k in e), "")
        return m.time, None, f"{kind.upper()} {value}".strip()
    if kind == "state":
        return m.time, None, f"state {e.get('state', '')}: {e.get('reason', '')}"
    return m.time, None, m.text


def _open_quality(markers: list[Marker], end: float) -> list[tuple[float, float | None, str]]:
    """Quality flags that started and never ended: they last to the end of the recording."""
    opened: dict[tuple[str, str], float] = {}
    for m in markers:
        if m.kind != "quality":
            continue
        key = (str(m.event.get("role", "?")), str(m.event.get("flag", "?")))
        if m.event.get("end") is None:
            opened[key] = m.time
        else:
            opened.pop(key, None)
    return [(a, end - a, f"quality {r}:{f} (not ended)") for (r, f), a in opened.items()]


def edf_annotations(data: SessionData) -> list[tuple[float, float | None, str]]:
    """``(onset s from t0, duration or None, text)`` for every event and signal gap."""
    t0, end = data.t0, data.t_end
    items = [d for m in data.markers if (d := _describe(m, end)) is not None]
    items += _open_quality(data.markers, end)
    for r in data.roles.values():
        if r.nominal_srate <= 0 or r.timestamps.size < 2:
            continue
        stamps = np.maximum.accumulate(r.timestamps)
        dt_ = np.diff(stamps)
        for k in np.flatnonzero(dt_ > max(_GAP_S, 3.0 / r.nominal_srate)):
            items.append((float(stamps[k]), float(dt_[k]), f"no samples: {r.heading}"))
    return sorted((max(0.0, a - t0), d, _text(txt)) for a, d, txt in items)


def _physical_range(v: np.ndarray) -> tuple[float, float]:
    lo, hi = float(np.min(v)), float(np.max(v))
    span = hi - lo
    margin = 0.05 * span if span > 0 else max(1.0, abs(lo) * 0.05)
    return lo - margin, hi + margin


def _start(header: dict[str, str]) -> dt.datetime:
    text = header.get("datetime", "")
    try:
        return dt.datetime.fromisoformat(text).astimezone(dt.UTC).replace(tzinfo=None)
    except ValueError:
        return dt.datetime(1985, 1, 1)  # EDF+: "01.01.85" means the start date is unknown


def _edfio() -> Any:
    try:
        import edfio
    except ImportError:
        raise VrTherapyError("EDF+ export needs edfio: pip install 'vrtherapy[export]'") from None
    return edfio


def _build(data: SessionData, record: float, irregular_rate: float) -> Any:
    edfio = _edfio()
    n_records = max(1, math.ceil((data.t_end - data.t0) / record - 1e-9))
    channels = edf_channels(data, n_records, record, irregular_rate)
    labels: list[str] = []
    signals = []
    for ch in channels:
        label = _ascii(ch.label, 16) or "signal"
        if label in labels:
            label = _ascii(f"{label}-{len(labels) + 1}", 16)
        labels.append(label)
        physical = (0.0, 1.0) if ch.label == "Intensity" else _physical_range(ch.values)
        signals.append(
            edfio.EdfSignal(
                ch.values,
                ch.rate * 1.0,
                label=label,
                transducer_type=_ascii(ch.source, 80),
                physical_dimension=ch.unit,
                physical_range=physical,
            )
        )
    start = _start(data.header)
    participant = re.sub(r"[^A-Za-z0-9_-]", "_", data.header.get("participant", "") or "X")
    protocol = re.sub(r"[^A-Za-z0-9_.-]", "_", data.header.get("protocol", "") or "X")
    annotations = [edfio.EdfAnnotation(a, d, t) for a, d, t in edf_annotations(data)]
    return edfio.Edf(
        signals,
        patient=edfio.Patient(code=participant),
        recording=edfio.Recording(
            startdate=start.date(), equipment_code="vrtherapy", additional=[protocol]
        ),
        starttime=start.time().replace(microsecond=0),
        data_record_duration=record,
        annotations=annotations,
    )


def export_edf(
    recording: Path,
    out: Path,
    *,
    force: bool = False,
    record_duration: float = 1.0,
    irregular_rate: float = 10.0,
    key: SiteKey | None = None,
) -> Path:
    """Write a session recording as EDF+ (see the module docstring for the layout).

    Raises
    ------
    VrTherapyError
        When ``out`` exists and ``force`` is false.
    RecordingError
        When the recording cannot be read, has no physiology, or a rate does not fit the
        data record duration.
    """
    recording, out = Path(recording), Path(out)
    if out.exists() and not force:
        raise VrTherapyError(f"{out} already exists; pass force=True (--force) to replace it")
    if not (record_duration > 0 and irregular_rate > 0):
        raise VrTherapyError("export_edf: record_duration and irregular_rate must be > 0")
    edf = _build(load_session(recording, key), record_duration, irregular_rate)
    tmp = out.with_name(out.name + ".tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        edf.write(tmp)
        os.replace(tmp, out)
    except OSError as exc:
        raise VrTherapyError(f"cannot write EDF+ file {out}: {exc.strerror}") from None
    return out
