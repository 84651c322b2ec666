"""Real OpenGL (Mesa llvmpipe, offscreen): what the renderer draws, read back as pixels."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pygame
import pytest

from engine.display import open_display
from engine.display._pygame_gl import PygameGLDisplay
from engine.render.camera import EyeView
from therapies.scenes import Batch, DrawList, HeightsScene

pytestmark = pytest.mark.gl

SIZE = (640, 360)
SKY = (0.2, 0.3, 0.4)
SKY_RGB = np.array([51, 76, 102])


@pytest.fixture(scope="module")
def display() -> Iterator[PygameGLDisplay]:
    disp = open_display("offscreen", size=SIZE, stereo=True)
    assert isinstance(disp, PygameGLDisplay)
    try:
        yield disp
    finally:
        disp.close()


def _heights(display: PygameGLDisplay, intensity: float) -> np.ndarray:
    scene = HeightsScene(seed=1)
    scene.update(intensity, 0.0)
    display.present(scene.draw_list())
    return display.read_pixels().astype(np.int16)


def _pixel(eye: EyeView, world: np.ndarray) -> tuple[int, int]:
    """(row, col) in a top-row-first image of height SIZE[1]."""
    clip = eye.projection @ eye.view @ np.append(world, 1.0)
    ndc = clip[:3] / clip[3]
    x, y, w, h = eye.viewport
    col = x + (ndc[0] + 1) / 2 * w
    row_from_bottom = y + (ndc[1] + 1) / 2 * h
    return int(SIZE[1] - 1 - row_from_bottom), int(col)


def _scene(batches: tuple[Batch, ...]) -> DrawList:
    return DrawList(batches, SKY, (0.0, 0.0, 0.0), 0.0, np.zeros(3, np.float32))


def _matrix(pos: tuple[float, float, float], scale: float, rot_x_deg: float = 0.0) -> np.ndarray:
    a = np.radians(rot_x_deg)
    m = np.eye(4, dtype=np.float32)
    m[:3, :3] = np.array(
        [[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]], np.float32
    ) * np.float32(scale)
    m[:3, 3] = pos
    return m


def test_heights_intensity_changes_the_view(display: PygameGLDisplay) -> None:
    low, high = _heights(display, 0.2), _heights(display, 0.8)
    assert np.abs(low - high).mean() > 20.0
    # From 46 m up, fewer buildings rise above eye level: more open sky in the top band.
    sky = np.array([153, 189, 230])  # the heights sky colour (0.60, 0.74, 0.90)
    top = slice(0, SIZE[1] // 4)
    low_sky = (np.abs(low[top] - sky).max(axis=2) < 8).mean()
    high_sky = (np.abs(high[top] - sky).max(axis=2) < 8).mean()
    assert high_sky > low_sky + 0.05


def test_stereo_halves_differ_but_agree(display: PygameGLDisplay) -> None:
    img = _heights(display, 0.5)
    half = SIZE[0] // 2
    left, right = img[:, :half], img[:, half:]
    parallax = np.abs(left - right).mean()
    assert parallax > 0.5  # the eyes are 64 mm apart: not the same picture
    other = _heights(display, 0.9)[:, :half]
    assert parallax < 0.5 * np.abs(left - other).mean()  # ...but the same scene


def test_instanced_boxes_land_where_projected(display: PygameGLDisplay) -> None:
    colours = np.array([[1, 0, 0, 1], [0, 1, 0, 1], [0, 0, 1, 1]], np.float32)
    places = [(-1.2, 0.4, -6.0), (0.0, -0.3, -5.0), (1.0, 0.5, -7.0)]
    boxes = Batch("box", np.stack([_matrix(p, 0.6) for p in places]), colours)
    # One instance of each other mesh, also checked (plane turned to face the camera).
    others = [
        Batch(
            "sphere", _matrix((-1.0, -1.4, -6.0), 0.8)[None], np.array([[1, 1, 0, 1]], np.float32)
        ),
        Batch(
            "cylinder", _matrix((1.0, -1.4, -6.0), 0.8)[None], np.array([[0, 1, 1, 1]], np.float32)
        ),
        Batch(
            "plane",
            _matrix((2.6, 0.0, -6.0), 0.8, 90.0)[None],
            np.array([[1, 0, 1, 1]], np.float32),
        ),
        Batch("quad", _matrix((-2.6, 0.0, -6.0), 0.8)[None], np.array([[1, 1, 1, 1]], np.float32)),
    ]
    dl = _scene((boxes, *others))
    display.present(dl)
    img = display.read_pixels().astype(int)
    expected = [(p, c[:3]) for p, c in zip(places, colours, strict=True)]
    expected += [(tuple(b.transforms[0, :3, 3]), b.colors[0, :3]) for b in others]
    for eye in display.eye_views(dl):
        for world, rgb in expected:
            row, col = _pixel(eye, np.asarray(world, np.float64))
            got = img[row, col]
            on, off = got[rgb > 0.5], got[rgb < 0.5]
            assert on.min() > 90, (world, got)
            assert off.size == 0 or off.max() < 40, (world, got)
    # Far from every object: the sky (clear colour) shows.
    np.testing.assert_allclose(img[5, 5], SKY_RGB, atol=2)


def test_transparent_instances_blend_after_opaque(display: PygameGLDisplay) -> None:
    glass = Batch(
        "quad", _matrix((0.0, 0.0, -3.0), 1.0)[None], np.array([[1, 0, 0, 0.5]], np.float32)
    )
    wall = Batch("quad", _matrix((0.0, 0.0, -5.0), 6.0)[None], np.array([[1, 1, 1, 1]], np.float32))
    dl = _scene((glass, wall))  # transparent listed first: the renderer must reorder
    display.present(dl)
    img = display.read_pixels().astype(int)
    row, col = _pixel(display.eye_views(dl)[0], np.array([0.0, 0.0, -3.0]))
    r, g, b = img[row, col]
    display.present(_scene((wall,)))
    wall_only = display.read_pixels().astype(int)[row, col]
    assert r > 100 and abs(g - b) < 3
    assert 0.35 * wall_only[1] < g < 0.65 * wall_only[1]  # half of the white wall shows through


def test_screenshot_writes_png_of_the_frame(display: PygameGLDisplay, tmp_path: Path) -> None:
    pixels = _heights(display, 0.5)
    path = tmp_path / "frame.png"
    display.screenshot(path)
    surface = pygame.image.load(str(path))
    assert surface.get_size() == SIZE
    back = pygame.surfarray.array3d(surface).transpose(1, 0, 2)
    np.testing.assert_array_equal(back, pixels)
    assert [p.name for p in tmp_path.iterdir()] == ["frame.png"]


def test_broken_shader_reports_stage_and_driver_log(display: PygameGLDisplay) -> None:
    from engine.render.shaders import VERTEX_SHADER, ShaderError, link_program

    broken = "#version 330 core\nout vec4 c;\nvoid main() { c = vec4(undefined_name); }\n"
    with pytest.raises(ShaderError, match=r"(?s)fragment shader failed to compile:.*undefined"):
        link_program(VERTEX_SHADER, broken, "test")


def test_renderer_refuses_use_after_close(display: PygameGLDisplay) -> None:
    from engine.render import Renderer, RenderError

    renderer = Renderer()
    renderer.close()
    renderer.close()  # idempotent
    with pytest.raises(RenderError, match="after close"):
        renderer.render(_scene(()), display.eye_views(_scene(())))
