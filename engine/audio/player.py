"""Plays a scene's soundscape through pygame.mixer: looping layers, one-shot cues, master volume.

The :class:`AudioPlayer` is an intensity sink: the session calls
``push_intensity(intensity, now)`` once per frame, after the scene has moved; the player
asks the scene for its :class:`~therapies.scenes.base.Soundscape` and

- keeps each layer looping on a channel of its own (reserved, so cues never take it),
  moving its volume towards ``layer volume * master volume`` with the time constant
  :data:`VOLUME_TAU_S` on the session clock (``now``), so no change ever clicks;
- restarts a cycle layer (the breathing pacer) whenever its phase wraps, from the sample
  that matches the phase, so the tone stays locked to the pacer drawn on screen;
- plays every new cue once on a free channel (a cue is dropped when all
  :data:`CUE_CHANNELS` are busy).

pygame is imported only when a player opens. ``SDL_AUDIODRIVER`` picks the output as
usual: ``dummy`` is silent (tests), ``disk`` writes the mix to ``SDL_DISKAUDIOFILE``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from biosignals.errors import VrTherapyError
from engine.audio.synth import SAMPLE_RATE, SoundBank, Stereo
from therapies.scenes.base import CUE_SOUNDS, LAYER_SOUNDS, SoundLayer, Soundscape

if TYPE_CHECKING:
    from pygame.mixer import Channel, Sound

VOLUME_TAU_S = 0.15
"""Time constant of a layer's volume following its target (and master volume changes)."""
DEFAULT_VOLUME = 0.8
"""Master volume when none is given."""
LAYER_CHANNELS = len(LAYER_SOUNDS)
"""Mixer channels reserved for looping layers: one per layer sound."""
CUE_CHANNELS = 8
"""Mixer channels shared by one-shot cues."""
BUFFER_FRAMES = 1024
"""Mixer buffer, frames (23 ms at 44.1 kHz): the latency of a cue or volume change."""
DEBIAN_HINT = (
    "on Debian/Ubuntu install a sound server (apt install pipewire-pulse, or pulseaudio) "
    "or the ALSA library (apt install libasound2) and check a sound card is present"
)


class AudioUnavailableError(VrTherapyError):
    """No audio output could be opened (no device, no sound server, mixer busy)."""


class SoundscapeSource(Protocol):
    """What the player needs of a scene."""

    def soundscape(self) -> Soundscape: ...


def _check_volume(value: float) -> float:
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"audio volume must be in 0..1, got {value!r}")
    return float(value)


class _Layer:
    """One looping sound on its reserved channel, with its smoothed volume."""

    def __init__(self, channel: Channel, sound: Sound, data: Stereo, cycle_s: float | None):
        self.channel, self.sound, self.data, self.cycle_s = channel, sound, data, cycle_s
        self.full = sound
        self.volume = 0.0
        self.phase = -1.0  # last phase seen (cycle layers); -1: not started


