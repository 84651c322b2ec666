"""``vrtherapy bench console``: the therapist console's figures (#16), in one run.

Two live sessions run side by side in this process, on the LSL clock at 90 frames a second,
stepped alternately by one thread: the same protocol (heights-demo, a 10 s baseline, fast
ramps, no climbing by itself), each fed by an in-process simulated patient, each with its
outlets and its command link (as every live session has). Session A has the real console
process (``vrtherapy console --attach``) and ``--browsers`` pages in Debian's headless
Chromium (Playwright, one browser context each, each logged in as its own login) attached;
session B has none. Printed:

- **feature tick -> drawn**: per features sample, the page's own measure
  (``body[data-draw-lag-ms]``: the session's LSL timestamp of the sample to the moment the
  page has redrawn its charts, on the console's clock through the page's ping offset),
  p50/p95 over every page during the window (target p95 <= 150 ms);
- **command click -> intensity change**: Playwright clicks "Step up"/"Step down" on the
  first page (``force``: without its actionability waits, which take animation frames);
  from just before the click (``local_clock()`` in this process) to the end of
  the session frame whose step, and so intensity target and shown intensity, changed
  (target p95 <= 200 ms);
- **console CPU**: the console process's user+system time (``/proc/PID/stat``) over the
  window, % of one core, with all pages receiving ~12 messages a second (target < 15 %);
- **session frame CPU**: ``time.thread_time()`` of ``Session.step`` per frame, p50/p99 of
  A (console attached) and B (none), measured in the same frames (target: p99 delta
  < 0.1 ms);
- **page weight**: bytes of the live page and everything it loads (target < 300 KB).

Needs the dev extra (Playwright) and ``/usr/bin/chromium``. Figures depend on the machine:
say which when quoting them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from vrtherapy_benchmarks.bench_args import bench_parser, count, positive

from biosignals.lsl import import_pylsl
from biosignals.twin import TwinPhysiology
from engine.clock import LslClock
from engine.console_link import LslCommandSource
from engine.console_pairing import Pairing, paired_session
from engine.console_wire import new_secret, new_session_id
from engine.display.null import NullDisplay
from engine.outlets import SessionOutlets
from engine.protocol import Protocol, load_protocol, resolve_seed
from engine.session import Session, SessionState
from engine.session_builder import SessionSetup, build_session, open_recording
from engine.session_status import session_info
from engine.twin_profiles import load_patient
from engine.twinfeed import TwinFeed

FRAME_RATE = 90.0
USER, PASSWORD = "bench", "console bench password"
TARGETS = {"draw_p95_ms": 150.0, "command_p95_ms": 200.0, "console_cpu_pct": 15.0,
           "frame_p99_delta_ms": 0.1, "page_kb": 300.0}  # fmt: skip


def bench_protocol() -> Protocol:
    """heights-demo, long, with a 10 s baseline, fast ramps and no climbing by itself."""
    data = load_protocol(resolve_seed("protocols", "heights-demo")).model_dump()
    data.update(baseline=10.0, duration=3600.0)
    data["controller"]["settle_time"] = 3000.0
    data["safety"]["max_step_per_minute"] = 30.0
    return Protocol.model_validate(data)


@dataclass
class BenchSession:
    """One live session stepped by :class:`FrameLoop`."""

    sid: str
    secret: bytes
    session: Session
    closers: list[Any]
    cpu_ms: list[float] = field(default_factory=list)
    steps: list[tuple[float, int | None]] = field(default_factory=list)

    @classmethod
    def open(cls, protocol: Protocol, clock: LslClock, folder: Path, seed: int) -> BenchSession:
        sid, secret = new_session_id(), new_secret()
        physiology = TwinPhysiology(load_patient("typical"), start_time=clock.now(), seed=seed)
        feed = TwinFeed(physiology, clock, 500.0, 32.0)
        started = datetime.now(UTC).isoformat(timespec="seconds")
        roles = {r: {"name": f"twin-{r}", "type": r, "source_id": f"twin-{r}", "channel": 0}
                 for r in ("heart", "eda")}  # fmt: skip
        info = session_info(protocol, sid=sid, scene_events=("gust_of_wind",), roles=roles,
                            participant="P-BENCH", started=started)  # fmt: skip
        outlets = SessionOutlets(sid, info, thumbnail=False)
        link = LslCommandSource(sid, secret)
        rec = open_recording(folder / f"{sid}.xdf", protocol, "P-BENCH")
        setup = SessionSetup(
            protocol, clock, NullDisplay(), feed.streams(), sinks=(feed, outlets),
            commands=(link,), publish=outlets, frame_rate=FRAME_RATE,
        )  # fmt: skip
        session = build_session(setup, rec)
        return cls(sid, secret, session, [link, outlets, rec.recorder])

    def pairing(self) -> Pairing:
        started = datetime.now(UTC).isoformat(timespec="seconds")
        return Pairing(self.sid, self.secret, "heights-demo", "P-BENCH", started, os.getpid())

    def close(self, now: float) -> None:
        if not self.session.done:
            self.session.stop(now, "benchmark over")
        for part in self.closers:
            part.close()


class FrameLoop:
    """Steps the sessions in turn at :data:`FRAME_RATE` on one thread, timing each step."""

    def __init__(self, clock: LslClock, sessions: list[BenchSession]) -> None:
        self.clock, self.sessions = clock, sessions
        self.measuring = False
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="bench-frames", daemon=True)

    def start(self) -> FrameLoop:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop = True
        self._thread.join()

    def _run(self) -> None:
        pylsl = import_pylsl()
        period, due = 1.0 / FRAME_RATE, self.clock.now()
        order = list(self.sessions)
        while not self._stop:
            for s in order:
                start = time.thread_time()
                s.session.step(self.clock.now())
                spent = (time.thread_time() - start) * 1000.0
                if self.measuring:
                    s.cpu_ms.append(spent)
                step = s.session.safety.controller.step
                if not s.steps or s.steps[-1][1] != step:
                    s.steps.append((pylsl.local_clock(), step))
            order.reverse()  # neither session always goes first
            due = max(due + period, self.clock.now())
            self.clock.wait_until(due)


class ConsoleChild:
    """``vrtherapy console --attach SID`` as a process, its URL and its CPU time."""

    def __init__(self, sid: str, out: Path) -> None:
        cmd = [sys.executable, "-m", "engine.cli", "console", "--attach", sid, "--bind",
               "127.0.0.1:0", "--operator", USER, "--out", str(out)]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)  # fmt: skip
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def url(self, clock: LslClock) -> str:
        found = until(clock, lambda: next((m.group(1) for m in map(
            re.compile(r"^console: (http://\S+)/$").match, list(self.lines)) if m), None),
            60, "the console's URL", lambda: self.proc.poll() is not None)  # fmt: skip
        until(clock, lambda: any(x.startswith("attached") for x in self.lines), 60, "attach")
        return str(found)

    def cpu_seconds(self) -> float:
        """User + system CPU seconds so far (Linux ``/proc``)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def until(clock: LslClock, value: Any, timeout: float, what: str, dead: Any = lambda: False) -> Any:
    """Poll ``value()`` every 50 ms until it is truthy; RuntimeError after ``timeout``."""
    end = clock.now() + timeout
    while clock.now() < end:
        got = value()
        if got:
            return got
        if dead():
            raise RuntimeError(f"gave up waiting for {what}: the process ended")
        clock.wait_until(clock.now() + 0.05)
    raise RuntimeError(f"waited {timeout:g} s for {what}")


