"""Dry-run speed: a protocol against a simulated patient, as x real time.

Target (issue "Therapy content"): a 60-minute dry-run in <= 10 s (>= 360x real time).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from vrtherapy_benchmarks.bench_args import bench_parser, positive

from biosignals.twin import TwinProfile
from engine.display import DRY_RUN
from engine.live import DRY_RUN_FRAME_RATE, RunOptions, run_simulated, with_duration
from engine.protocol import load_protocol, resolve_seed


def measure(protocol: str, minutes: float, frame_rate: float) -> dict[str, float]:
    """Run one dry-run without a report; return wall/CPU seconds and x real time."""
    p = with_duration(load_protocol(resolve_seed("protocols", protocol)), minutes * 60.0)
    with tempfile.TemporaryDirectory() as out:
        opts = RunOptions(out=Path(out), display=DRY_RUN, frame_rate=frame_rate, report=False)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        result = run_simulated(p, opts, TwinProfile())
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {
        "session_s": result.summary.duration,
        "frames": float(result.summary.frames),
        "wall_s": wall,
        "cpu_s": cpu,
        "x_real_time": result.summary.duration / wall,
    }


def main(argv: list[str] | None = None) -> int:
    """Print the dry-run speed."""
    parser = bench_parser("vrtherapy bench simulate", __doc__)
    parser.add_argument("--protocol", default="heights-graded")
    parser.add_argument("--minutes", type=positive(1440.0), default=60.0)
    parser.add_argument(
        "--frame-rate",
        type=positive(1000.0),
        default=DRY_RUN_FRAME_RATE,
        help=f"frames per simulated second (dry-run default {DRY_RUN_FRAME_RATE:g})",
    )
    args = parser.parse_args(argv)
    r = measure(args.protocol, args.minutes, args.frame_rate)
    print(f"simulate: {args.protocol}, {args.minutes:g} min at {args.frame_rate:g} frames/s")
    print(
        f"  wall {r['wall_s']:.2f} s  cpu {r['cpu_s']:.2f} s  frames {r['frames']:.0f}  "
        f"-> {r['x_real_time']:.0f}x real time (target >= 360x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
