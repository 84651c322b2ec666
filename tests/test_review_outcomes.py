"""``vrtherapy outcomes`` as a user runs it: CSV and Parquet, worker processes, a Dask
LocalCluster on loopback, and bad input (one sentence, exit 2)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from conftest import run_cli, site_key
from review_helpers import Archive, archive  # noqa: F401

from engine.review.folder import find_sessions
from engine.review.outcomes import table_bytes
from engine.review.rows import session_row

pytestmark = pytest.mark.slow


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_csv_with_workers_matches_the_rows(archive: Archive, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "outcomes.csv"
    done = run_cli("outcomes", str(archive.sessions), "-o", str(out), "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert "outcomes: 5/5 sessions" in done.stderr
    assert "5 sessions (0 not ok)" in done.stdout and "sessions/s" in done.stdout
    rows = [session_row(f, site_key()) for f in find_sessions(archive.sessions)]
    assert out.read_bytes() == table_bytes(rows, ".csv")
    table = _csv(out)
    assert [r["participant"] for r in table] == ["P-A"] * 4 + ["P-B"]
    assert "hr_reactivity_step1_bpm" in table[0] and table[0]["peak_suds"] != ""
    log = (archive.sessions / "audit.log").read_text()
    assert '"event":"outcomes"' in log


def test_parquet_is_typed(archive: Archive, tmp_path: Path) -> None:  # noqa: F811
    pq = pytest.importorskip("pyarrow.parquet", reason="pip install -e '.[outcomes]'")
    out = tmp_path / "outcomes.parquet"
    done = run_cli("outcomes", str(archive.sessions), "-o", str(out))
    assert done.returncode == 0, done.stderr
    table = pq.read_table(out)
    assert table.num_rows == 5
    assert str(table.schema.field("peak_suds").type) == "double"
    assert str(table.schema.field("highest_step").type) == "int64"
    first = table.to_pylist()[0]
    direct = session_row(find_sessions(archive.sessions)[0], site_key())
    assert first["peak_suds"] == direct["peak_suds"]
    assert first["hr_reactivity_step1_bpm"] == direct["hr_reactivity_step1_bpm"]


def test_on_a_dask_local_cluster(archive: Archive, tmp_path: Path) -> None:  # noqa: F811
    distributed = pytest.importorskip("distributed", reason="pip install -e '.[dask]'")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        out = tmp_path / "dask.csv"
        done = run_cli("outcomes", str(archive.sessions), "-o", str(out), "--dask", address)
        assert done.returncode == 0, done.stderr
    rows = [session_row(f, site_key()) for f in find_sessions(archive.sessions)]
    assert out.read_bytes() == table_bytes(rows, ".csv")


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("missing", "not a folder"),
        ("empty", "no session folders"),
        ("suffix", "as .csv or .parquet"),
        ("inside", "inside the sessions folder"),
        ("dask", "expected tcp://HOST:PORT"),
        ("nodask", "cannot reach a Dask scheduler"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2(
    archive: Archive,  # noqa: F811
    tmp_path: Path,
    case: str,
    words: str,
) -> None:
    sessions, out, extra = str(archive.sessions), str(tmp_path / "o.csv"), []
    if case == "missing":
        sessions = str(tmp_path / "nowhere")
    elif case == "empty":
        (tmp_path / "empty").mkdir()
        sessions = str(tmp_path / "empty")
    elif case == "suffix":
        out = str(tmp_path / "o.xlsx")
    elif case == "inside":
        out = str(archive.sessions / "o.csv")
    elif case == "dask":
        extra = ["--dask", "127.0.0.1:8786"]
    else:
        extra = ["--dask", "tcp://127.0.0.1:9"]
    done = run_cli("outcomes", sessions, "-o", out, *extra)
    assert done.returncode == 2
    assert words in done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    if case == "dask":  # an option argparse refuses: its usage line, then the sentence
        assert lines[0].startswith("usage:") and lines[-1].startswith("vrtherapy outcomes: error")
    else:
        assert len(lines) == 1, done.stderr
    assert not Path(out).exists()
