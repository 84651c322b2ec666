"""Motion artefacts are flagged within 0.5 s, and never counted as physiology (issue 19).

Each signal is streamed through :class:`FeaturePipeline` as the session does it: 1/60 s
chunks, ``check(now)`` and ``snapshot(now)`` every frame. An artefact starting at
``t0`` must have raised its flag in a frame at or before ``t0 + 0.5 s`` (the time the
controller learns of it, not a back-dated start), the snapshot must be invalid while it
lasts, and clean signals raise no artefact flag. ECG: a muscle burst (wide band), QRS-like
electrode-motion transients after the beats (an implausible RR sequence); PPG: a
moving finger (wide band); EDA: a loosening electrode (steep drop), contact lost, a
pressure spike. Chunking does not change any flag.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from types import ModuleType

import numpy as np
import pytest
from mitbih import REPO, record
from scipy.signal import butter, sosfilt

from biosignals.eda import EdaExtractor
from biosignals.pipeline import FeaturePipeline
from biosignals.ppg import simulate_ppg
from biosignals.quality import QualityEvent
from biosignals.twin_model import TwinPhysiology, TwinProfile

FRAME = 1.0 / 60.0
AT, LENGTH = 40.0, 3.0  # the artefact: after the burst baseline's warm-up
UNTIL = AT + LENGTH + 12.0


@cache
def _bench(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


def _stream(
    role: str, x: np.ndarray, t: np.ndarray, fs: float, until: float = UNTIL
) -> list[tuple[float, tuple[str, ...], bool]]:
    """Frame by frame through the pipeline: (now, snapshot flags, valid) per frame."""
    pipe = FeaturePipeline({role: fs})
    rows, pos = [], 0
    for k in range(1, round(until / FRAME) + 1):
        now = k * FRAME
        j = int(np.searchsorted(t, now, side="right"))
        pipe.update(role, x[pos:j], t[pos:j])
        pos = j
        pipe.check(now)
        snap = pipe.snapshot(now)
        rows.append((now, snap.flags, snap.valid))
    return rows


def _assert_flagged(rows: list[tuple[float, tuple[str, ...], bool]], flags: set[str]) -> str:
    """The artefact at AT raised one of ``flags`` within 0.5 s (none before, from 10 s on);
    the snapshot is invalid from then while it lasts. Returns the flag raised."""
    before = [f for now, f, _ in rows if 10.0 <= now < AT]
    assert not any(before), f"flags before the artefact: {before[:3]}"
    raised = [(now, set(f) & flags) for now, f, _ in rows if now >= AT and set(f) & flags]
    assert raised, f"none of {sorted(flags)} raised"
    now, which = raised[0]
    assert now - AT <= 0.5, f"{which} raised {now - AT:.3f} s after the artefact began"
    during = [valid for n, _, valid in rows if now <= n < AT + 1.0]
    assert during and not any(during), "snapshot valid during the artefact"
    return which.pop()


# ---------------------------------------------------------------------- ECG
def _ecg(name: str = "100") -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    ecg, beats, fs = record(name)
    x = np.array(ecg[: round(UNTIL * fs) + 1])
    return x, np.arange(x.size) / fs, np.asarray(beats[beats < x.size]), fs


def test_ecg_muscle_burst_is_an_artifact() -> None:
    x, t, beats, fs = _ecg()
    es = _bench("ecg_stress")
    sel = (t >= AT) & (t < AT + LENGTH)
    noise = es.muscle(int(sel.sum()), fs, np.random.default_rng(1))
    size = np.sqrt(es.signal_power(x, beats, fs))  # 0 dB: as strong as the QRS
    x[sel] += size * noise
    assert _assert_flagged(_stream("heart", x, t, fs), {"heart:artifact"})


def test_ecg_electrode_motion_complexes_are_implausible() -> None:
    """QRS-wide bumps of half the QRS's size 0.23 s after every beat (an electrode tugged
    at every step): an RR sequence over 220 bpm that no heart makes."""
    x, t, beats, fs = _ecg()
    amp = 0.5 * float(np.median(_bench("ecg_stress")._qrs_amplitude(x, beats, fs)))
    bumps = beats[:-1] + round(0.23 * fs)
    bumps = bumps[(bumps >= AT * fs) & (bumps < (AT + LENGTH) * fs)]
    assert bumps.size >= 3
    first = float(t[bumps[0]])
    u = np.arange(-round(0.06 * fs), round(0.06 * fs) + 1)
    for m in bumps.tolist():
        x[m + u] += amp * np.exp(-0.5 * (u / (0.015 * fs)) ** 2)
    rows = _stream("heart", x, t - (first - AT), fs)  # the first bump at AT
    assert _assert_flagged(rows, {"heart:implausible", "heart:artifact"})


@pytest.mark.parametrize("name", ["100", "106", "116"])
def test_clean_ecg_raises_no_artifact(name: str) -> None:
    ecg, _, fs = record(name)
    x = np.array(ecg[: round(300.0 * fs)])
    rows = _stream("heart", x, np.arange(x.size) / fs, fs, until=300.0)
    flagged = [now for now, f, _ in rows if now >= 10.0 and "heart:artifact" in f]
    assert flagged == []


# ---------------------------------------------------------------------- PPG
def _ppg() -> tuple[np.ndarray, np.ndarray, float]:
    twin = TwinPhysiology(TwinProfile(), start_time=0.0, seed=3)
    beats = twin.advance(UNTIL + 1.0).beat_times
    t, x, _ = simulate_ppg(beats, 100.0, UNTIL + 1.0, seed=3, noise=0.01)
    return t, x, 100.0


def test_ppg_motion_is_an_artifact() -> None:
    """A moving finger: 0.5-10 Hz motion twice the pulse's size."""
    t, x, fs = _ppg()
    sel = (t >= AT) & (t < AT + LENGTH)
    sos = butter(2, [0.5, 10.0], btype="bandpass", fs=fs, output="sos")
    motion = sosfilt(sos, np.random.default_rng(2).standard_normal(int(sel.sum())))
    pulse = float(np.ptp(x[(t >= 10.0) & (t < AT)]))
    x = x.copy()
    x[sel] += 2.0 * pulse * motion / np.std(motion)
    assert _assert_flagged(_stream("ppg", x, t, fs), {"ppg:artifact"})


