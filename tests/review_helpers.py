"""A small archive of real dry-run sessions for the review tests (measures, index,
outcomes, serve), made once per test run by the real ``vrtherapy simulate`` in parallel.

Participants: ``P-A`` has three sealed heights sessions (typical, high-anxiety, fast
habituator) and one unsealed spiders session; ``P-B`` one sealed snow-distraction session
(no steps, pain prompts). ``bad`` adds, in a copy, a ``P-X`` with one folder of each kind
review must mark: a torn recording, a session sealed under another site key, a session
without ``summary.json`` and a folder with no recording.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from engine.privacy.keys import create_site_key

ROOT = Path(__file__).resolve().parents[1]
DRY_RUNS = (
    ("P-A", "heights-graded", "typical", "8min", ()),
    ("P-A", "heights-graded", "high-anxiety", "8min", ()),
    ("P-A", "heights-graded", "fast-habituator", "8min", ()),
    ("P-A", "spiders-graded", "typical", "8min", ("--no-encryption",)),
    ("P-B", "snow-distraction", "typical", "4min", ()),
)


@dataclass(frozen=True)
class Archive:
    """The sessions folder and its session folders by participant."""

    sessions: Path

    def folders(self, participant: str) -> list[Path]:
        return sorted(p for p in (self.sessions / participant).iterdir() if p.is_dir())


def simulate_all(out: Path, runs: tuple[tuple[str, str, str, str, tuple[str, ...]], ...]) -> None:
    """Run each dry-run as its own ``vrtherapy simulate`` process, two at a time, each in a
    sessions sub-folder of its own (folder names hold the start second)."""
    procs: list[tuple[subprocess.Popen[str], Path]] = []
    for i, (participant, protocol, patient, duration, extra) in enumerate(runs):
        tmp = out.parent / f"{out.name}-run{i}"
        cmd = [
            sys.executable,
            "-m",
            "engine.cli",
            "simulate",
            protocol,
            "--patient",
            patient,
            "--duration",
            duration,
            "--participant",
            participant,
            "--out",
            str(tmp),
            *extra,
        ]
        procs.append(
            (
                subprocess.Popen(
                    cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
                ),
                tmp,
            )
        )
        if len(procs) % 2 == 0 or i == len(runs) - 1:
            for proc, _ in procs[-2:]:
                output, _ = proc.communicate(timeout=300)
                assert proc.returncode == 0, output
    out.mkdir(parents=True, exist_ok=True)
    for _, tmp in procs:
        _merge(tmp, out)


def _merge(tmp: Path, out: Path) -> None:
    """Move the session folders of one run's sessions folder into ``out`` (a name taken
    gets ``-N``) and anchor their manifests in ``out``'s audit log (each run had its own)."""
    from engine.privacy.audit import AuditLog
    from engine.privacy.integrity import write_integrity

    log = AuditLog(out / "audit.log", actor="test")
    for part in sorted(p for p in tmp.iterdir() if p.is_dir()):
        for folder in sorted(part.iterdir()):
            target, n = out / part.name / folder.name, 1
            while target.exists():
                n += 1
                target = out / part.name / f"{folder.name}-{n}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(folder), target)
            write_integrity(target, log)
    shutil.rmtree(tmp)


@pytest.fixture(scope="session")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    """The dry-run archive (read-only for tests: copy it before changing anything). Made
    once per test run: modules that import this fixture get their own fixture object, so
    the folder (with a marker written last) is what they share."""
    root = tmp_path_factory.getbasetemp() / "review-archive"
    sessions = root / "sessions"
    if not (root / "complete").exists():
        if root.exists():
            shutil.rmtree(root)
        root.mkdir()
        simulate_all(sessions, DRY_RUNS)
        (root / "complete").write_text("ok")
    return Archive(sessions)


def add_bad_folders(archive: Archive, target: Path, site: Path) -> dict[str, Path]:
    """A copy of ``archive`` at ``target`` plus participant ``P-X``'s bad folders."""
    shutil.copytree(archive.sessions, target)
    plain = next(p for p in Archive(target).folders("P-A") if (p / "recording.xdf").exists())
    bad = target / "P-X"
    bad.mkdir()
    torn = bad / "20260101-090000-torn"
    shutil.copytree(plain, torn)
    rec = torn / "recording.xdf"
    rec.write_bytes(rec.read_bytes()[: rec.stat().st_size * 2 // 3])
    nosummary = bad / "20260102-090000-no-summary"
    shutil.copytree(plain, nosummary)
    (nosummary / "summary.json").unlink()
    empty = bad / "20260103-090000-no-recording"
    empty.mkdir()
    other_key = site.parent / f"{site.name}-other.key"
    if not other_key.exists():
        create_site_key(other_key)
    tmp = target.parent / "other-key-run"
    run = [
        sys.executable,
        "-m",
        "engine.cli",
        "simulate",
        "heights-demo",
        "--participant",
        "P-X",
        "--out",
        str(tmp),
        "--key",
        str(other_key),
        "--no-report",
    ]
    done = subprocess.run(
        run, cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ}
    )
    assert done.returncode == 0, done.stderr
    foreign = next((tmp / "P-X").iterdir())
    shutil.move(str(foreign), bad / "20260104-090000-other-key")
    shutil.rmtree(tmp)
    return {
        "torn": torn,
        "no_summary": nosummary,
        "no_recording": empty,
        "wrong_key": bad / "20260104-090000-other-key",
    }


class ReviewServer:
    """``vrtherapy serve``'s app on 127.0.0.1 (a free port) in a thread of its own."""

    def __init__(self, sessions: Path, users: Any, key: Any, twins: Path | None = None) -> None:
        import asyncio
        import threading

        from console.review.state import Review
        from console.state import ConsoleConfig
        from engine.privacy.audit import AuditLog
        from engine.review.index import SessionIndex

        index = SessionIndex(sessions / ".vrtherapy-index.sqlite", sessions, key)
        index.refresh()
        self.review = Review(sessions, key, index, twins=twins)
        self.audit = sessions / "audit.log"
        self.config = ConsoleConfig(
            users=users, audit=AuditLog(self.audit, actor="test"), operator="test"
        )
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="review-server", daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        import asyncio

        from aiohttp import web

        from console.review.app import make_review_app

        asyncio.set_event_loop(self._loop)
        runner = web.AppRunner(make_review_app(self.config, self.review), access_log=None)

        async def start() -> None:
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            self.port = runner.addresses[0][1]

        self._loop.run_until_complete(start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()

    def start(self) -> ReviewServer:
        from waiting import wait_for

        self._thread.start()
        wait_for(self._ready.is_set, 20, what="the review server to listen")
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=20)
        self.review.index.close()
        assert not self._thread.is_alive(), "the review server did not stop within 20 s"
