"""Answering a prompt by looking at it: a world-locked panel, a head-gaze ray, a dwell. Pure.

When a prompt opens in a session whose display reports a head pose, the panel is fixed in
the world (not on the head) :data:`GAZE_DISTANCE` in front of where the head looked, so the
head can point at it: the opening gaze lands on the question line (``aim="title"``), and the
patient looks down a little to the scale. The head-forward ray (the centre of the view,
where a small cursor is drawn) is intersected with the panel every frame; the scale value
under it is *hovered* (shown on the panel, with the panel tinted) and, held for ``dwell``
seconds, *answered*. Looking away from the scale, or to another value, restarts the dwell.
A still head therefore never answers on its own: it stays on the question line.

Geometry: the panel is centred on its world point ``P``, faces the head (its axes are the
head's) and keeps the same share ``height`` of the view's height at any distance, so its
size in metres is ``height * 2 * depth / view_scale`` where ``depth`` is ``P``'s distance
along the head's forward axis and ``view_scale`` the projection's ``[1, 1]``. It is drawn as
a head-locked panel whose anchor is ``P``'s place in the view (:meth:`GazeSelector.anchor`):
the renderer puts such a panel on the ray from the head through ``P`` with that same angular
size (``engine.render.renderer.overlay_model``), so it looks world-locked, is never hidden
by scenery in front of it, and sits at the cursor's depth. Conventions as
:mod:`therapies.scenes.base`: metres, y up, a head with identity orientation looks along
-z; quaternions are ``(x, y, z, w)``, head -> world.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from therapies.head_pose import HeadPose
from therapies.prompts import (
    CONFIRM_KEYS,
    GazeConfig,
    Prompt,
    PromptEvent,
    PromptScheduler,
    Scale,
    prompt_text,
)
from therapies.scenes.base import Gauge, Overlay

GAZE_DISTANCE = 1.5
"""Metres from the head to a gaze panel (the depth of head-locked panels too)."""
GAZE_HELP = "Look at a number and hold still, or use Left / Right, then Enter"
GAZE_FG = (0.97, 0.96, 0.92, 1.0)
GAZE_BG = (0.12, 0.2, 0.27, 0.92)
HOVER_BG = (0.1, 0.36, 0.3, 0.94)
"""Panel colour while a value is under the gaze cursor (the highlight)."""
CURSOR_FG = (1.0, 0.86, 0.2, 1.0)
CURSOR_BG = (0.05, 0.05, 0.05, 0.55)
CURSOR_HEIGHT = 0.07
GAZE_HEIGHT = 0.2
"""Gaze panel height as a share of the view's height (smaller than the head-locked panel:
the scale's ends are about 30 degrees either side at a 90 degree field of view)."""
PROGRESS_SLOTS = 10
Aim = Literal["title", "gauge"]


@dataclass(frozen=True)
class PanelLayout:
    """Where the scale sits on a prompt panel, as shares of the panel (from its top-left).

    Parameters
    ----------
    aspect
        Panel width over height.
    gauge_left, gauge_right
        Horizontal position (0 left .. 1 right) of the scale's first and last tick.
    gauge_top, gauge_bottom
        Vertical extent (0 top .. 1 bottom) of the scale's row.
    title
        Vertical position of the first text line's centre (the question).
    """

    aspect: float
    gauge_left: float
    gauge_right: float
    gauge_top: float
    gauge_bottom: float
    title: float

    def __post_init__(self) -> None:
        ok = (
            self.aspect > 0.0
            and 0.0 <= self.gauge_left < self.gauge_right <= 1.0
            and 0.0 <= self.gauge_top < self.gauge_bottom <= 1.0
            and 0.0 <= self.title <= 1.0
        )
        if not ok:
            raise ValueError(f"PanelLayout is not a panel with a scale inside it: {self!r}")


@dataclass(frozen=True)
class GazeState:
    """The gaze on the open prompt's panel after one :meth:`GazeSelector.update`.

    Parameters
    ----------
    centre
        The panel's world position.
    anchor
        Where to draw the panel (head-locked overlay anchor), clipped to the view: a panel
        out of view waits at its edge, on the side it is.
    cursor
        Where to draw the gaze cursor (the head-forward ray).
    hovered
        Scale value under the gaze cursor, or ``None``.
    progress
        Share (0..1) of the dwell spent on ``hovered``.
    answer
        The value whose dwell completed at this update (once per prompt), else ``None``.
    """

    centre: tuple[float, float, float]
    anchor: tuple[float, float] = (0.5, 0.5)
    cursor: tuple[float, float] = (0.5, 0.5)
    hovered: int | None = None
    progress: float = 0.0
    answer: int | None = None


