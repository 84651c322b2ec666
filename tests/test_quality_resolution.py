"""Low-resolution streams (issue 13, point 6): clean signals raise no flag, real faults do.

Each device in :mod:`quantised_signals` (BITalino 10-bit EDA at 1000 Hz, E4 EDA at 4 Hz in
1 nS steps, EmotiBit EDA at 15 Hz on an uneven grid, Zephyr ECG in 0.025 mV steps, a
6-bit BITalino ECG channel, a Muse-like PPG of a dozen counts) is streamed the way the
session does it: 1/60 s chunks with ``check(now)``, through the monitor the pipeline
builds for its role. Ten clean minutes raise no flag and keep the snapshot valid; an
electrode off, a frozen stream, a run at the ADC maximum and a NaN burst are flagged
within the documented bound (biosignals.quality, "Quantisation") and cleared after.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from quantised_signals import BITALINO_EDA_LSB, DEVICES, Device

from biosignals.errors import SignalError
from biosignals.pipeline import COARSE_RULES, FeaturePipeline
from biosignals.quality import CoarseRules, QualityEvent, QualityMonitor
from biosignals.twin_model import TwinPhysiology, TwinProfile

FRAME = 1.0 / 60.0
CLEAN_S = 600.0
FAULT_AT = 60.0
IDS = [d.name for d in DEVICES]
Rows = list[tuple[float, list[QualityEvent]]]


def _frames(monitor: QualityMonitor, t: np.ndarray, x: np.ndarray) -> Rows:
    """Feed 1/60 s chunks and check(now) every frame; (now, events) of every frame."""
    rows, pos = [], 0
    for k in range(1, math.ceil(t[-1] / FRAME) + 2):
        now = k * FRAME
        j = int(np.searchsorted(t, now, side="right"))
        if j > pos:
            monitor.update(x[pos:j], t[pos:j])
        pos = j
        monitor.check(now)
        rows.append((now, monitor.drain_events()))
    return rows


def _monitor(device: Device, limits: tuple[float, float] | None = None) -> QualityMonitor:
    """The monitor the session's pipeline builds for this device's role."""
    ranges = {device.role: limits} if limits else None
    return FeaturePipeline({device.role: device.rate}, device_ranges=ranges).monitors[device.role]


@pytest.mark.parametrize("device", DEVICES, ids=IDS)
def test_ten_clean_minutes_raise_no_flag(device: Device) -> None:
    t, x = device.make(CLEAN_S)
    monitor = _monitor(device)
    events = [e for _, ev in _frames(monitor, t, x) for e in ev]
    assert events == [], f"{len(events)} flags on a clean signal, first {events[:3]}"
    assert monitor.is_coarse and monitor.resolution is not None
    if device.uniform:
        assert math.isclose(monitor.resolution, device.lsb, rel_tol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES, ids=IDS)
def test_ten_clean_minutes_keep_the_snapshot_valid(device: Device) -> None:
    """The session's path: FeaturePipeline, snapshot every frame; valid from 20 s on."""
    t, x = device.make(CLEAN_S)
    pipe = FeaturePipeline({device.role: device.rate})
    pos, invalid = 0, []
    for k in range(1, round(CLEAN_S / FRAME) + 1):
        now = k * FRAME
        j = int(np.searchsorted(t, now, side="right"))
        pipe.update(device.role, x[pos:j], t[pos:j])
        pos = j
        pipe.check(now)
        snap = pipe.snapshot(now, with_hrv=False)
        if now >= 20.0 and not (snap.valid and not snap.flags):
            invalid.append((round(now, 2), snap.flags))
    assert invalid == [], f"{len(invalid)} invalid frames, first {invalid[:3]}"
    assert not pipe.errors


