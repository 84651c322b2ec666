"""Recording cost: CPU share of one core for ECG 500 Hz + PPG 100 Hz + EDA 32 Hz + session streams.

Target (issue "Session record"): <= 1% of one core. ``--speedup`` > 1 runs faster than real
time and understates the per-push cost (warm caches); 1 is the honest figure.
"""

from __future__ import annotations

from vrtherapy_benchmarks.bench_args import bench_parser, positive

from engine.record.bench import measure_recording_cost


def main(argv: list[str] | None = None) -> int:
    """Print the recording cost."""
    parser = bench_parser("vrtherapy bench record", __doc__)
    parser.add_argument(
        "--seconds", type=positive(86_400.0), default=20.0, help="simulated seconds"
    )
    parser.add_argument("--speedup", type=positive(10_000.0), default=1.0, help="pace x real time")
    args = parser.parse_args(argv)
    r = measure_recording_cost(args.seconds, speedup=args.speedup)
    print(f"record_cost: {args.seconds:g} s simulated at {args.speedup:g}x real time")
    for key, value in r.items():
        print(f"  {key:28s} {value:12.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
