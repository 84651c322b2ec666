"""One BIDS physio table per recorded role (``_recording-<ecg|ppg|eda|hr>_physio.tsv.gz``).

BIDS physiological recordings are continuous at one constant ``SamplingFrequency``, with
no header row (the columns are named in the JSON sidecar) and ``StartTime`` in seconds
from the run's time zero. How a role's samples get there:

* **Regular streams** (a nominal rate): every sample is placed on the grid of its
  stream's nominal rate by its time stamp, ``round((t - t_first) * rate)``; grid points no
  sample fell on (a dropout, a gap) are ``n/a``, so every row stays at its true time.
  The values are the role's converted values (``docs/recording.md``), as the session saw
  them.
* **Irregular streams** (nominal rate 0: a device's heart rate or RR intervals, read as
  heart rate in bpm): linearly interpolated onto a 4 Hz grid (the usual rate for a
  resampled heart-rate series) from the first to the last sample; ``n/a`` wherever the two
  samples around a grid point are more than 3 s apart. The sidecar says so.

Pure: no file is written here (see :mod:`engine.export.bids`).
"""

from __future__ import annotations

import gzip
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import RecordingError
from engine.export.recording import SessionData
from engine.export.roles import RoleSignal

__all__ = [
    "IRREGULAR_MAX_GAP",
    "IRREGULAR_RATE",
    "PhysioTable",
    "device_fields",
    "physio_bytes",
    "physio_tables",
]

IRREGULAR_RATE = 4.0
"""Hz: the grid an irregular stream (heart rate, RR) is interpolated onto."""
IRREGULAR_MAX_GAP = 3.0
"""s: grid points between samples further apart than this are ``n/a``."""
_MAX_HOLES = 4
"""A regular stream's grid may be at most this many times its sample count (plus a
minute) long: stamps spread wider than that are no recording of that rate."""

_KINDS = {  # role -> (recording label, column, units when the role has none, what)
    "heart": ("ecg", "ecg", "mV", "electrocardiogram"),
    "ppg": ("ppg", "ppg", "arbitrary", "photoplethysmogram (pulse waveform)"),
    "eda": ("eda", "eda", "uS", "electrodermal activity (skin conductance)"),
    "hr": ("hr", "heart_rate", "bpm", "heart rate"),
}


@dataclass(frozen=True)
class PhysioTable:
    """One physio file's content.

    Attributes
    ----------
    label
        The ``recording-`` label (``ecg``, ``ppg``, ``eda``, ``hr``).
    values
        ``(n,)`` float64, one row per grid point, NaN written as ``n/a``.
    sidecar
        The JSON sidecar (SamplingFrequency, StartTime, Columns, the column's Units and
        Description, PhysioType, the device's Manufacturer and model when known).
    """

    label: str
    values: np.ndarray
    sidecar: dict[str, Any]


def _leaf(desc: ET.Element, *tags: str) -> str:
    for tag in tags:
        for path in (tag, f"acquisition/{tag}", f"device/{tag}"):
            node = desc.find(path)
            if node is not None and len(node) == 0 and (node.text or "").strip():
                return (node.text or "").strip()
    return ""


def device_fields(info_xml: str) -> dict[str, str]:
    """``Manufacturer``, ``ManufacturersModelName`` and ``DeviceSerialNumber`` from an LSL
    stream's ``<desc>`` (``manufacturer``, ``model`` or ``device``, ``serial_number``,
    directly or under ``acquisition``), those that are there."""
    try:
        desc = ET.fromstring(info_xml).find("desc")
    except ET.ParseError:
        return {}
    if desc is None:
        return {}
    found = {
        "Manufacturer": _leaf(desc, "manufacturer"),
        "ManufacturersModelName": _leaf(desc, "model", "device"),
        "DeviceSerialNumber": _leaf(desc, "serial_number", "serial"),
    }
    return {k: v for k, v in found.items() if v}


def _regular(signal: RoleSignal, rate: float) -> tuple[float, np.ndarray]:
    """(first stamp, values on the grid of ``rate``) with NaN where no sample fell."""
    stamps = signal.timestamps.astype(np.float64)
    first = float(np.min(stamps))
    index = np.rint((stamps - first) * rate).astype(np.int64)
    size = int(index.max()) + 1
    if size > _MAX_HOLES * stamps.size + 60.0 * rate:
        span = float(np.max(stamps)) - first
        raise RecordingError(
            f"{signal.stream}: {stamps.size} samples at {rate:g} Hz spread over {span:.0f} s: "
            f"its time stamps are not those of a {rate:g} Hz recording"
        )
    grid = np.full(size, np.nan)
    grid[index] = signal.values  # a later sample on the same point wins
    return first, grid


