"""Review benchmark (#17): the session index and the review app over a synthetic archive,
and ``vrtherapy outcomes`` over 40-minute dry-runs.

1. A few real dry-runs (``vrtherapy simulate``, sealed with a key made for the run) are
   the templates; the archive's session folders are hard links to their files (same bytes,
   no disk space), ``--sessions`` of them for ``--participants`` participants, the first
   participant with ``--course`` sessions.
2. Index build (``SessionIndex.refresh`` with ``--workers``), and a refresh with nothing
   changed.
3. The review app on 127.0.0.1, a clinician logged in: the participants page, one
   participant's sessions page (the listing), the course page of the participant with
   ``--course`` sessions, one sealed session's report: p50/p95 over ``--requests``.
   Targets: listing p95 < 300 ms, course page < 1 s.
4. ``outcomes`` rows (the command's own ``compute_rows``) over ``--outcomes`` 40-minute
   sealed dry-runs: sessions/s for 1 worker, ``--workers`` processes, and a Dask
   ``LocalCluster`` of ``--workers`` processes on 127.0.0.1 (when ``distributed`` is there).

Everything is made in a temporary folder, removed at the end (``--keep DIR`` keeps it).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from vrtherapy_benchmarks.bench_args import bench_parser, build_dir, count, positive

from engine.privacy.keys import SiteKey, load_site_key
from engine.review.folder import find_sessions
from engine.review.index import SessionIndex
from engine.review.outcomes import compute_rows

PASSWORD = "bench password 1"


def _simulate(site: Path, out: Path, protocol: str, patient: str, minutes: float) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "engine.cli",
        "simulate",
        protocol,
        "--patient",
        patient,
        "--duration",
        f"{minutes:g}min",
        "--participant",
        "T",
        "--out",
        str(out),
    ]
    env = {**os.environ, "VRTHERAPY_SITE_DIR": str(site)}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"bench review: dry-run failed: {done.stderr.strip()[-300:]}")
    return sorted((out / "T").iterdir())[-1]


def templates(site: Path, root: Path, minutes: float, kinds: list[tuple[str, str]]) -> list[Path]:
    """One dry-run per (protocol, patient), made two at a time."""
    out = []
    for i, (protocol, patient) in enumerate(kinds):
        out.append(_simulate(site, root / f"t{i}", protocol, patient, minutes))
    return out


def link_archive(
    sessions: Path, sources: list[Path], count: int, participants: int, course: int
) -> None:
    """``count`` session folders of hard links; participant 0 gets the first ``course``."""
    for i in range(count):
        p = 0 if i < course or participants < 2 else 1 + i % (participants - 1)
        src = sources[i % len(sources)]
        day = 1 + (i // participants) % 28
        stamp = f"2026{1 + (i // (participants * 28)) % 12:02d}{day:02d}-{9 + i % 8:02d}0000"
        folder = sessions / f"P-{p:04d}" / f"{stamp}-{src.name[16:]}-{i:05d}"
        folder.mkdir(parents=True)
        for f in src.iterdir():
            os.link(f, folder / f.name)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _line(name: str, times: list[float], target: float | None = None) -> str:
    ms = [t * 1000 for t in times]
    tail = f" (target < {target:g} ms)" if target is not None else ""
    return (
        f"  {name:30s} p50 {statistics.median(ms):7.1f} ms  p95 {_pct(ms, 95):7.1f} ms  "
        f"max {max(ms):7.1f} ms{tail}"
    )


async def _pages(base: str, paths: dict[str, list[str]], repeat: int) -> dict[str, list[float]]:
    import aiohttp

    out: dict[str, list[float]] = {k: [] for k in paths}
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base, cookie_jar=jar, headers={"Origin": base}) as http:
        async with http.post("/login", data={"name": "kim", "password": PASSWORD}) as r:
            assert r.status == 200, await r.text()
        for name, urls in paths.items():
            for k in range(repeat):
                start = time.perf_counter()
                async with http.get(urls[k % len(urls)]) as r:
                    await r.read()
                    assert r.status == 200, (urls[k % len(urls)], r.status)
                out[name].append(time.perf_counter() - start)
    return out


def serve_and_time(
    sessions: Path, index: SessionIndex, key: SiteKey, users: Path, repeat: int
) -> dict[str, list[float]]:
    """Time the review pages of a review app served on 127.0.0.1 by this process."""
    from aiohttp import web

    from console.review.app import make_review_app
    from console.review.state import Review
    from console.state import ConsoleConfig
    from console.users import UserStore
    from engine.privacy.audit import AuditLog

    store = UserStore(users)
    store.add("kim", "clinician", PASSWORD)
    config = ConsoleConfig(store, AuditLog(sessions / "audit.log", actor="bench"), "bench")
    app = make_review_app(config, Review(sessions, key, index, refresh_period=3600.0))
    parts = [p.participant for p in index.participants()]
    first = index.sessions_of(parts[0])
    paths = {
        "participants page (/)": ["/"],
        "a participant's sessions": [f"/participants/{p}" for p in parts[1::7]],
        f"course page ({len(first)} sessions)": [f"/participants/{parts[0]}/course"],
        "a sealed session's report": [
            "/participants/{}/sessions/{}".format(*str(r["session"]).split("/", 1))
            for r in first[:3]
        ],
    }

    async def run() -> dict[str, list[float]]:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            return await _pages(base, paths, repeat)
        finally:
            await runner.cleanup()

    return asyncio.run(run())


def _rate(label: str, n: int, seconds: float) -> str:
    return f"  {label:30s} {n / seconds:6.2f} sessions/s ({n} sessions in {seconds:.1f} s)"


def outcomes_rates(sessions: Path, key: SiteKey, workers: int) -> list[str]:
    folders = find_sessions(sessions)
    lines = []
    for label, kwargs in (
        ("1 worker", {"workers": 1}),
        (f"{workers} workers", {"workers": workers}),
    ):
        start = time.perf_counter()
        rows = compute_rows(folders, key, **kwargs)  # type: ignore[arg-type]
        assert all(r["status"] == "ok" for r in rows), rows[0]
        lines.append(_rate(label, len(rows), time.perf_counter() - start))
    try:
        import distributed
    except ImportError:
        return [*lines, "  Dask LocalCluster             n/a: pip install 'vrtherapy[dask]'"]
    with distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        start = time.perf_counter()
        rows = compute_rows(folders, key, dask_address=cluster.scheduler_address)
        took = time.perf_counter() - start
    lines.append(_rate(f"Dask LocalCluster ({workers} w)", len(rows), took))
    return lines


def main(argv: list[str] | None = None) -> int:
    """Build the archives, time the index, the pages and ``outcomes``; print figures."""
    ap = bench_parser("vrtherapy bench review", __doc__)
    ap.add_argument("--sessions", type=count(1, 1_000_000), default=5000)
    ap.add_argument("--participants", type=count(1, 1_000_000), default=500)
    ap.add_argument(
        "--course", type=count(1, 10_000), default=20, help="sessions of the course participant"
    )
    ap.add_argument(
        "--listing-minutes", type=positive(240.0), default=5.0, help="template session length"
    )
    ap.add_argument("--outcomes", type=count(1, 1_000_000), default=200)
    ap.add_argument("--outcome-minutes", type=positive(240.0), default=40.0)
    ap.add_argument("--workers", type=count(1, 1024), default=os.cpu_count() or 2)
    ap.add_argument("--requests", type=count(1, 1_000_000), default=50)
    ap.add_argument("--keep", type=build_dir, help="build in this folder and keep it")
    args = ap.parse_args(argv)
    root = args.keep or Path(tempfile.mkdtemp(prefix="vrtherapy-bench-review-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        return _run(args, root)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


def _run(args: Any, root: Path) -> int:
    site = root / "site"
    kinds = [
        ("heights-graded", "typical"),
        ("heights-graded", "high-anxiety"),
        ("spiders-graded", "fast-habituator"),
    ]
    start = time.perf_counter()
    short = templates(site, root / "templates-short", args.listing_minutes, kinds)
    key = load_site_key(site / "site.key")
    sessions = root / "archive"
    link_archive(sessions, short, args.sessions, args.participants, args.course)
    print(
        f"review bench: {args.sessions} sessions of {args.participants} participants "
        f"({args.listing_minutes:g}-min sealed dry-runs, hard-linked), made in "
        f"{time.perf_counter() - start:.1f} s; {args.workers} workers; "
        f"{os.cpu_count()} CPUs"
    )
    index = SessionIndex(root / "index.sqlite", sessions, key)
    start = time.perf_counter()
    done = index.refresh(workers=args.workers)
    build = time.perf_counter() - start
    print(
        f"  index build                    {build:7.1f} s ({done.added} sessions, "
        f"{done.added / build:.0f} sessions/s)"
    )
    start = time.perf_counter()
    index.refresh()
    print(f"  index refresh, nothing changed {time.perf_counter() - start:7.2f} s")
    times = serve_and_time(sessions, index, key, root / "users.json", args.requests)
    for name, values in times.items():
        target = 300.0 if "sessions" in name or "(/)" in name else None
        target = 1000.0 if name.startswith("course") else target
        print(_line(name, values, target))
    index.close()
    _outcomes(args, root, site, key)
    return 0


def _outcomes(args: Any, root: Path, site: Path, key: SiteKey) -> None:
    start = time.perf_counter()
    long = templates(
        site,
        root / "templates-long",
        args.outcome_minutes,
        [
            ("heights-graded", "typical"),
            ("flying-graded", "typical"),
            ("public-speaking-graded", "slow-habituator"),
            ("heights-graded", "fast-habituator"),
        ],
    )
    outcome_sessions = root / "outcomes"
    link_archive(outcome_sessions, long, args.outcomes, max(1, args.outcomes // 10), 0)
    print(
        f"outcomes: {args.outcomes} sealed {args.outcome_minutes:g}-min dry-runs "
        f"(templates made in {time.perf_counter() - start:.1f} s)"
    )
    for line in outcomes_rates(outcome_sessions, key, args.workers):
        print(line)


if __name__ == "__main__":
    raise SystemExit(main())
