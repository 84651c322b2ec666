"""``vrtherapy bench review`` runs end to end on a tiny archive and prints its figures."""

from __future__ import annotations

import re

import pytest
from conftest import run_cli

pytestmark = pytest.mark.slow


def test_bench_review_prints_index_pages_and_outcome_rates() -> None:
    r = run_cli(
        "bench",
        "review",
        "--sessions",
        "12",
        "--participants",
        "3",
        "--course",
        "5",
        "--listing-minutes",
        "4",
        "--outcomes",
        "4",
        "--outcome-minutes",
        "4",
        "--workers",
        "2",
        "--requests",
        "3",
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    assert re.search(r"index build +\d+\.\d+ s \(12 sessions", r.stdout), r.stdout
    for page in (
        "participants page",
        "a participant's sessions",
        "course page (5 sessions)",
        "a sealed session's report",
    ):
        assert re.search(re.escape(page) + r".* p95 +\d+\.\d+ ms", r.stdout), r.stdout
    for runner in ("1 worker", "2 workers", "Dask LocalCluster"):
        assert re.search(re.escape(runner) + r".* \d+\.\d+ sessions/s \(4 sessions", r.stdout)
