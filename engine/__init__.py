"""vrtherapy engine: session lifecycle, time, displays, rendering, recording and the CLI."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vrtherapy")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
