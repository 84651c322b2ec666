"""Therapy scenes through real offscreen OpenGL: engine.scene_shots PNGs, read back.

Thresholds. A frame is a pure function of (scene, seed, update sequence): rendering the same
state twice gives byte-identical images (checked below), so the noise floor of a difference
is exactly 0 and any changed pixel is content. Intensity changes are partly local (spiders
and the breathing pacer cover only a few % of the frame), so besides a mean absolute
difference we require that at least 0.5% of the pixels (650 of 480x270) change by more than
8 grey levels (3% of full scale), on top of an overall mean difference above 0.3 levels.
A blank or uniform frame has a pixel standard deviation near 0; every scene must exceed
15 levels (these scenes measure 28-52).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pygame
import pytest

from engine.scene_shots import render_scene_pngs

pytestmark = pytest.mark.gl

NEW = ("spiders", "public_speaking", "flying", "snow", "breathing")
SIZE = (480, 270)
Images = dict[str, tuple[np.ndarray, np.ndarray]]


def _load(path: Path) -> np.ndarray:
    surface = pygame.image.load(str(path))
    assert surface.get_size() == SIZE
    return pygame.surfarray.array3d(surface).transpose(1, 0, 2).astype(np.int16)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("scenes")
    return out, render_scene_pngs(out, NEW, intensities=(0.2, 0.8), size=SIZE, seed=0)


@pytest.fixture(scope="module")
def images(shots: tuple[Path, list[Path]]) -> Images:
    _, paths = shots
    return {name: (_load(paths[2 * i]), _load(paths[2 * i + 1])) for i, name in enumerate(NEW)}


def test_one_png_per_scene_and_intensity(shots: tuple[Path, list[Path]]) -> None:
    out, paths = shots
    expected = [out / f"{n}-{v}.png" for n in NEW for v in ("0.2", "0.8")]
    assert paths == expected
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in expected)


@pytest.mark.parametrize("name", NEW)
def test_scene_is_not_blank(images: Images, name: str) -> None:
    for img in images[name]:
        assert img.std() > 15.0
        half = SIZE[0] // 2
        assert img[:, :half].std() > 15.0 and img[:, half:].std() > 15.0  # both eyes drawn


@pytest.mark.parametrize("name", NEW)
def test_intensity_changes_what_is_seen(images: Images, name: str) -> None:
    low, high = images[name]
    diff = np.abs(low - high)
    assert diff.mean() > 0.3
    assert (diff.max(axis=2) > 8).mean() > 0.005


def test_same_state_renders_identically(images: Images, tmp_path: Path) -> None:
    (again,) = render_scene_pngs(tmp_path, ["spiders"], intensities=(0.8,), size=SIZE, seed=0)
    np.testing.assert_array_equal(_load(again), images["spiders"][1])
