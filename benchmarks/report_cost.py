"""Report cost: seconds to build the HTML report of a dry-run session of a given length.

Target (issue "Session record"): a 60-minute session's report in <= 10 s.
"""

from __future__ import annotations

from vrtherapy_benchmarks.bench_args import bench_parser, positive

from engine.report.bench import report_cost


def main(argv: list[str] | None = None) -> int:
    """Simulate a session, then time its report."""
    parser = bench_parser("vrtherapy bench report", __doc__)
    parser.add_argument("--minutes", type=positive(1440.0), default=60.0)
    args = parser.parse_args(argv)
    r = report_cost(args.minutes)
    print(f"report_cost: {args.minutes:g}-minute session")
    for key, value in r.items():
        print(f"  {key:20s} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
