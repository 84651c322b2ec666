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
    subprocess): sessions sealed by default use a key made here, never in ~/.config."""
    folder = tmp_path_factory.mktemp("site")
    os.environ["VRTHERAPY_SITE_DIR"] = str(folder)
    return folder


def site_key() -> SiteKey:
    """This test run's site key (made by the first session that sealed with it)."""
    from engine.privacy.keys import load_site_key
    from engine.privacy.site import site_key_path

    return load_site_key(site_key_path())


def need_mitbih(path: Path) -> None:
    """Skip when the MIT-BIH data (outside the repo, ../shared/data/mitbih) is absent.

    A real limit on a machine without ../shared; in CI (``CI=true``) the data must be there,
    so its absence fails instead of hiding the R-peak tests.
    """
    import pytest

    if path.is_file():
        return
    message = f"MIT-BIH data not found: {path} (set VRTHERAPY_MITBIH_DIR)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
