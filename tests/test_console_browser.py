"""The console's page in a real browser: Debian's headless Chromium (/usr/bin/chromium),
driven by Playwright for Python (no browser download), against a real console server and
a fake session on real LSL (tests/console_fake_session.py).

Run them alone with ``python -m pytest tests/test_console_browser.py``; set
``VRTHERAPY_CONSOLE_SCREENSHOTS=DIR`` to keep the screenshots (the README's comes from
there). Waits poll real page state through tests/waiting.py (Playwright's
``wait_for_function`` evaluates strings, which the page's CSP forbids, as it should).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from browser_helpers import ErrorRecordingPage, chromium, needs_chromium
from console_server_helpers import PASSWORD, Setup, console_setup, make_users
from waiting import wait_for

from console.users import UserStore

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[dev]'")
pytestmark = [pytest.mark.lsl, needs_chromium]
TABLET = {"width": 1024, "height": 768}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def users(tmp_path_factory: pytest.TempPathFactory) -> UserStore:
    return make_users(tmp_path_factory.mktemp("site") / "users.json")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(playwright_api) as b:
        yield b


@pytest.fixture
def setup(tmp_path: Path, users: UserStore) -> Iterator[Setup]:
    with console_setup(tmp_path, users) as s:
        yield s


class Page(ErrorRecordingPage):
    """A console page (tablet size unless told) with the live view's helpers."""

    def __init__(self, browser: Any, viewport: dict[str, int] = TABLET) -> None:
        super().__init__(browser, viewport)

    def attr(self, selector: str, name: str) -> str:
        return str(self.page.get_attribute(selector, name) or "")

    def text(self, selector: str) -> str:
        return str(self.page.inner_text(selector))

    def until(self, predicate: Callable[[], Any], what: str, timeout: float = 20) -> Any:
        return wait_for(predicate, timeout, interval=0.05, what=what)

    def points(self, chart: str) -> int:
        return int(self.attr(f"#chart-{chart}", "data-points") or 0)

    def log_in(self, base: str, name: str = "dr.lee", password: str = PASSWORD) -> None:
        super().log_in(base, name, password)

    def live(self, base: str, name: str = "dr.lee") -> None:
        """Log in and wait for the live view to have data."""
        self.log_in(base, name)
        self.until(lambda: self.points("hr") >= 3, "the heart-rate chart to have 3 points")

    def no_horizontal_scroll(self) -> bool:
        width, inner = self.page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]"
        )
        return bool(width <= inner)

    def screenshot(self, name: str, tmp: Path) -> Path:
        keep = os.environ.get("VRTHERAPY_CONSOLE_SCREENSHOTS")
        folder = Path(keep) if keep else tmp
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        self.page.screenshot(path=str(path), full_page=True)
        return path


def test_log_in_watch_live_and_step_down(setup: Setup, browser: Any, tmp_path: Path) -> None:
    p = Page(browser)
    p.log_in(setup.server.base, "dr.lee", "wrong password")
    assert p.page.url.endswith("/login?error=login")
    assert p.text("#message") == "Wrong name or password."
    p.live(setup.server.base)
    assert p.text("#step") == "3/6" and p.text("#step-label") == "third floor balcony"
    assert "climbs to step 4" in p.text("#next") and "140 bpm" in p.text("#safety")
    first = {c: p.points(c) for c in ("hr", "scl", "arousal", "intensity")}
    p.until(lambda: all(p.points(c) > first[c] for c in first), "every chart to draw new data")
    p.page.click("button[data-kind=step_down]")
    p.until(
        lambda: (
            [(c["kind"], c["operator"]) for c in setup.fake.applied] == [("step_down", "dr.lee")]
        ),
        "the session to apply the signed step_down",
    )
    p.until(lambda: "step 3 -> 2" in p.text("#result"), "the command's result on the page")
    assert "ms round trip" in p.text("#result")
    p.until(lambda: p.text("#step") == "2/6", "the new step on the page")
    p.until(lambda: "step_down from dr.lee" in p.text("#log"), "the decision log entry")
    p.until(lambda: "latency" in p.text("#latency") and "ms" in p.text("#latency"), "latency")
    assert p.no_horizontal_scroll()
    shot = p.screenshot("console-live-1024x768.png", tmp_path)
    assert shot.stat().st_size > 20_000
    assert p.errors == []
    logins = [e["event"] for e in setup.audit_events() if e["actor"] == "dr.lee"]
    assert logins[:4] == ["console_login_failed", "console_login", "console_page", "console_page"]
    assert "console_attach" in logins and "console_command" in logins


def test_phone_has_no_horizontal_scroll_and_controls_first(
    setup: Setup, browser: Any, tmp_path: Path
) -> None:
    p = Page(browser, PHONE)
    p.live(setup.server.base)
    assert p.no_horizontal_scroll()
    controls = p.page.locator(".controls").bounding_box()
    charts = p.page.locator(".charts").bounding_box()
    assert controls["y"] < charts["y"]  # on a phone the controls come before the charts
    p.screenshot("console-live-phone.png", tmp_path)
    p.page.goto(setup.server.base + "/login")
    assert p.no_horizontal_scroll()
    assert p.errors == []


def test_scene_event_note_answer_and_stop_with_confirmation(setup: Setup, browser: Any) -> None:
    p = Page(browser)
    p.live(setup.server.base)
    p.page.click("button[data-event=gust_of_wind]")
    p.until(lambda: setup.fake.fired == ["gust_of_wind"], "the scene event in the session")
    p.page.fill("#note-text", "patient laughs")
    p.page.click("#note-form button")
    p.page.select_option("#answer-kind", "suds")
    p.page.fill("#answer-value", "35")
    p.page.click("#answer-form button")
    p.until(lambda: len(setup.fake.applied) == 3, "the note and the SUDS answer")
    assert setup.fake.applied[1]["text"] == "patient laughs"
    assert (setup.fake.applied[2]["prompt"], setup.fake.applied[2]["value"]) == ("suds", 35)
    p.page.click("#stop")
    assert p.text("#stop") == "Confirm stop?"
    assert [c["kind"] for c in setup.fake.applied].count("stop") == 0  # one click sends nothing
    p.page.click("#stop")
    p.until(lambda: setup.fake.applied[-1]["kind"] == "stop", "the confirmed stop")
    assert p.errors == []


