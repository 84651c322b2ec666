"""How sessions end: sealed before the report, and cleanly on SIGTERM, SIGINT and SIGHUP."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from engine import cli
from engine.privacy.audit import read_entries
from engine.privacy.integrity import verify_session

ROOT = Path(__file__).resolve().parents[1]


def only_session(out: Path) -> Path:
    (folder,) = [p for p in out.glob("*/*") if p.is_dir()]
    return folder


def test_a_failing_report_leaves_the_session_sealed_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import engine.report

    def broken(*args: object, **kwargs: object) -> Path:
        raise RuntimeError("template exploded")

    monkeypatch.setattr(engine.report, "build_report", broken)
    out = tmp_path / "sessions"
    rc = cli.main(["simulate", "heights-demo", "--duration", "90s", "--out", str(out)])
    err = capsys.readouterr().err  # sealed by default: the session is sealed, not only plain
    assert rc == 0, err
    assert "warning: the report was not written (step: report, RuntimeError: template" in err
    assert "vrtherapy report " in err
    folder = only_session(out)
    assert not (folder / "report.html").exists()
    assert not (folder / "report.html.sealed").exists()
    assert (folder / "recording.xdf.sealed").is_file() and (folder / "integrity.json").is_file()
    check = verify_session(folder, out / "audit.log")
    assert check.ok, check.problems
    events = [e["event"] for e in read_entries(out / "audit.log")]
    assert events.count("session_stop") == 1 and events[-1] == "integrity"


def test_the_report_comes_after_the_audit_stop(tmp_path: Path) -> None:
    out = tmp_path / "sessions"
    args = ["simulate", "heights-demo", "--duration", "90s", "--out", str(out), "--no-encryption"]
    assert cli.main(args) == 0
    entries = read_entries(out / "audit.log")
    events = [e["event"] for e in entries]
    stop = events.index("session_stop")
    assert events[stop + 1] == "integrity"  # sealed without the report first
    assert entries[-1]["event"] == "integrity" and entries[-1]["details"]["added"] == "report.html"
    assert verify_session(only_session(out), out / "audit.log").ok


class Running:
    """A `vrtherapy` process whose stderr is read line by line on a thread."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=dict(os.environ),
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert self.proc.stderr is not None
        threading.Thread(target=self._read, args=(self.proc.stderr,), daemon=True).start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines.put(line)

    def wait_for(self, needle: str, timeout: float = 60.0) -> None:
        """Block until a stderr line contains ``needle`` (a real event, not a fixed wait)."""
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                self.proc.kill()
                raise AssertionError(f"no {needle!r} in {timeout} s; saw: {self.seen}") from None
            self.seen.append(line)
            if needle in line:
                return

    def finish(self, timeout: float = 60.0) -> tuple[int, str]:
        rc = self.proc.wait(timeout=timeout)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return rc, "".join(self.seen)


@pytest.mark.slow
@pytest.mark.lsl
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT", "SIGHUP"])
def test_a_stop_signal_ends_the_session_cleanly(tmp_path: Path, sig: str) -> None:
    out = tmp_path / "sessions"
    run = Running(
        "demo", "--display", "null", "--duration", "90s", "--out", str(out), "--no-encryption"
    )
    run.wait_for("session start:")  # the session is recording
    run.proc.send_signal(getattr(signal, sig))
    rc, err = run.finish()
    assert rc == 1, err
    assert f"session aborted: signal {sig}" in err and "Traceback" not in err
    folder = only_session(out)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["state"] == "aborted" and summary["reason"] == f"signal {sig}"
    assert (folder / "report.html").is_file()
    assert verify_session(folder, out / "audit.log").ok
    stops = [e for e in read_entries(out / "audit.log") if e["event"] == "session_stop"]
    assert [e["details"]["reason"] for e in stops] == [f"signal {sig}"]


@pytest.mark.slow
@pytest.mark.lsl
def test_a_signal_before_the_session_starts_records_nothing(tmp_path: Path) -> None:
    protocol = tmp_path / "p.yaml"
    text = (ROOT / "seeds" / "protocols" / "heights-demo.yaml").read_text()
    protocol.write_text(text.replace("stream_timeout: 10s", "stream_timeout: 60s"))
    out = tmp_path / "sessions"
    run = Running("run", str(protocol), "--display", "null", "--out", str(out),
                  "--consent-streams", "heart,eda", "--consent-purpose", "treatment",
                  "--consent-retention-days", "30")  # fmt: skip
    run.wait_for("run: protocol")  # resolving streams that do not exist
    run.proc.send_signal(signal.SIGTERM)
    rc, err = run.finish()
    assert rc == 1, err
    assert "interrupted by SIGTERM before the session started" in err
    assert not any(p.is_dir() for p in out.glob("*/*"))
