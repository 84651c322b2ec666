"""The SCR part of ``vrtherapy bench biosignals``: generated EDA, detection and its report.

Two figures, each a section of the printed report: SCR sensitivity, false positives per
10 min and flag latency on Bateman SCRs with known onsets and amplitudes
(:func:`scr_detection`), and the hard set of issue 19 on a drifting tonic level with
overlapping responses, 1 nS steps and motion artefacts (:func:`scr_stress`, scored by
``benchmarks/eda_stress.py``). ``benchmarks/biosignals_bench.py`` runs and prints them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from biosignals.eda import EdaExtractor

FRAME = 1.0 / 60.0
"""Seconds per extractor call: one 60 Hz frame, as ``biosignals_bench.FRAME``."""


def _bateman_eda(
    minutes: float, seed: int = 11, *, varied: bool = False, bursts_us: float = 0.0
) -> tuple[np.ndarray, ...]:
    """32 Hz EDA: drifting tonic level + Poisson SCRs (4/min) of known amplitude + noise.

    Default: every SCR is a Bateman function with rise/decay time constants 0.75/2 s,
    tonic drift up to ~0.2 µS/min, white noise 0.005 µS SD. ``varied``: time constants
    drawn per response (rise 0.5-1.5 s, decay 1.5-5 s and >= rise + 0.5 s) and a faster
    tonic drift (up to ~0.9 µS/min). ``bursts_us``: every ~60 s a 2-6 s burst of uniform
    white noise within +-``bursts_us`` is added (a motion artefact; not an SCR).
    Returns ``(t, x, onsets, amplitudes)``.
    """
    rng = np.random.default_rng(seed)
    fs, seconds = 32.0, minutes * 60.0
    t = np.arange(round(seconds * fs)) / fs
    if varied:  # slopes up to 0.015 µS/s
        x = 4.0 + 0.8 * np.sin(2 * np.pi * t / 600.0) + 0.08 * np.sin(2 * np.pi * t / 73.0)
    else:  # tonic drift up to ~0.2 µS/min (slopes of 0.003 µS/s), as at rest
        x = 4.0 + 0.5 * np.sin(2 * np.pi * t / 1200.0) + 0.05 * np.sin(2 * np.pi * t / 97.0)
    onsets = np.cumsum(rng.exponential(15.0, size=int(seconds / 5)))
    onsets = onsets[(onsets > 15.0) & (onsets < seconds - 15.0)]
    amps = np.exp(rng.uniform(np.log(0.02), np.log(1.0), onsets.size))
    for onset, amp in zip(onsets.tolist(), amps.tolist(), strict=True):
        rise, decay = (0.75, 2.0)
        if varied:
            rise = float(rng.uniform(0.5, 1.5))
            decay = float(rng.uniform(max(1.5, rise + 0.5), 5.0))
        tp = math.log(decay / rise) * rise * decay / (decay - rise)
        norm = math.exp(-tp / decay) - math.exp(-tp / rise)
        sel = (t >= onset) & (t < onset + 40.0)
        u = t[sel] - onset
        x[sel] += amp / norm * (np.exp(-u / decay) - np.exp(-u / rise))
    x += 0.005 * rng.standard_normal(t.size)
    if bursts_us > 0.0:
        start = 20.0
        while start < seconds - 10.0:
            sel = (t >= start) & (t < start + rng.uniform(2.0, 6.0))
            x[sel] += rng.uniform(-bursts_us, bursts_us, int(np.count_nonzero(sel)))
            start += rng.uniform(40.0, 80.0)
    return t, x, onsets, amps


def _run_eda(
    t: np.ndarray, x: np.ndarray
) -> tuple[list[tuple[float, float, int]], dict[int, float]]:
    """Stream ``x`` through :class:`EdaExtractor` in 1/60 s chunks.

    Returns the flagged SCRs as ``(detected onset, time reported, onset sample)`` and the
    completed amplitudes by onset sample.
    """
    ext = EdaExtractor(32.0)
    flagged: list[tuple[float, float, int]] = []
    amplitude: dict[int, float] = {}
    pos = 0
    for k in range(1, round(t[-1] / FRAME) + 2):
        now = k * FRAME
        j = int(np.searchsorted(t, now, side="right"))
        flagged += [(r.onset, now, r.onset_sample) for r in ext.update(x[pos:j], t[pos:j])]
        amplitude.update((r.onset_sample, r.amplitude_us) for r in ext.drain_completed())
        pos = j
    return flagged, amplitude


def _score_scr(minutes: float, **kind: Any) -> dict[str, float]:
    """Score one generated recording (see :func:`scr_detection`)."""
    t, x, onsets, amps = _bateman_eda(minutes, **kind)
    found, amplitude = _run_eda(t, x)
    used: set[int] = set()
    latency: list[float] = []
    hit = np.zeros(onsets.size, dtype=bool)
    for i in np.argsort(-amps).tolist():  # large responses claim their detection first
        near = [
            k for k, (o, _, _) in enumerate(found) if k not in used and abs(o - onsets[i]) < 1.0
        ]
        if not near:
            continue
        k = min(near, key=lambda k: abs(found[k][0] - onsets[i]))
        used.add(k)
        hit[i] = True
        if amps[i] >= 0.05:
            latency.append(found[k][1] - onsets[i])
    big = amps >= 0.05
    overlap = big & (np.diff(onsets, prepend=-np.inf) < 5.0)  # another one < 5 s before
    isolated = big & ~overlap
    false = [f for k, f in enumerate(found) if k not in used and f[0] >= 10.0]
    false_big = sum(1 for f in false if amplitude.get(f[2], 0.0) >= 0.05)

    def share(mask: np.ndarray) -> float:
        n = int(np.count_nonzero(mask))
        return float(np.count_nonzero(hit & mask)) / n if n else float("nan")

    lat = np.asarray(latency) if latency else np.full(1, np.nan)
    return {
        "true_scrs_ge_0.05": int(np.count_nonzero(big)),
        "overlapping_ge_0.05": int(np.count_nonzero(overlap)),
        "sensitivity": share(big),
        "sensitivity_isolated": share(isolated),
        "sensitivity_overlapping": share(overlap),
        "fp_per_10min": len(false) / minutes * 10.0,
        "fp_ge_0.05_per_10min": false_big / minutes * 10.0,
        "latency_p50_s": float(np.percentile(lat, 50)),
        "latency_p95_s": float(np.percentile(lat, 95)),
    }


def scr_detection(quick: bool) -> dict[str, dict[str, float]]:
    """SCR sensitivity (>= 0.05 µS), false positives per 10 min and flag latency.

    Three generated recordings (see :func:`_bateman_eda`): ``bateman`` (the fixed
    0.75/2 s shape), ``varied`` (other time constants, faster drift) and ``bursts``
    (``bateman`` plus +-0.03 µS noise bursts). The extractor runs with the pipeline's
    default threshold (0.01 µS) in 1/60 s chunks. A flagged SCR whose onset is within
    1 s of a true onset (any amplitude) is a hit; others are false positives, counted
    all and with completed amplitude >= 0.05 µS. Latency is from the true onset to the
    end of the chunk whose update returned the SCR. A response is *overlapping* when
    another one started less than 5 s before it. The first 10 s are not scored.
    """
    minutes = 10.0 if quick else 30.0
    return {
        "bateman": _score_scr(minutes),
        "varied": _score_scr(minutes, seed=12, varied=True),
        "bursts": _score_scr(minutes, seed=13, bursts_us=0.03),
    }


def scr_stress(quick: bool) -> dict[str, dict[str, float]]:
    """SCRs and artefacts on the drifting-tonic generator (``benchmarks/eda_stress.py``):
    four (quick: two) 30-minute (quick: 10) recordings, without and with artefacts."""
    from vrtherapy_benchmarks import eda_stress as es

    minutes = 10.0 if quick else 30.0
    seeds = (1, 2) if quick else (1, 2, 3, 4)
    return {
        "drifting": es.evaluate(EdaExtractor, seeds, minutes, False),
        "artefacts": es.evaluate(EdaExtractor, seeds, minutes, True),
    }


def print_scr_detection(scr: dict[str, dict[str, float]]) -> None:
    """Print :func:`scr_detection`'s figures with their targets."""
    print(
        "SCRs >= 0.05 uS, flagged in 1/60 s chunks (targets Se >= 95 %, <= 1 FP/10 min, "
        "flag <= 1.5 s after onset p95):"
    )
    for name, row in scr.items():
        print(
            f"  {name:8s} n={row['true_scrs_ge_0.05']} "
            f"({row['overlapping_ge_0.05']} overlapping): "
            f"Se {100 * row['sensitivity']:.1f} % "
            f"(isolated {100 * row['sensitivity_isolated']:.1f} %, "
            f"overlapping {100 * row['sensitivity_overlapping']:.1f} %), "
            f"FP {row['fp_per_10min']:.2f}/10 min "
            f"(>= 0.05 uS: {row['fp_ge_0.05_per_10min']:.2f}), "
            f"flag after onset p50 {row['latency_p50_s']:.2f} s, "
            f"p95 {row['latency_p95_s']:.2f} s"
        )


