"""The therapist console end to end, with nothing faked: a real ``vrtherapy demo --console``
(a live session on the LSL clock against the simulated patient on loopback LSL, drawing
offscreen, with the console process it starts beside it), a second ``vrtherapy console``
without the pairing secret, and Debian's headless Chromium driven by Playwright.

The fake session (tests/console_fake_session.py) keeps the console's many unit-sized
tests fast; these prove the real paths: log in, live charts, "step down" lowering the
session's intensity with the command marker and the user's name in the XDF, a scene event
changing the patient's view (thumbnails decoded and compared), a second console's
commands rejected and recorded, a killed console leaving the session running, and no
console error on any page.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import re
import signal
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from console_helpers import recorded_markers
from console_server_helpers import CliProcess, client, csrf, login, make_users, receive
from waiting import wait_for

from biosignals.twin import TwinOutlets, TwinPhysiology, TwinProfile, TwinRunner
from engine.console_pairing import Pairing, read_pairing, write_pairing
from engine.protocol import load_protocol, resolve_seed

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[dev]'")
import test_console_browser  # noqa: E402  (after the skip)
from browser_helpers import needs_chromium  # noqa: E402
from test_console_browser import Page  # noqa: E402

browser = test_console_browser.browser  # the same module-scoped Chromium fixture

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.lsl]


def _protocol_file(folder: Path, **console: Any) -> Path:
    """heights-demo for these tests: a 10 s baseline, no climbing by itself (a long settle
    time), fast ramps, and the protocol's ``console:`` block."""
    data = load_protocol(resolve_seed("protocols", "heights-demo")).model_dump(mode="json")
    data.update(baseline=10.0, duration=240.0, console={"events": True, **console})
    data["protocol"] = "console-e2e-protocol"
    data["controller"]["settle_time"] = 200.0
    data["safety"]["max_step_per_minute"] = 30.0
    path = folder / "console-e2e.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def site(tmp_path: Path) -> dict[str, str]:
    """A site folder of this test's own with the test accounts, and its runtime folder."""
    folder = tmp_path / "site"
    folder.mkdir()
    make_users(folder / "users.json")
    return {
        "VRTHERAPY_SITE_DIR": str(folder),
        "VRTHERAPY_RUNTIME_DIR": str(tmp_path / "run"),
        "VRTHERAPY_OPERATOR": "dr.lee",
    }


def _demo(site: dict[str, str], tmp_path: Path, display: str, **console: Any) -> CliProcess:
    protocol = _protocol_file(tmp_path, **console)
    return CliProcess(
        site, tmp_path, "demo", "--display", display, "--protocol", str(protocol),
        "--console", "127.0.0.1:0", "--out", str(tmp_path / "sessions"),
        "--no-encryption", "--no-report",
    )  # fmt: skip


def _grey(data_url: str) -> np.ndarray:
    """A thumbnail data URL decoded to grey levels (pygame reads JPEG and PNG)."""
    import pygame

    raw = base64.b64decode(data_url.split(",", 1)[1])
    surface = pygame.image.load(io.BytesIO(raw), "thumb.jpg")
    rgb = pygame.surfarray.array3d(surface).astype(np.float64)
    return np.asarray(rgb.mean(axis=2))


def _thumbnails(p: Page, count: int) -> list[np.ndarray]:
    """The next ``count`` different thumbnails the page shows."""
    seen: list[str] = [p.attr("#thumb", "src")]

    def more() -> bool:
        src = p.attr("#thumb", "src")
        if src != seen[-1]:
            seen.append(src)
        return len(seen) > count

    p.until(more, f"{count} new thumbnails", timeout=60)
    return [_grey(s) for s in seen[1:]]


def _intensity(p: Page) -> float:
    """The intensity the page shows (``shown 0.35 / target 0.35``)."""
    m = re.search(r"shown ([0-9.]+)", p.text("#intensity-text"))
    return float(m.group(1)) if m else float("nan")


