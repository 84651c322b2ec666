"""The `xr` test tier: tests that need a real OpenXR runtime (Monado, via scripts/xr-tests.sh)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from engine.display.openxr import OpenXRDisplay

XR_TIER = [
    pytest.mark.xr,
    pytest.mark.skipif(
        os.environ.get("XR_HARNESS") != "monado",
        reason="needs a real OpenXR runtime: run through scripts/xr-tests.sh",
    ),
]
"""``pytestmark`` of an xr test module: marked ``xr``, skipped outside the Monado harness.

Outside the harness conftest.py deselects these tests unless ``-m`` names ``xr``."""


def open_display(title: str) -> Iterator[OpenXRDisplay]:
    """An OpenXR display session on the runtime for a fixture to yield; closed afterwards."""
    display = OpenXRDisplay(title=title)
    yield display
    display.close()