def print_scr_stress(res: object) -> None:
    """Print :func:`scr_stress`'s figures with their targets."""
    assert isinstance(res, dict)
    print(
        "SCRs on a drifting tonic (benchmarks/eda_stress.py; targets: Se >= 95 % for "
        ">= 0.05 uS within 0.5 s, <= 1 false >= 0.05 uS per 10 min, onset p90 <= 0.3 s):"
    )
    for name in ("drifting", "artefacts"):
        r = res[name]
        se = " ".join(
            f"{a}uS/{tol}s {100 * r[f'se_{a}_{tol}']:.1f}%"
            for a in ("0.02", "0.05")
            for tol in ("0.5", "1.0")
        )
        fp = " ".join(
            f"{tol}s {r[f'fp_{tol}']:.2f}/{r[f'fp_0.02_{tol}']:.2f}/{r[f'fp_0.05_{tol}']:.2f}"
            for tol in ("0.5", "1.0")
        )
        print(
            f"  {name:9s} Se {se}; false/10 min (all/>=0.02/>=0.05 uS) {fp}; isolated "
            f"onset error p50 {r['onset_abs_p50_s']:.2f} s, p90 {r['onset_abs_p90_s']:.2f} s, "
            f"bias {r['onset_bias_s']:+.2f} s (n={r['iso_n'] * 1:.0f}/rec); artefact "
            f"segments where there is none {r['false_artefacts_per_10min']:.2f}/10 min"
        )
    r = res["artefacts"]
    kinds = " ".join(
        f"{k} {r[f'{k}_n'] - r[f'{k}_missed']:.0f}/{r[f'{k}_n']:.0f} (p95 "
        f"{r[f'{k}_flag_p95_s']:.2f} s, max {r[f'{k}_flag_max_s']:.2f} s)"
        for k in ("drop", "loss", "spike")
    )
    print(
        f"  artefacts flagged (target within 0.5 s): {kinds}; responses counted inside "
        f"artefacts {r['in_artefact_per_10min']:.2f}/10 min"
    )