def _irregular(signal: RoleSignal) -> tuple[float, np.ndarray]:
    """(first stamp, values interpolated on the :data:`IRREGULAR_RATE` grid)."""
    keep = np.isfinite(signal.values) & np.isfinite(signal.timestamps)
    order = np.argsort(signal.timestamps[keep], kind="stable")
    t = signal.timestamps[keep][order].astype(np.float64)
    v = signal.values[keep][order].astype(np.float64)
    first = float(t[0])
    count = math.floor((t[-1] - first) * IRREGULAR_RATE) + 1
    grid_t = first + np.arange(count) / IRREGULAR_RATE
    grid = np.interp(grid_t, t, v)
    after = np.clip(np.searchsorted(t, grid_t, side="left"), 0, t.size - 1)
    before = np.clip(after - 1, 0, t.size - 1)
    exact = t[after] == grid_t
    wide = (t[after] - t[before]) > IRREGULAR_MAX_GAP
    grid[wide & ~exact] = np.nan
    return first, grid


def _table(signal: RoleSignal, label: str, t_zero: float, device: dict[str, str]) -> PhysioTable:
    _, column, default_unit, what = _KINDS.get(signal.role, (label, label, "", signal.role))
    if not signal.is_waveform:
        column, default_unit, what = "heart_rate", "bpm", "heart rate"
    units = signal.unit or default_unit
    source = (
        f"{what}, role {signal.role}: LSL stream {signal.stream!r} (type {signal.stream_type}), "
        f"channel {signal.channel_index}" + (f" ({signal.label})" if signal.label else "")
    )
    if signal.nominal_srate > 0:
        rate = float(signal.nominal_srate)
        first, values = _regular(signal, rate)
        how = "; samples placed on the nominal-rate grid by time stamp, n/a where none fell"
    else:
        rate = IRREGULAR_RATE
        first, values = _irregular(signal)
        how = (
            f"; an irregular stream ({signal.timestamps.size} samples) linearly interpolated "
            f"onto a {IRREGULAR_RATE:g} Hz grid, n/a where samples are more than "
            f"{IRREGULAR_MAX_GAP:g} s apart"
        )
    sidecar: dict[str, Any] = {
        "SamplingFrequency": rate,
        "StartTime": round(first - t_zero, 6),
        "Columns": [column],
        column: {"Description": source + how, "Units": units},
        "PhysioType": "generic",
        **device,
    }
    return PhysioTable(label, values, sidecar)


def _label(signal: RoleSignal) -> str:
    if not signal.is_waveform:
        return "hr"
    return _KINDS.get(signal.role, (signal.role,))[0]


def physio_tables(data: SessionData, t_zero: float) -> list[PhysioTable]:
    """A table per role that holds samples, in role order; ``t_zero`` (LSL time) is the
    run's time zero (the events' onset 0).

    Two roles that would share a label (a heart-rate role and heart-rate content under
    another role) get the role's name appended to the second.

    Raises
    ------
    RecordingError
        A regular stream's stamps spread far wider than its rate allows.
    """
    headers = dict(zip(data.stream_roles, data.physiology, strict=False))
    by_name = {s.name: s for s in data.physiology}
    tables: list[PhysioTable] = []
    used: set[str] = set()
    for role, signal in data.roles.items():
        if not (signal.timestamps.size and np.isfinite(signal.values).any()):
            continue  # a role whose samples were never written (a cut-off file)
        label = _label(signal)
        if label in used:
            label += "".join(c for c in role if c.isalnum())
        used.add(label)
        raw = headers.get(signal.stream) or by_name.get(signal.stream)
        device = device_fields(raw.info_xml) if raw is not None else {}
        tables.append(_table(signal, label, t_zero, device))
    return tables


def _cell(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.7g}"


def physio_bytes(table: PhysioTable) -> bytes:
    """The gzip-compressed TSV (no header row; ``n/a`` for missing values; no time stamp
    in the gzip header, so an export is reproducible byte for byte)."""
    text = "\n".join(map(_cell, table.values.tolist())) + "\n"
    return gzip.compress(text.encode("ascii"), compresslevel=6, mtime=0)
