"""The biosignal benchmark streams what it claims: every sample once, in order, per role.

The throughput figures are only meaningful if the planned calls (made before the clock
starts) hand the pipeline each role's signal exactly as a live stream would: consecutive,
non-overlapping chunks of the tiled recording with timestamps that keep rising across laps.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "biosignals_bench", REPO / "benchmarks" / "biosignals_bench.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["biosignals_bench"] = module  # dataclasses resolve their module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("chunk", [1.0, 10.0, 1.0 / 60.0])
def test_plan_streams_every_sample_once_across_laps(bench: ModuleType, chunk: float) -> None:
    sig = bench._twin_signals(12.0)
    seconds = 30.0  # 2.5 laps of the 12-s recording
    plan = bench._plan(sig, seconds, chunk)
    assert len(plan) == round(seconds / chunk)
    assert plan[-1][0] == pytest.approx(seconds)
    for role, rate in bench.RATES.items():
        x, t = sig.streams[role]
        xs = [c[1] for _, calls in plan for c in calls if c[0] == role]
        ts = [c[2] for _, calls in plan for c in calls if c[0] == role]
        got_x, got_t = np.concatenate(xs), np.concatenate(ts)
        laps = [t + k * 12.0 for k in range(3)]
        want_t = np.concatenate(laps)
        want_t = want_t[want_t <= seconds]
        assert got_x.size == want_t.size >= round(seconds * rate)
        np.testing.assert_array_equal(got_x, np.tile(x, 3)[: got_x.size])
        np.testing.assert_array_equal(got_t, want_t)
        assert np.all(np.diff(got_t) > 0.0)


def test_plan_steps_end_at_their_time(bench: ModuleType) -> None:
    plan = bench._plan(bench._twin_signals(8.0), 6.0, 1.0)
    for now, calls in plan:
        for _, _, t in calls:
            assert t.size == 0 or t[-1] <= now
    with pytest.raises(ValueError, match="longer than"):
        bench._plan(bench._twin_signals(8.0), 20.0, 10.0)


def test_throughput_reports_every_chunk_size(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        bench, "THROUGHPUT_CHUNKS", (("10s", 10.0, 40.0), ("1s", 1.0, 8.0), ("frame", 0.1, 2.0))
    )
    out = bench.throughput(quick=True)
    assert set(out) == {"10s", "1s", "frame", "10s_median", "1s_median", "frame_median"}
    assert all(v > 0.0 and np.isfinite(v) for v in out.values())
    assert all(out[k] >= out[k + "_median"] for k in ("10s", "1s", "frame"))