def _fault(device: Device, kind: str) -> tuple[np.ndarray, np.ndarray, float, str, float]:
    """Signal with one fault at FAULT_AT: (t, x, fault length, flag, bound to raise it)."""
    length = {"off": 5.0, "nan": 0.5}.get(kind, device.bound + 5.0)
    t, x = device.make(FAULT_AT + length + 2.0 * device.bound + 10.0)
    x = x.copy()
    sel = (t >= FAULT_AT) & (t < FAULT_AT + length)
    first = int(np.flatnonzero(sel)[0])
    latency = FRAME + 1.0 / device.rate
    if kind == "off" and device.off is not None:  # EDA: no skin contact, ~0 uS
        x[sel] = device.off
        return t, x, length, "out_of_range", latency
    if kind == "off":  # ECG/PPG: only ADC noise, +-1 step around the signal's level
        noise = np.random.default_rng(7).integers(-1, 2, int(sel.sum()))
        x[sel] = np.round(np.mean(x[:first]) / device.lsb) * device.lsb + noise * device.lsb
        return t, x, length, "flatline", device.bound + latency
    if kind == "frozen":  # the bridge repeats its last value
        x[sel] = x[first - 1]
        return t, x, length, "flatline", device.bound + latency
    if kind == "nan":
        x[sel] = np.nan
        return t, x, length, "nan", latency
    x[sel] = device.adc_max  # pinned at the ADC's full scale
    return t, x, length, "clipping", device.bound + latency


@pytest.mark.parametrize("kind", ["off", "frozen", "rail", "nan"])
@pytest.mark.parametrize("device", DEVICES, ids=IDS)
def test_real_faults_are_flagged_within_the_bound_and_cleared(device: Device, kind: str) -> None:
    t, x, length, flag, bound = _fault(device, kind)
    rows = _frames(_monitor(device), t, x)
    before = [e for now, ev in rows if now < FAULT_AT for e in ev]
    assert before == [], f"flags before the fault: {before[:3]}"
    raised = [now for now, ev in rows for e in ev if e.flag == flag and e.end is None]
    assert raised, f"{flag} never raised"
    assert FAULT_AT <= raised[0] <= FAULT_AT + bound, f"{flag} raised at {raised[0]:.3f} s"
    ends = [e.end for _, ev in rows for e in ev if e.end is not None]
    started = sum(e.end is None for _, ev in rows for e in ev)
    assert len(ends) == started, "a flag is still up at the end"
    assert max(ends) <= FAULT_AT + length + device.bound, f"cleared late: {max(ends):.2f} s"


@pytest.mark.parametrize("device", DEVICES, ids=IDS)
def test_a_declared_adc_range_flags_clipping_after_the_usual_short_run(device: Device) -> None:
    t, x, _, _, _ = _fault(device, "rail")
    monitor = _monitor(device, (device.adc_min, device.adc_max))
    rows = _frames(monitor, t, x)
    raised = [now for now, ev in rows for e in ev if e.flag == "clipping" and e.end is None]
    run = (monitor.clip_samples - 1) / device.rate  # clip_samples identical samples
    assert raised and raised[0] - FAULT_AT <= run + FRAME + 1.0 / device.rate
    assert all(now >= FAULT_AT for now, ev in rows if ev)


def test_bitalino_limit_counts_within_one_step_of_the_declared_range() -> None:
    """OpenSignals' full scale is 1023 * 0.0244 = 24.976 uS; a protocol writing the data
    sheet's 25 uS still sees the ADC's top code as the limit, the code below it not."""
    device = DEVICES[0]
    t, x, _, _, _ = _fault(device, "rail")
    hit = _frames(_monitor(device, (0.0, 25.0)), t, x)
    assert any(e.flag == "clipping" and now - FAULT_AT < 0.5 for now, ev in hit for e in ev)
    below = np.where(x == device.adc_max, device.adc_max - BITALINO_EDA_LSB, x)
    missed = _frames(_monitor(device, (0.0, 25.0)), t, below)
    early = [e for now, ev in missed for e in ev if now - FAULT_AT < device.bound - 0.1]
    assert early == []


