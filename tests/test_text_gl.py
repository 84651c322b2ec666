"""Real OpenGL (Mesa llvmpipe, offscreen): text overlays and the texture cache, read back."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pygame
import pytest

from engine.display import open_display
from engine.display._pygame_gl import PygameGLDisplay
from engine.render._gl import GL
from engine.render.renderer import overlay_model
from engine.render.shaders import RenderError
from engine.render.textures import TextureCache
from therapies.prompts import PromptConfig, PromptScheduler, PromptsConfig
from therapies.scenes import Batch, DrawList, HeightsScene
from therapies.scenes.base import Overlay

pytestmark = pytest.mark.gl

SIZE = (960, 540)
PROMPT_PNG = Path("/tmp/vrt/prompt.png")


@pytest.fixture(scope="module")
def display() -> Iterator[PygameGLDisplay]:
    disp = open_display("offscreen", size=SIZE, stereo=True)
    assert isinstance(disp, PygameGLDisplay)
    try:
        yield disp
    finally:
        disp.close()


def _frame(display: PygameGLDisplay, dl: DrawList) -> np.ndarray:
    display.present(dl)
    return display.read_pixels().astype(np.int16)


def _heights() -> DrawList:
    scene = HeightsScene(seed=1)
    scene.update(0.6, 0.0)
    return scene.draw_list()


def _box(display: PygameGLDisplay, dl: DrawList, overlay: Overlay, aspect: float, eye: int):
    """(rows, cols) slices of the panel in ``eye``, top-row-first image coordinates."""
    eyes = display.eye_views(dl)
    model = overlay_model(overlay, aspect, eyes)
    assert model is not None
    corners = model @ np.array([[-0.5, -0.5, 0, 1], [0.5, 0.5, 0, 1]], float).T
    clip = eyes[eye].projection @ eyes[eye].view @ corners
    ndc = clip[:2] / clip[3]
    x, y, w, h = eyes[eye].viewport
    cols = x + (ndc[0] + 1) / 2 * w
    rows = SIZE[1] - (y + (ndc[1] + 1) / 2 * h)
    return slice(int(rows[1]) + 2, int(rows[0]) - 2), slice(int(cols[0]) + 2, int(cols[1]) - 2)


def test_overlay_shows_in_both_eyes_inside_its_box_only(display: PygameGLDisplay) -> None:
    base = _heights()
    overlay = Overlay("Hello there\nsecond line", anchor=(0.5, 0.6), height=0.2)
    with_overlay = dataclasses.replace(base, overlays=(overlay,))
    plain, shown = _frame(display, base), _frame(display, with_overlay)
    changed = np.abs(shown - plain).max(axis=2) > 12
    texture = next(iter(display._renderer._overlays.textures._textures.values()))  # type: ignore[union-attr]
    outside = changed.copy()
    for eye in (0, 1):
        rows, cols = _box(display, with_overlay, overlay, texture.aspect, eye)
        inside = changed[rows, cols]
        assert inside.mean() > 0.9, (eye, inside.mean())
        outside[rows.start - 6 : rows.stop + 6, cols.start - 6 : cols.stop + 6] = False
    assert outside.sum() == 0
    half = SIZE[0] // 2
    assert changed[:, :half].sum() > 1000 and changed[:, half:].sum() > 1000


def test_head_locked_panel_stays_put_when_the_head_turns(display: PygameGLDisplay) -> None:
    opaque = Overlay("steady", anchor=(0.3, 0.3), height=0.15, bg=(0.2, 0.3, 0.4, 1.0))
    base = _heights()
    a = _frame(display, dataclasses.replace(base, overlays=(opaque,)))
    turned = dataclasses.replace(base, camera_yaw=40.0, overlays=(opaque,))
    b = _frame(display, turned)
    texture = next(iter(display._renderer._overlays.textures._textures.values()))  # type: ignore[union-attr]
    rows, cols = _box(display, turned, opaque, texture.aspect, 0)
    inner = (  # away from the rounded corners
        slice(
            rows.start + (rows.stop - rows.start) // 4, rows.stop - (rows.stop - rows.start) // 4
        ),
        slice(
            cols.start + (cols.stop - cols.start) // 8, cols.stop - (cols.stop - cols.start) // 8
        ),
    )
    np.testing.assert_allclose(a[inner], b[inner], atol=2)  # rounding of turned matrices
    colours, counts = np.unique(a[inner].reshape(-1, 3), axis=0, return_counts=True)
    np.testing.assert_allclose(colours[counts.argmax()], [51, 76, 102], atol=1)  # the bg
    assert np.abs(a - b).mean() > 5  # ...while the city behind it moved


def test_world_label_is_hidden_behind_nearer_geometry(display: PygameGLDisplay) -> None:
    sky = (0.2, 0.3, 0.4)
    label = Overlay("SIGN", height=0.2, bg=(1.0, 1.0, 1.0, 1.0), world=(0.0, 0.0, -6.0))
    empty = DrawList((), sky, (0.0, 0.0, 0.0), 0.0, overlays=(label,))
    img = _frame(display, empty)
    centre = (SIZE[1] // 2, SIZE[0] // 4)  # left eye centre
    assert img[centre].min() > 200  # white panel
    wall = Batch(
        "quad",
        np.array([[[4, 0, 0, 0], [0, 4, 0, 0], [0, 0, 1, -3], [0, 0, 0, 1]]], np.float32),
        np.array([[0.0, 0.6, 0.0, 1.0]], np.float32),
    )
    blocked = _frame(display, dataclasses.replace(empty, batches=(wall,)))
    assert blocked[centre][1] > 60 and blocked[centre][0] < 30  # the green wall wins
    hud = dataclasses.replace(label, world=None, anchor=(0.5, 0.5))
    on_top = _frame(display, dataclasses.replace(empty, batches=(wall,), overlays=(hud,)))
    assert on_top[centre].min() > 200  # a HUD panel is drawn over everything


def test_suds_prompt_screenshot(display: PygameGLDisplay) -> None:
    prompts = PromptScheduler(PromptsConfig(suds=PromptConfig(every=120.0)))
    prompts.start(0.0)
    prompts.update(0.0)
    prompts.update(1.0, ("4", "0"))
    overlay = prompts.overlay()
    assert overlay is not None
    base = _heights()
    shown = _frame(display, dataclasses.replace(base, overlays=(overlay,)))
    PROMPT_PNG.parent.mkdir(parents=True, exist_ok=True)
    display.screenshot(PROMPT_PNG)
    back = pygame.surfarray.array3d(pygame.image.load(str(PROMPT_PNG))).transpose(1, 0, 2)
    np.testing.assert_array_equal(back, shown)
    plain = _frame(display, base)
    half = SIZE[0] // 2
    changed = np.abs(shown - plain).max(axis=2) > 12
    assert changed[:, :half].mean() > 0.05 and changed[:, half:].mean() > 0.05


def test_texture_cache_uploads_evicts_and_frees(display: PygameGLDisplay) -> None:
    cache = TextureCache(capacity=2)
    image = np.zeros((4, 8, 4), np.uint8)
    first = cache.upload("a", image)
    assert (first.width, first.height, first.aspect) == (8, 4, 2.0)
    assert GL.glIsTexture(first.name)
    second = cache.upload("b", image, mipmaps=True)
    assert cache.get("a") is first  # "b" is now the least recently used
    cache.upload("c", image)
    assert "b" not in cache and not GL.glIsTexture(second.name)
    with pytest.raises(RenderError, match=r"\(h, w, 4\) uint8"):
        cache.upload("d", np.zeros((4, 4, 3), np.uint8))
    names = [t.name for t in (cache.get("a"), cache.get("c")) if t is not None]
    cache.close()
    cache.close()
    assert len(cache) == 0 and not any(GL.glIsTexture(n) for n in names)
    with pytest.raises(RenderError, match="after close"):
        cache.upload("e", image)


def test_renderer_close_frees_overlay_textures(display: PygameGLDisplay) -> None:
    from engine.render import Renderer

    renderer = Renderer()
    dl = dataclasses.replace(_heights(), overlays=(Overlay("bye"),))
    renderer.render(dl, display.eye_views(dl))
    names = [t.name for t in renderer.textures._textures.values()]
    assert len(names) == 1 and GL.glIsTexture(names[0])
    renderer.close()
    assert not GL.glIsTexture(names[0])
