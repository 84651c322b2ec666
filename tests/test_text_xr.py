"""A prompt overlay through a real OpenXR runtime (Monado's simulated HMD, tracked eyes).

Run through ``scripts/xr-tests.sh``; elsewhere left out (no OpenXR runtime to talk to).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
import pytest
from xr_tier import XR_TIER, open_display

from engine.display.openxr import OpenXRDisplay
from engine.render.renderer import overlay_model
from therapies.prompts import PromptConfig, PromptScheduler, PromptsConfig
from therapies.scenes import DrawList, HeightsScene

pytestmark = XR_TIER


@pytest.fixture
def display() -> Iterator[OpenXRDisplay]:
    yield from open_display("vrtherapy-text-tests")


def _present(display: OpenXRDisplay, dl: DrawList, frames: int = 3) -> np.ndarray:
    target = display.stats.submitted + frames
    for _ in range(frames + 20):
        assert display.poll().quit is False
        display.present(dl)
        if display.stats.submitted >= target:
            return display.read_pixels().astype(np.int16)
    raise AssertionError(f"only {display.stats} after {frames + 20} frames")


def test_prompt_panel_reaches_the_headset_where_it_was_placed(display: OpenXRDisplay) -> None:
    scene = HeightsScene(seed=3)
    scene.update(0.5, 0.0)
    prompts = PromptScheduler(PromptsConfig(suds=PromptConfig()))
    prompts.request("suds", 0.0)
    prompts.update(0.0, ("4", "0"))
    prompt = prompts.overlay()
    assert prompt is not None
    # The simulated head moves between frames, so check one frame: an opaque magenta panel
    # must cover the place its centre projects to in the left eye, and nothing far away.
    marker = dataclasses.replace(prompt, bg=(1.0, 0.0, 1.0, 1.0))
    image = _present(display, dataclasses.replace(scene.draw_list(), overlays=(marker,)))
    magenta = (image[..., 0] > 240) & (image[..., 1] < 15) & (image[..., 2] > 240)
    eyes = display.last_eyes
    model = overlay_model(marker, 2.0, eyes)
    assert model is not None
    clip = eyes[0].projection @ eyes[0].view @ model[:, 3]
    ndc = clip[:2] / clip[3]
    h, w = magenta.shape
    row, col = int((1 - (ndc[1] + 1) / 2) * h), int((ndc[0] + 1) / 2 * w)
    near = magenta[max(row - h // 20, 0) : row + h // 20, max(col - w // 20, 0) : col + w // 20]
    assert near.mean() > 0.3, near.mean()  # panel behind text and gauge
    assert magenta[: h // 8].sum() == 0  # the top of the view is not covered
    assert 0.03 < magenta.mean() < 0.6
