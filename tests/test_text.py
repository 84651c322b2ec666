"""Text panels rasterised with pygame.font, and overlay placement maths (pure, no GL context)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.render.camera import mono_eye, stereo_eyes
from engine.render.renderer import OVERLAY_DISTANCE, head_frame, overlay_font_px, overlay_model
from engine.render.text import (
    TextCache,
    TextStyle,
    line_height,
    render_coverage,
    render_text,
    to_color8,
)
from therapies.scenes.base import DrawList, Gauge, Overlay

FG = (250, 250, 240, 255)
BG = (20, 40, 60, 200)


def test_panel_has_padding_rounded_corners_and_the_colours_asked_for() -> None:
    style = TextStyle(32, FG, BG)
    img = render_text("Hello", style)
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 4
    assert img.shape[0] == line_height(32) + 2 * style.pad
    assert tuple(img[0, 0]) == (20, 40, 60, 0)  # outside the rounded corner, panel rgb
    mid_left = img[img.shape[0] // 2, 2]  # inside the padding: plain panel
    assert tuple(mid_left) == BG
    text = img[..., 3] == 255
    assert text.sum() > 50  # opaque glyph pixels in the text colour
    np.testing.assert_allclose(
        img[text][:, :3].astype(int), np.tile(FG[:3], (text.sum(), 1)), atol=2
    )
    assert not text[:, : style.pad].any() and not text[: style.pad // 2].any()


def test_coverage_is_the_colourless_panel_that_render_text_colours() -> None:
    style = TextStyle(28, FG, BG)
    cover = render_coverage("Hi there\nsecond", style, Gauge(0.5))
    rgba = render_text("Hi there\nsecond", style, Gauge(0.5))
    assert cover.shape == (*rgba.shape[:2], 2) and cover.dtype == np.uint8
    assert cover[0, 0, 1] == 0 and cover[cover.shape[0] // 2, 2, 1] == 255  # rounded box
    np.testing.assert_array_equal(
        cover[..., 0] > 0, rgba[..., :3].astype(int).sum(axis=2) > sum(BG[:3])
    )
    # Alpha follows "text over panel" from the two coverages.
    t, b = cover[..., 0] / 255.0, cover[..., 1] / 255.0 * BG[3] / 255.0
    np.testing.assert_allclose(rgba[..., 3] / 255.0, t + b * (1 - t), atol=1 / 255 + 1e-6)


def test_lines_stack_and_centre() -> None:
    style = TextStyle(24, FG, BG)
    one, three = render_text("wide line here", style), render_text("wide line here\nab\n", style)
    assert three.shape[0] - one.shape[0] == 2 * line_height(24)
    assert three.shape[1] == one.shape[1]
    glyphs = np.nonzero(render_text("x\nwide line here", style)[..., 3] == 255)
    rows = glyphs[0] < style.pad + line_height(24)
    cols = glyphs[1][rows]
    centre = three.shape[1] / 2
    assert abs((cols.min() + cols.max()) / 2 - centre) < 3  # "x" centred over the wide line


def test_text_only_panel_keeps_text_colour_in_transparent_pixels() -> None:
    img = render_text("Hi", TextStyle(24, FG, (0, 0, 0, 0)))
    clear = img[..., 3] == 0
    assert clear.any()
    np.testing.assert_array_equal(np.unique(img[clear][:, :3], axis=0), [FG[:3]])


def test_gauge_marker_sits_at_its_value() -> None:
    style = TextStyle(20, FG, BG, radius=0)
    img_lo = render_text("a", style, Gauge(0.0, ticks=5))
    img_hi = render_text("a", style, Gauge(1.0, ticks=5))
    img_none = render_text("a", style, Gauge(None, ticks=5))
    assert img_lo.shape == img_hi.shape == img_none.shape
    assert img_lo.shape[1] >= 10 * 20  # at least ten font sizes wide
    rows = slice(style.pad + line_height(20), img_lo.shape[0] - style.pad)
    solid_lo = np.nonzero((img_lo[rows, :, 3] == 255).any(axis=0))[0]
    solid_hi = np.nonzero((img_hi[rows, :, 3] == 255).any(axis=0))[0]
    assert solid_lo.max() < img_lo.shape[1] * 0.2 < img_lo.shape[1] * 0.8 < solid_hi.min()
    assert not (img_none[rows, :, 3] == 255).any()  # no value chosen: track only, no disc


def test_cache_returns_the_same_read_only_image_and_drops_the_oldest() -> None:
    cache = TextCache(capacity=2)
    style = TextStyle(16)
    first = cache.get("a", style)
    assert cache.get("a", style) is first and not first.flags.writeable
    cache.get("b", style)
    cache.get("a", style)  # touch: "b" is now the oldest
    cache.get("c", style)
    assert len(cache) == 2
    assert cache.get("a", style) is first
    assert cache.get("b", style) is not None and len(cache) == 2


def test_bad_styles_and_overlays_are_refused() -> None:
    with pytest.raises(ValueError, match="size"):
        TextStyle(4)
    with pytest.raises(ValueError, match="fg"):
        TextStyle(20, fg=(0, 0, 0, 300))
    with pytest.raises(ValueError, match="anchor"):
        Overlay("x", anchor=(1.5, 0.5))
    with pytest.raises(ValueError, match="height"):
        Overlay("x", height=0.0)
    with pytest.raises(ValueError, match=r"Gauge\.value"):
        Gauge(1.2)
    assert to_color8((1.0, 0.5, 0.0, 1.2)) == (255, 128, 0, 255)


def test_draw_lists_default_to_no_overlays() -> None:
    dl = DrawList((), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), 0.0)
    assert dl.overlays == ()


def _ndc(eye: object, point: np.ndarray) -> np.ndarray:
    clip = eye.projection @ eye.view @ np.append(point, 1.0)  # type: ignore[attr-defined]
    return np.asarray(clip[:3] / clip[3])


def test_head_locked_panel_is_at_the_anchor_1_5_m_ahead_with_stereo_disparity() -> None:
    eyes = stereo_eyes((1.0, 2.0, 3.0), 30.0, -10.0, width=800, height=400)
    centre, rot, _ = head_frame(eyes)
    np.testing.assert_allclose(centre, [1.0, 2.0, 3.0], atol=1e-6)
    overlay = Overlay("x", anchor=(0.3, 0.7), height=0.2)
    model = overlay_model(overlay, 2.0, eyes)
    assert model is not None
    position = model[:3, 3]
    assert -np.dot(position - centre, rot[:, 2]) == pytest.approx(OVERLAY_DISTANCE)
    left, right = (_ndc(e, position) for e in eyes)
    assert (left[1] + 1) / 2 == pytest.approx(0.7, abs=1e-5)  # same height in both eyes
    assert (left[0] + right[0]) / 4 + 0.5 == pytest.approx(0.3, abs=1e-5)
    assert left[0] > right[0]  # crossed disparity: nearer than infinity
    top, bottom = model @ [0, 0.5, 0, 1], model @ [0, -0.5, 0, 1]
    span = (_ndc(eyes[0], top[:3])[1] - _ndc(eyes[0], bottom[:3])[1]) / 2
    assert span == pytest.approx(0.2, rel=1e-4)  # 20 % of the viewport height
    assert np.linalg.norm(model[:3, 0]) == pytest.approx(2.0 * np.linalg.norm(model[:3, 1]))


def test_world_label_keeps_its_apparent_size_and_hides_behind_the_head() -> None:
    eye = mono_eye((0.0, 0.0, 0.0), 0.0, 0.0, width=400, height=400)
    near = overlay_model(Overlay("x", height=0.1, world=(0.0, 0.0, -2.0)), 1.0, [eye])
    far = overlay_model(Overlay("x", height=0.1, world=(1.0, 0.0, -20.0)), 1.0, [eye])
    assert near is not None and far is not None
    assert np.linalg.norm(far[:3, 1]) == pytest.approx(10 * np.linalg.norm(near[:3, 1]))
    np.testing.assert_allclose(far[:3, 3], [1.0, 0.0, -20.0])
    assert overlay_model(Overlay("x", world=(0.0, 0.0, 2.0)), 1.0, [eye]) is None


def test_font_size_follows_the_panel_pixels() -> None:
    small = overlay_font_px(Overlay("a\nb", height=0.1), 360)
    large = overlay_font_px(Overlay("a\nb", height=0.1), 1440)
    assert 8 <= small < large <= 160
    assert overlay_font_px(Overlay("a", height=1.0), 4000) == 160
