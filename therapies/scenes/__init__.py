"""Scenes: closed registry of what the patient can be shown.

A scene is pure numpy (see :mod:`therapies.scenes.base`): it turns an intensity into a
:class:`~therapies.scenes.base.DrawList`, which :mod:`engine.render` draws, and a
:class:`~therapies.scenes.base.Soundscape`, which :mod:`engine.audio` plays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from biosignals.registry import Registry
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
    "scene_events",
    "scene_names",
    "trs_matrices",
    "unregister_scene",
]

_REGISTRY: Final = Registry[Callable[..., Scene]](
    "scene",
    {
        "heights": HeightsScene,
        "spiders": SpidersScene,
        "public_speaking": PublicSpeakingScene,
        "flying": FlyingScene,
        "snow": SnowScene,
        "breathing": BreathingScene,
    },
)
SCENES: Final = _REGISTRY.view
"""Registry: scene name -> class taking ``seed``. Read-only (add one with
:func:`register_scene`); protocols, ``vrtherapy scenes`` and the docs take their list here."""
register_scene: Final = _REGISTRY.register
"""Add a scene (a plug-in, or a test's toy scene) whose factory takes ``seed=``; ValueError
if the name is taken."""
unregister_scene: Final = _REGISTRY.unregister
"""Remove a scene added with :func:`register_scene` (the shipped ones stay)."""


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
    if name not in SCENES:
        raise ValueError(f"scene {name!r} is not one of {', '.join(scene_names())}")
    scene: Scene = SCENES[name](seed=seed)
    return scene


def scene_events(name: str) -> tuple[str, ...]:
    """The events scene ``name`` declares (what a therapist can make happen there).

    Raises
    ------
    ValueError
        ``name`` is not registered.
    """
    if name not in SCENES:
        raise ValueError(f"scene {name!r} is not one of {', '.join(scene_names())}")
    events = getattr(SCENES[name], "events", None)
    if not isinstance(events, tuple):  # a factory that is not the class: ask an instance
        events = create_scene(name).events
    return tuple(events)