def _all_faults(x: np.ndarray, t: np.ndarray, lsb: float, top: float) -> np.ndarray:
    """Every fault in one signal: frozen, +-1 step noise, rail, NaN burst, rail at the end."""
    y = x.copy()
    spans = {"frozen": (8.0, 12.0), "band": (14.0, 18.0), "rail": (20.0, 23.0)}
    for kind, (a, b) in spans.items():
        sel = (t >= a) & (t < b)
        if kind == "frozen":
            y[sel] = y[np.flatnonzero(sel)[0] - 1]
        elif kind == "band":
            y[sel] = y[sel][0] + lsb * np.random.default_rng(3).integers(-1, 2, int(sel.sum()))
        else:
            y[sel] = top
    y[(t >= 25.0) & (t < 25.3)] = np.nan
    y[t >= 28.0] = top  # still clipped when the signal ends
    return y


@pytest.mark.parametrize("device", DEVICES, ids=IDS)
def test_quantisation_aware_flags_do_not_depend_on_chunking(device: Device) -> None:
    """Sizes 1, 7 and 1000 give the same events, with every new rule firing (shorter
    bounds than the role's, same code), a declared range, and a coarse stream that turns
    fine (a finer device takes over at 26 s). Events of one chunk come check by check, so
    they are compared in time order."""
    t, x = device.make(30.0)
    x = _all_faults(x, t, device.lsb, device.adc_max)
    fine = (t >= 26.0) & (t < 28.0)
    x[fine] = x[fine][0] + 1e-6 * np.arange(int(fine.sum()))  # steps far below the grid
    rules = CoarseRules(step=device.lsb / 2.0, hold=1.0, hold_per_unit=0.0, band_after=1.5)
    results = []
    for size in (1, 7, 1000):
        monitor = QualityMonitor(
            device.role, device.rate, coarse=rules, device_range=(-1e9, device.adc_max)
        )
        events: list[QualityEvent] = []
        for i in range(0, t.size, size):
            monitor.update(x[i : i + size], t[i : i + size])
            events += monitor.drain_events()
        results.append(sorted(events, key=lambda e: (e.start, e.flag, e.end or math.inf)))
        assert not monitor.is_coarse  # turned fine at 26 s
    assert results[0] == results[1] == results[2]
    assert {"flatline", "clipping", "nan"} <= {e.flag for e in results[0]}


def test_high_resolution_streams_get_exactly_the_flags_they_got_before() -> None:
    """With or without the coarse rules, float signals with faults: identical events."""
    c = TwinPhysiology(TwinProfile(), start_time=0.0, seed=5).advance(40.0)
    streams = {"heart": (c.ecg, c.ecg_t, 500.0), "eda": (c.eda, c.eda_t, 32.0)}
    for role, (x, t, rate) in streams.items():
        y = _all_faults(x, t, 0.0, float(x.max()) + 0.5)
        plain, aware = (
            QualityMonitor(role, rate),
            QualityMonitor(role, rate, coarse=COARSE_RULES[role]),
        )
        got = [_frames(m, t, y) for m in (plain, aware)]
        assert got[0] == got[1] and any(ev for _, ev in got[0])
        assert not aware.is_coarse and aware.resolution is None


def test_a_stream_that_starts_frozen_is_flagged_after_the_coarse_hold() -> None:
    """Before its first step the resolution is unknown: the role's coarse hold applies."""
    t = np.arange(0.0, 20.0, 1.0 / 32.0)
    events = _frames(_monitor(DEVICES[1]), t, np.full(t.size, 3.0))  # E4 role: eda
    raised = [now for now, ev in events for e in ev if e.flag == "flatline"]
    assert raised and 4.0 <= raised[0] <= 4.0 + 2 * FRAME


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        ({"ppg": (0.0, 1.0)}, "role 'ppg' has no clipping check here; allowed: heart, eda"),
        ({"hr": (0.0, 1.0)}, "role 'hr'"),
        ({"eda": (25.0, 0.0)}, "device_ranges.eda: limits must be finite with low < high"),
        ({"heart": (float("nan"), 1.0)}, "device_ranges.heart"),
    ],
)
def test_bad_device_ranges_say_what_is_wrong(ranges: dict, message: str) -> None:
    with pytest.raises(SignalError, match=message.replace("(", r"\(")):
        FeaturePipeline({"heart": 500.0, "eda": 32.0, "hr": 0.0}, device_ranges=ranges)
