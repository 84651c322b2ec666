"""Offline physiology for the report: beats, RMSSD, SCRs, signal gaps, quality intervals.

The report prefers what the live session detected (its recorded beats and SCRs). For
recordings without them, the functions here run the same causal extractors the session
used (:class:`biosignals.ecg.EcgExtractor`, :class:`biosignals.ppg.PpgExtractor`,
:class:`biosignals.eda.EdaExtractor`) over the whole recorded signal, chunk by chunk, with
the recorded timestamps made non-decreasing exactly as the live pipeline does (bridges such
as App-Zephyr back-date each packet, so stamps step back at packet joins).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter

from biosignals.ecg import EcgExtractor
from biosignals.eda import EdaExtractor
from biosignals.ppg import PpgExtractor
from engine.export.recording import Marker

__all__ = [
    "Beats",
    "Gaps",
    "Responses",
    "beats_from_ecg",
    "beats_from_ppg",
    "clean_beats",
    "flag_intervals",
    "monotonic",
    "rmssd_windows",
    "scr_from_eda",
    "signal_gaps",
    "union_length",
]

_CHUNK_S = 10.0
_RR_RANGE = (0.27, 2.0)
_RR_JUMP = 0.30
_MIN_DIFFS = 20


@dataclass(frozen=True)
class Beats:
    """R-peak times and cleaned RR intervals (``rr[i]`` ends at ``times[i + 1]``)."""

    times: np.ndarray
    rr: np.ndarray
    rr_ok: np.ndarray

    @property
    def hr_times(self) -> np.ndarray:
        """Times of the beats that end an accepted RR interval."""
        return np.asarray(self.times[1:][self.rr_ok])

    @property
    def hr_bpm(self) -> np.ndarray:
        """Instantaneous heart rate (bpm) of the accepted RR intervals."""
        return np.asarray(60.0 / self.rr[self.rr_ok])


@dataclass(frozen=True)
class Responses:
    """Skin conductance responses: peak times and amplitudes (µS)."""

    peak_times: np.ndarray
    amplitudes: np.ndarray


@dataclass(frozen=True)
class Gaps:
    """Stretches without samples longer than expected from the nominal rate."""

    count: int
    total_s: float
    longest_s: float


def _chunks(n: int, rate: float) -> range:
    return range(0, n, max(1, round(_CHUNK_S * rate)))


def monotonic(timestamps: np.ndarray) -> np.ndarray:
    """Timestamps that never go back: each is at least the one before it (as the live
    pipeline's ``_monotonic`` does for a jittery or back-dating device clock)."""
    t = np.asarray(timestamps, dtype=np.float64)
    return np.maximum.accumulate(t) if t.size else t


def clean_beats(times: np.ndarray, rr: np.ndarray | None = None) -> Beats:
    """Beats with cleaned RR intervals: an RR is accepted when it lies in 0.27-2.0 s and
    within 30 % of the median of the nine RRs around it (the extractor's own artifact
    rule, applied offline, centred).

    Parameters
    ----------
    times
        Beat times (s), non-decreasing.
    rr
        ``rr[i]`` ends at ``times[i + 1]``; default ``diff(times)``. NaN entries (unknown,
        e.g. the first beat after a signal loss) are never accepted.
    """
    t = np.asarray(times, dtype=np.float64)
    rr = np.diff(t) if rr is None else np.asarray(rr, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(rr) & (rr >= _RR_RANGE[0]) & (rr <= _RR_RANGE[1])
        if ok.any():
            ref = median_filter(np.where(ok, rr, np.nan), size=9, mode="nearest")
            ref = np.where(np.isfinite(ref), ref, np.median(rr[ok]))
            ok &= np.abs(rr - ref) <= _RR_JUMP * ref
    return Beats(t, rr, ok)


def _beat_times(
    ext: EcgExtractor | PpgExtractor, x: np.ndarray, t: np.ndarray, rate: float
) -> Beats:
    x = np.asarray(x, dtype=np.float64)
    t = monotonic(t)
    times: list[float] = []
    step = max(1, round(_CHUNK_S * rate))
    for i in _chunks(x.size, rate):
        times.extend(b.time for b in ext.update(x[i : i + step], t[i : i + step]))
    return clean_beats(np.asarray(times, dtype=np.float64))


def beats_from_ecg(ecg: np.ndarray, timestamps: np.ndarray, rate: float) -> Beats:
    """Detect R-peaks with :class:`EcgExtractor` and clean the RR series (:func:`clean_beats`).

    Raises
    ------
    SignalError
        When ``rate`` is outside the extractor's range (100-10000 Hz).
    """
    return _beat_times(EcgExtractor(rate), ecg, timestamps, rate)


def beats_from_ppg(ppg: np.ndarray, timestamps: np.ndarray, rate: float) -> Beats:
    """Detect pulse beats with :class:`PpgExtractor` and clean the RR series.

    Raises
    ------
    SignalError
        When ``rate`` is outside the extractor's range (25-300 Hz).
    """
    return _beat_times(PpgExtractor(rate), ppg, timestamps, rate)


def rmssd_windows(beats: Beats, start: float, end: float, window: float = 60.0) -> np.ndarray:
    """RMSSD (ms) over consecutive non-overlapping windows.

    Returns
    -------
    numpy.ndarray
        ``(k, 2)``: window centre time and RMSSD in ms (NaN where fewer than 20 successive
        differences of accepted RRs fall in the window).
    """
    edges = np.arange(start, end + 1e-9, window)
    if edges.size < 2:
        return np.zeros((0, 2))
    both = beats.rr_ok[1:] & beats.rr_ok[:-1]
    diffs = np.diff(beats.rr)[both] * 1000.0
    at = beats.times[2:][both] if beats.times.size > 2 else np.zeros(0)
    out = np.full((edges.size - 1, 2), np.nan)
    out[:, 0] = (edges[:-1] + edges[1:]) / 2
    idx = np.searchsorted(edges, at, side="right") - 1
    for k in range(edges.size - 1):
        d = diffs[idx == k]
        if d.size >= _MIN_DIFFS:
            out[k, 1] = float(np.sqrt(np.mean(d**2)))
    return out


def scr_from_eda(eda: np.ndarray, timestamps: np.ndarray, rate: float) -> Responses:
    """Skin conductance responses found by :class:`EdaExtractor` over the whole signal.

    Raises
    ------
    SignalError
        When ``rate`` is outside the extractor's range (4-1000 Hz).
    """
    ext = EdaExtractor(rate)
    x = np.asarray(eda, dtype=np.float64)
    timestamps = monotonic(timestamps)
    peaks: list[float] = []
    amps: list[float] = []
    step = max(1, round(_CHUNK_S * rate))
    for i in range(0, x.size, step):
        ext.update(x[i : i + step], timestamps[i : i + step])
        for r in ext.drain_completed():  # completed SCRs carry their peak
            if r.peak_time is not None:
                peaks.append(r.peak_time)
                amps.append(r.amplitude_us)
    return Responses(np.asarray(peaks), np.asarray(amps))


def signal_gaps(timestamps: np.ndarray, rate: float) -> Gaps:
    """Gaps in a regular stream: sample intervals above max(3 periods, 0.25 s)."""
    if rate <= 0 or timestamps.size < 2:
        return Gaps(0, 0.0, 0.0)
    dt = np.diff(timestamps)
    limit = max(3.0 / rate, 0.25)
    big = dt[dt > limit] - 1.0 / rate
    return Gaps(int(big.size), float(big.sum()), float(big.max()) if big.size else 0.0)


def flag_intervals(markers: list[Marker], end: float) -> dict[str, list[tuple[str, float, float]]]:
    """Quality flag intervals per role from ``quality`` markers: ``role -> [(flag, a, b)]``.

    A flag that started and never ended lasts until ``end`` (the end of the recording).
    """
    open_: dict[tuple[str, str], float] = {}
    out: dict[str, list[tuple[str, float, float]]] = {}
    for m in markers:
        if m.kind != "quality":
            continue
        role, flag = str(m.event.get("role", "?")), str(m.event.get("flag", "?"))
        start = m.event.get("start")
        stop = m.event.get("end")
        a = float(start) if isinstance(start, int | float) else m.time
        if not isinstance(stop, int | float) or isinstance(stop, bool):
            open_.setdefault((role, flag), a)
            out.setdefault(role, [])
        else:
            open_.pop((role, flag), None)
            out.setdefault(role, []).append((flag, a, float(stop)))
    for (role, flag), a in open_.items():
        out.setdefault(role, []).append((flag, a, end))
    return out


def union_length(intervals: list[tuple[float, float]]) -> float:
    """Total length covered by possibly overlapping intervals."""
    total, cur_a, cur_b = 0.0, None, None
    for a, b in sorted(intervals):
        if cur_b is None or a > cur_b:
            if cur_a is not None and cur_b is not None:
                total += cur_b - cur_a
            cur_a, cur_b = a, b
        else:
            cur_b = max(cur_b, b)
    if cur_a is not None and cur_b is not None:
        total += cur_b - cur_a
    return total
