"""Faults injected into real MIT-BIH ECG and twin signals are flagged within 0.5 s.

Each signal is streamed through :class:`FeaturePipeline` the way the session does it:
1/60 s chunks, ``check(now)`` and ``snapshot(now)`` every frame. A fault starting at
``t0`` must raise its flag by ``t0 + 0.5 s``, the snapshot must be invalid while it lasts,
and valid again within a few seconds after it ends.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from mitbih import record

from biosignals.pipeline import FeaturePipeline
from biosignals.ppg import simulate_ppg
from biosignals.twin_model import TwinPhysiology, TwinProfile

REPO = Path(__file__).resolve().parents[1]
FRAME = 1.0 / 60.0
FAULT_AT, FAULT_LEN = 12.0, 3.0
UNTIL = FAULT_AT + FAULT_LEN + 6.0


def _ecg_100() -> np.ndarray:
    return record("100")[0][: 360 * 25]


@cache
def _twin(seconds: float = 25.0) -> tuple[np.ndarray, ...]:
    twin = TwinPhysiology(TwinProfile(), start_time=0.0, seed=5)
    c = twin.advance(seconds)
    return c.ecg, c.ecg_t, c.eda, c.eda_t, c.beat_times


def _stream(
    streams: dict[str, tuple[np.ndarray, np.ndarray, float]],
    until: float,
    skip: Callable[[str, float], bool] = lambda role, now: False,
) -> tuple[FeaturePipeline, list[tuple[float, tuple[str, ...], bool]]]:
    """Feed every stream frame by frame; return the pipeline and (now, flags, valid) rows."""
    pipe = FeaturePipeline({role: fs for role, (_, _, fs) in streams.items()})
    pos = dict.fromkeys(streams, 0)
    rows = []
    for k in range(1, round(until / FRAME) + 1):
        now = k * FRAME
        for role, (x, t, _) in streams.items():
            j = int(np.searchsorted(t, now, side="right"))
            if not skip(role, now):
                pipe.update(role, x[pos[role] : j], t[pos[role] : j])
            pos[role] = j
        pipe.check(now)
        snap = pipe.snapshot(now)
        rows.append((now, snap.flags, snap.valid))
    return pipe, rows


def _assert_fault(
    rows: list[tuple[float, tuple[str, ...], bool]], flag: str, recover_s: float = 4.0
) -> None:
    before = [r for r in rows if 6.0 <= r[0] < FAULT_AT]
    assert all(valid and not flags for _, flags, valid in before), "flags before the fault"
    raised = [now for now, flags, _ in rows if now >= FAULT_AT and flag in flags]
    assert raised, f"{flag} never raised"
    assert raised[0] - FAULT_AT <= 0.5, f"{flag} raised {raised[0] - FAULT_AT:.3f} s late"
    during = [r for r in rows if raised[0] <= r[0] < FAULT_AT + FAULT_LEN]
    assert all(not valid for _, _, valid in during), "snapshot valid during the fault"
    end = FAULT_AT + FAULT_LEN
    after = [r for r in rows if end + recover_s <= r[0]]
    assert after and all(valid and not flags for _, flags, valid in after), (
        f"not valid again {recover_s} s after the fault"
    )


def _inject(x: np.ndarray, t: np.ndarray, value: float | str) -> np.ndarray:
    y = x.copy()
    sel = (t >= FAULT_AT) & (t < FAULT_AT + FAULT_LEN)
    if value == "hold":
        y[sel] = y[np.flatnonzero(sel)[0] - 1]
    elif value == "rail":
        y[sel] = float(np.max(x)) + 0.5  # saturated amplifier: stuck at the top rail
    else:
        y[sel] = float(value)
    return y


@pytest.mark.parametrize(
    ("value", "flag"),
    [(np.nan, "heart:nan"), ("hold", "heart:flatline"), ("rail", "heart:clipping")],
)
def test_mitbih_sample_faults(value: float | str, flag: str) -> None:
    x = _ecg_100()
    t = np.arange(x.size) / 360.0
    _, rows = _stream({"heart": (_inject(x, t, value), t, 360.0)}, UNTIL)
    _assert_fault(rows, flag)


def test_mitbih_dropout() -> None:
    x = _ecg_100()
    t = np.arange(x.size) / 360.0
    _, rows = _stream(
        {"heart": (x, t, 360.0)},
        UNTIL,
        skip=lambda role, now: FAULT_AT < now <= FAULT_AT + FAULT_LEN,
    )
    _assert_fault(rows, "heart:dropout")


def test_twin_eda_out_of_range_and_flatline() -> None:
    _, _, eda, eda_t, _ = _twin()
    for value, flag in (
        (0.0, "eda:out_of_range"),
        (80.0, "eda:out_of_range"),
        ("hold", "eda:flatline"),
    ):
        streams = {"eda": (_inject(eda, eda_t, value), eda_t, 32.0)}
        _, rows = _stream(streams, UNTIL)
        _assert_fault(rows, flag)


def test_twin_eda_nan_and_dropout() -> None:
    ecg, ecg_t, eda, eda_t, _ = _twin()
    streams = {"eda": (_inject(eda, eda_t, np.nan), eda_t, 32.0)}
    _assert_fault(_stream(streams, UNTIL)[1], "eda:nan")
    streams = {"heart": (ecg, ecg_t, 500.0), "eda": (eda, eda_t, 32.0)}  # ECG stays valid
    skip = lambda role, now: role == "eda" and FAULT_AT < now <= FAULT_AT + FAULT_LEN  # noqa: E731
    _assert_fault(_stream(streams, UNTIL, skip)[1], "eda:dropout")


def test_hr_stream_implausible_values() -> None:
    _, _, _, _, beats = _twin()
    t = beats[1:]
    hr = 60.0 / np.diff(beats)
    for bad in (250.0, 20.0):
        _, rows = _stream({"hr": (_inject(hr, t, bad), t, 0.0)}, UNTIL)
        _assert_fault(rows, "hr:implausible", recover_s=1.5)


def test_ecg_tachycardia_beyond_220_is_implausible() -> None:
    """Beats at 250 bpm (e.g. noise detected as QRS) flag the ECG heart rate."""
    twin_ecg, ecg_t, _, _, beats = _twin()
    qrs = twin_ecg[(ecg_t >= beats[3] - 0.05) & (ecg_t < beats[3] + 0.05)]
    x = twin_ecg.copy()
    for b in np.arange(FAULT_AT, FAULT_AT + FAULT_LEN, 0.24):  # extra QRS every 240 ms
        i = int(np.searchsorted(ecg_t, b))
        x[i : i + qrs.size] = qrs
    _, rows = _stream({"heart": (x, ecg_t, 500.0)}, UNTIL)
    _assert_fault(rows, "heart:implausible", recover_s=5.0)


def test_ppg_nan_burst() -> None:
    """A NaN burst in a PPG-only session is flagged and the snapshot recovers after it."""
    _, _, _, _, beats = _twin()
    t, ppg, _ = simulate_ppg(beats, 100.0, 25.0, seed=1)
    bad = _inject(ppg, t, np.nan)
    _, rows = _stream({"ppg": (bad, t, 100.0)}, UNTIL)
    _assert_fault(rows, "ppg:nan")


def test_no_false_flags_on_clean_signals() -> None:
    x = _ecg_100()
    t = np.arange(x.size) / 360.0
    _, _, eda, eda_t, beats = _twin()
    pt, ppg, _ = simulate_ppg(beats, 100.0, 25.0, seed=2)
    streams = {
        "heart": (x, t, 360.0),
        "ppg": (ppg, pt, 100.0),
        "eda": (eda, eda_t, 32.0),
    }
    pipe, rows = _stream(streams, UNTIL)
    assert all(valid and not flags for now, flags, valid in rows if now >= 4.0)
    assert not pipe.errors


def test_real_amplifier_saturation_in_mitbih_116_is_flagged() -> None:
    """Record 116 hits the ADC rail (-5.12 mV) for ~0.7 s at 1001.9 s: clipping, then flatline."""
    first = 360 * 990
    x = record("116")[0][first : first + 360 * 15]
    t = (first + np.arange(x.size)) / 360.0
    pipe = FeaturePipeline({"heart": 360.0})
    events = []
    for i in range(0, x.size, 6):
        events += pipe.update("heart", x[i : i + 6], t[i : i + 6]).quality
    clip = [e for e in events if e.flag == "clipping" and e.end is None]
    assert clip and abs(clip[0].start - 1001.9) < 0.2
    ended = [e for e in events if e.flag == "clipping" and e.end is not None]
    assert ended and ended[0].end is not None and ended[0].end - ended[0].start < 1.0
