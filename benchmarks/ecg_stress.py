"""A hard ECG development set: the MIT-BIH development records with calibrated noise and
abnormal morphology, scored per SNR like the MIT-BIH Noise Stress Test (NST).

Usage::

    .venv/bin/python benchmarks/ecg_stress.py [--quick]

Signal-to-noise ratio (as ``nst`` of the WFDB software defines it, Moody, Muldrow & Mark
1984): the signal size is the peak-to-peak amplitude of each annotated QRS (within
+-60 ms of the annotation), the largest and smallest 5 % dropped and the rest averaged;
``S = pp**2 / 8`` (the power of a sine of that peak-to-peak amplitude). The noise size is
the RMS of the noise in 1-s windows after removing each window's mean, the largest and
smallest 5 % dropped and the rest averaged; ``N = rms**2``. ``SNR = 10 log10(S / N)``.
The noise is scaled to the claimed SNR over the noisy segments only.

Protocol (as ``nst``'s standard one): the first 5 minutes are clean (learning), then
2-minute noisy and clean segments alternate; noise fades in and out over 0.1 s (no step at
a segment edge). Scores count the beats annotated in the noisy segments and the
detections there (stricter than NST tables, which score whole records).

Noise generators (each returns unit-scale noise; :func:`add_noise` calibrates it):

``bw`` baseline wander
    respiration (a sine at 0.15-0.4 Hz whose frequency drifts) plus body sway (white noise
    through a 2nd-order 0.5 Hz low-pass), equal power; almost all of it below 1 Hz.
``ma`` muscle (EMG) artefact
    white noise band-passed 10-150 Hz (4th order; capped at 0.45 fs), amplitude-modulated
    by a log-normal envelope that varies over ~1 s (contractions come and go).
``em`` electrode motion
    slow electrode-skin potential changes (white noise through a 1.5 Hz low-pass, 30 % of
    the power) plus Poisson transients (0.7/s): electrode "pops" (a 5-20 ms step that
    recovers exponentially in 0.1-0.6 s), monophasic bumps (Gaussian, sigma 15-60 ms: as
    wide as a QRS) and biphasic deflections (derivative of a Gaussian, sigma 15-50 ms),
    log-normal amplitudes and random signs. The bumps mimic ectopic beats: the NST's ``em``
    record is the hardest for the same reason.
``mix``
    the three above with equal power.

Abnormal variants (no added noise unless named):

``steps``
    abrupt baseline steps (0.3-3 mV, log-uniform, random sign, every 5-25 s) that an
    AC-coupled front end turns into decays (time constant 0.5-4 s), and amplitude steps
    (gain x 2**U(-1, 1), every 10-40 s).
``polarity``
    the ECG inverted around its local baseline for 10-60 s at a time (a lead reversed or
    an electrode moved), half of the record.
``tall_tp``
    a peaked T wave after every beat (Gaussian, sigma 35-50 ms, its peak at
    ``0.28 sqrt(RR)`` s after R, 0.6-1.5 x the beat's own QRS amplitude) and a tall P wave
    before it (sigma 20-25 ms, 0.15-0.25 s before R, 0.25-0.5 x QRS), the factors drifting
    slowly through the record.
``hard``
    ``tall_tp`` with ``steps`` and ``em`` noise at 12 dB: the combination the unseen
    records' hardest case has (large peaked T and P waves, noise, abrupt baseline changes).
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import ModuleType

import numpy as np
from numpy.typing import NDArray
from scipy.signal import butter, sosfilt
from vrtherapy_benchmarks.bench_args import bench_parser

HERE = Path(__file__).resolve().parent
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Detector = Callable[[FloatArray, float], IntArray]

SNRS_DB = (24.0, 12.0, 6.0, 0.0)
NOISE_KINDS = ("bw", "ma", "em", "mix")
ABNORMAL = ("steps", "polarity", "tall_tp", "hard")
LEARN_S = 300.0
SEGMENT_S = 120.0
FADE_S = 0.1
_QRS_HALF_S = 0.060
_TRIM = 0.05


def _mitbih() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mitbih_rpeaks", HERE / "mitbih_rpeaks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------- SNR (nst)
def _trimmed_mean(values: FloatArray) -> float:
    v = np.sort(values)
    k = int(_TRIM * v.size)
    return float(v[k : v.size - k].mean())


def signal_power(ecg: FloatArray, beats: IntArray, fs: float) -> float:
    """``nst``'s signal size: (trimmed mean QRS peak-to-peak amplitude)**2 / 8."""
    h = round(_QRS_HALF_S * fs)
    inside = beats[(beats >= h) & (beats < ecg.size - h)]
    windows = ecg[inside[:, None] + np.arange(-h, h + 1)]
    pp = windows.max(axis=1) - windows.min(axis=1)
    return _trimmed_mean(pp) ** 2 / 8.0


