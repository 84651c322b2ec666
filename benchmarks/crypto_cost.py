"""Extra CPU of encrypting a session recording (AES-256-GCM sealed records) vs plain XDF.

Runs :mod:`engine.record.bench`'s simulated session (ECG 500 Hz, PPG, EDA, three 90 Hz
session streams, markers; one push per stream per 90 Hz frame) into a real
:class:`~engine.record.XdfRecorder`, once writing plain XDF and once through
:func:`engine.privacy.sealed.sealed_sink`, interleaved over several repetitions, and
prints the median process CPU per simulated second of each and the difference as a
percentage of the plain recorder's own cost.

A second, noise-free figure: the sealed sink's own CPU (AES-GCM + framing) timed directly
on the same number of records and bytes the recorder wrote, as % of the recorder's cost.

Runs faster than real time (``--speedup``, default 20x, recorder intervals scaled to
match: same pushes, chunks, records and fsyncs); see ``engine/record/bench.py`` on why
sped-up runs underestimate the recorder's own cost (so the percentage is, if anything,
overstated).

Usage: ``.venv/bin/python benchmarks/crypto_cost.py [--seconds 120] [--speedup 20]
[--repeat 5]``
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from vrtherapy_benchmarks.bench_args import bench_parser, count, positive

from engine.privacy.keys import KEY_SIZE, SiteKey, key_id_of
from engine.privacy.sealed import SealedWriter, sealed_sink
from engine.record.bench import FRAME_RATE, prepare_feeds, simulate_frames
from engine.record.writer import XdfRecorder
from engine.session_record import SessionRecording


def _run(
    seconds: float, speedup: float, sink: Callable[[Path], Any] | None, tmp: Path, tag: str
) -> dict[str, float]:
    recorder = XdfRecorder(
        tmp / f"{tag}.xdf",
        flush_interval=0.5 / speedup,
        clock_offset_interval=5.0 / speedup,
        boundary_interval=10.0 / speedup,
        sink_factory=sink,
    )
    rec = SessionRecording(recorder, head_pose=True)
    frame_t = np.arange(1, int(seconds * FRAME_RATE) + 1) / FRAME_RATE
    feeds = prepare_feeds(rec, frame_t, seconds, np.random.default_rng(0))
    recorder.start()
    cpu0 = time.process_time()
    _, _, harness = simulate_frames(rec, frame_t, feeds, speedup)
    rec.flush()
    recorder.close()
    cpu = time.process_time() - cpu0 - harness
    stats = recorder.stats()
    return {"cpu_fraction": cpu / seconds, "bytes": stats["bytes"]}


def _flushes(path: Path) -> int:
    """Number of sealed records (flushes) in a closed sealed file, from its framing."""
    data = path.read_bytes()
    pos, n = 93, 0
    while pos < len(data):
        pos += 16 + int.from_bytes(data[pos : pos + 4], "little")
        n += 1
    return n - 1  # the end record


def _sink_only_cpu(records: int, total_bytes: int, tmp: Path) -> float:
    """CPU seconds for SealedWriter to seal and write ``records`` records of that size."""
    key = SiteKey(bytes(KEY_SIZE), key_id_of(bytes(KEY_SIZE)))
    size = max(1, total_bytes // max(records, 1))
    blob = np.random.default_rng(1).bytes(size)
    best = float("inf")
    for k in range(3):
        path = tmp / f"sink{k}.sealed"
        c = time.process_time()
        with SealedWriter(path, key) as w:
            for _ in range(records):
                w.write(memoryview(blob))
        best = min(best, time.process_time() - c)
        path.unlink()
    plain = float("inf")
    for k in range(3):  # the same writes without sealing, to subtract the OS write cost
        path = tmp / f"plain{k}.bin"
        c = time.process_time()
        with open(path, "xb", buffering=0) as f:
            for _ in range(records):
                f.write(blob)
        plain = min(plain, time.process_time() - c)
        path.unlink()
    return max(0.0, best - plain)


def main(argv: list[str] | None = None) -> int:
    """Print the figures."""
    ap = bench_parser("vrtherapy bench crypto", __doc__)
    ap.add_argument(
        "--seconds", type=positive(86_400.0), default=120.0, help="simulated session length"
    )
    ap.add_argument("--speedup", type=positive(10_000.0), default=20.0, help="x real time")
    ap.add_argument("--repeat", type=count(1, 1000), default=5)
    args = ap.parse_args(argv)
    key = SiteKey(bytes(range(32)), key_id_of(bytes(range(32))))
    plain, sealed = [], []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for k in range(args.repeat):
            plain.append(_run(args.seconds, args.speedup, None, tmp, f"plain{k}"))
            sealed.append(_run(args.seconds, args.speedup, sealed_sink(key), tmp, f"sealed{k}"))
        records = _flushes(tmp / "sealed0.xdf")
        nbytes = int(sealed[0]["bytes"])
        plain_size = (tmp / "plain0.xdf").stat().st_size
        sealed_size = (tmp / "sealed0.xdf").stat().st_size
        sink_cpu = _sink_only_cpu(records, nbytes, tmp)
    p = statistics.median(r["cpu_fraction"] for r in plain)
    s = statistics.median(r["cpu_fraction"] for r in sealed)
    sink_fraction = sink_cpu / args.seconds
    print(f"simulated {args.seconds:g} s at {args.speedup:g}x real time, {args.repeat} runs each")
    print(f"plain recorder : {100 * p:.3f} % of a core (median)")
    print(f"sealed recorder: {100 * s:.3f} % of a core (median)")
    print(f"difference     : {100 * (s - p) / p:+.1f} % of the recorder's own cost (noisy)")
    print(
        f"sealing alone  : {100 * sink_fraction:.4f} % of a core = "
        f"{100 * sink_fraction / p:.2f} % of the recorder's cost ({records} records, "
        f"{nbytes / 1e6:.2f} MB; timed directly)"
    )
    print(
        f"file size      : plain {plain_size} B, sealed {sealed_size} B "
        f"(+{sealed_size - plain_size} B: 93 B header, 32 B per record)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
