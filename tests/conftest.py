"""Shared test setup: LSL discovery stays on this machine; SDL needs no display."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from engine.privacy.keys import SiteKey


os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from biosignals import lsl

lsl.configure()

ROOT = Path(__file__).resolve().parents[1]


def run_cli(
    *args: str, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``vrtherapy ARGS`` as a user would (a fresh process, real exit code); ``env``
    adds to (or overrides) this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="session", autouse=True)
def site_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site folder of this test run (``VRTHERAPY_SITE_DIR``, inherited by every CLI
    subprocess): sessions sealed by default use a key made here, never in ~/.config; live
    sessions write their console pairing files under it (``VRTHERAPY_RUNTIME_DIR``)."""
    folder = tmp_path_factory.mktemp("site")
    os.environ["VRTHERAPY_SITE_DIR"] = str(folder)
    os.environ["VRTHERAPY_RUNTIME_DIR"] = str(folder / "run")  # live sessions' pairing files
    return folder


def site_key() -> SiteKey:
    """This test run's site key (made by the first session that sealed with it)."""
    from engine.privacy.keys import load_site_key
    from engine.privacy.site import site_key_path

    return load_site_key(site_key_path())


# ---------------------------------------------------------------------------- tiers and skips
# The `xr` tier needs the OpenXR harness (scripts/xr-tests.sh runs it there). Elsewhere its
# tests are deselected rather than skipped, so that a skip always means something is missing;
# an explicit ``-m`` naming ``xr`` still selects them (and they skip outside the harness).
# Under CI=true any skipped test fails the run: CI tests everything or says what it could not.
_XR_LEFT_TO_HARNESS: list[pytest.Item] = []
_SKIPPED: list[str] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the xr tier outside the harness unless ``-m`` asks for it."""
    if os.environ.get("XR_HARNESS") == "monado" or "xr" in (config.option.markexpr or ""):
        return
    xr = [item for item in items if item.get_closest_marker("xr") is not None]
    if xr:
        _XR_LEFT_TO_HARNESS.extend(xr)
        config.hook.pytest_deselected(items=xr)
        items[:] = [item for item in items if item.get_closest_marker("xr") is None]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Note every skipped test (xfail excluded)."""
    if report.skipped and not hasattr(report, "wasxfail"):
        _SKIPPED.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI=true, a run with skipped tests fails."""
    if os.environ.get("CI") == "true" and _SKIPPED and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say where the xr tier runs, and why a CI run with skips failed."""
    if _XR_LEFT_TO_HARNESS:
        terminalreporter.write_line(
            f"xr tier: {len(_XR_LEFT_TO_HARNESS)} tests deselected here; "
            "scripts/xr-tests.sh runs them against the OpenXR runtime"
        )
    if os.environ.get("CI") == "true" and _SKIPPED:
        terminalreporter.write_line(
            f"CI=true: {len(_SKIPPED)} skipped tests fail this run: {', '.join(_SKIPPED[:10])}",
            red=True,
        )