@needs_chromium
def test_a_real_session_watched_and_steered_from_a_browser(
    site: dict[str, str], tmp_path: Path, browser: Any
) -> None:
    demo = _demo(site, tmp_path, "offscreen", thumbnail=True, thumbnail_fps=5.0)
    second: CliProcess | None = None
    try:
        url = demo.match(r"\* console: (http://127\.0\.0\.1:\d+)/").group(1)
        sid = demo.match(r"attached to session ([0-9a-f]{8})").group(1)
        assert demo.match(r"pairing code: [A-Z0-9]{4}-[A-Z0-9]{4}")
        p = Page(browser)
        p.live(url)  # logged in, the heart-rate chart drawing
        first = {c: p.points(c) for c in ("hr", "scl", "arousal", "intensity")}
        p.until(lambda: all(p.points(c) > first[c] for c in first), "every chart to move", 60)
        p.until(lambda: p.text("#state") == "active", "the baseline to end", 60)
        p.until(lambda: p.text("#step") == "1/5", "the first step (1-based, as the session says)")
        p.page.click("button[data-kind=step_up]")
        p.until(lambda: p.text("#step") == "2/5", "step 2 on the page", 30)
        p.until(lambda: _intensity(p) >= 0.34, "the intensity to reach step 2", 30)
        p.page.click("button[data-kind=step_down]")
        p.until(lambda: "ms round trip" in p.text("#result"), "the step down's result")
        p.until(lambda: _intensity(p) <= 0.16, "the session's intensity to fall", 30)
        p.until(lambda: p.text("#step") == "1/5", "step 1 on the page")
        p.until(lambda: "step_down from dr.lee" in p.text("#log"), "the decision log entry")
        _scene_event_changes_the_view(p)
        p.screenshot("console-real-session-1024x768.png", tmp_path)

        second = _second_console(site, tmp_path, sid)
        q = Page(browser)
        q.live(second.match(r"console: (http://127\.0\.0\.1:\d+)/").group(1))
        q.page.click("button[data-kind=step_up]")
        q.until(lambda: "rejected by the session: bad mac" in q.text("#result"), "a rejection")
        assert p.text("#step") == "1/5" and _intensity(p) <= 0.16  # the session unaffected
        p.page.click("#stop")
        p.page.click("#stop")
        assert demo.wait() == 1  # stopped by the therapist: aborted
        assert p.errors == [] and q.errors == []
    finally:
        demo.stop()
        if second is not None:
            second.stop()
    recording = Path(demo.match(r"^recording: (.+)$").group(1))
    markers = recorded_markers(recording)
    commands = [m for m in markers if m.get("event") == "command"]
    down = next(m for m in commands if m["command"] == "step_down")
    assert (down["operator"], down["source"], down["applied"]) == ("dr.lee", "console", True)
    assert any(m["command"] == "scene_event" and m["applied"] for m in commands)
    assert commands[-1]["command"] == "stop" and commands[-1]["operator"] == "dr.lee"
    (rejected,) = [m for m in markers if m.get("event") == "command_rejected"]
    assert rejected["command"] == "step_up" and rejected["reason"].startswith("bad mac")


def _scene_event_changes_the_view(p: Page) -> None:
    """A gust of wind sways the camera: the thumbnails during it differ from the steady
    view far more than the steady view differs from itself."""
    calm = _thumbnails(p, 4)
    steady = max(float(np.abs(a - calm[0]).mean()) for a in calm[1:])
    p.page.click("button[data-event=gust_of_wind]")
    p.until(lambda: "scene event gust_of_wind" in p.text("#result"), "the event's result")
    gust = _thumbnails(p, 6)
    moved = max(float(np.abs(g - calm[0]).mean()) for g in gust)
    assert moved > max(3.0 * steady, 2.0), (steady, moved)


def _second_console(site: dict[str, str], tmp_path: Path, sid: str) -> CliProcess:
    """A console with the session's stream ids but not its secret: a pairing file of its
    own (same session, same process, another secret) in another runtime folder."""
    real = read_pairing(Path(site["VRTHERAPY_RUNTIME_DIR"]) / "sessions" / f"{sid}.json")
    other = {**site, "VRTHERAPY_RUNTIME_DIR": str(tmp_path / "other-run")}
    forged = Pairing(
        real.sid, os.urandom(32), real.protocol, real.participant, real.started, real.pid,
        dict(real.streams),
    )  # fmt: skip
    write_pairing(forged, other)
    args = ("console", "--attach", sid, "--bind", "127.0.0.1:0", "--out", str(tmp_path / "o"))
    return CliProcess(other, tmp_path, *args)


def test_a_killed_console_leaves_the_session_running_and_another_attaches(
    site: dict[str, str], tmp_path: Path
) -> None:
    demo = _demo(site, tmp_path, "null")
    again: CliProcess | None = None
    try:
        pid = int(demo.match(r"console starting \(pid (\d+)\)").group(1))
        sid = demo.match(r"attached to session ([0-9a-f]{8})").group(1)
        os.kill(pid, signal.SIGKILL)
        demo.match(r"console exited \(code -9\); the session goes on without it")
        ticks = len([x for x in demo.lines if x.startswith("[")])
        wait_for(  # the session's progress lines go on after the console died
            lambda: len([x for x in demo.lines if x.startswith("[")]) >= ticks + 2,
            60,
            what="two more progress lines",
        )
        # `vrtherapy console --attach` finds the only running session by its pairing file
        again = CliProcess(site, tmp_path, "console", "--attach", "--bind", "127.0.0.1:0")
        url = again.match(r"^console: (http://127\.0\.0\.1:\d+)/").group(1)
        assert again.match(r"^attached to session ([0-9a-f]{8})").group(1) == sid
        with ThreadPoolExecutor(1) as pool:  # its own event loop (Playwright may hold this one)
            result = pool.submit(asyncio.run, _note(url, sid, "restarted console")).result(60)
        assert result["applied"] is True and result["result"] == "noted: restarted console"
    finally:
        if again is not None:
            again.stop()
        demo.proc.send_signal(signal.SIGINT)
        code = demo.wait()
    assert code == 1 and demo.match(r"session aborted: ")
    markers = recorded_markers(Path(demo.match(r"^recording: (.+)$").group(1)))
    (note,) = [m for m in markers if m.get("event") == "command" and m["command"] == "note"]
    assert (note["operator"], note["source"], note["id"]) == ("dr.lee", "console", result["id"])


