"""Hard skin-conductance signals with known responses and artefacts, and their scores.

Usage::

    .venv/bin/python benchmarks/eda_stress.py [--quick]

Generator (:func:`drifting_eda`, 32 Hz unless told otherwise):

* tonic level: 2-10 µS (log-uniform) times ``exp(z)``, ``z`` a slow random process
  (white noise through a 1/200 Hz low-pass, SD 0.15): drifts of +-15 % over minutes,
  slopes up to about 1 µS/min; plus slow tonic episodes (habituation, rising arousal):
  after every tenth response the level falls or rises by 0.1-0.5 µS over 30-90 s;
* responses: Poisson onsets (4/min, at least 1 s apart, so many overlap), amplitudes
  log-uniform 0.01-1.5 µS, Bateman shapes with rise time constant 0.5-1.5 s and
  recovery time constant 2-8 s (and >= rise + 0.75 s), drawn per response;
* noise: white, 0.003 µS SD; quantised to 1 nS (a 16-bit front end).

The true onset of a response is the start of its Bateman function: the last trough of the
first derivative before the rise (its derivative jumps there). A response is *isolated*
when no other one starts in the 5 s before it or the 2 s after it.

Artefacts (:func:`add_artefacts`): one every 40-80 s, of three kinds:

``drop``
    contact loosening: the level falls by 20-60 % within 0.1 s and recovers exponentially
    (time constant 1-4 s) to its course;
``loss``
    contact lost: the reading falls to 0.00-0.03 µS within 0.1 s for 1-6 s, then returns
    within 0.2 s;
``spike``
    pressure on the electrode: the level rises by 0.3-3 µS within 0.1-0.25 s (faster than
    any response rises) and falls back over 0.3-1.5 s.

Scores (:func:`score`): a flagged response matches a true one if its onset is within the
tolerance (0.5 s or 1.0 s), nearest first, large true responses first. Sensitivity per
true amplitude class (>= 0.02 µS, >= 0.05 µS); false responses per 10 min, those whose
completed amplitude reaches 0.02 and 0.05 µS counted apart; onset error (detected minus
true) of the matched isolated responses. Responses flagged with an onset inside an
artefact (from 1 s before it to 3 s after it) are counted apart and are not false
responses of the detector's SCR logic unless they match a true response; true responses
there (from 1 s before an artefact to 1 s after it) are not counted in the sensitivity.
The artefact flag's delay is from the artefact's start to the sample that revealed the
first flagged segment covering it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.signal import butter, sosfilt
from vrtherapy_benchmarks.bench_args import bench_parser

FloatArray = NDArray[np.float64]
FS = 32.0
FRAME = 1.0 / 60.0


@dataclass
class EdaTruth:
    """A generated recording: samples, times, responses and artefacts."""

    t: FloatArray
    x: FloatArray
    onsets: FloatArray
    amplitudes: FloatArray
    artefacts: list[tuple[float, float, str]] = field(default_factory=list)  # start, end, kind

    def isolated(self) -> NDArray[np.bool_]:
        """Responses with no other onset in the 5 s before or the 2 s after."""
        o = self.onsets
        before = np.diff(o, prepend=-np.inf) >= 5.0
        after = np.diff(o, append=np.inf) >= 2.0
        return before & after


def _bateman(u: FloatArray, rise: float, decay: float) -> FloatArray:
    """Bateman function with peak 1, 0 before ``u = 0``."""
    tp = math.log(decay / rise) * rise * decay / (decay - rise)
    norm = math.exp(-tp / decay) - math.exp(-tp / rise)
    v = (np.exp(-u / decay) - np.exp(-u / rise)) / norm
    return np.where(u > 0.0, v, 0.0)


def _tonic(n: int, fs: float, rng: np.random.Generator) -> FloatArray:
    """Tonic level ``L0 exp(z)``: ``L0`` log-uniform 2-10 µS, ``z`` white noise through a
    2nd-order low-pass at 1/200 Hz scaled to SD 0.15 (slopes up to ~1 µS/min)."""
    level0 = float(np.exp(rng.uniform(np.log(2.0), np.log(10.0))))
    sos = butter(2, 1.0 / 500.0, btype="lowpass", fs=fs, output="sos")
    pad = round(1500.0 * fs)  # start in the filter's steady state
    z = sosfilt(sos, rng.standard_normal(n + pad))[pad:]
    return np.asarray(level0 * np.exp(0.12 * z / np.std(z)))


def drifting_eda(minutes: float, seed: int, fs: float = FS) -> EdaTruth:
    """The drifting-tonic generator of the module docstring."""
    rng = np.random.default_rng(seed)
    n = round(minutes * 60.0 * fs)
    t = np.arange(n) / fs
    x = _tonic(n, fs, rng)
    onsets_l: list[float] = []
    o = 10.0 + float(rng.exponential(15.0))
    while o < t[-1] - 15.0:
        onsets_l.append(o)
        o += max(1.0, float(rng.exponential(15.0)))
    onsets = np.asarray(onsets_l)
    amps = np.exp(rng.uniform(np.log(0.01), np.log(1.5), onsets.size))
    for k, (onset, amp) in enumerate(zip(onsets.tolist(), amps.tolist(), strict=True)):
        rise = float(rng.uniform(0.5, 1.5))
        decay = float(rng.uniform(max(2.0, rise + 0.75), 8.0))
        i0 = int(np.searchsorted(t, onset))
        i1 = min(n, i0 + round(60.0 * fs))
        x[i0:i1] += amp * _bateman(t[i0:i1] - onset, rise, decay)
        if k % 10 == 9:  # a slow tonic episode: habituation or rising arousal
            step = float(rng.uniform(0.1, 0.5)) * (1.0 if rng.random() < 0.5 else -1.0)
            x[i0:] += step * (1.0 - np.exp(-(t[i0:] - onset) / rng.uniform(30.0, 90.0)))
    x += rng.normal(0.0, 0.003, n)
    x = np.round(np.maximum(x, 0.05) * 1000.0) / 1000.0  # 1 nS steps
    return EdaTruth(t, x, onsets, amps)


def add_artefacts(truth: EdaTruth, seed: int) -> EdaTruth:
    """``truth`` with motion artefacts (module docstring) every 40-80 s."""
    rng = np.random.default_rng(seed)
    t, x = truth.t, truth.x.copy()
    fs = 1.0 / float(t[1] - t[0])
    arts: list[tuple[float, float, str]] = []
    start = 30.0 + float(rng.uniform(0.0, 20.0))
    kinds = ("drop", "loss", "spike")
    k = 0
    while start < t[-1] - 20.0:
        kind = kinds[k % 3]
        end = _one_artefact(t, x, start, kind, rng, fs)
        arts.append((start, end, kind))
        k += 1
        start = end + float(rng.uniform(40.0, 80.0))
    return EdaTruth(t, x, truth.onsets, truth.amplitudes, arts)


def _one_artefact(
    t: FloatArray, x: FloatArray, start: float, kind: str, rng: np.random.Generator, fs: float
) -> float:
    """Apply one artefact at ``start`` to ``x`` in place; return its end (s)."""
    i0 = int(np.searchsorted(t, start))
    if kind == "drop":
        depth = float(rng.uniform(0.2, 0.6))
        tau = float(rng.uniform(1.0, 4.0))
        u = t[i0:] - start
        ramp = np.clip(u / 0.1, 0.0, 1.0)
        factor = 1.0 - depth * ramp * np.exp(-np.maximum(u - 0.1, 0.0) / tau)
        x[i0:] *= factor
        return start + 0.1 + 4.0 * tau
    if kind == "loss":
        dur = float(rng.uniform(1.0, 6.0))
        i1 = int(np.searchsorted(t, start + dur))
        floor = float(rng.uniform(0.0, 0.03))
        ramp_in = np.clip((t[i0:i1] - start) / 0.1, 0.0, 1.0)
        x[i0:i1] = x[i0:i1] * (1.0 - ramp_in) + floor * ramp_in
        i2 = int(np.searchsorted(t, start + dur + 0.2))
        back = np.clip((t[i1:i2] - start - dur) / 0.2, 0.0, 1.0)
        x[i1:i2] = floor * (1.0 - back) + x[i1:i2] * back
        return start + dur + 0.2
    rise = float(rng.uniform(0.1, 0.25))
    fall = float(rng.uniform(0.3, 1.5))
    height = float(np.exp(rng.uniform(np.log(0.3), np.log(3.0))))
    u = t[i0:] - start
    bump = np.where(u < rise, u / rise, np.exp(-(u - rise) / (fall / 3.0)))
    x[i0:] += height * bump
    return start + rise + fall


# ---------------------------------------------------------------------- scoring
@dataclass
class Detected:
    """What an extractor reported on one recording."""

    onsets: FloatArray  # completed responses' onsets (s)
    amplitudes: FloatArray  # their amplitudes (µS)
    artefacts: list[tuple[float, float, float]]  # flagged segments (start, end, detected)


def run_extractor(
    truth: EdaTruth, make: Callable[[float], object], chunk_s: float = 10.0
) -> Detected:
    """Stream ``truth`` through ``make(fs)`` (an :class:`~biosignals.eda.EdaExtractor`)."""
    fs = 1.0 / float(truth.t[1] - truth.t[0])
    ext = make(fs)
    done: list[tuple[float, float]] = []
    events: list[Any] = []
    step = max(1, round(chunk_s * fs))
    for i in range(0, truth.t.size, step):
        ext.update(truth.x[i : i + step], truth.t[i : i + step])  # type: ignore[attr-defined]
        done += [(r.onset, r.amplitude_us) for r in ext.drain_completed()]  # type: ignore[attr-defined]
        drain = getattr(ext, "drain_artifacts", None)
        events += drain() if drain is not None else []
    ends = {e.start: e.end for e in events if e.end is not None}
    arts = [
        (e.start, ends.get(e.start, float(truth.t[-1])), e.detected)
        for e in events
        if e.end is None
    ]
    return Detected(np.asarray([o for o, _ in done]), np.asarray([a for _, a in done]), arts)


def _match(
    true_on: FloatArray, true_amp: FloatArray, det: FloatArray, tol: float
) -> NDArray[np.int64]:
    """Index of the detection matched to each true response (-1: none), one-to-one,
    large true responses first, nearest detection first."""
    used = np.zeros(det.size, dtype=bool)
    out = np.full(true_on.size, -1, dtype=np.int64)
    for i in np.argsort(-true_amp).tolist():
        if det.size == 0:
            break
        d = np.abs(det - true_on[i])
        d[used] = np.inf
        k = int(d.argmin())
        if d[k] <= tol:
            used[k] = True
            out[i] = k
    return out


def score(truth: EdaTruth, det: Detected, skip_s: float = 10.0) -> dict[str, float]:
    """Sensitivity, false responses per 10 min and onset errors (module docstring)."""
    minutes = (float(truth.t[-1]) - skip_s) / 60.0
    inside = np.zeros(det.onsets.size, dtype=bool)
    true_in = np.zeros(truth.onsets.size, dtype=bool)
    for a, b, _ in truth.artefacts:
        inside |= (det.onsets >= a - 1.0) & (det.onsets <= b + 3.0)
        true_in |= (truth.onsets >= a - 1.0) & (truth.onsets <= b + 1.0)
    loose = _match(truth.onsets, truth.amplitudes, det.onsets, 1.0)
    real = np.zeros(det.onsets.size, dtype=bool)
    real[loose[loose >= 0]] = True
    inside &= ~real  # a detection near an artefact that matches a true response is one
    keep = truth.onsets >= skip_s
    out: dict[str, float] = {}
    iso = truth.isolated()
    for tol in (0.5, 1.0):
        m = _match(truth.onsets, truth.amplitudes, det.onsets, tol)
        for lo in (0.02, 0.05):
            sel = keep & ~true_in & (truth.amplitudes >= lo)
            out[f"se_{lo}_{tol}"] = float(np.mean(m[sel] >= 0)) if sel.any() else math.nan
            out[f"n_{lo}"] = float(np.count_nonzero(sel))
        matched = np.zeros(det.onsets.size, dtype=bool)
        matched[m[m >= 0]] = True
        false = ~matched & ~inside & (det.onsets >= skip_s)
        out[f"fp_{tol}"] = float(np.count_nonzero(false)) / minutes * 10.0
        for lo in (0.02, 0.05):
            big = false & (det.amplitudes >= lo)
            out[f"fp_{lo}_{tol}"] = float(np.count_nonzero(big)) / minutes * 10.0
        if tol == 1.0:
            sel = keep & ~true_in & iso & (truth.amplitudes >= 0.05) & (m >= 0)
            err = det.onsets[m[sel]] - truth.onsets[sel]
            out["iso_n"] = float(sel.sum())
            out["onset_bias_s"] = float(np.median(err)) if err.size else math.nan
            out["onset_abs_p50_s"] = float(np.percentile(np.abs(err), 50)) if err.size else math.nan
            out["onset_abs_p90_s"] = float(np.percentile(np.abs(err), 90)) if err.size else math.nan
    out["in_artefact_per_10min"] = float(np.count_nonzero(inside)) / minutes * 10.0
    false_art = [
        s
        for s, e, _ in det.artefacts
        if not any(s <= b and e >= a - 0.5 for a, b, _ in truth.artefacts)
    ]
    out["false_artefacts_per_10min"] = len(false_art) / minutes * 10.0
    return out


def artefact_delays(truth: EdaTruth, det: Detected) -> dict[str, list[float]]:
    """Per artefact kind: seconds from each artefact's start to the sample that revealed
    the first flagged segment covering it (inf: never flagged)."""
    out: dict[str, list[float]] = {}
    for a, b, kind in truth.artefacts:
        hits = [d for s, e, d in det.artefacts if s <= b and e >= a - 0.5]
        out.setdefault(kind, []).append(max(0.0, min(hits) - a) if hits else math.inf)
    return out


def evaluate(
    make: Callable[[float], object], seeds: Sequence[int], minutes: float, artefacts: bool
) -> dict[str, float]:
    """Pooled :func:`score` over recordings (rates and shares weighted by duration)."""
    rows = []
    errs: list[float] = []
    delays: dict[str, list[float]] = {}
    for seed in seeds:
        truth = drifting_eda(minutes, seed)
        if artefacts:
            truth = add_artefacts(truth, seed + 100)
        det = run_extractor(truth, make)
        rows.append(score(truth, det))
        for kind, d in artefact_delays(truth, det).items():
            delays.setdefault(kind, []).extend(d)
        m = _match(truth.onsets, truth.amplitudes, det.onsets, 1.0)
        iso = truth.isolated() & (truth.amplitudes >= 0.05) & (m >= 0) & (truth.onsets >= 10.0)
        errs += (det.onsets[m[iso]] - truth.onsets[iso]).tolist()
    out = {k: float(np.nanmean([r[k] for r in rows])) for k in rows[0]}
    for kind, d in delays.items():
        found = np.asarray([v for v in d if math.isfinite(v)])
        out[f"{kind}_n"] = float(len(d))
        out[f"{kind}_missed"] = float(len(d) - found.size)
        out[f"{kind}_flag_p95_s"] = float(np.percentile(found, 95)) if found.size else math.nan
        out[f"{kind}_flag_max_s"] = float(found.max()) if found.size else math.nan
    e = np.abs(np.asarray(errs))
    out["onset_abs_p90_s"] = float(np.percentile(e, 90)) if e.size else math.nan
    out["onset_abs_p50_s"] = float(np.percentile(e, 50)) if e.size else math.nan
    out["onset_bias_s"] = float(np.median(errs)) if errs else math.nan
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the scores of :class:`biosignals.eda.EdaExtractor` on both generators."""
    from biosignals.eda import EdaExtractor

    parser = bench_parser("benchmarks/eda_stress.py", __doc__)
    parser.add_argument("--quick", action="store_true", help="two 10-minute runs, not four of 30")
    quick = parser.parse_args(argv).quick
    minutes = 10.0 if quick else 30.0
    seeds = (1, 2) if quick else (1, 2, 3, 4)
    for label, art in (("drifting tonic", False), ("with artefacts", True)):
        r = evaluate(EdaExtractor, seeds, minutes, art)
        print(label, {k: round(v, 3) for k, v in r.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
