"""Render PNG stills of registered scenes at chosen intensities (offscreen OpenGL).

For reviewing scene content (``vrtherapy scenes --out DIR``): one offscreen stereo display is
opened once, each scene is built from ``seed``, brought to each intensity and settled, and
the frame is written as ``<scene>-<intensity:.1f>.png``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from engine.errors import VrTherapyError
from therapies.scenes import create_scene, scene_names

SETTLE_STEPS = 30
"""``update`` calls before each screenshot (after the first, snapping call)."""
SETTLE_DT_S = 0.25
"""Seconds per settle step: 7.5 s in all (mid-breath for the 6/min pacer). The first
update snaps each scene to its intensity, so nothing is left to converge; every
scene shows the same moment of its animation for every intensity."""


def render_scene_pngs(
    out_dir: Path,
    scenes: Sequence[str] | None = None,
    intensities: Sequence[float] = (0.2, 0.8),
    size: tuple[int, int] = (1280, 720),
    seed: int = 0,
) -> list[Path]:
    """Write one PNG per (scene, intensity) into ``out_dir``.

    Parameters
    ----------
    out_dir
        Folder for the images (created if missing).
    scenes
        Scene names (default: every registered scene, sorted).
    intensities
        Intensities in 0..1 to show each scene at.
    size
        Framebuffer ``(width, height)``; side-by-side stereo, so each eye gets half.
    seed
        Seed every scene is built with (a fresh scene per image).

    Returns
    -------
    list of pathlib.Path
        The files written, scene-major in the order given.

    Raises
    ------
    ValueError
        An unknown scene name (lists the allowed ones) or an intensity outside 0..1.
    VrTherapyError
        ``out_dir`` cannot be created or an image cannot be written there.
    DisplayUnavailableError
        No offscreen OpenGL context could be opened.
    """
    names = _check(scenes, intensities)
    from engine.display import HEADLESS, open_display  # GL only when actually rendering

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VrTherapyError(f"cannot create folder {out}: {exc.strerror or exc}") from None
    written: list[Path] = []
    display = open_display(HEADLESS, size=size, stereo=True)
    try:
        for name in names:
            for value in intensities:
                scene = create_scene(name, seed=seed)
                scene.update(float(value), 0.0)
                for _ in range(SETTLE_STEPS):
                    scene.update(float(value), SETTLE_DT_S)
                display.present(scene.draw_list())
                path = out / f"{name}-{float(value):.1f}.png"
                try:
                    display.screenshot(path)
                except OSError as exc:
                    raise VrTherapyError(f"cannot write {path}: {exc.strerror or exc}") from None
                written.append(path)
    finally:
        display.close()
    return written


def _check(scenes: Sequence[str] | None, intensities: Sequence[float]) -> tuple[str, ...]:
    """Validate the request before any GL is touched; returns the scene names."""
    allowed = scene_names()
    names = tuple(scenes) if scenes is not None else allowed
    for name in names:
        if name not in allowed:
            raise ValueError(f"scene {name!r} is not one of {', '.join(allowed)}")
    for value in intensities:
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"render_scene_pngs: intensity {value} is outside 0..1")
    return names
