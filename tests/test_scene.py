"""Scenes are pure numpy: determinism, shapes, intensity mapping, registry."""

from __future__ import annotations

import numpy as np
import pytest

from therapies.scenes import SCENES, Batch, DrawList, HeightsScene, create_scene, scene_names
from therapies.scenes.base import Scene, trs_matrices
from therapies.scenes.heights import HEIGHT_MAX_M, HEIGHT_MIN_M, platform_height


def _frame(scene: HeightsScene, intensity: float) -> DrawList:
    scene.update(intensity, 0.0)
    return scene.draw_list()


def test_registry_lists_and_builds_heights() -> None:
    assert scene_names() == ("breathing", "flying", "heights", "public_speaking", "snow", "spiders")
    assert SCENES["heights"] is HeightsScene
    scene = create_scene("heights", seed=3)
    assert isinstance(scene, HeightsScene)
    assert isinstance(scene, Scene)
    assert scene.name == "heights"


def test_registry_unknown_name_lists_allowed() -> None:
    with pytest.raises(ValueError, match=r"'spiderz' is not one of breathing, flying, heights"):
        create_scene("spiderz")


def test_same_seed_same_frames_other_seed_other_city() -> None:
    a, b, c = HeightsScene(seed=7), HeightsScene(seed=7), HeightsScene(seed=8)
    for scene in (a, b, c):
        scene.update(0.5, 0.0)
        scene.update(0.6, 0.5)
    fa, fb, fc = a.draw_list(), b.draw_list(), c.draw_list()
    for x, y in zip(fa.batches, fb.batches, strict=True):
        np.testing.assert_array_equal(x.transforms, y.transforms)
        np.testing.assert_array_equal(x.colors, y.colors)
    assert not np.array_equal(fa.batches[1].transforms, fc.batches[1].transforms)


def test_draw_list_shapes_and_types() -> None:
    dl = _frame(HeightsScene(), 0.4)
    assert isinstance(dl, DrawList)
    assert len(dl.batches) == 5
    for batch in dl.batches:
        n = batch.count
        assert batch.transforms.shape == (n, 4, 4) and batch.transforms.dtype == np.float32
        assert batch.colors.shape == (n, 4) and batch.colors.dtype == np.float32
        np.testing.assert_array_equal(batch.transforms[:, 3], np.tile([0, 0, 0, 1], (n, 1)))
        assert np.all((batch.colors >= 0) & (batch.colors <= 1))
    assert dl.camera_position.shape == (3,)
    assert dl.batches[1].count == 140  # buildings
    assert dl.batches[1].material == "windows"
    assert 0 < dl.fog_density < 0.05


def test_static_batches_are_read_only() -> None:
    dl = _frame(HeightsScene(), 0.1)
    with pytest.raises(ValueError):
        dl.batches[1].transforms[0, 0, 0] = 5.0


def test_platform_height_rises_with_intensity() -> None:
    levels = np.linspace(0.0, 1.0, 21)
    heights = [platform_height(float(x)) for x in levels]
    assert heights[0] == pytest.approx(HEIGHT_MIN_M)
    assert heights[-1] == pytest.approx(HEIGHT_MAX_M)
    assert np.all(np.diff(heights) > 0)
    eyes = [_frame(HeightsScene(), float(x)).camera_position[1] for x in levels]
    assert np.all(np.diff(eyes) > 0)


def test_railing_goes_and_glass_comes_with_intensity() -> None:
    low, high = _frame(HeightsScene(), 0.2), _frame(HeightsScene(), 0.8)
    # structure batch: tower, frame, solid tiles, posts, bars -> far fewer at 0.8
    assert high.batches[2].count < low.batches[2].count - 20
    glass_low = low.batches[4].colors
    glass_high = high.batches[4].colors
    assert glass_high.shape[0] > glass_low.shape[0]
    assert np.all(glass_high[:, 3] < 1.0)


def test_update_smooths_after_first_call() -> None:
    scene = HeightsScene()
    scene.update(0.0, 0.0)
    assert scene.level == 0.0
    scene.update(1.0, 0.1)
    assert 0.0 < scene.level < 0.1
    for _ in range(200):
        scene.update(1.0, 0.1)
    assert scene.level == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(ValueError, match="dt"):
        scene.update(0.5, -1.0)


def test_cars_move_with_time() -> None:
    scene = HeightsScene()
    scene.update(0.5, 0.0)
    before = scene.draw_list().batches[3].transforms[:, 2, 3].copy()
    scene.update(0.5, 1.0)
    after = scene.draw_list().batches[3].transforms[:, 2, 3]
    assert np.all(before != after)


def test_describe_names_height_and_railing() -> None:
    scene = HeightsScene()
    assert scene.describe(0.0).startswith("heights: platform 2.0 m, railing 1.00")
    assert "platform 60.0 m, railing 0.00" in scene.describe(1.0)
    assert scene.describe(0.2) != scene.describe(0.8)


def test_trs_matrices_column_vector_convention() -> None:
    m = trs_matrices(np.array([[1.0, 2.0, 3.0]]), np.array([2.0, 4.0, 6.0]), np.array([np.pi / 2]))
    corner = m[0] @ np.array([0.5, 0.5, 0.5, 1.0], np.float32)
    # scale -> (1, 2, 3); yaw +90 deg maps +x to -z and +z to +x; then translate
    np.testing.assert_allclose(corner[:3], [1.0 + 3.0, 2.0 + 2.0, 3.0 - 1.0], atol=1e-6)


def test_batch_validates_inputs() -> None:
    t = np.zeros((2, 4, 4), np.float32)
    c = np.zeros((2, 4), np.float32)
    with pytest.raises(ValueError, match="is not one of box"):
        Batch("teapot", t, c)
    with pytest.raises(ValueError, match="float32"):
        Batch("box", t.astype(np.float64), c)
    with pytest.raises(ValueError, match="colors"):
        Batch("box", t, c[:1])
    with pytest.raises(ValueError, match="material"):
        Batch("box", t, c, material="chrome")