def _point(v: NDArray[np.float64]) -> tuple[float, float, float]:
    return (float(v[0]), float(v[1]), float(v[2]))


def scale_values(scale: Scale) -> list[int]:
    """The values on the scale's ticks, left to right (what a gaze can choose)."""
    return list(range(scale.low, scale.high + 1, scale.step))


class GazeSelector:
    """Places the open prompt's panel in the world and turns a dwelling gaze into an answer.

    Parameters
    ----------
    dwell
        Seconds the gaze must stay on one value to answer it.
    height
        Panel height as a share of the view's height (the overlay's ``height``).
    distance
        Metres from the head to the panel when it opens.
    aim
        Where on the panel the opening gaze lands: ``"title"`` (the question line, so a
        still head answers nothing) or ``"gauge"`` (the middle of the scale).
    """

    def __init__(
        self,
        dwell: float = 2.0,
        *,
        height: float = GAZE_HEIGHT,
        distance: float = GAZE_DISTANCE,
        aim: Aim = "title",
    ) -> None:
        if not (dwell > 0.0 and 0.0 < height <= 1.0 and distance > 0.0):
            raise ValueError(
                f"GazeSelector: dwell={dwell}, height={height}, distance={distance} must be > 0"
                " (height at most 1)"
            )
        if aim not in ("title", "gauge"):
            raise ValueError(f"GazeSelector: aim={aim!r} is not one of title, gauge")
        self.dwell, self.height, self.distance, self.aim = dwell, height, distance, aim
        self._key: object = None
        self._centre: NDArray[np.float64] | None = None
        self._hover: tuple[int, float] | None = None  # value, since
        self._answered = False

    @property
    def key(self) -> object:
        """The prompt the current panel belongs to (``None`` when none is placed)."""
        return self._key

    @property
    def centre(self) -> tuple[float, float, float] | None:
        """World position of the current panel, or ``None`` when none is placed."""
        return None if self._centre is None else _point(self._centre)

    def close(self) -> None:
        """Forget the panel (the prompt closed)."""
        self._key, self._centre, self._hover, self._answered = None, None, None, False

    def place(self, key: object, head: HeadPose, layout: PanelLayout) -> tuple[float, float, float]:
        """Put a new panel (for the prompt ``key``) in front of ``head``; returns its centre."""
        rot = head.rotation()
        d, up = -rot[:, 2], rot[:, 1]
        mid = 0.5 * (layout.gauge_top + layout.gauge_bottom)
        aim_v = layout.title if self.aim == "title" else mid
        size = self.height * 2.0 * self.distance / head.view_scale
        centre = np.asarray(head.position, np.float64) + d * self.distance
        centre -= up * (0.5 - aim_v) * size
        self._key, self._centre, self._hover, self._answered = key, centre, None, False
        return _point(centre)

    def locate(
        self,
        head: HeadPose,
        layout: PanelLayout,
        origin: ArrayLike | None = None,
        direction: ArrayLike | None = None,
    ) -> tuple[float, float] | None:
        """Where a ray meets the panel, ``(u, v)`` from its top-left in panel shares.

        The ray defaults to the head's forward ray; a pointer (mouse) ray may be given
        instead. ``None``: no panel, the panel behind the head, or a ray that misses it.
        """
        if self._centre is None:
            return None
        rot = head.rotation()
        eye = np.asarray(head.position, np.float64)
        depth = -float(np.dot(self._centre - eye, rot[:, 2]))
        if depth <= 0.05:
            return None
        o = eye if origin is None else np.asarray(origin, np.float64).reshape(3)
        d = -rot[:, 2] if direction is None else np.asarray(direction, np.float64).reshape(3)
        facing = float(np.dot(d, rot[:, 2]))
        if facing >= -1e-9:
            return None
        t = float(np.dot(self._centre - o, rot[:, 2])) / facing
        if t <= 0.0:
            return None
        offset = o + t * d - self._centre
        size = self.height * 2.0 * depth / head.view_scale
        u = 0.5 + float(np.dot(offset, rot[:, 0])) / (size * layout.aspect)
        v = 0.5 - float(np.dot(offset, rot[:, 1])) / size
        if not (0.0 <= u <= 1.0 and 0.0 <= v <= 1.0):
            return None
        return (u, v)

    @staticmethod
    def value_at(u: float, v: float, layout: PanelLayout, scale: Scale) -> int | None:
        """The scale value at panel point ``(u, v)``, or ``None`` off the scale.

        The scale's targets are its ticks; each owns the half spacing either side (the end
        ticks as much outwards), over the scale's row and half a row above and below.
        """
        values = scale_values(scale)
        row = layout.gauge_bottom - layout.gauge_top
        if not layout.gauge_top - row / 2.0 <= v <= layout.gauge_bottom + row / 2.0:
            return None
        spacing = (layout.gauge_right - layout.gauge_left) / max(len(values) - 1, 1)
        index = math.floor((u - layout.gauge_left) / spacing + 0.5)
        if not 0 <= index < len(values):
            return None
        return values[index]

    def update(
        self, now: float, key: object, scale: Scale, head: HeadPose, layout: PanelLayout
    ) -> GazeState:
        """One frame of gaze on the prompt ``key``: place its panel if new, then dwell.

        Parameters
        ----------
        now
            Session time, seconds.
        key
            Identifies the open prompt; a different key places a new panel.
        scale
            The prompt's rating scale.
        head
            This frame's head pose (world coordinates).
        layout
            The panel's layout.
        """
        if self._centre is None or key != self._key:
            centre = self.place(key, head, layout)
        else:
            centre = _point(self._centre)
        where = (centre, self.anchor(head), head.cursor_anchor)
        hit = self.locate(head, layout)
        value = None if hit is None else self.value_at(*hit, layout, scale)
        if value is None:
            self._hover = None
            return GazeState(*where)
        if self._hover is None or self._hover[0] != value:
            self._hover = (value, now)
        held = now - self._hover[1]
        progress = min(max(held / self.dwell, 0.0), 1.0)
        answer = None
        if held >= self.dwell - 1e-9 and not self._answered:  # clock steps adding up count
            self._answered, answer = True, value
        return GazeState(*where, value, progress, answer)

    def anchor(self, head: HeadPose) -> tuple[float, float]:
        """The head-locked anchor that draws the panel where it is in the world (see the
        module docstring), clipped to the view; behind the head: the nearer side's edge."""
        if self._centre is None:
            return (0.5, 0.5)
        at = head.view_anchor(self._centre)
        if at is None:
            side = float(np.dot(self._centre - np.asarray(head.position), head.rotation()[:, 0]))
            return (0.0 if side < 0.0 else 1.0, 0.5)
        return (min(max(at[0], 0.0), 1.0), min(max(at[1], 0.0), 1.0))


