"""Scenes: closed registry of what the patient can be shown.

A scene is pure numpy (see :mod:`therapies.scenes.base`): it turns an intensity into a
:class:`~therapies.scenes.base.DrawList`, which :mod:`engine.render` draws, and a
:class:`~therapies.scenes.base.Soundscape`, which :mod:`engine.audio` plays.
"""

from __future__ import annotations

from collections.abc import Callable
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
    "register_scene",
    "scene_names",
    "trs_matrices",
    "unregister_scene",
]

_SCENES: dict[str, Callable[..., Scene]] = {
    "heights": HeightsScene,
    "spiders": SpidersScene,
    "public_speaking": PublicSpeakingScene,
    "flying": FlyingScene,
    "snow": SnowScene,
    "breathing": BreathingScene,
}
_BUILT_IN: Final = frozenset(_SCENES)
SCENES: Final = MappingProxyType(_SCENES)
"""Registry: scene name -> class taking ``seed``. Read-only (add one with
:func:`register_scene`); protocols, ``vrtherapy scenes`` and the docs take their list here."""


def register_scene(name: str, factory: Callable[..., Scene]) -> None:
    """Add a scene under ``name`` (a plug-in, or a test's toy scene); ``factory(seed=)``
    builds it.

    Raises
    ------
    ValueError
        When ``name`` is taken.
    """
    if name in _SCENES:
        raise ValueError(f"scene {name!r} is registered already")
    _SCENES[name] = factory


def unregister_scene(name: str) -> None:
    """Remove a scene added with :func:`register_scene` (the shipped ones stay)."""
    if name in _BUILT_IN:
        raise ValueError(f"scene {name!r} is shipped with vrtherapy")
    _SCENES.pop(name, None)


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