def _log_in(context: Any, url: str, errors: list[str]) -> Any:
    """A page of ``context`` logged in; its console errors go to ``errors``."""
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url + "/login")
    page.fill("input[name=name]", USER)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button")
    page.wait_for_load_state()
    return page


def _lags(page: Any) -> list[float]:
    text = page.get_attribute("body", "data-draw-lag-ms") or ""
    return [float(x) for x in text.split()]


def _page_weight(page: Any) -> int:
    return int(page.evaluate(
        "performance.getEntriesByType('navigation').concat("
        "performance.getEntriesByType('resource'))"
        ".reduce((n, e) => n + (e.decodedBodySize || 0), 0)"
    ))  # fmt: skip


def _clicks(page: Any, a: BenchSession, clock: LslClock, count: int) -> list[float]:
    """``count`` alternating step up / step down clicks; ms to the session's change each."""
    pylsl = import_pylsl()
    out: list[float] = []
    for i in range(count):
        kind = "step_up" if i % 2 == 0 else "step_down"
        seen = len(a.steps)
        clicked = pylsl.local_clock()
        page.click(f"button[data-kind={kind}]", force=True)  # no actionability waits
        until(clock, lambda n=seen: len(a.steps) > n, 10, f"{kind} to reach the session")
        out.append((a.steps[seen][0] - clicked) * 1000.0)
        clock.wait_until(clock.now() + 0.3)  # let the page show the result
    return out


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def run(browsers: int, seconds: float, clicks: int, folder: Path) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    from console.users import UserStore

    site, runtime = folder / "site", folder / "run"
    os.environ.update(VRTHERAPY_SITE_DIR=str(site), VRTHERAPY_RUNTIME_DIR=str(runtime))
    site.mkdir(parents=True)
    UserStore(site / "users.json").add(USER, "therapist", PASSWORD)
    clock, protocol = LslClock(), bench_protocol()
    a = BenchSession.open(protocol, clock, folder, seed=1)
    b = BenchSession.open(protocol, clock, folder, seed=1)
    loop = FrameLoop(clock, [a, b]).start()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        with paired_session(a.pairing()):
            console = ConsoleChild(a.sid, folder / "sessions")
            try:
                url = console.url(clock)
                with sync_playwright() as pw:
                    browser = pw.chromium.launch(executable_path=chromium, args=[
                        "--headless", "--no-sandbox", "--disable-gpu"])  # fmt: skip
                    errors: list[str] = []
                    pages = [_log_in(browser.new_context(), url, errors) for _ in range(browsers)]
                    until(clock, lambda: all(_lags(p) for p in pages), 60, "every page's data")
                    until(clock, lambda: a.session.state is SessionState.ACTIVE, 60, "active")
                    start_lags = [len(_lags(p)) for p in pages]
                    cpu0, t0 = console.cpu_seconds(), clock.now()
                    loop.measuring = True
                    clock.wait_until(t0 + seconds)
                    loop.measuring = False
                    cpu = (console.cpu_seconds() - cpu0) / (clock.now() - t0) * 100.0
                    lags = [x for p, n in zip(pages, start_lags, strict=True)
                            for x in _lags(p)[n:]]  # fmt: skip
                    command_ms = _clicks(pages[0], a, clock, clicks)
                    weight = _page_weight(pages[0])
                    browser.close()
            finally:
                console.stop()
    finally:
        loop.stop()
        for s in (a, b):
            s.close(clock.now())
    with_p99, without_p99 = _pct(a.cpu_ms, 99), _pct(b.cpu_ms, 99)
    return {
        "draw_samples": float(len(lags)), "draw_p50_ms": _pct(lags, 50),
        "draw_p95_ms": _pct(lags, 95), "command_samples": float(len(command_ms)),
        "command_p50_ms": _pct(command_ms, 50), "command_p95_ms": _pct(command_ms, 95),
        "console_cpu_pct": cpu, "frames": float(len(a.cpu_ms)),
        "frame_p50_with_ms": _pct(a.cpu_ms, 50), "frame_p99_with_ms": with_p99,
        "frame_p50_without_ms": _pct(b.cpu_ms, 50), "frame_p99_without_ms": without_p99,
        "frame_p99_delta_ms": with_p99 - without_p99, "page_kb": weight / 1000.0,
        "page_console_errors": float(len(errors)),
    }  # fmt: skip


