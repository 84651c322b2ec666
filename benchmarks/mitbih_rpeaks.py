"""Score the streaming R-peak detector on MIT-BIH records and measure its throughput.

Usage::

    vrtherapy bench mitbih [DATA_DIR]
    .venv/bin/python benchmarks/mitbih_rpeaks.py [DATA_DIR]

DATA_DIR defaults to ``$VRTHERAPY_MITBIH_DIR`` or the four development records shipped with
the project (``benchmarks/data/mitbih``, installed as package data; see its README.md for
the source, license and citations). Scoring convention: a detection matches an annotation
within 150 ms (one-to-one, nearest first); the first and last 2 s of each record are not
scored. :func:`load_record` is also the tests' loader.
"""

from __future__ import annotations

import csv
import io
import json
import lzma
import os
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.signal import resample_poly
from vrtherapy_benchmarks.bench_args import bench_parser, mitbih_dir

from biosignals.ecg import EcgExtractor, detect_r_peaks

TOLERANCE_S = 0.150
EDGE_S = 2.0


SHIPPED_DIR = Path(__file__).resolve().parent / "data" / "mitbih"
"""The development records shipped with the project (package data of the benchmarks)."""


def default_data_dir() -> Path:
    """``$VRTHERAPY_MITBIH_DIR`` if set, else :data:`SHIPPED_DIR`."""
    env = os.environ.get("VRTHERAPY_MITBIH_DIR")
    return Path(env) if env else SHIPPED_DIR


def load_record(
    data_dir: Path, record: str
) -> tuple[NDArray[np.float64], NDArray[np.int64], float]:
    """Return (ecg in mV, annotated beat samples, sampling rate) of one record.

    Reads the packed layout of :data:`SHIPPED_DIR` (``<record>.ecg.i16.xz``: int16 ADC
    units, ``adc_units_per_mv`` of ``records.json`` per mV; ``<record>.beats.csv.xz``) or,
    in a folder given by ``$VRTHERAPY_MITBIH_DIR``, the plain CSV layout
    (``<record>.ecg.csv`` with header ``ecg_mv``; ``<record>.beats.csv`` with
    ``sample,symbol``). Both give the same float64 values for the same record. xz checks
    each file's integrity as it decompresses.
    """
    meta = json.loads((data_dir / "records.json").read_text())
    packed = data_dir / f"{record}.ecg.i16.xz"
    if packed.is_file():
        adc = np.frombuffer(lzma.decompress(packed.read_bytes()), dtype="<i2")
        ecg = adc / float(meta["adc_units_per_mv"])
        beats_text = lzma.decompress((data_dir / f"{record}.beats.csv.xz").read_bytes()).decode()
    else:
        ecg = np.loadtxt(data_dir / f"{record}.ecg.csv", skiprows=1, dtype=np.float64)
        beats_text = (data_dir / f"{record}.beats.csv").read_text()
    rows = csv.DictReader(io.StringIO(beats_text))
    beats = np.asarray([int(row["sample"]) for row in rows], dtype=np.int64)
    return ecg, beats, float(meta["sampling_rate"])


def list_records(data_dir: Path) -> list[str]:
    """Record names listed in ``records.json``."""
    meta = json.loads((data_dir / "records.json").read_text())
    return sorted(meta["records"])


def match_beats(
    detections: NDArray[np.int64],
    annotations: NDArray[np.int64],
    sampling_rate: float,
    n_samples: int,
    tolerance_s: float = TOLERANCE_S,
    edge_s: float = EDGE_S,
) -> dict[str, float]:
    """Match detections to annotations one-to-one within ``tolerance_s``.

    Pairs are formed greedily by increasing distance. Annotations and unmatched detections
    within ``edge_s`` of either end are ignored.

    Returns
    -------
    dict
        TP, FP, FN, sensitivity, PPV, F1 (fractions), mean_offset_ms and jitter_ms_sd
        (mean and SD of detection minus annotation over matched pairs).
    """
    tol = tolerance_s * sampling_rate
    lo, hi = edge_s * sampling_rate, n_samples - edge_s * sampling_rate
    det = np.sort(np.asarray(detections, dtype=np.int64))
    ann = np.sort(np.asarray(annotations, dtype=np.int64))
    ann = ann[(ann >= lo) & (ann < hi)]
    pairs: list[tuple[float, int, int]] = []
    for j, a in enumerate(ann):
        k0 = int(np.searchsorted(det, a - tol, side="left"))
        k1 = int(np.searchsorted(det, a + tol, side="right"))
        pairs.extend((abs(float(det[k] - a)), j, k) for k in range(k0, k1))
    pairs.sort()
    used_a: set[int] = set()
    used_d: set[int] = set()
    offsets: list[float] = []
    for _, j, k in pairs:
        if j in used_a or k in used_d:
            continue
        used_a.add(j)
        used_d.add(k)
        offsets.append(float(det[k] - ann[j]) / sampling_rate * 1000.0)
    inside = (det >= lo) & (det < hi)
    fp = int(sum(1 for k in np.flatnonzero(inside) if int(k) not in used_d))
    tp = len(used_a)
    fn = ann.size - tp
    return _metrics(tp, fp, fn, offsets)


def _metrics(tp: int, fp: int, fn: int, offsets: list[float]) -> dict[str, float]:
    se = tp / (tp + fn) if tp + fn else 1.0
    ppv = tp / (tp + fp) if tp + fp else 1.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    off = np.asarray(offsets)
    return {
        "TP": tp,
        "FP": fp,
        "FN": fn,
        "sensitivity": se,
        "PPV": ppv,
        "F1": f1,
        "mean_offset_ms": float(off.mean()) if off.size else float("nan"),
        "jitter_ms_sd": float(off.std()) if off.size else float("nan"),
    }


