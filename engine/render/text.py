"""Text to RGBA pixels with pygame.font: panels for prompts and labels. No GL here.

Uses pygame's bundled default font (``pygame.font.Font(None, size)``, FreeSans Bold), so no
system fonts are needed. :func:`render_text` gives a ``(h, w, 4)`` uint8 RGBA image, top row
first, straight alpha, ready for :class:`engine.render.textures.TextureCache`;
:func:`render_coverage` gives the colourless ``(h, w, 2)`` text + panel coverage that the
renderer's overlays colour on the GPU (cheaper per change, colours free).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pygame
import pygame.font
from numpy.typing import NDArray

from engine.errors import VrTherapyError
from therapies.prompt_gaze import PanelLayout
from therapies.scenes.base import Gauge

Color8 = tuple[int, int, int, int]
RGBAImage = NDArray[np.uint8]
CoverageImage = NDArray[np.uint8]


class FontUnavailableError(VrTherapyError):
    """pygame.font (SDL_ttf) could not start, so no text can be drawn."""


MIN_FONT_PX = 8
MAX_FONT_PX = 160


def to_color8(color: tuple[float, ...]) -> Color8:
    """RGBA in 0..1 -> RGBA in 0..255 (rounded, clipped)."""
    if len(color) != 4:
        raise ValueError(f"colour must be RGBA (4 numbers), got {color!r}")
    r, g, b, a = (round(min(max(float(c), 0.0), 1.0) * 255.0) for c in color)
    return r, g, b, a


@dataclass(frozen=True)
class TextStyle:
    """How a text panel looks, in pixels of the rendered image.

    Parameters
    ----------
    size
        Font size passed to ``pygame.font.Font(None, size)``; a line is about ``0.75 * size``
        pixels tall.
    fg, bg
        Text and panel colours, RGBA 0..255.
    padding
        Margin around the text; ``None``: ``size // 2``.
    radius
        Corner radius of the panel; ``None``: ``size // 2`` (0: square corners).
    """

    size: int
    fg: Color8 = (245, 242, 230, 255)
    bg: Color8 = (26, 38, 51, 210)
    padding: int | None = None
    radius: int | None = None

    def __post_init__(self) -> None:
        if not MIN_FONT_PX <= self.size <= MAX_FONT_PX:
            raise ValueError(f"TextStyle.size {self.size} is outside {MIN_FONT_PX}..{MAX_FONT_PX}")
        for name in ("fg", "bg"):
            value = getattr(self, name)
            if len(value) != 4 or not all(0 <= int(c) <= 255 for c in value):
                raise ValueError(f"TextStyle.{name} must be RGBA in 0..255, got {value!r}")

    @property
    def pad(self) -> int:
        """Padding in pixels."""
        return self.size // 2 if self.padding is None else max(int(self.padding), 0)

    @property
    def corner(self) -> int:
        """Corner radius in pixels."""
        return self.size // 2 if self.radius is None else max(int(self.radius), 0)


def line_height(size: int) -> int:
    """Pixels per line for the default font at ``size`` (pygame's ``get_linesize``)."""
    return int(_font(size).get_linesize())


def _font(size: int) -> pygame.font.Font:
    if not pygame.font.get_init():
        try:
            pygame.font.init()
        except pygame.error as exc:
            raise FontUnavailableError(
                f"pygame.font could not start (SDL_ttf, bundled with pygame wheels): {exc}"
            ) from exc
    return pygame.font.Font(None, size)


def _line_blocks(text: str, size: int) -> list[list[NDArray[np.uint8]]]:
    """Per line, one coverage block per tab-separated part, ``linesize`` pixels tall."""
    font = _font(size)
    step = int(font.get_linesize())
    lines = []
    for line in text.split("\n"):
        parts = []
        for part in line.split("\t")[:2]:
            surface = font.render(part, True, (255, 255, 255))
            w, h = surface.get_size()
            block = np.zeros((step, w), np.uint8)
            if w > 0 and h > 0:
                block[: min(h, step)] = pygame.surfarray.array_alpha(surface).T[:step]
            parts.append(block)
        lines.append(parts)
    return lines


def _disc(height: int, width: int, cy: float, cx: float, r: float) -> NDArray[np.float32]:
    y = np.arange(height, dtype=np.float32)[:, None] + 0.5 - cy
    x = np.arange(width, dtype=np.float32)[None, :] + 0.5 - cx
    disc: NDArray[np.float32] = np.clip(r - np.sqrt(x * x + y * y) + 0.5, 0.0, 1.0).astype(
        np.float32
    )
    return disc


def _gauge_block(gauge: Gauge, size: int, width: int) -> NDArray[np.uint8]:
    """A horizontal scale: faint track, tick marks, a solid disc at the value (if any)."""
    rows = int(size * 1.1)
    out = np.zeros((rows, width), np.float32)
    r = _gauge_radius(size)
    left, right = r, width - r
    mid = rows / 2.0
    thick = max(int(size / 14.0), 1)
    top = int(np.rint(mid - thick / 2.0))
    out[top : top + thick, int(left) : int(np.ceil(right))] = 0.55
    if gauge.ticks >= 2:
        for k, x in enumerate(np.linspace(left, right, gauge.ticks)):
            half = size * (0.32 if k in (0, gauge.ticks - 1) else 0.2)
            x0 = int(np.rint(x - thick / 2.0))
            out[int(mid - half) : int(mid + half), x0 : x0 + thick] = 0.55
    if gauge.value is not None:
        cx = left + gauge.value * (right - left)
        out = np.maximum(out, _disc(rows, width, mid, cx, r))
    image: NDArray[np.uint8] = np.rint(out * 255.0).astype(np.uint8)
    return image


def _gauge_radius(size: int) -> float:
    return max(size * 0.3, 3.0)


def panel_layout(text: str, style: TextStyle, gauge: Gauge) -> PanelLayout:
    """Where ``gauge`` and the first line sit on the panel :func:`render_coverage` draws.

    Parameters
    ----------
    text, style, gauge
        As in :func:`render_coverage` (same font, padding and line layout).

    Returns
    -------
    therapies.prompt_gaze.PanelLayout
        The panel's aspect, the span of the scale's end ticks, the scale row and the first
        line's centre, as shares of the panel image (from its top-left).
    """
    lines = _line_blocks(text, style.size)
    heights = [parts[0].shape[0] for parts in lines]
    gap = style.size
    width = max(sum(b.shape[1] for b in parts) + gap * (len(parts) - 1) for parts in lines)
    width = max(width, 1, 10 * style.size)
    at = len(lines) if gauge.after_line < 0 else min(gauge.after_line + 1, len(lines))
    rows = int(style.size * 1.1)
    pad = style.pad
    w, h = width + 2 * pad, sum(heights) + rows + 2 * pad
    top = pad + sum(heights[:at])
    r = _gauge_radius(style.size)
    first = pad + (heights[0] / 2.0 if at > 0 else rows + heights[0] / 2.0)
    return PanelLayout(
        aspect=w / h,
        gauge_left=(pad + r) / w,
        gauge_right=(pad + width - r) / w,
        gauge_top=top / h,
        gauge_bottom=(top + rows) / h,
        title=first / h,
    )


def _coverage(text: str, size: int, gauge: Gauge | None = None) -> NDArray[np.uint8]:
    """Antialiased coverage 0..255, ``(h, w)``, top row first.

    Lines are centred; a line with a tab has its first part flush left and its second
    flush right (labels under a gauge's ends).
    """
    lines = _line_blocks(text, size)
    gap = size
    width = max(sum(b.shape[1] for b in parts) + gap * (len(parts) - 1) for parts in lines)
    width = max(width, 1)
    if gauge is not None:
        width = max(width, 10 * size)
        at = len(lines) if gauge.after_line < 0 else min(gauge.after_line + 1, len(lines))
        lines.insert(at, [_gauge_block(gauge, size, width)])
    out = np.zeros((sum(parts[0].shape[0] for parts in lines), width), np.uint8)
    y = 0
    for parts in lines:
        h = parts[0].shape[0]
        if len(parts) == 1:
            xs = [(width - parts[0].shape[1]) // 2]
        else:
            xs = [0, width - parts[1].shape[1]]
        for x, block in zip(xs, parts, strict=True):
            out[y : y + h, x : x + block.shape[1]] = block
        y += h
    return out


def _rounded_mask(height: int, width: int, radius: int) -> NDArray[np.uint8]:
    """Antialiased coverage 0..255 of a ``height`` x ``width`` box with rounded corners."""
    out = np.full((height, width), 255, np.uint8)
    r = min(radius, height // 2, width // 2)
    if r <= 0:
        return out
    c = np.arange(r, dtype=np.float32) + 0.5
    dist = np.sqrt((r - c)[:, None] ** 2 + (r - c)[None, :] ** 2)
    corner = np.rint(np.clip(r - dist + 0.5, 0.0, 1.0) * 255.0).astype(np.uint8)
    out[:r, :r] = corner  # top-left quarter disc, mirrored to the other corners
    out[:r, width - r :] = corner[:, ::-1]
    out[height - r :, :r] = corner[::-1]
    out[height - r :, width - r :] = corner[::-1, ::-1]
    return out


def render_coverage(text: str, style: TextStyle, gauge: Gauge | None = None) -> CoverageImage:
    """Text and panel coverage without colour, for compositing on the GPU.

    Parameters
    ----------
    text, style, gauge
        As in :func:`render_text`; the style's colours are not used.

    Returns
    -------
    numpy.ndarray
        ``(h, w, 2)`` uint8, top row first: channel 0 the text (and gauge) coverage,
        channel 1 the panel's (rounded box) coverage. Colouring it with ``fg`` and ``bg``
        as :func:`render_text` does gives the same image.
    """
    cover = _coverage(text, style.size, gauge)
    pad = style.pad
    h, w = cover.shape[0] + 2 * pad, cover.shape[1] + 2 * pad
    out = np.zeros((h, w, 2), np.uint8)
    out[pad : pad + cover.shape[0], pad : pad + cover.shape[1], 0] = cover
    out[..., 1] = _rounded_mask(h, w, style.corner)
    return out


def render_text(text: str, style: TextStyle, gauge: Gauge | None = None) -> RGBAImage:
    """Rasterise ``text`` on a panel: ``"\\n"`` separates centred lines; a ``"\\t"`` in a
    line puts the text before it flush left and the text after it flush right.

    Parameters
    ----------
    text
        The text; may be empty (an empty panel).
    style
        Font size, colours, padding and corner radius.
    gauge
        Optional horizontal scale drawn in the text colour (see
        :class:`~therapies.scenes.base.Gauge`), at least ten font sizes wide.

    Returns
    -------
    numpy.ndarray
        ``(h, w, 4)`` uint8 RGBA, straight alpha, top row first. Transparent pixels carry
        the panel colour (the text colour when the panel is clear): no dark fringes when
        filtered.
    """
    cover = render_coverage(text, style, gauge).astype(np.float32) / 255.0
    fg = np.asarray(style.fg, np.float32) / 255.0
    bg = np.asarray(style.bg, np.float32) / 255.0
    text_a = cover[..., 0] * fg[3]
    box_a = cover[..., 1] * bg[3]
    alpha = text_a + box_a * (1.0 - text_a)
    weight = np.divide(text_a, alpha, out=np.zeros_like(alpha), where=alpha > 0.0)[..., None]
    under = bg[:3] if style.bg[3] > 0 else fg[:3]
    rgb = fg[:3] * weight + under * (1.0 - weight)
    out = np.empty((*alpha.shape, 4), np.uint8)
    out[..., :3] = np.rint(rgb * 255.0).astype(np.uint8)
    out[..., 3] = np.rint(alpha * 255.0).astype(np.uint8)
    return out


class TextCache:
    """Rasterised panels by ``(text, style)``, least recently used dropped beyond ``capacity``.

    Parameters
    ----------
    capacity
        Most images kept.
    """

    def __init__(self, capacity: int = 64) -> None:
        if capacity < 1:
            raise ValueError(f"TextCache capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._images: OrderedDict[tuple[str, TextStyle, Gauge | None], RGBAImage] = OrderedDict()

    def __len__(self) -> int:
        return len(self._images)

    def get(self, text: str, style: TextStyle, gauge: Gauge | None = None) -> RGBAImage:
        """The panel for ``text`` in ``style`` (read-only array), rendering it on a miss."""
        key = (text, style, gauge)
        image = self._images.get(key)
        if image is None:
            image = render_text(text, style, gauge)
            image.flags.writeable = False
            self._images[key] = image
            while len(self._images) > self.capacity:
                self._images.popitem(last=False)
        else:
            self._images.move_to_end(key)
        return image

    def clear(self) -> None:
        """Drop every image."""
        self._images.clear()