class AudioPlayer:
    """Owns pygame.mixer and plays one scene's soundscape; see the module docstring.

    Parameters
    ----------
    scene
        Anything with ``soundscape()`` (every registered scene).
    volume
        Master volume 0..1.
    muted
        Start muted (layers keep running silently, cues are not played).
    bank
        Where the sounds come from (a new :class:`~engine.audio.synth.SoundBank` seeded 0 by
        default; pass one to reuse sounds already made).

    Raises
    ------
    AudioUnavailableError
        pygame is missing, another player (or anything else) already holds pygame.mixer,
        or SDL could not open an audio device. The message names ``SDL_AUDIODRIVER``.
    ValueError
        ``volume`` outside 0..1.
    """

    def __init__(
        self,
        scene: SoundscapeSource,
        *,
        volume: float = DEFAULT_VOLUME,
        muted: bool = False,
        bank: SoundBank | None = None,
    ) -> None:
        self._volume = _check_volume(volume)
        self.muted = muted
        self._scene = scene
        self._bank = SoundBank() if bank is None else bank
        first = scene.soundscape()
        for name in CUE_SOUNDS:  # synthesise before the device opens (no silent gap)
            self._bank.get(name)
        for spec in first.layers:
            self._bank.get(spec.sound, spec.cycle_s)
        self._mixer = _open_mixer()
        self._closed = False
        self._layers: dict[str, _Layer] = {}
        self._cues: dict[str, Sound] = {}
        self._last: float | None = None
        self.cues_played = 0
        """One-shots started so far."""
        self.cues_dropped = 0
        """One-shots not played because every cue channel was busy."""
        try:
            self._mixer.set_num_channels(LAYER_CHANNELS + CUE_CHANNELS)
            self._mixer.set_reserved(LAYER_CHANNELS)
            for name in CUE_SOUNDS:
                self._cues[name] = self._sound(self._bank.get(name))
            for layer in first.layers:
                self._layer(layer)
            self._pending = first.cues
        except BaseException:
            self.close()
            raise

    # ----------------------------------------------------------------- settings
    @property
    def volume(self) -> float:
        """Master volume 0..1 (layers fade to a new value, cues use it as they start)."""
        return self._volume

    @volume.setter
    def volume(self, value: float) -> None:
        self._volume = _check_volume(value)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    def layer_volume(self, sound: str) -> float:
        """The smoothed volume now applied to the layer playing ``sound`` (0 if none)."""
        layer = self._layers.get(sound)
        return 0.0 if layer is None else layer.volume

    # ----------------------------------------------------------------- per frame
    def push_marker(self, event: Mapping[str, Any], timestamp: float) -> None:
        """Markers make no sound (the scene's cues come through its soundscape)."""

    def push_intensity(self, value: float, timestamp: float) -> None:
        """Follow the scene's soundscape at session time ``timestamp`` (``value`` unused:
        the scene already knows its intensity and smooths it)."""
        del value
        if self._closed:
            return
        dt = 0.0 if self._last is None else min(max(timestamp - self._last, 0.0), 1.0)
        self._last = timestamp
        scape = self._scene.soundscape()
        gain = 0.0 if self.muted else self._volume
        alpha = 1.0 - math.exp(-dt / VOLUME_TAU_S)
        present = set()
        for spec in scape.layers:
            layer = self._layer(spec)
            present.add(spec.sound)
            layer.volume += (spec.volume * gain - layer.volume) * alpha
            if spec.cycle_s is not None:
                self._follow_cycle(layer, spec)
            layer.sound.set_volume(layer.volume)
        for name, layer in self._layers.items():
            if name not in present:  # a layer the scene dropped fades out
                layer.volume -= layer.volume * alpha
                layer.sound.set_volume(layer.volume)
        cues, self._pending = (*self._pending, *scape.cues), ()
        if gain > 0.0:
            for cue in cues:
                self._play_cue(cue, gain)

    def _play_cue(self, cue: str, gain: float) -> None:
        sound = self._cues[cue]
        sound.set_volume(gain)
        if sound.play() is None:
            self.cues_dropped += 1
        else:
            self.cues_played += 1

    def _layer(self, spec: SoundLayer) -> _Layer:
        layer = self._layers.get(spec.sound)
        if layer is not None and layer.cycle_s == spec.cycle_s:
            return layer
        if layer is None:  # each layer sound has its own reserved channel
            channel = self._mixer.Channel(LAYER_SOUNDS.index(spec.sound))
        else:  # a cycle layer whose period changed: same channel, new sound
            channel = layer.channel
            channel.stop()
        data = self._bank.get(spec.sound, spec.cycle_s)
        sound = self._sound(data)
        sound.set_volume(0.0)
        new = _Layer(channel, sound, data, spec.cycle_s)
        if layer is not None:
            new.volume = layer.volume
        if spec.cycle_s is None:
            channel.play(sound, loops=-1)
        self._layers[spec.sound] = new
        return new

    def _follow_cycle(self, layer: _Layer, spec: SoundLayer) -> None:
        """(Re)start a cycle sound at the scene's phase when it wraps or first appears.

        The sound starts from the sample matching the phase (a frame or so past the wrap),
        so the audio stays locked to the session clock whatever the audio device's drift.
        """
        if layer.phase < 0.0 or spec.phase < layer.phase:
            start = int(spec.phase * layer.data.shape[0])
            if start <= BUFFER_FRAMES:  # within the mixer's latency: the whole cycle
                layer.sound = layer.full
            else:
                layer.sound = self._sound(layer.data[start:])
            layer.sound.set_volume(layer.volume)
            layer.channel.play(layer.sound)
        layer.phase = spec.phase

    def _sound(self, data: Stereo) -> Sound:
        sound: Sound = self._mixer.Sound(buffer=data.tobytes())
        return sound

    # ----------------------------------------------------------------- lifecycle
    def close(self) -> None:
        """Stop every sound and release pygame.mixer (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._mixer.stop()
        self._mixer.quit()

    def __enter__(self) -> AudioPlayer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_mixer() -> Any:
    """Initialise pygame.mixer at 44.1 kHz 16-bit stereo, or say why it cannot be."""
    try:
        import pygame.mixer
    except ImportError as exc:
        raise AudioUnavailableError(
            f"audio needs pygame ({exc}); install it with: pip install pygame"
        ) from None
    if pygame.mixer.get_init() is not None:
        raise AudioUnavailableError(
            "pygame.mixer is already in use in this process (another AudioPlayer?); "
            "close it before opening another"
        )
    driver = os.environ.get("SDL_AUDIODRIVER")
    try:
        pygame.mixer.init(
            frequency=SAMPLE_RATE, size=-16, channels=2, buffer=BUFFER_FRAMES, allowedchanges=0
        )
    except pygame.error as exc:
        which = f"SDL_AUDIODRIVER={driver}" if driver else "SDL_AUDIODRIVER unset (SDL's choice)"
        raise AudioUnavailableError(
            f"no audio output: SDL could not open an audio device ({exc}; {which}). Set "
            f"SDL_AUDIODRIVER to pipewire, pulseaudio or alsa, or {DEBIAN_HINT}; "
            "--no-audio runs without sound"
        ) from None
    return pygame.mixer
