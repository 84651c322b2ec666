"""Shared by the tests that drive Debian's headless Chromium through Playwright: where the
browser is, how it is launched, the one skip mark (a machine without Chromium; under
``CI=true`` Chromium is installed by ``.ci/run``, so there its absence fails instead), and
a page that records every console error and uncaught exception."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from console_server_helpers import PASSWORD

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("CI") != "true",
    reason="needs headless Chromium (Debian package 'chromium')",
)


@contextmanager
def chromium(playwright_api: Any) -> Iterator[Any]:
    """The system Chromium, launched headless by Playwright (no browser download)."""
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class ErrorRecordingPage:
    """A browser page in its own context; ``errors`` collects console errors and warnings
    and uncaught exceptions."""

    def __init__(self, browser: Any, viewport: dict[str, int]) -> None:
        self.context = browser.new_context(viewport=viewport)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def _console(self, msg: Any) -> None:
        if msg.type in ("error", "warning"):
            self.errors.append(f"{msg.type}: {msg.text}")

    def log_in(self, base: str, name: str, password: str = PASSWORD) -> None:
        """Log in through the login form."""
        self.page.goto(base + "/login")
        self.page.fill("input[name=name]", name)
        self.page.fill("input[name=password]", password)
        self.page.click("form[action='/login'] button")
        self.page.wait_for_load_state()

    def close(self) -> None:
        self.context.close()