def score_records(data_dir: str | Path | None = None) -> list[dict[str, float | str]]:
    """Run :func:`detect_r_peaks` on every record in ``data_dir`` and score it."""
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    rows: list[dict[str, float | str]] = []
    for rec in list_records(root):
        ecg, ann, fs = load_record(root, rec)
        det = detect_r_peaks(ecg, fs)
        row: dict[str, float | str] = {"record": rec}
        row.update(match_beats(det, ann, fs, ecg.size))
        rows.append(row)
    return rows


def pooled(rows: list[dict[str, float | str]]) -> dict[str, float]:
    """Pooled TP/FP/FN metrics (timing fields are TP-weighted)."""
    tp = int(sum(float(r["TP"]) for r in rows))
    fp = int(sum(float(r["FP"]) for r in rows))
    fn = int(sum(float(r["FN"]) for r in rows))
    out = _metrics(tp, fp, fn, [])
    w = np.asarray([float(r["TP"]) for r in rows])
    mean = np.asarray([float(r["mean_offset_ms"]) for r in rows])
    sd = np.asarray([float(r["jitter_ms_sd"]) for r in rows])
    if w.sum():  # SD of all matched offsets pooled (law of total variance)
        grand = float(np.sum(w * mean) / w.sum())
        out["mean_offset_ms"] = grand
        out["jitter_ms_sd"] = float(np.sqrt(np.sum(w * (sd**2 + (mean - grand) ** 2)) / w.sum()))
    return out


def throughput(data_dir: Path, chunk: int = 1000, rate: float | None = None) -> float:
    """EcgExtractor speed in x real time over all records with ``chunk``-sample chunks.

    With ``rate``, the records are first resampled to that rate (e.g. 500 Hz). Timed in
    process CPU time (one thread), so other load on the machine does not skew it.
    """
    total_s = 0.0
    elapsed = 0.0
    for rec in list_records(data_dir):
        ecg, _, fs = load_record(data_dir, rec)
        if rate is not None and rate != fs:
            ratio = Fraction(rate / fs).limit_denominator(1000)
            ecg = resample_poly(ecg, ratio.numerator, ratio.denominator)
            fs = rate
        t = np.arange(ecg.size) / fs
        ext = EcgExtractor(fs)
        start = time.process_time()
        for i in range(0, ecg.size, chunk):
            ext.update(ecg[i : i + chunk], t[i : i + chunk])
        elapsed += time.process_time() - start
        total_s += ecg.size / fs
    return total_s / elapsed


def report_latency(data_dir: Path, seconds: float = 300.0, chunk_s: float = 0.025) -> float:
    """95th percentile of (time a beat is returned - annotated R time), in ms.

    Streams the first ``seconds`` of every record in ``chunk_s`` chunks; a beat counts as
    returned at the last sample of the chunk that produced it, so the figure includes up to
    ``chunk_s`` of chunking delay. Only beats matching an annotation within 150 ms count.
    """
    delays: list[float] = []
    for rec in list_records(data_dir):
        ecg, ann, fs = load_record(data_dir, rec)
        n = min(ecg.size, int(seconds * fs))
        step = max(1, round(chunk_s * fs))
        t = np.arange(n) / fs
        ext = EcgExtractor(fs)
        for i in range(0, n, step):
            j = min(i + step, n)
            for beat in ext.update(ecg[i:j], t[i:j]):
                k = int(np.argmin(np.abs(ann - beat.sample)))
                if abs(int(ann[k]) - beat.sample) <= TOLERANCE_S * fs:
                    delays.append((j - 1 - int(ann[k])) / fs * 1000.0)
    return float(np.percentile(delays, 95))


def main(argv: list[str] | None = None) -> int:
    """Print the per-record table, the pooled line and the throughput."""
    parser = bench_parser("vrtherapy bench mitbih", __doc__)
    parser.add_argument(
        "data_dir",
        nargs="?",
        type=mitbih_dir,
        metavar="DATA_DIR",
        help="folder of MIT-BIH records with records.json (default: see above)",
    )
    root = parser.parse_args(argv).data_dir or default_data_dir()
    rows = score_records(root)
    head = f"{'record':>7} {'TP':>6} {'FP':>5} {'FN':>5} {'Se %':>7} {'PPV %':>7} {'F1 %':>7}"
    print(head + f" {'offset ms':>10} {'jitter SD ms':>13}")
    table: list[dict[str, float | str]] = [*rows, {"record": "pooled", **pooled(rows)}]
    for r in table:
        print(
            f"{r['record']!s:>7} {int(r['TP']):>6} {int(r['FP']):>5} {int(r['FN']):>5} "
            f"{100 * float(r['sensitivity']):7.2f} {100 * float(r['PPV']):7.2f} "
            f"{100 * float(r['F1']):7.2f} {float(r['mean_offset_ms']):10.2f} "
            f"{float(r['jitter_ms_sd']):13.2f}"
        )
    print(
        "latency p95 (beat returned - annotated R, 25 ms chunks, first 5 min): "
        f"{report_latency(root):.0f} ms"
    )
    for rate in (None, 500.0):
        label = "360 Hz as recorded" if rate is None else f"resampled to {rate:g} Hz"
        speed = throughput(root, rate=rate)
        print(
            f"throughput (EcgExtractor, 1000-sample chunks, {label}): "
            f"{speed:.0f}x real time (CPU time)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
