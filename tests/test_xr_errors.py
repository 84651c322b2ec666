"""The openxr display without pyopenxr: one clear error naming the extra, no side effects."""

from __future__ import annotations

import os
import sys

import pytest

from engine.errors import DisplayUnavailableError


def test_missing_pyopenxr_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "xr", None)  # what Python does for a blocked import
    monkeypatch.delenv("PYOPENGL_PLATFORM", raising=False)
    from engine.display.openxr import OpenXRDisplay

    with pytest.raises(DisplayUnavailableError, match=r"pip install 'vrtherapy\[xr\]'"):
        OpenXRDisplay(size=(640, 480), stereo=True, title="t")
    assert "PYOPENGL_PLATFORM" not in os.environ  # PyOpenGL left untouched


def test_unknown_graphics_and_space_choices_are_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.display._xr_gl import choose_graphics

    with pytest.raises(DisplayUnavailableError, match="'vulkan' is not one of auto, egl, glx"):
        choose_graphics("vulkan")