def test_clean_ppg_raises_no_artifact() -> None:
    t, x, fs = _ppg()
    rows = _stream("ppg", x, t, fs)
    assert [now for now, f, _ in rows if "ppg:artifact" in f] == []


# ---------------------------------------------------------------------- EDA
SPIKES = {  # pressure spikes: height (uS), rise (s), fall back (s)
    "spike": (0.6, 0.15, 1.0),
    "big_spike": (2.0, 0.1, 0.6),
    "slow_spike": (0.45, 0.2, 1.5),  # small, falling back slowly
    "short_spike": (0.45, 0.15, 1.0),  # (merged into a response below)
}


def _eda(kind: str) -> tuple[np.ndarray, np.ndarray, float]:
    es = _bench("eda_stress")
    truth = es.drifting_eda(UNTIL / 60.0 + 0.1, seed=4)
    x = truth.x.copy()
    if kind == "drop":  # 40 % lost within 0.1 s, back over ~8 s
        u = np.clip(truth.t - AT, 0.0, None)
        x *= 1.0 - 0.4 * np.clip(u / 0.1, 0.0, 1.0) * np.exp(-np.maximum(u - 0.1, 0.0) / 2.0)
    elif kind == "loss":  # the reading falls to ~0 within 0.1 s for LENGTH seconds
        sel = (truth.t >= AT) & (truth.t < AT + LENGTH)
        x[sel] = 0.01 + (x[sel] - 0.01) * np.clip(1.0 - (truth.t[sel] - AT) / 0.1, 0.0, 1.0)
    else:  # pressure: e.g. 0.6 uS within 0.15 s, back over ~1 s
        height, rise, fall = SPIKES[kind.removesuffix("+response")]
        u = truth.t - AT
        bump = np.where(u < rise, u / rise, np.exp(-(u - rise) / (fall / 3.0)))
        x += height * np.where(u >= 0.0, bump, 0.0)
        if kind.endswith("+response"):  # a real 0.8-uS response begins 0.13 s later
            v = np.clip(truth.t - AT - 0.13, 0.0, None)
            bateman = np.exp(-v / 6.0) - np.exp(-v / 1.5)  # rise 1.5 s, recovery 6 s
            x += 0.8 * bateman / bateman.max()
    return truth.t, np.round(x * 1000.0) / 1000.0, 1.0 / float(truth.t[1] - truth.t[0])


@pytest.mark.parametrize("kind", ["drop", "loss", "spike", "big_spike", "slow_spike"])
def test_eda_artefacts_are_flagged_and_not_responses(kind: str) -> None:
    t, x, fs = _eda(kind)
    rows = _stream("eda", x, t, fs)
    allowed = {"eda:artifact", "eda:out_of_range"} if kind == "loss" else {"eda:artifact"}
    assert _assert_flagged(rows, allowed) in allowed
    ext, done, starts, pos = EdaExtractor(fs), [], [], 0
    for k in range(1, round(UNTIL / FRAME) + 1):
        j = int(np.searchsorted(t, k * FRAME, side="right"))
        ext.update(x[pos:j], t[pos:j])
        pos = j
        done += [r.onset for r in ext.drain_completed()]
        starts += [e.start for e in ext.drain_artifacts() if e.end is None]
    inside = [o for o in done if AT - 1.0 <= o <= AT + LENGTH + 1.0]
    assert inside == [], f"artefact counted as responses at {inside}"
    assert any(AT - 0.3 <= s <= AT + 0.3 for s in starts)