def test_clinician_sees_the_session_but_cannot_steer(setup: Setup, browser: Any) -> None:
    p = Page(browser)
    p.live(setup.server.base, "nurse.kim")
    assert p.page.is_disabled("button[data-kind=step_down]")
    assert p.page.is_visible("#view-only") and not p.page.is_visible("#pair")
    assert p.errors == []


def test_pairing_code_logs_a_tablet_in_once(setup: Setup, browser: Any) -> None:
    code = setup.server.call(lambda: setup.server.console.codes.issue("dr.lee")).display()
    tablet = Page(browser)
    tablet.page.goto(setup.server.base + "/login")
    tablet.page.fill("input[name=code]", code.lower().replace("-", " "))
    tablet.page.click("form[action='/pair'] button")
    tablet.until(lambda: tablet.points("hr") >= 2, "the paired tablet's live view")
    assert tablet.text("#user") == "dr.lee (therapist)"
    second = Page(browser)
    second.page.goto(setup.server.base + "/login")
    second.page.fill("input[name=code]", code)
    second.page.click("form[action='/pair'] button")
    second.page.wait_for_load_state()
    assert second.text("#message") == "That pairing code is wrong, used or expired."
    assert tablet.errors == [] and second.errors == []


EVIL_PAGE = """<!doctype html><title>waiting</title><script>
const ws = new WebSocket("ws://127.0.0.1:%d/ws?sid=%s");
ws.onopen = () => { document.title = "opened"; };
ws.onclose = () => { if (document.title !== "opened") document.title = "refused"; };
</script>"""


def _serve_evil_page(html: str) -> tuple[int, Callable[[], None]]:
    """Another origin (127.0.0.1, another port) serving ``html`` from a thread of its own
    (Playwright's sync API holds this thread's event loop); returns (port, stop)."""
    loop = asyncio.new_event_loop()
    app = web.Application()

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    app.router.add_get("/", page)
    runner = web.AppRunner(app)
    ports: list[int] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        ports.append(runner.addresses[0][1])
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    wait_for(lambda: ports, 10, what="the other origin's server")

    def stop() -> None:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()

    return ports[0], stop


def test_a_page_of_another_origin_cannot_open_the_websocket(setup: Setup, browser: Any) -> None:
    p = Page(browser)
    p.live(setup.server.base)  # logged in: the browser holds the cookie
    port, stop = _serve_evil_page(EVIL_PAGE % (setup.server.port, setup.fake.sid))
    try:
        evil = p.context.new_page()
        evil.goto(f"http://127.0.0.1:{port}/")
        wait_for(lambda: evil.title() in ("opened", "refused"), 20, what="the foreign WebSocket")
        assert evil.title() == "refused"
    finally:
        stop()
    refused = [e for e in setup.audit_events() if e["event"] == "console_refused"]
    assert f"127.0.0.1:{port}" in refused[-1]["details"]["reason"]
    attaches = [e for e in setup.audit_events() if e["event"] == "console_attach"]
    assert len(attaches) == 1  # only the console's own page


def test_reconnects_with_backoff_and_resyncs(setup: Setup, browser: Any) -> None:
    p = Page(browser)
    p.live(setup.server.base)
    assert p.page.get_attribute("body", "data-connects") == "1"

    def drop() -> None:
        for page in setup.server.console.hub.pages[setup.fake.sid]:
            page.end(1012, "console restarting", flush=True)

    setup.server.call(drop)
    p.until(lambda: p.attr("body", "data-connects") == "2", "the page to reconnect")
    p.until(lambda: not p.page.is_visible("#banner-connection"), "the banner to go")
    p.until(lambda: p.points("hr") >= 3, "the charts refilled from history")
    assert p.errors == []


def test_sensor_and_session_banners(setup: Setup, browser: Any) -> None:
    p = Page(browser)
    p.live(setup.server.base)
    assert not p.page.is_visible("#banner-sensor")
    setup.fake.flagged = {"eda": ["dropout"]}
    p.until(lambda: p.page.is_visible("#banner-sensor"), "the sensor banner")
    assert p.text("#banner-sensor") == "Sensor problem: eda flagged: dropout"
    p.page.click("button[data-role=eda]")  # "Ignore": itself a recorded command
    p.until(lambda: setup.fake.ignored == {"eda"}, "the session to ignore eda")
    p.until(lambda: not p.page.is_visible("#banner-sensor"), "the banner to go")
    assert setup.fake.applied[-1]["kind"] == "ignore_stream"
    setup.fake.stop()
    p.until(lambda: p.page.is_visible("#banner-session"), "the session-lost banner")
    assert "Session lost: the session ended" in p.text("#banner-session")
    assert p.page.is_disabled("button[data-kind=step_up]")
    assert p.errors == []


def test_thumbnail_shows_when_the_session_sends_one(
    tmp_path: Path, users: UserStore, browser: Any
) -> None:
    with console_setup(tmp_path, users, thumbnail=True) as s:
        p = Page(browser)
        p.live(s.server.base)
        p.until(lambda: p.page.is_visible("#thumb"), "the thumbnail")
        assert p.attr("#thumb", "src").startswith("data:image/png;base64,")
        assert p.errors == []