def _verdict(key: str, value: float) -> str:
    if key not in TARGETS:
        return ""
    target = TARGETS[key]
    ok = abs(value) < target if key == "frame_p99_delta_ms" else value <= target
    return f"  (target {'|delta| < ' if key == 'frame_p99_delta_ms' else '<= '}{target:g}: " + (
        "ok)" if ok else "MISSED)"
    )


def main(argv: list[str] | None = None) -> int:
    """Print the console's figures (see the module docstring)."""
    parser = bench_parser("vrtherapy bench console", __doc__)
    parser.add_argument(
        "--browsers", type=count(1, 200), default=10, help="pages attached (default 10)"
    )
    parser.add_argument(
        "--seconds", type=positive(3600.0), default=30.0, help="measuring window (s)"
    )
    parser.add_argument(
        "--clicks", type=count(1, 10_000), default=20, help="step up/down clicks timed"
    )
    args = parser.parse_args(argv)
    if shutil.which("chromium") is None and shutil.which("chromium-browser") is None:
        print("bench console: needs headless Chromium (Debian package 'chromium')")
        return 2
    with tempfile.TemporaryDirectory(prefix="vrtherapy-bench-console-") as tmp:
        r = run(args.browsers, args.seconds, args.clicks, Path(tmp))
    print(
        f"console: {args.browsers} browsers, {args.seconds:g} s window, {args.clicks} clicks, "
        f"two sessions at {FRAME_RATE:g} fps side by side (A: console attached, B: none)"
    )
    for key, value in r.items():
        print(f"  {key:24s} {value:10.3f}{_verdict(key, value)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