def noise_power(noise: FloatArray, fs: float) -> float:
    """``nst``'s noise size: (trimmed mean RMS of 1-s windows, each mean removed)**2."""
    w = round(fs)
    n = noise.size // w
    win = noise[: n * w].reshape(n, w)
    rms = np.sqrt(np.mean((win - win.mean(axis=1, keepdims=True)) ** 2, axis=1))
    return _trimmed_mean(rms) ** 2


def noisy_mask(n: int, fs: float) -> NDArray[np.bool_]:
    """The NST protocol: clean for 5 min, then 2-min noisy and clean segments alternate."""
    t = np.arange(n) / fs
    after = t - LEARN_S
    return (after >= 0.0) & ((after // SEGMENT_S) % 2 == 0)


def _envelope(mask: NDArray[np.bool_], fs: float) -> FloatArray:
    """``mask`` as 0/1 with 0.1-s raised-cosine fades inside each noisy segment."""
    env = mask.astype(np.float64)
    k = max(1, round(FADE_S * fs))
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(k) + 0.5) / k)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    for a, b in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
        m = min(k, (b - a) // 2)
        env[a : a + m] = ramp[:m]
        env[b - m : b] = ramp[:m][::-1]
    return env


# ---------------------------------------------------------------------- generators
def _lowpass(x: FloatArray, fs: float, hz: float, order: int = 2) -> FloatArray:
    return np.asarray(sosfilt(butter(order, hz, btype="lowpass", fs=fs, output="sos"), x))


def _unit(x: FloatArray) -> FloatArray:
    return x / float(np.std(x))


def baseline_wander(n: int, fs: float, rng: np.random.Generator) -> FloatArray:
    """Respiration (0.15-0.4 Hz, drifting) plus body sway below 0.5 Hz, equal power."""
    t = np.arange(n) / fs
    drift = _lowpass(rng.standard_normal(n), fs, 0.01)
    freq = 0.275 + 0.125 * np.tanh(drift / (np.std(drift) + 1e-12))
    phase = 2.0 * np.pi * np.cumsum(freq) / fs + rng.uniform(0.0, 2.0 * np.pi)
    sway = _lowpass(rng.standard_normal(n), fs, 0.5)
    return _unit(_unit(np.sin(phase)) + _unit(sway) + 0.0 * t)


def muscle(n: int, fs: float, rng: np.random.Generator) -> FloatArray:
    """White noise band-passed 10-150 Hz, modulated by a log-normal ~1-s envelope."""
    hi = min(150.0, 0.45 * fs)
    sos = butter(4, [10.0, hi], btype="bandpass", fs=fs, output="sos")
    emg = np.asarray(sosfilt(sos, rng.standard_normal(n)))
    env = np.exp(0.7 * _unit(_lowpass(rng.standard_normal(n), fs, 0.5)))
    return _unit(emg * env)


def _transient(kind: int, fs: float, rng: np.random.Generator) -> FloatArray:
    """One electrode-motion transient: 0 pop, 1 monophasic bump, 2 biphasic deflection."""
    if kind == 0:
        rise = rng.uniform(0.005, 0.020)
        tau = rng.uniform(0.1, 0.6)
        u = np.arange(round((rise + 5 * tau) * fs)) / fs
        return np.where(u < rise, u / rise, np.exp(-(u - rise) / tau))
    sigma = rng.uniform(0.015, 0.060 if kind == 1 else 0.050)
    u = np.arange(-round(4 * sigma * fs), round(4 * sigma * fs) + 1) / fs
    g = np.exp(-0.5 * (u / sigma) ** 2)
    return g if kind == 1 else -u / sigma * g * np.exp(0.5)


def electrode_motion(n: int, fs: float, rng: np.random.Generator) -> FloatArray:
    """Slow electrode-skin potential plus Poisson (0.7/s) pops, bumps and deflections."""
    slow = _unit(_lowpass(rng.standard_normal(n), fs, 1.5))
    events = np.zeros(n)
    t = rng.exponential(1.0 / 0.7)
    while t * fs < n:
        shape = _transient(int(rng.integers(0, 3)), fs, rng)
        i = int(t * fs)
        m = min(shape.size, n - i)
        amp = float(np.exp(rng.normal(0.0, 0.7))) * (1.0 if rng.random() < 0.5 else -1.0)
        events[i : i + m] += amp * shape[:m]
        t += rng.exponential(1.0 / 0.7)
    events = _unit(events)
    return _unit(np.sqrt(0.3) * slow + np.sqrt(0.7) * events)


GENERATORS: dict[str, Callable[[int, float, np.random.Generator], FloatArray]] = {
    "bw": baseline_wander,
    "ma": muscle,
    "em": electrode_motion,
}


def make_noise(kind: str, n: int, fs: float, seed: int) -> FloatArray:
    """Unit-scale noise of ``kind`` (``bw``, ``ma``, ``em`` or ``mix``)."""
    rng = np.random.default_rng(seed)
    if kind == "mix":
        parts = [GENERATORS[k](n, fs, rng) for k in ("bw", "ma", "em")]
        return _unit(sum(parts[1:], parts[0]))
    return GENERATORS[kind](n, fs, rng)


def add_noise(
    ecg: FloatArray, beats: IntArray, fs: float, kind: str, snr_db: float, seed: int
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """``ecg`` with ``kind`` noise at ``snr_db`` in the NST protocol's noisy segments.

    Returns the noisy ECG and the mask of the noisy segments. The SNR (``nst``'s) of the
    added noise over the noisy segments equals ``snr_db``.
    """
    mask = noisy_mask(ecg.size, fs)
    noise = make_noise(kind, ecg.size, fs, seed) * _envelope(mask, fs)
    gain = np.sqrt(signal_power(ecg, beats, fs) / noise_power(noise[mask], fs))
    return ecg + gain * 10.0 ** (-snr_db / 20.0) * noise, mask


# ---------------------------------------------------------------------- abnormal ECG
def _qrs_amplitude(ecg: FloatArray, beats: IntArray, fs: float) -> FloatArray:
    h = round(_QRS_HALF_S * fs)
    idx = np.clip(beats[:, None] + np.arange(-h, h + 1), 0, ecg.size - 1)
    win = ecg[idx]
    return win.max(axis=1) - win.min(axis=1)


def _slow_factor(n: int, lo: float, hi: float, rng: np.random.Generator) -> FloatArray:
    """A factor drifting slowly (over minutes) within [lo, hi] over ``n`` beats."""
    walk = np.cumsum(rng.normal(0.0, 1.0, n))
    walk = _lowpass(walk - walk.mean(), 1.0, 0.02) if n > 16 else walk
    span = np.ptp(walk) + 1e-12
    return lo + (hi - lo) * (walk - walk.min()) / span


def tall_waves(ecg: FloatArray, beats: IntArray, fs: float, seed: int) -> FloatArray:
    """Add a peaked T wave after and a tall P wave before every annotated beat."""
    rng = np.random.default_rng(seed)
    x = ecg.copy()
    amp = _qrs_amplitude(ecg, beats, fs)
    t_gain = _slow_factor(beats.size, 0.6, 1.5, rng)
    p_gain = _slow_factor(beats.size, 0.25, 0.5, rng)
    rr = np.diff(beats, append=beats[-1] + round(fs)) / fs
    sign = 1.0 if np.median(ecg[beats] - np.median(ecg)) >= 0 else -1.0
    for k, b in enumerate(beats.tolist()):
        t_at = b + round(0.28 * np.sqrt(np.clip(rr[k], 0.3, 2.0)) * fs)
        p_at = b - round(rng.uniform(0.15, 0.25) * fs)
        for at, sigma, a in (
            (t_at, rng.uniform(0.035, 0.050), t_gain[k] * amp[k]),
            (p_at, rng.uniform(0.020, 0.025), p_gain[k] * amp[k]),
        ):
            h = round(4 * sigma * fs)
            lo, hi = max(at - h, 0), min(at + h + 1, x.size)
            if lo >= hi:
                continue
            u = (np.arange(lo, hi) - at) / fs
            x[lo:hi] += sign * a * np.exp(-0.5 * (u / sigma) ** 2)
    return x


def steps(ecg: FloatArray, fs: float, seed: int) -> FloatArray:
    """Abrupt baseline steps (decaying, AC-coupled) and amplitude steps."""
    rng = np.random.default_rng(seed)
    n = ecg.size
    gain = np.ones(n)
    i = round(rng.uniform(10.0, 40.0) * fs)
    while i < n:
        gain[i:] = 2.0 ** rng.uniform(-1.0, 1.0)
        i += round(rng.uniform(10.0, 40.0) * fs)
    x = np.median(ecg) + (ecg - np.median(ecg)) * gain
    i = round(rng.uniform(5.0, 25.0) * fs)
    while i < n:
        size = float(np.exp(rng.uniform(np.log(0.3), np.log(3.0)))) * rng.choice([-1.0, 1.0])
        tau = rng.uniform(0.5, 4.0)
        u = np.arange(n - i) / fs
        x[i:] += size * np.exp(-u / tau)
        i += round(rng.uniform(5.0, 25.0) * fs)
    return x


def polarity(ecg: FloatArray, fs: float, seed: int) -> FloatArray:
    """Invert the ECG around its local (2-s median) baseline in 10-60 s segments."""
    rng = np.random.default_rng(seed)
    base = _lowpass(ecg, fs, 0.3)
    x = ecg.copy()
    i = round(rng.uniform(10.0, 60.0) * fs)
    flip = True
    while i < ecg.size:
        j = min(i + round(rng.uniform(10.0, 60.0) * fs), ecg.size)
        if flip:
            x[i:j] = 2.0 * base[i:j] - ecg[i:j]
        flip = not flip
        i = j
    return x


def variant(
    ecg: FloatArray, beats: IntArray, fs: float, name: str, seed: int
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Abnormal variant ``name`` of a record, and the mask of the samples scored."""
    everywhere = np.ones(ecg.size, dtype=bool)
    if name == "steps":
        return steps(ecg, fs, seed), everywhere
    if name == "polarity":
        return polarity(ecg, fs, seed), everywhere
    if name == "tall_tp":
        return tall_waves(ecg, beats, fs, seed), everywhere
    if name == "hard":
        x = steps(tall_waves(ecg, beats, fs, seed), fs, seed + 1)
        return add_noise(x, beats, fs, "em", 12.0, seed + 2)
    raise ValueError(f"unknown variant {name!r}; allowed: {', '.join(ABNORMAL)}")


# ---------------------------------------------------------------------- scoring
def match(
    det: IntArray, ann: IntArray, tol: float
) -> tuple[NDArray[np.bool_], NDArray[np.bool_], FloatArray]:
    """One-to-one matching within ``tol`` samples, nearest pairs first (as
    ``mitbih_rpeaks.match_beats``): which annotations and detections are matched, and
    the offsets (detection - annotation, samples) of the pairs."""
    pairs: list[tuple[int, int, int]] = []
    for j, a in enumerate(ann.tolist()):
        k0 = int(np.searchsorted(det, a - tol, side="left"))
        k1 = int(np.searchsorted(det, a + tol, side="right"))
        pairs.extend((abs(int(det[k]) - a), j, k) for k in range(k0, k1))
    pairs.sort()
    hit_a = np.zeros(ann.size, dtype=bool)
    hit_d = np.zeros(det.size, dtype=bool)
    offsets = []
    for _, j, k in pairs:
        if not (hit_a[j] or hit_d[k]):
            hit_a[j] = hit_d[k] = True
            offsets.append(float(det[k] - ann[j]))
    return hit_a, hit_d, np.asarray(offsets)


def score(det: IntArray, ann: IntArray, fs: float, mask: NDArray[np.bool_]) -> dict[str, float]:
    """Se/PPV/F1 of the annotations and detections inside ``mask`` (all of them matched
    one-to-one within 150 ms, so a detection just outside a segment may match a beat just
    inside); timing over the matched pairs inside."""
    m = _mitbih()
    det = np.sort(np.asarray(det, dtype=np.int64))
    hit_a, hit_d, _ = match(det, ann, m.TOLERANCE_S * fs)
    in_a = mask[np.clip(ann, 0, mask.size - 1)]
    in_d = mask[np.clip(det, 0, mask.size - 1)]
    tp = int(np.count_nonzero(hit_a & in_a))
    fn = int(np.count_nonzero(~hit_a & in_a))
    fp = int(np.count_nonzero(~hit_d & in_d))
    _, _, off = match(det[in_d], ann[in_a], m.TOLERANCE_S * fs)
    off_ms = (off / fs * 1000.0).tolist()
    return dict(m._metrics(tp, fp, fn, off_ms))


def stress_rows(
    detector: Detector,
    records: Sequence[str],
    kinds: Iterable[str] = NOISE_KINDS,
    snrs: Iterable[float] = SNRS_DB,
    abnormal: Iterable[str] = ABNORMAL,
    seconds: float | None = None,
) -> list[dict[str, object]]:
    """Score ``detector`` on every variant of every record: one row per (variant, record)."""
    m = _mitbih()
    root = m.default_data_dir()
    rows: list[dict[str, object]] = []
    for r, rec in enumerate(records):
        ecg, ann, fs = m.load_record(root, rec)
        if seconds is not None:
            ecg = ecg[: round(seconds * fs)]
            ann = ann[ann < ecg.size]
        seed = 1000 * (r + 1)
        jobs: list[tuple[str, float | None, FloatArray, NDArray[np.bool_]]] = []
        for kind in kinds:
            for snr in snrs:
                x, mask = add_noise(ecg, ann, fs, kind, snr, seed + hash_kind(kind))
                jobs.append((kind, snr, x, mask))
        for name in abnormal:
            x, mask = variant(ecg, ann, fs, name, seed + 7)
            jobs.append((name, None, x, mask))
        for name, level, xv, mv in jobs:
            row = score(detector(xv, fs), ann, fs, mv)
            rows.append({"variant": name, "snr_db": level, "record": rec, **row})
    return rows


def hash_kind(kind: str) -> int:
    """A fixed seed offset per noise kind (Python's ``hash`` of a str is salted)."""
    return {"bw": 1, "ma": 2, "em": 3, "mix": 4}.get(kind, 5)


def pooled(rows: list[dict[str, object]]) -> dict[str, float]:
    """TP/FP/FN pooled over rows."""
    m = _mitbih()
    tp = sum(int(r["TP"]) for r in rows)  # type: ignore[call-overload]
    fp = sum(int(r["FP"]) for r in rows)  # type: ignore[call-overload]
    fn = sum(int(r["FN"]) for r in rows)  # type: ignore[call-overload]
    return dict(m._metrics(tp, fp, fn, []))


def table(rows: list[dict[str, object]]) -> list[str]:
    """The NST-style table (Se / PPV / F1 pooled over the records per noise kind and SNR,
    the worst record's F1 in brackets), then the abnormal variants' F1 per record."""
    noisy = [r for r in rows if r["snr_db"] is not None]
    kinds = list(dict.fromkeys(str(r["variant"]) for r in noisy))
    snrs = sorted({float(str(r["snr_db"])) for r in noisy}, reverse=True)
    lines = ["  SNR    " + "".join(f"{k:>27s}" for k in kinds)]
    for snr in snrs:
        cells = []
        for k in kinds:
            sel = [r for r in noisy if r["variant"] == k and float(str(r["snr_db"])) == snr]
            p = pooled(sel)
            worst = min(100 * float(str(r["F1"])) for r in sel)
            cells.append(
                f"{100 * p['sensitivity']:.2f}/{100 * p['PPV']:.2f}/{100 * p['F1']:.2f}"
                f" [{worst:.2f}]"
            )
        lines.append(f"  {snr:3.0f} dB " + "".join(f"{c:>27s}" for c in cells))
    records = list(dict.fromkeys(str(r["record"]) for r in rows))
    names = list(dict.fromkeys(str(r["variant"]) for r in rows if r["snr_db"] is None))
    if names:
        lines.append("  F1 %     " + "".join(f"{rec:>9s}" for rec in records) + "   pooled")
        for name in names:
            sel = [r for r in rows if r["variant"] == name]
            f1 = "".join(f"{100 * float(str(r['F1'])):9.2f}" for r in sel)
            lines.append(f"  {name:9s}{f1}{100 * pooled(sel)['F1']:9.2f}")
    return lines


def confidence_auc(kinds_snrs: Sequence[tuple[str, float]], records: Sequence[str]) -> float:
    """Probability that a true beat's confidence exceeds a false one's (ties count half),
    pooled over the noisy variants ``(kind, snr)`` of ``records`` (noisy segments)."""
    from biosignals.ecg import EcgExtractor

    m = _mitbih()
    root = m.default_data_dir()
    true_c: list[float] = []
    false_c: list[float] = []
    for r, rec in enumerate(records):
        ecg, ann, fs = m.load_record(root, rec)
        for kind, snr in kinds_snrs:
            x, mask = add_noise(ecg, ann, fs, kind, snr, 1000 * (r + 1) + hash_kind(kind))
            ext = EcgExtractor(fs)
            beats = ext.update(x, np.arange(x.size) / fs)
            det = np.asarray([b.sample for b in beats], dtype=np.int64)
            conf = np.asarray([b.confidence for b in beats])
            _, hit_d, _ = match(det, ann, m.TOLERANCE_S * fs)
            inside = mask[det]
            true_c += conf[hit_d & inside].tolist()
            false_c += conf[~hit_d & inside].tolist()
    t, f = np.sort(np.asarray(true_c)), np.asarray(false_c)
    if not t.size or not f.size:
        return math.nan
    below = np.searchsorted(t, f, side="left")
    ties = np.searchsorted(t, f, side="right") - below
    return float(np.mean((t.size - below - ties + 0.5 * ties) / t.size))


def main(argv: list[str] | None = None) -> int:
    """Print the stress table for :func:`biosignals.ecg.detect_r_peaks`."""
    from biosignals.ecg import detect_r_peaks

    parser = bench_parser("benchmarks/ecg_stress.py", __doc__)
    parser.add_argument("--quick", action="store_true", help="the first 15 minutes of each record")
    quick = parser.parse_args(argv).quick
    m = _mitbih()
    records = m.list_records(m.default_data_dir())
    rows = stress_rows(detect_r_peaks, records, seconds=900.0 if quick else None)
    print("\n".join(table(rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
