"""Sound for the scenes: numpy-synthesised loops and cues, played through pygame.mixer.

Scenes describe what should be heard (:class:`~therapies.scenes.base.Soundscape`); this
package makes every sound once (:mod:`engine.audio.synth`, pure numpy) and plays them
(:class:`AudioPlayer`, an intensity sink of the session). pygame is imported only when a
player opens. See ``docs/audio.md``.
"""

from __future__ import annotations

from engine.audio.player import (
    DEFAULT_VOLUME,
    AudioPlayer,
    AudioUnavailableError,
    SoundscapeSource,
)
from engine.audio.synth import SAMPLE_RATE, SoundBank, synthesise

__all__ = [
    "DEFAULT_VOLUME",
    "SAMPLE_RATE",
    "AudioPlayer",
    "AudioUnavailableError",
    "SoundBank",
    "SoundscapeSource",
    "synthesise",
]
