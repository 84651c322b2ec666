"""Scenes: closed registry of what the patient can be shown.

A scene is pure numpy (see :mod:`therapies.scenes.base`): it turns an intensity into a
:class:`~therapies.scenes.base.DrawList`, which :mod:`engine.render` draws, and a
:class:`~therapies.scenes.base.Soundscape`, which :mod:`engine.audio` plays.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from therapies.scenes.base import (
    MESHES,
    Batch,
    DrawList,
    Scene,
    SoundLayer,
    Soundscape,
    trs_matrices,
)
from therapies.scenes.breathing import BreathingScene
from therapies.scenes.flying import FlyingScene
from therapies.scenes.heights import HeightsScene
from therapies.scenes.public_speaking import PublicSpeakingScene
from therapies.scenes.snow import SnowScene
from therapies.scenes.spiders import SpidersScene

__all__ = [
    "MESHES",
    "SCENES",
    "Batch",
    "BreathingScene",
    "DrawList",
    "FlyingScene",
    "HeightsScene",
    "PublicSpeakingScene",
    "Scene",
    "SnowScene",
    "SoundLayer",
    "Soundscape",
    "SpidersScene",
    "create_scene",
    "scene_names",
    "trs_matrices",
]

SCENES: Final = MappingProxyType(
    {
        "heights": HeightsScene,
        "spiders": SpidersScene,
        "public_speaking": PublicSpeakingScene,
        "flying": FlyingScene,
        "snow": SnowScene,
        "breathing": BreathingScene,
    }
)
"""Closed registry: scene name -> class taking ``seed``. Read-only."""


def scene_names() -> tuple[str, ...]:
    """Names :func:`create_scene` accepts, sorted."""
    return tuple(sorted(SCENES))


def create_scene(name: str, seed: int = 0) -> Scene:
    """Build the scene registered as ``name``.

    Raises
    ------
    ValueError
        ``name`` is not registered; the message lists the allowed names.
    """
    try:
        cls = SCENES[name]
    except KeyError:
        raise ValueError(f"scene {name!r} is not one of {', '.join(scene_names())}") from None
    scene: Scene = cls(seed=seed)
    return scene
