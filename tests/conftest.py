"""Shared test setup: LSL discovery stays on this machine; SDL needs no display."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from biosignals import lsl

lsl.configure()

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``vrtherapy ARGS`` as a user would (a fresh process, real exit code)."""
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=dict(os.environ),
    )


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