def gaze_overlays(
    prompt: Prompt, state: GazeState, height: float = GAZE_HEIGHT
) -> tuple[Overlay, ...]:
    """The panel for ``prompt`` showing ``state`` where it is in the world, then the cursor.

    The hovered value is shown as the chosen one (number and scale marker), with the panel
    tinted and a row of dots filling over the dwell; otherwise the panel shows the value
    chosen with keys, if any. Both are head-locked overlays placed by ``state``'s anchors;
    the cursor is a small ``+`` on the head-forward ray.
    """
    value = prompt.value if state.hovered is None else state.hovered
    if state.hovered is None:
        status = ""
    else:
        filled = min(int(state.progress * PROGRESS_SLOTS + 1e-9), PROGRESS_SLOTS)
        status = "\u2022" * filled + "\u00b7" * (PROGRESS_SLOTS - filled)
    panel = panel_overlay(prompt, value, status, height)
    bg = GAZE_BG if state.hovered is None else HOVER_BG
    panel = replace(panel, anchor=state.anchor, bg=bg)
    cursor = Overlay("+", state.cursor, CURSOR_HEIGHT, CURSOR_FG, CURSOR_BG)
    return (panel, cursor)


def panel_overlay(prompt: Prompt, value: int | None, status: str, height: float) -> Overlay:
    """The prompt's panel for gaze answers, centred (the caller sets its ``anchor``)."""
    scale = prompt.scale
    where = None if value is None else (value - scale.low) / (scale.high - scale.low)
    text = prompt_text(scale, value, GAZE_HELP, status)
    gauge = Gauge(where, scale.high // scale.step + 1, after_line=2)
    return Overlay(text, (0.5, 0.5), height, GAZE_FG, GAZE_BG, gauge=gauge)


LayoutOf = Callable[[Overlay], "PanelLayout | None"]
"""A display's ``panel_layout``: where an overlay's scale sits on its panel as drawn."""
Ray = tuple[ArrayLike, ArrayLike]


class PromptGaze:
    """Gaze dwell, gaze + confirm and pointer clicks for a scheduler's open prompt.

    The session calls :meth:`confirm` with the frame's keys before the scheduler sees them,
    :meth:`update` after, and draws :meth:`overlays`. Active while gaze is enabled, a prompt
    is open and the display gave a head pose and can lay out panels; otherwise the prompt
    keeps its head-locked panel (keys and controller only).

    Parameters
    ----------
    prompts
        The session's scheduler (answers go through :meth:`PromptScheduler.answer`).
    config
        The protocol's ``prompts.gaze``.
    """

    def __init__(self, prompts: PromptScheduler, config: GazeConfig) -> None:
        self.prompts, self.enabled = prompts, config.enabled
        self.selector = GazeSelector(config.dwell)
        self.state: GazeState | None = None
        """The last :meth:`update`'s gaze on the open prompt (``None``: not gazing)."""

    def _current(self) -> Prompt | None:
        prompt = self.prompts.open
        if prompt is None or self.selector.key != (prompt.kind, prompt.asked_at):
            return None
        return prompt

    def confirm(
        self, now: float, keys: tuple[str, ...]
    ) -> tuple[list[PromptEvent], tuple[str, ...]]:
        """Enter (a controller's select) while the gaze rests on a value answers that value
        (source ``gaze+confirm``); returns the events and the keys left for the scheduler."""
        state = self.state
        if state is None or state.hovered is None or self._current() is None:
            return [], keys
        if not any(k in CONFIRM_KEYS for k in keys):
            return [], keys
        self.state = None
        events = self.prompts.answer(state.hovered, now, source="gaze+confirm")
        return events, tuple(k for k in keys if k not in CONFIRM_KEYS)

    def update(
        self,
        now: float,
        head: HeadPose | None,
        clicks: Sequence[Ray] = (),
        layout_of: LayoutOf | None = None,
    ) -> list[PromptEvent]:
        """Follow the gaze on the open prompt; answer a click on its scale (source
        ``mouse``) or a completed dwell (source ``gaze``).

        Parameters
        ----------
        now
            Session time.
        head
            The display's head pose, or ``None``.
        clicks
            Pointer rays ``(origin, direction)`` clicked on the last frame.
        layout_of
            The display's panel layout function, or ``None`` (no gaze).
        """
        prompt = self.prompts.open
        layout = None
        if prompt is not None and head is not None and layout_of is not None and self.enabled:
            layout = layout_of(panel_overlay(prompt, None, "", self.selector.height))
        if prompt is None or head is None or layout is None:
            self.selector.close()
            self.state = None
            return []
        if self._current() is not None:
            for origin, direction in clicks:
                hit = self.selector.locate(head, layout, origin, direction)
                value = None if hit is None else self.selector.value_at(*hit, layout, prompt.scale)
                if value is not None:
                    self.state = None
                    return self.prompts.answer(value, now, source="mouse")
        key = (prompt.kind, prompt.asked_at)
        state = self.selector.update(now, key, prompt.scale, head, layout)
        self.state = state
        if state.answer is None:
            return []
        self.state = None
        return self.prompts.answer(state.answer, now, source="gaze")

    def overlays(self) -> tuple[Overlay, ...]:
        """The open prompt's panel: placed in the world with a gaze cursor when gazing,
        else the scheduler's head-locked panel; empty without a prompt."""
        prompt, state = self._current(), self.state
        if prompt is not None and state is not None:
            return gaze_overlays(prompt, state, self.selector.height)
        overlay = self.prompts.overlay()
        return () if overlay is None else (overlay,)
