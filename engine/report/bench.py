"""What a report costs: a dry-run session of a given length, then :func:`build_report`.

Used by ``vrtherapy bench``; prints nothing (the caller formats the figures).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["report_cost"]


def report_cost(minutes: float, *, protocol: str = "heights-demo") -> dict[str, Any]:
    """Simulate a ``minutes``-long session, then time its report.

    Returns
    -------
    dict
        ``minutes``; ``simulate_s`` (dry-run wall time); ``recording_mb``; ``report_s``
        (wall time of :func:`engine.report.build_report`); ``report_kb`` (HTML size);
        ``report_x_real_time`` (session length / report time).
    """
    from biosignals.twin import TwinProfile
    from engine.display import DRY_RUN
    from engine.live import RunOptions, run_simulated, with_duration
    from engine.protocol import load_protocol, resolve_seed
    from engine.report import build_report

    seconds = float(minutes) * 60.0
    proto = with_duration(load_protocol(resolve_seed("protocols", protocol)), seconds)
    with tempfile.TemporaryDirectory(prefix="vrtherapy-bench-") as tmp:
        start = time.perf_counter()
        result = run_simulated(proto, RunOptions(out=Path(tmp), display=DRY_RUN), TwinProfile())
        simulated = time.perf_counter() - start
        out = Path(tmp) / "report.html"
        start = time.perf_counter()
        build_report(result.recording, out)
        took = time.perf_counter() - start
        return {
            "minutes": float(minutes),
            "simulate_s": simulated,
            "recording_mb": result.recording.stat().st_size / 1e6,
            "report_s": took,
            "report_kb": out.stat().st_size / 1e3,
            "report_x_real_time": seconds / took if took > 0 else float("inf"),
        }