async def _note(url: str, sid: str, text: str) -> dict[str, Any]:
    """Log in as dr.lee, send a note over the WebSocket, return its command_result."""
    async with client(url) as http:
        await login(http, "dr.lee")
        ws = await http.ws_connect(f"/ws?sid={sid}&csrf={await csrf(http)}", origin=url)
        await receive(ws, "history")
        await ws.send_json({"type": "command", "id": str(uuid.uuid4()), "kind": "note",
                            "text": text})  # fmt: skip
        result: dict[str, Any] = await receive(ws, "command_result", timeout=30)
        await ws.close()
        return result


def test_run_with_console_against_lsl_streams(site: dict[str, str], tmp_path: Path) -> None:
    """`vrtherapy run PROTOCOL --console`: a session on real LSL streams (a simulated
    patient published here under a source id of this test's own) starts its console; a
    command through it is recorded with the therapist's name."""
    prefix = f"console-e2e-{uuid.uuid4().hex[:8]}"
    outlets = TwinOutlets(TwinPhysiology(TwinProfile(), start_time=0.0, seed=5),
                          source_prefix=prefix)  # fmt: skip
    runner = TwinRunner(outlets)
    runner.start()
    data = yaml.safe_load(_protocol_file(tmp_path).read_text())
    data["streams"] = {"heart": {"source_id": f"{prefix}-ecg"},
                       "eda": {"source_id": f"{prefix}-eda"}}  # fmt: skip
    protocol = tmp_path / "run.yaml"
    protocol.write_text(yaml.safe_dump(data))
    run = CliProcess(
        site, tmp_path, "run", str(protocol), "--display", "null", "--console", "127.0.0.1:0",
        "--out", str(tmp_path / "sessions"), "--no-encryption", "--no-report",
        "--consent-streams", "heart,eda", "--consent-purpose", "treatment",
        "--consent-retention-days", "30", "--participant", "P-0042",
    )  # fmt: skip
    try:
        url = run.match(r"\* console: (http://127\.0\.0\.1:\d+)/").group(1)
        sid = run.match(r"attached to session ([0-9a-f]{8}) \(console-e2e-protocol").group(1)
        with ThreadPoolExecutor(1) as pool:
            result = pool.submit(asyncio.run, _note(url, sid, "run with console")).result(60)
        assert result["applied"] is True
    finally:
        run.proc.send_signal(signal.SIGTERM)
        code = run.wait()
        runner.stop()
        outlets.close()
    assert code == 1 and run.match(r"console stopped")
    markers = recorded_markers(Path(run.match(r"^recording: (.+)$").group(1)))
    (note,) = [m for m in markers if m.get("event") == "command" and m["command"] == "note"]
    assert (note["operator"], note["result"]) == ("dr.lee", "noted: run with console")


def test_bad_console_address_is_one_sentence_exit_2(site: dict[str, str], tmp_path: Path) -> None:
    demo = CliProcess(site, tmp_path, "demo", "--display", "null", "--console", "localhost:http")
    assert demo.wait() == 2
    text = "\n".join(demo.lines)
    assert "--console 'localhost:http': expected [HOST:]PORT" in text and "Traceback" not in text
    assert not (tmp_path / "sessions").exists()


@needs_chromium
def test_bench_console_prints_every_figure(site: dict[str, str], tmp_path: Path) -> None:
    """`vrtherapy bench console` runs end to end (its figures are the machine's, not
    asserted here): two sessions, the console process, a browser, timed clicks."""
    bench = CliProcess(site, tmp_path, "bench", "console", "--browsers", "1", "--seconds", "3",
                    "--clicks", "2")  # fmt: skip
    assert bench.wait(timeout=300) == 0, "\n".join(bench.lines[-20:])
    figures = {m.group(1): float(m.group(2)) for m in map(
        re.compile(r"^  (\w+) +(-?[0-9.]+|nan)").match, bench.lines) if m}  # fmt: skip
    assert {"draw_p95_ms", "command_p95_ms", "console_cpu_pct", "frame_p99_with_ms",
            "frame_p99_without_ms", "frame_p99_delta_ms", "page_kb"} <= set(figures)  # fmt: skip
    assert figures["draw_samples"] > 0 and figures["command_samples"] == 2
    assert figures["page_console_errors"] == 0 and figures["page_kb"] > 0
