"""``vrtherapy bench NAME``: run one of the installed benchmarks (they print figures)."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from engine.errors import VrTherapyError

BENCHES: dict[str, tuple[str, str]] = {
    "render": ("render_cpu", "Python CPU per stereo frame, % of the 11.1 ms budget"),
    "biosignals": ("biosignals_bench", "R-peak accuracy, pipeline x real time, memory, latency"),
    "mitbih": ("mitbih_rpeaks", "R-peak sensitivity/PPV/F1/jitter on MIT-BIH"),
    "record": ("record_cost", "recording cost, % of one core"),
    "report": ("report_cost", "seconds to report a 60-minute session"),
    "simulate": ("simulate_speed", "dry-run speed, x real time"),
    "crypto": ("crypto_cost", "encryption overhead vs the recorder's cost"),
    "xr": ("xr_frames", "OpenXR frames: late frames, CPU per frame, collector pauses"),
    "gc": ("gc_session", "collector pauses and memory over a 60-minute 90 Hz session"),
    "review": ("review_bench", "session index, review pages p95, outcomes sessions/s"),
    "console": ("console_bench", "therapist console: draw and command latency, CPU, page weight"),
    "twin-fit": ("twin_fit", "patient twins: recovery, next-session prediction, speed"),
}


def describe() -> str:
    """One line per benchmark, for ``--help``."""
    return "\n".join(f"  {name:11s} {what}" for name, (_, what) in BENCHES.items())


def run_bench(name: str, argv: Sequence[str]) -> int:
    """Run benchmark ``name`` with its own command-line arguments (``main(argv)``)."""
    if name not in BENCHES:
        raise VrTherapyError(f"benchmark {name!r} is not one of {', '.join(BENCHES)}")
    module_name = f"vrtherapy_benchmarks.{BENCHES[name][0]}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise VrTherapyError(f"benchmark {name!r} is not installed ({exc.name} missing)") from None
    # each benchmark's main(argv) parses its own arguments with argparse: --help prints and
    # exits 0, a bad argument is one line and exit 2, both before any work starts
    return int(module.main(list(argv)) or 0)
