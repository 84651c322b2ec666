"""Every sound the scenes name, synthesised with numpy: filtered noise, tones, envelopes.

Pure (no pygame, no files): each function returns ``(n, 2)`` int16 stereo at
:data:`SAMPLE_RATE`. Loops are exactly periodic - noise is shaped in the frequency domain
of the whole loop, envelopes are periodic noise too, and tone frequencies are rounded to a
whole number of cycles per loop - so they repeat without a click. Deterministic for a seed.

Levels: loops are scaled to an RMS of :data:`LOOP_RMS` (so a layer volume means the same in
every scene) and one-shots to a peak of their entry in :data:`CUE_PEAKS`.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from types import MappingProxyType
from typing import Final

import numpy as np
from numpy.typing import NDArray

SAMPLE_RATE: Final = 44_100
"""Samples per second per channel; the mixer is opened at this rate, 16-bit stereo."""
LOOP_RMS: Final = 0.1
"""RMS of every loop at volume 1, in full scale (-20 dBFS)."""
CUE_PEAKS: Final = MappingProxyType(
    {
        "cough": 0.55,
        "shuffle": 0.4,
        "chime": 0.5,
        "throw": 0.35,
        "hit": 0.5,
        "reward": 0.3,
        "ring": 0.35,
        "jolt": 0.55,
        "gust": 0.45,
    }
)
"""Peak of each one-shot in full scale."""
CUE_FADE_S: Final = 0.05
"""Every one-shot fades out over its last 50 ms."""

Floats = NDArray[np.float64]
Stereo = NDArray[np.int16]


def _n(seconds: float) -> int:
    return round(seconds * SAMPLE_RATE)


def band_noise(
    rng: np.random.Generator,
    seconds: float,
    low_hz: float,
    high_hz: float,
    *,
    channels: int = 2,
    tilt_db_per_octave: float = 0.0,
    rate: float = SAMPLE_RATE,
) -> Floats:
    """Periodic noise limited to ``low_hz..high_hz`` (soft edges), RMS 1 per channel.

    Parameters
    ----------
    rng
        Source of the noise.
    seconds
        Length; the result loops seamlessly at this length.
    low_hz, high_hz
        Pass band.
    channels
        Independent (decorrelated) channels.
    tilt_db_per_octave
        Spectral slope (-3: pink-ish, -6: brown-ish).
    rate
        Samples per second of the result.

    Returns
    -------
    numpy.ndarray
        ``(n, channels)`` float64.
    """
    n = round(seconds * rate)
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    f = np.maximum(freqs, 1e-3)
    gain = 1.0 / np.sqrt(1.0 + (low_hz / f) ** 4) / np.sqrt(1.0 + (f / high_hz) ** 4)
    gain *= (f / max(low_hz, 1.0)) ** (tilt_db_per_octave / (20.0 * math.log10(2.0)))
    gain[0] = 0.0
    parts = rng.standard_normal((2, channels, freqs.size))
    out = np.fft.irfft((parts[0] + 1j * parts[1]) * gain, n=n, axis=-1)  # (channels, n)
    out /= np.sqrt(np.mean(out**2, axis=-1, keepdims=True))
    return np.ascontiguousarray(out.T)


def slow_envelope(
    rng: np.random.Generator, seconds: float, low_hz: float, high_hz: float, channels: int = 1
) -> Floats:
    """Periodic random envelope in 0..1 that changes at ``low_hz..high_hz`` (gusts, syllables).

    Made at 1/100 of :data:`SAMPLE_RATE` (``high_hz`` up to about 20 Hz) and interpolated
    linearly, wrapping around, so it stays periodic. ``seconds`` must be a multiple of 10 ms.
    """
    n, k = _n(seconds), 100
    if n % k:
        raise ValueError(f"slow_envelope: {seconds} s is not a whole number of 10 ms")
    rate = SAMPLE_RATE / k
    x = 0.5 + 0.5 * np.tanh(band_noise(rng, seconds, low_hz, high_hz, channels=channels, rate=rate))
    w = (np.arange(k) / k)[None, :, None]
    up = x[:, None, :] * (1.0 - w) + np.roll(x, -1, axis=0)[:, None, :] * w
    return np.asarray(up.reshape(n, channels))


def periodic_freq(freq_hz: float, seconds: float) -> float:
    """``freq_hz`` rounded to a whole number of cycles in ``seconds`` (seamless loops)."""
    return max(round(freq_hz * seconds), 1) / seconds


def decay(seconds: float, attack_s: float, tau_s: float) -> Floats:
    """Envelope: linear attack then exponential decay (time constant ``tau_s``)."""
    t = np.arange(_n(seconds)) / SAMPLE_RATE
    return np.asarray(np.minimum(t / max(attack_s, 1e-4), 1.0) * np.exp(-t / tau_s))


def bell(freq_hz: float, seconds: float, tau_s: float) -> Floats:
    """A soft bell: fundamental with two quieter partials, 5 ms attack, decaying."""
    t = np.arange(_n(seconds)) / SAMPLE_RATE
    partials = (
        np.sin(2 * np.pi * freq_hz * t)
        + 0.3 * np.sin(2 * np.pi * 2.0 * freq_hz * t) * np.exp(-t / (0.5 * tau_s))
        + 0.12 * np.sin(2 * np.pi * 3.0 * freq_hz * t) * np.exp(-t / (0.3 * tau_s))
    )
    return np.asarray(partials * decay(seconds, 0.005, tau_s))


def place(total_s: float, parts: list[tuple[float, Floats]]) -> Floats:
    """Mono mix of ``(start_s, signal)`` parts in a buffer ``total_s`` long."""
    out = np.zeros(_n(total_s))
    for start, sig in parts:
        i = _n(start)
        k = min(sig.size, out.size - i)
        out[i : i + k] += sig[:k]
    return out


def to_int16(
    x: Floats, *, rms: float | None = None, peak: float | None = None, fade_s: float = 0.0
) -> Stereo:
    """Scale mono ``(n,)`` or stereo ``(n, 2)`` to an RMS or a peak; int16 ``(n, 2)``.

    ``fade_s``: a raised-cosine fade-out over the last seconds (one-shots end silently).
    Whatever the target, the peak never exceeds 0.98 of full scale.
    """
    x = np.asarray(x, np.float64)
    if x.ndim == 1:
        x = np.stack([x, x], axis=1)
    k = min(round(fade_s * SAMPLE_RATE), x.shape[0])
    if k > 0:
        x = x.copy()
        x[-k:] *= (0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, k)))[:, None]
    if rms is not None:
        x = x * (rms / max(float(np.sqrt(np.mean(x**2))), 1e-12))
    if peak is not None:
        x = x * (peak / max(float(np.abs(x).max()), 1e-12))
    top = float(np.abs(x).max())
    if top > 0.98:
        x = x * (0.98 / top)
    return np.ascontiguousarray(np.round(x * 32767.0), np.int16)


# ----------------------------------------------------------------------------- loops
def murmur(rng: np.random.Generator) -> Stereo:
    """Audience chatter: 8 voices (speech-band noise, syllable and phrase rhythms), panned."""
    secs, voices = 6.0, 8
    carrier = band_noise(rng, secs, 180.0, 3200.0, channels=voices, tilt_db_per_octave=-3.0)
    syllables = slow_envelope(rng, secs, 2.5, 7.0, voices) ** 3
    phrases = slow_envelope(rng, secs, 0.08, 0.5, voices) ** 2
    v = carrier * syllables * phrases
    pan = rng.uniform(0.15, 0.85, voices)
    stereo = np.stack([v @ np.sqrt(1.0 - pan), v @ np.sqrt(pan)], axis=1)
    return to_int16(stereo, rms=LOOP_RMS)


def engine(rng: np.random.Generator) -> Stereo:
    """Jet cabin drone: brown-ish low noise, a low hum and a faint fan whine."""
    secs = 6.0
    t = np.arange(_n(secs)) / SAMPLE_RATE
    hum = np.zeros_like(t)
    for f, a in ((97.0, 0.35), (194.0, 0.15), (3100.0, 0.02)):
        hum += a * np.sin(2 * np.pi * periodic_freq(f, secs) * t)
    x = band_noise(rng, secs, 30.0, 600.0, tilt_db_per_octave=-6.0) + hum[:, None]
    return to_int16(x, rms=LOOP_RMS)


def rumble(rng: np.random.Generator) -> Stereo:
    """Turbulence: very low noise shaken by irregular bumps (0.5-4 Hz)."""
    secs = 8.0
    low = band_noise(rng, secs, 20.0, 160.0, tilt_db_per_octave=-3.0)
    bumps = slow_envelope(rng, secs, 0.5, 4.0) ** 2
    rattle = band_noise(rng, secs, 900.0, 4000.0) * 0.08 * bumps**2
    return to_int16(low * (0.25 + bumps) + rattle, rms=LOOP_RMS)


def wind(rng: np.random.Generator) -> Stereo:
    """Gusting wind: mid-band noise rising and falling, a faint whistle in the strong gusts."""
    secs = 12.0
    gusts = slow_envelope(rng, secs, 0.05, 0.4)
    body = band_noise(rng, secs, 150.0, 1400.0, tilt_db_per_octave=-3.0) * (0.35 + gusts)
    whistle = band_noise(rng, secs, 620.0, 700.0) * 0.25 * gusts**3
    return to_int16(body + whistle, rms=LOOP_RMS)


def traffic(rng: np.random.Generator) -> Stereo:
    """Distant street traffic: low rolling noise with cars swelling past."""
    secs = 10.0
    swells = slow_envelope(rng, secs, 0.05, 0.25, 2)
    x = band_noise(rng, secs, 40.0, 700.0, tilt_db_per_octave=-6.0) * (0.4 + swells)
    return to_int16(x, rms=LOOP_RMS)


def skitter(rng: np.random.Generator) -> Stereo:
    """Tiny legs on a wooden floor: clusters of soft high clicks."""
    secs = 4.0
    n = _n(secs)
    clicks = np.zeros((n, 2))
    activity = slow_envelope(rng, secs, 0.3, 2.0, 1)[:, 0] ** 2
    starts = np.flatnonzero(rng.uniform(size=n) < 160.0 / SAMPLE_RATE * activity)
    clicks[starts, rng.integers(0, 2, starts.size)] = rng.uniform(0.3, 1.0, starts.size)
    kernel = band_noise(rng, 0.006, 2500.0, 9000.0, channels=1)[:, 0] * decay(0.006, 0.0002, 0.0015)
    k = np.zeros(n)
    k[: kernel.size] = kernel
    out = np.fft.irfft(np.fft.rfft(clicks, axis=0) * np.fft.rfft(k)[:, None], n=n, axis=0)
    return to_int16(out, rms=LOOP_RMS)


def pacer(cycle_s: float) -> Stereo:
    """One breath cycle: a soft tone gliding up a fifth (220 -> 330 Hz) breathing in, down out.

    The glide follows the pacer, ``0.5 - 0.5 * cos(2 pi * phase)``; the tone swells with the
    breath and fades to silence over the last and first 0.3 s (the bottom of the breath).
    """
    n = _n(cycle_s)
    phase = np.arange(n) / n
    breath = 0.5 - 0.5 * np.cos(2 * np.pi * phase)
    freq = 220.0 * 2.0 ** (7.0 / 12.0 * breath)
    theta = 2 * np.pi * np.cumsum(freq) / SAMPLE_RATE
    tone = np.sin(theta) + 0.25 * np.sin(2 * theta) + 0.08 * np.sin(3 * theta)
    t = np.arange(n) / SAMPLE_RATE
    fade = min(0.3, cycle_s / 4)
    edge = np.clip(np.minimum(t, cycle_s - t) / fade, 0.0, 1.0)
    return to_int16(tone * (0.5 + 0.5 * breath) * np.sin(0.5 * np.pi * edge) ** 2, rms=LOOP_RMS)


# ----------------------------------------------------------------------------- cues
def cough(rng: np.random.Generator) -> Stereo:
    """A cough somewhere in the hall: two short voiced bursts."""
    burst = band_noise(rng, 0.35, 250.0, 2500.0, channels=1)[:, 0] * decay(0.35, 0.006, 0.06)
    x = place(0.7, [(0.0, burst), (0.24, 0.6 * burst)])
    pan = rng.uniform(0.2, 0.8)
    return to_int16(
        np.stack([x * math.sqrt(1 - pan), x * math.sqrt(pan)], 1),
        peak=CUE_PEAKS["cough"],
        fade_s=CUE_FADE_S,
    )


def shuffle(rng: np.random.Generator) -> Stereo:
    """Someone shifting in a seat: three soft scrapes."""
    secs = 0.9
    t = np.arange(_n(secs)) / SAMPLE_RATE
    env = np.zeros_like(t)
    for c, a in ((0.12, 1.0), (0.38, 0.7), (0.62, 0.5)):
        env += a * np.exp(-(((t - c) / 0.05) ** 2))
    x = band_noise(rng, secs, 700.0, 6000.0, channels=1)[:, 0] * env
    return to_int16(x, peak=CUE_PEAKS["shuffle"], fade_s=CUE_FADE_S)


def chime(rng: np.random.Generator) -> Stereo:
    """The cabin announcement "bing-bong" (E5 then C5)."""
    del rng
    x = place(2.2, [(0.0, bell(659.25, 1.6, 0.45)), (0.55, bell(523.25, 1.65, 0.5))])
    return to_int16(x, peak=CUE_PEAKS["chime"], fade_s=CUE_FADE_S)


def throw(rng: np.random.Generator) -> Stereo:
    """A snowball whoosh."""
    secs = 0.35
    t = np.arange(_n(secs)) / SAMPLE_RATE
    x = band_noise(rng, secs, 400.0, 3500.0, channels=1)[:, 0] * np.sin(np.pi * t / secs) ** 2
    return to_int16(x, peak=CUE_PEAKS["throw"], fade_s=CUE_FADE_S)


def hit(rng: np.random.Generator) -> Stereo:
    """A scoring hit: a snowy thud and a bright two-note ding."""
    thud = band_noise(rng, 0.3, 60.0, 600.0, channels=1)[:, 0] * decay(0.3, 0.003, 0.05)
    x = place(
        0.8,
        [(0.0, thud), (0.02, 0.5 * bell(1318.5, 0.5, 0.18)), (0.11, 0.5 * bell(1760.0, 0.6, 0.22))],
    )
    return to_int16(x, peak=CUE_PEAKS["hit"], fade_s=CUE_FADE_S)


def reward(rng: np.random.Generator) -> Stereo:
    """A soft, slow major-triad chime (C6 E6 G6, staggered)."""
    del rng
    parts = [
        (i * 0.12, bell(f, 1.8, 0.7) * decay(1.8, 0.03, 10.0))
        for i, f in enumerate((1046.5, 1318.5, 1568.0))
    ]
    return to_int16(place(2.2, parts), peak=CUE_PEAKS["reward"], fade_s=CUE_FADE_S)


def ring(rng: np.random.Generator) -> Stereo:
    """A phone ringing in the audience: two trills of 440 + 480 Hz warbling at 20 Hz."""
    del rng
    secs = 0.45
    t = np.arange(_n(secs)) / SAMPLE_RATE
    tone = np.sin(2 * np.pi * 440.0 * t) + np.sin(2 * np.pi * 480.0 * t)
    trill = tone * (0.6 + 0.4 * np.sin(2 * np.pi * 20.0 * t)) * np.sin(np.pi * t / secs) ** 0.3
    x = place(1.5, [(0.0, trill), (0.7, trill)])
    return to_int16(x, peak=CUE_PEAKS["ring"], fade_s=CUE_FADE_S)


def jolt(rng: np.random.Generator) -> Stereo:
    """A turbulence jolt: a deep thump through the airframe and a rattle of the bins."""
    thump = band_noise(rng, 0.6, 25.0, 180.0, channels=1)[:, 0] * decay(0.6, 0.01, 0.15)
    rattle = band_noise(rng, 0.5, 1500.0, 6000.0, channels=1)[:, 0] * decay(0.5, 0.005, 0.08)
    x = place(1.0, [(0.0, thump), (0.05, 0.35 * rattle)])
    return to_int16(x, peak=CUE_PEAKS["jolt"], fade_s=CUE_FADE_S)


def gust(rng: np.random.Generator) -> Stereo:
    """A gust of wind: a broad whoosh that swells and dies away over 2.5 s."""
    secs = 2.5
    t = np.arange(_n(secs)) / SAMPLE_RATE
    x = band_noise(rng, secs, 150.0, 1500.0, channels=2) * (np.sin(np.pi * t / secs) ** 2)[:, None]
    return to_int16(x, peak=CUE_PEAKS["gust"], fade_s=CUE_FADE_S)


SYNTHS: Final[MappingProxyType[str, Callable[[np.random.Generator], Stereo]]] = MappingProxyType(
    {
        "murmur": murmur,
        "engine": engine,
        "rumble": rumble,
        "wind": wind,
        "traffic": traffic,
        "skitter": skitter,
        "cough": cough,
        "shuffle": shuffle,
        "chime": chime,
        "throw": throw,
        "hit": hit,
        "reward": reward,
        "ring": ring,
        "jolt": jolt,
        "gust": gust,
    }
)
"""Sound name -> synthesiser for every sound of a fixed length (all but ``pacer``)."""


def synthesise(name: str, seed: int = 0, cycle_s: float | None = None) -> Stereo:
    """The sound called ``name`` as ``(n, 2)`` int16 at :data:`SAMPLE_RATE`.

    Parameters
    ----------
    name
        A layer or cue sound (:data:`therapies.scenes.base.LAYER_SOUNDS`,
        :data:`~therapies.scenes.base.CUE_SOUNDS`).
    seed
        Seeds the noise (the same seed gives the same samples).
    cycle_s
        Length of one cycle, for ``pacer`` (required there, ignored elsewhere).

    Raises
    ------
    ValueError
        Unknown ``name``, or ``pacer`` without a positive ``cycle_s``.
    """
    if name == "pacer":
        if cycle_s is None or not cycle_s > 0.0:
            raise ValueError(f"synthesise('pacer'): cycle_s must be > 0, got {cycle_s!r}")
        return pacer(cycle_s)
    try:
        make = SYNTHS[name]
    except KeyError:
        known = ", ".join(sorted([*SYNTHS, "pacer"]))
        raise ValueError(f"synthesise: {name!r} is not one of {known}") from None
    return make(np.random.default_rng([seed, zlib.crc32(name.encode())]))


class SoundBank:
    """Sounds synthesised on first use and kept: each ``(name, cycle)`` is made once.

    Parameters
    ----------
    seed
        Seeds every sound's noise.
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._made: dict[tuple[str, float | None], Stereo] = {}

    def get(self, name: str, cycle_s: float | None = None) -> Stereo:
        """The samples of ``name`` (see :func:`synthesise`); read-only, shared."""
        key = (name, None if name != "pacer" else cycle_s)
        data = self._made.get(key)
        if data is None:
            data = synthesise(name, self.seed, cycle_s)
            data.flags.writeable = False
            self._made[key] = data
        return data
