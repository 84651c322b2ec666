"""The synthetic person every bridge emulator measures: known heart rate and skin conductance.

One :class:`Truth` is a deterministic function of its start time ``t0`` (LSL clock) and
its seed, so the test process can rebuild exactly what an emulator in another process
published and compare the engine's recording with it.

Heart: the heart rate ramps linearly from ``hr_start`` to ``hr_end`` over ``ramp_s``
seconds and then holds; beats follow it with a respiratory sinus arrhythmia of
``rsa_bpm`` at ``breath_hz`` (RMSSD ~20 ms, a resting adult's). :meth:`Truth.hr` is the
ramp (what a heart rate *is* at an instant; the arrhythmia averages out).
ECG: the PQRST Gaussian waves of :mod:`biosignals._twin_waves` (R ~1.2 mV) at each beat.
PPG: from 0.22 s after each R peak a systolic rise, an exponential run-off and a dicrotic
wave, blood volume upward, about 0..1 (unitless; each device scales it).

Skin: tonic level ramping from ``scl_start`` to ``scl_end`` µS over ``ramp_s``
(:meth:`Truth.scl`), plus skin conductance responses (Bateman shape, rise 0.75 s, decay
2 s) of 0.15-0.35 µS every 8-16 s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from biosignals._twin_waves import WAVES

__all__ = ["Truth", "TruthProfile"]

_PTT = 0.22  # pulse arrival time, R peak -> systolic upstroke of the PPG, s
_TAU_RISE, _TAU_DECAY = 0.75, 2.0


@dataclass(frozen=True)
class TruthProfile:
    """Shape of the synthetic physiology (defaults: the issue's 65->80 bpm, 4->6 µS)."""

    hr_start: float = 65.0
    hr_end: float = 80.0
    scl_start: float = 4.0
    scl_end: float = 6.0
    ramp_s: float = 90.0
    rsa_bpm: float = 1.5
    breath_hz: float = 0.25
    scr_every: tuple[float, float] = (8.0, 16.0)
    scr_amplitude: tuple[float, float] = (0.15, 0.35)


def _bateman_peak() -> float:
    t_peak = math.log(_TAU_DECAY / _TAU_RISE) * _TAU_DECAY * _TAU_RISE / (_TAU_DECAY - _TAU_RISE)
    return math.exp(-t_peak / _TAU_DECAY) - math.exp(-t_peak / _TAU_RISE)


class Truth:
    """Known physiology from ``t0`` on (LSL clock seconds); vectorised over sample times.

    Parameters
    ----------
    t0
        Start of the truth (the emulator's start), LSL clock.
    seed
        Seeds the SCR times and sizes.
    profile
        The shape (ramps, arrhythmia, SCRs).
    span
        Seconds of beats and SCRs prepared (the emulator stops publishing after it).
    """

    def __init__(
        self, t0: float, seed: int = 0, profile: TruthProfile | None = None, span: float = 900.0
    ) -> None:
        self.t0, self.seed, self.span = float(t0), int(seed), float(span)
        self.profile = profile or TruthProfile()
        self.beats = self._make_beats()
        rng = np.random.default_rng(self.seed)
        onsets, t = [], self.t0 + 5.0
        while t < self.t0 + self.span:
            onsets.append(t)
            t += float(rng.uniform(*self.profile.scr_every))
        self.scr_onsets = np.asarray(onsets)
        self.scr_amplitudes = rng.uniform(*self.profile.scr_amplitude, size=len(onsets))

    def _progress(self, t: np.ndarray) -> np.ndarray:
        return np.clip((np.asarray(t, dtype=np.float64) - self.t0) / self.profile.ramp_s, 0, 1)

    def hr(self, t: np.ndarray | float) -> np.ndarray:
        """True heart rate (bpm) at LSL times ``t``."""
        p = self.profile
        return p.hr_start + (p.hr_end - p.hr_start) * self._progress(np.asarray(t))

    def scl(self, t: np.ndarray | float) -> np.ndarray:
        """True tonic skin conductance level (µS) at LSL times ``t``."""
        p = self.profile
        return p.scl_start + (p.scl_end - p.scl_start) * self._progress(np.asarray(t))

    def _make_beats(self) -> np.ndarray:
        p = self.profile
        times, t = [], self.t0 + 0.4
        while t < self.t0 + self.span:
            times.append(t)
            rsa = p.rsa_bpm * math.sin(2 * math.pi * p.breath_hz * (t - self.t0))
            rate = float(self.hr(t)) + rsa
            t += 60.0 / rate
        return np.asarray(times)

    def beats_between(self, start: float, end: float) -> np.ndarray:
        """R-peak times in ``(start, end]``."""
        lo, hi = np.searchsorted(self.beats, [start, end], side="right")
        return self.beats[lo:hi]

    def _near(self, t: np.ndarray, before: float, after: float) -> np.ndarray:
        lo = np.searchsorted(self.beats, float(t.min()) - after)
        hi = np.searchsorted(self.beats, float(t.max()) + before, side="right")
        return self.beats[lo:hi]

    def ecg(self, t: np.ndarray) -> np.ndarray:
        """Noise-free ECG in mV at times ``t`` (PQRST waves, T wave Bazett-scaled)."""
        t = np.asarray(t, dtype=np.float64)
        out = np.zeros(t.shape)
        if not t.size:
            return out
        near = self._near(t, before=0.4, after=0.8)
        for r in near:
            k = int(np.searchsorted(self.beats, r))
            rr = float(self.beats[k] - self.beats[k - 1]) if k else 60.0 / float(self.hr(r))
            for offset, amp, sigma, bazett in WAVES:
                centre = r + (offset * math.sqrt(rr) if bazett else offset)
                window = np.abs(t - centre) < 4 * sigma
                if window.any():
                    z = (t[window] - centre) / sigma
                    out[window] += amp * np.exp(-0.5 * z * z)
        return out

    def ppg(self, t: np.ndarray) -> np.ndarray:
        """Noise-free pulse wave, blood volume upward, about 0..1, at times ``t``.

        Per beat, from ``_PTT`` after the R peak: a systolic rise (~0.1 s) and an
        exponential run-off (time constant 0.35 s) with a dicrotic wave 0.3 s after the
        upstroke; the run-off of each pulse continues under the next, as in a real PPG.
        """
        t = np.asarray(t, dtype=np.float64)
        out = np.zeros(t.shape)
        if not t.size:
            return out
        for r in self._near(t, before=1.0, after=_PTT + 3.0):
            tau = t - r - _PTT
            on = tau > 0
            if on.any():
                x = tau[on]
                out[on] += (1 - np.exp(-x / 0.05)) ** 2 * np.exp(-x / 0.35) * 1.6
                out[on] += 0.15 * np.exp(-0.5 * ((x - 0.3) / 0.06) ** 2)
        return out

    def eda(self, t: np.ndarray) -> np.ndarray:
        """Noise-free skin conductance in µS (tonic level plus SCRs) at times ``t``."""
        t = np.asarray(t, dtype=np.float64)
        out = self.scl(t).astype(np.float64)
        if not t.size:
            return out
        peak = _bateman_peak()
        lo = np.searchsorted(self.scr_onsets, float(t.min()) - 30.0)
        hi = np.searchsorted(self.scr_onsets, float(t.max()), side="right")
        for onset, amp in zip(self.scr_onsets[lo:hi], self.scr_amplitudes[lo:hi], strict=True):
            tau = np.clip(t - onset, 0.0, None)
            shape = np.exp(-tau / _TAU_DECAY) - np.exp(-tau / _TAU_RISE)
            out += amp / peak * shape
        return out

    def rr_ms(self, beats: np.ndarray) -> np.ndarray:
        """RR interval (ms) ending at each of ``beats`` (R-peak times from :attr:`beats`)."""
        idx = np.searchsorted(self.beats, beats)
        prev = self.beats[np.maximum(idx - 1, 0)]
        return np.where(idx > 0, (beats - prev) * 1000.0, np.nan)