def test_eda_spike_running_into_a_response_is_flagged_in_time() -> None:
    """The response's rise hides the spike's fall back: the rise stopping at once is what
    gives the spike away, within 0.5 s."""
    t, x, fs = _eda("short_spike+response")
    assert _assert_flagged(_stream("eda", x, t, fs), {"eda:artifact"}) == "eda:artifact"


def test_clean_drifting_eda_raises_no_artifact() -> None:
    truth = _bench("eda_stress").drifting_eda(10.0, seed=9)
    rows = _stream("eda", truth.x, truth.t, 32.0, until=600.0)
    assert [now for now, f, _ in rows if "eda:artifact" in f] == []


# ---------------------------------------------------------------------- chunking
def _events(role: str, x: np.ndarray, t: np.ndarray, fs: float, n: int) -> list[object]:
    """Everything the pipeline reports, fed ``n`` samples per call."""
    pipe = FeaturePipeline({role: fs})
    out: list[object] = []
    for i in range(0, x.size, n):
        res = pipe.update(role, x[i : i + n], t[i : i + n])
        out += [(b.time, b.rr) for b in res.beats] + [(r.onset,) for r in res.responses]
        out += res.quality
    return sorted(out, key=_when)


def _when(item: object) -> tuple[float, str]:
    if isinstance(item, QualityEvent):
        return (item.start, item.flag + str(item.end))
    assert isinstance(item, tuple)
    return (float(item[0]), "")


@pytest.mark.parametrize("case", ["ecg_burst", "ppg_motion", "eda_spike", "eda_spike_response"])
def test_chunk_sizes_give_identical_flags(case: str) -> None:
    if case == "ecg_burst":
        x, t, _beats, fs = _ecg()
        sel = (t >= AT) & (t < AT + LENGTH)
        x[sel] += 0.5 * _bench("ecg_stress").muscle(int(sel.sum()), fs, np.random.default_rng(1))
        role = "heart"
    elif case == "ppg_motion":
        t, x, fs = _ppg()
        x = x.copy()
        sel = (t >= AT) & (t < AT + LENGTH)
        x[sel] += 3.0 * np.random.default_rng(4).standard_normal(int(sel.sum()))
        role = "ppg"
    else:
        t, x, fs = _eda("spike" if case == "eda_spike" else "short_spike+response")
        role = "eda"
    keep = t < AT + LENGTH + 5.0
    x, t = x[keep], t[keep]
    one = _events(role, x, t, fs, x.size)
    assert any(isinstance(e, QualityEvent) for e in one)
    for n in (1, 7, 1000):
        assert _events(role, x, t, fs, n) == one, f"{n} samples per call"


def test_burst_tracker_is_chunk_invariant_through_many_bursts() -> None:
    """Many bursts, a lasting change of size and a quiet restart, fed in chunks of 1 to
    5000 samples: the block-by-block and the array paths give the same bursts."""
    from biosignals._quality_burst import BurstRules, BurstTracker

    fs, rng = 250.0, np.random.default_rng(8)
    t = np.arange(round(400.0 * fs)) / fs
    x = np.sin(2 * np.pi * 1.2 * t) ** 63 + 0.01 * rng.standard_normal(t.size)  # spiky beats
    for start in rng.uniform(10.0, 380.0, 25).tolist():
        sel = (t >= start) & (t < start + rng.uniform(0.3, 4.0))
        x[sel] += rng.uniform(0.1, 1.0) * rng.standard_normal(int(sel.sum()))
    x[(t >= 200.0) & (t < 260.0)] += 0.3 * rng.standard_normal(round(60.0 * fs))  # lasting
    one = BurstTracker(BurstRules(), fs).update(x, t)
    assert len(one) > 20
    for sizes in ([1], [7], [1000], [3, 5000, 11, 250]):
        tracker, got, i, k = BurstTracker(BurstRules(), fs), [], 0, 0
        while i < x.size:
            n = sizes[k % len(sizes)]
            got += tracker.update(x[i : i + n], t[i : i + n])
            i, k = i + n, k + 1
        assert got == one, f"chunks of {sizes}"
