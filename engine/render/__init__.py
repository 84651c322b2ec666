"""Modern-GL rendering: shaders, procedural meshes, instanced batches, per-eye cameras.

Only :mod:`engine.render.camera` and :mod:`engine.render.meshes` are importable without
PyOpenGL; :class:`Renderer` is imported lazily so that ``import engine.render`` stays cheap
and GL-free.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.render.camera import EyeRig, EyeView, mono_eye, perspective, stereo_eyes

if TYPE_CHECKING:
    from engine.render.renderer import Lighting, Renderer
    from engine.render.shaders import RenderError, ShaderError

__all__ = [
    "EyeRig",
    "EyeView",
    "Lighting",
    "RenderError",
    "Renderer",
    "ShaderError",
    "mono_eye",
    "perspective",
    "stereo_eyes",
]


def __getattr__(name: str) -> Any:
    if name in ("Renderer", "Lighting"):
        from engine.render import renderer

        return getattr(renderer, name)
    if name in ("RenderError", "ShaderError"):
        from engine.render import shaders

        return getattr(shaders, name)
    raise AttributeError(f"module 'engine.render' has no attribute {name!r}")
