"""Simulated patient ("digital twin"): a pure physiology model, no LSL, no wall clock.

The twin turns a scene intensity (0..1) into ECG (mV, 500 Hz) and EDA (µS, 32 Hz) with known
ground truth (R-peak times, SCR onsets, heart rate, tonic skin conductance), so that feature
extractors and controllers can be tested against something whose answer is known.

Model
-----
Everything is computed on fixed grids anchored at ``start_time``: the *model tick* is the
EDA sample grid ``start_time + k / eda_rate`` and ECG samples lie at ``start_time + n /
ecg_rate``. Results therefore do not depend on how :meth:`TwinPhysiology.advance` calls
are spaced (chunk invariance), and one seed gives one output.

Arousal ``a`` (0..1), updated every tick ``dt``::

    h  <- f + (h - f) * exp(-dt / habituation_tau)          # habituation, f = floor
    T   = clip(reactivity * intensity * h, 0, 1)             # target
    a  <- a + (T - a) * (1 - exp(-dt / response_lag))        # first-order lag

``h`` is the unhabituated fraction of the response (1 = fresh). At constant intensity it
decays from 1 toward ``habituation_floor``, so arousal peaks after ~``response_lag`` and then
declines over minutes. A step *up* from ``I0`` to ``I1`` re-raises it: the new part of
the intensity is fresh, ``h <- (I0 * h + (I1 - I0)) / I1``; the rule is the same for one big
step or many small ones (a smoothed ramp). A step down leaves ``h`` alone.

Heart: R peaks come from an RR process. At each beat ``k`` the heart rate ::

    HR_k = resting_hr + max_hr_gain * a + hrv_rsa_bpm * sin(2 pi f_breath (t_k - t0)) + x_k

(clipped to 30..200 bpm) sets the next interval ``RR_k = 60 / HR_k``; ``x_k`` is an AR(1)
process (coefficient 0.9, standard deviation ``hrv_sd_bpm``) for the slower random
variability. The ECG is a sum of Gaussian waves per beat in the spirit of McSharry et al.
(2003): P, Q, R (~1.2 mV), S and T, with the QRS ~90 ms wide and the T wave delayed by
Bazett scaling ``sqrt(RR)``, plus respiratory and slow baseline wander and white noise
(``ecg_noise_mv``). Because each beat's time is fixed one beat ahead and every wave is cut
at 4 sigma, a sample never depends on a beat that is not decided yet.

Skin: the tonic level follows arousal with its own slow lag, ``scl <- scl + (resting_scl +
max_scl_gain * a - scl) * (1 - exp(-dt / scl_lag))``. Phasic skin conductance responses
start as a Poisson process with rate ``scr_rate_rest + (scr_rate_max - scr_rate_rest) * a``
per minute; each adds a bi-exponential (Bateman) shape, rise 0.75 s and decay 2 s time
constants, normalised to a peak of ``scr_amplitude`` times a log-normal factor (sd 0.3).
Onsets fall on model ticks (31.25 ms at 32 Hz). White noise ``eda_noise_us`` is added.

Intensity set with :meth:`TwinPhysiology.set_intensity` applies to the ticks after
:attr:`TwinPhysiology.now`. Dry runs need no LSL::

    clock = ManualClock(0.0)
    twin = TwinPhysiology(TwinProfile(), start_time=clock.now(), seed=1)
    twin.set_intensity(0.4)
    chunk = twin.advance(clock.advance(1 / 60))   # one frame's samples and ground truth
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pydantic
from pydantic import Field

from biosignals.errors import SignalError

__all__ = ["TwinChunk", "TwinPhysiology", "TwinProfile"]


class TwinProfile(pydantic.BaseModel, frozen=True, extra="forbid"):
    """How one simulated patient reacts; every field has a default and a range."""

    name: str = Field(default="typical", min_length=1, description="profile name")
    resting_hr: float = Field(default=70.0, ge=40, le=120, description="heart rate at rest, bpm")
    max_hr_gain: float = Field(default=45.0, ge=0, le=100, description="bpm added at arousal 1")
    resting_scl: float = Field(default=4.0, ge=0.5, le=40, description="tonic SCL at rest, µS")
    max_scl_gain: float = Field(default=4.0, ge=0, le=30, description="µS added at arousal 1")
    scl_lag: float = Field(default=15.0, ge=1, le=300, description="tonic SCL lag, s")
    scr_rate_rest: float = Field(default=1.0, ge=0, le=30, description="SCRs per minute at rest")
    scr_rate_max: float = Field(default=8.0, ge=0, le=60, description="SCRs/min at arousal 1")
    scr_amplitude: float = Field(default=0.3, ge=0.01, le=3, description="typical SCR peak, µS")
    reactivity: float = Field(default=1.0, ge=0, le=3, description="arousal per unit intensity")
    response_lag: float = Field(default=8.0, ge=0.1, le=120, description="arousal lag, s")
    habituation_tau: float = Field(default=240.0, ge=5, le=3600, description="habituation, s")
    habituation_floor: float = Field(
        default=0.5, ge=0, le=1, description="fraction of the response left after full habituation"
    )
    hrv_rsa_bpm: float = Field(default=4.0, ge=0, le=20, description="respiratory sinus arrhythmia")
    hrv_sd_bpm: float = Field(default=1.5, ge=0, le=10, description="random HR variability (sd)")
    breathing_rate: float = Field(default=12.0, ge=4, le=30, description="breaths per minute")
    ecg_noise_mv: float = Field(default=0.02, ge=0, le=0.5, description="ECG white noise sd, mV")
    eda_noise_us: float = Field(default=0.005, ge=0, le=0.2, description="EDA white noise sd, µS")

    @pydantic.model_validator(mode="after")
    def _rates_ordered(self) -> TwinProfile:
        if self.scr_rate_max < self.scr_rate_rest:
            raise ValueError(
                f"scr_rate_max ({self.scr_rate_max}) must be >= scr_rate_rest "
                f"({self.scr_rate_rest})"
            )
        return self


@dataclass(frozen=True)
class TwinChunk:
    """Samples and ground truth generated by one :meth:`TwinPhysiology.advance` call."""

    ecg: np.ndarray  #: ECG, mV
    ecg_t: np.ndarray  #: ECG timestamps, s
    eda: np.ndarray  #: skin conductance, µS
    eda_t: np.ndarray  #: EDA timestamps, s
    beat_times: np.ndarray  #: true R-peak times in this chunk, s
    scr_onsets: np.ndarray  #: true SCR onset times in this chunk, s


# PQRST waves: (offset from R in s, amplitude in mV, width sigma in s, Bazett-scaled?)
_WAVES = (
    (-0.17, 0.15, 0.025, False),  # P
    (-0.035, -0.12, 0.010, False),  # Q
    (0.0, 1.2, 0.012, False),  # R
    (0.035, -0.25, 0.012, False),  # S
    (0.26, 0.30, 0.045, True),  # T
)
_CUT_SIGMAS = 4.0
_BEAT_BEFORE = 0.17 + _CUT_SIGMAS * 0.025  # earliest wave start before R, s
_BEAT_AFTER = 0.26 * math.sqrt(2.0) + _CUT_SIGMAS * 0.045  # latest wave end after R, s
_HR_MIN, _HR_MAX = 30.0, 200.0  # 60/200 = 0.3 s > _BEAT_BEFORE keeps chunk invariance
_AR_COEF = 0.9
_SCR_RISE, _SCR_DECAY, _SCR_SPAN = 0.75, 2.0, 30.0
_SCR_PEAK_T = math.log(_SCR_DECAY / _SCR_RISE) * _SCR_RISE * _SCR_DECAY / (_SCR_DECAY - _SCR_RISE)
_SCR_NORM = math.exp(-_SCR_PEAK_T / _SCR_DECAY) - math.exp(-_SCR_PEAK_T / _SCR_RISE)
_WANDER_MV = (0.05, 0.03)  # respiratory, slow (0.05 Hz) baseline wander amplitudes


class TwinPhysiology:
    """Pure, deterministic physiology of one simulated patient.

    Parameters
    ----------
    profile
        How the patient reacts.
    start_time
        Time (s, any clock, e.g. LSL or a ManualClock) at which the simulation starts.
    ecg_rate, eda_rate
        Sampling rates in Hz; ``eda_rate`` is also the model tick.
    seed
        Random seed; same seed and intensity schedule give the same samples.
    """

    def __init__(
        self,
        profile: TwinProfile,
        *,
        start_time: float,
        ecg_rate: float = 500.0,
        eda_rate: float = 32.0,
        seed: int = 0,
    ) -> None:
        if ecg_rate <= 0 or eda_rate <= 0:
            raise SignalError(f"twin rates must be > 0 (ecg {ecg_rate}, eda {eda_rate})")
        self.profile = profile
        self.start_time = float(start_time)
        self.ecg_rate = float(ecg_rate)
        self.eda_rate = float(eda_rate)
        rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
        self._rng_rr, self._rng_scr, self._rng_amp, self._rng_ecg, self._rng_eda = rngs[:5]
        self._phase = rngs[5].uniform(0.0, 2.0 * math.pi, size=2)
        self._until = self.start_time
        self._tick = 0  # last processed model tick
        self._ecg_n = 0  # last generated ECG sample index
        self._intensity = 0.0
        self._h = 1.0
        self._arousal = 0.0
        self._scl = profile.resting_scl
        self._ar = 0.0
        self._hr = self._heart_rate(self.start_time, 0.0)
        first_rr = 60.0 / self._hr
        self._next_beat = self.start_time + float(self._rng_rr.uniform(0.0, first_rr))
        self._beats: list[tuple[float, float]] = []  # (R time, preceding RR) still visible
        self._last_rr = first_rr
        self._scrs: list[tuple[float, float]] = []  # (onset, peak amplitude) still visible

    # ------------------------------------------------------------------ public
    @property
    def now(self) -> float:
        """Time up to which the twin has been advanced, s."""
        return self._until

    @property
    def intensity(self) -> float:
        """Intensity currently in effect (0..1)."""
        return self._intensity

    @property
    def arousal(self) -> float:
        """Internal arousal state (0..1) at the last model tick."""
        return self._arousal

    @property
    def true_heart_rate(self) -> float:
        """Current true heart rate, bpm (the rate that sets the next RR interval)."""
        return self._hr

    @property
    def true_scl(self) -> float:
        """Current tonic skin conductance level, µS (without phasic responses and noise)."""
        return self._scl

    def set_intensity(self, intensity: float) -> None:
        """Set the scene intensity (0..1) in effect from :attr:`now` on."""
        if not math.isfinite(intensity) or not 0.0 <= intensity <= 1.0:
            raise SignalError(f"twin intensity must be within 0..1, got {intensity}")
        old = self._intensity
        if intensity > old:
            self._h = (old * self._h + (intensity - old)) / intensity
        self._intensity = float(intensity)

    def advance(self, until: float) -> TwinChunk:
        """Generate every sample with a timestamp in ``(now, until]``.

        Raises
        ------
        SignalError
            If ``until`` is earlier than :attr:`now`.
        """
        if until < self._until:
            raise SignalError(f"twin cannot go back in time ({until} < {self._until})")
        before = self._arousal
        ticks_t, arousal, tonic = self._advance_state(until)
        beats = self._advance_beats(until, ticks_t, arousal, before)
        onsets = self._advance_scr_onsets(ticks_t, arousal)
        eda = self._eda_samples(ticks_t, tonic)
        ecg_t, ecg = self._ecg_samples(until)
        self._until = float(until)
        return TwinChunk(ecg, ecg_t, eda, ticks_t.copy(), beats, onsets)

    # ------------------------------------------------------------------ state
    def _last_index(self, until: float, rate: float) -> int:
        return math.floor((until - self.start_time) * rate + 1e-9)

    def _advance_state(self, until: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Arousal and tonic SCL on the model ticks in (now, until]."""
        p = self.profile
        last = self._last_index(until, self.eda_rate)
        ticks_t = self.start_time + np.arange(self._tick + 1, last + 1) / self.eda_rate
        dt = 1.0 / self.eda_rate
        hab = math.exp(-dt / p.habituation_tau)
        lag = 1.0 - math.exp(-dt / p.response_lag)
        scl_lag = 1.0 - math.exp(-dt / p.scl_lag)
        floor, drive = p.habituation_floor, p.reactivity * self._intensity
        h, a, scl = self._h, self._arousal, self._scl
        arousal = np.empty(ticks_t.size)
        tonic = np.empty(ticks_t.size)
        for k in range(ticks_t.size):
            h = floor + (h - floor) * hab
            a += (min(1.0, max(0.0, drive * h)) - a) * lag
            scl += (p.resting_scl + p.max_scl_gain * a - scl) * scl_lag
            arousal[k] = a
            tonic[k] = scl
        self._h, self._arousal, self._scl, self._tick = h, a, scl, last
        return ticks_t, arousal, tonic

    def _heart_rate(self, t: float, arousal: float) -> float:
        p = self.profile
        phase = 2.0 * math.pi * p.breathing_rate / 60.0 * (t - self.start_time)
        hr = p.resting_hr + p.max_hr_gain * arousal + p.hrv_rsa_bpm * math.sin(phase) + self._ar
        return min(_HR_MAX, max(_HR_MIN, hr))

    def _advance_beats(
        self, until: float, ticks_t: np.ndarray, arousal: np.ndarray, before: float
    ) -> np.ndarray:
        """Fire every beat due by ``until``; each one schedules the next (RR process)."""
        sd_innov = self.profile.hrv_sd_bpm * math.sqrt(1.0 - _AR_COEF**2)
        found = []
        while self._next_beat <= until:
            t = self._next_beat
            found.append(t)
            self._beats.append((t, self._last_rr))
            k = int(np.searchsorted(ticks_t, t, side="right")) - 1
            a = float(arousal[k]) if k >= 0 else before
            self._ar = _AR_COEF * self._ar + sd_innov * float(self._rng_rr.standard_normal())
            self._last_rr = 60.0 / self._heart_rate(t, a)
            self._next_beat = t + self._last_rr
        self._hr = self._heart_rate(until, self._arousal)
        return np.asarray(found, dtype=np.float64)

    def _ecg_samples(self, until: float) -> tuple[np.ndarray, np.ndarray]:
        """ECG samples in (now, until]: PQRST of every visible beat, wander, noise."""
        first, last = self._ecg_n + 1, self._last_index(until, self.ecg_rate)
        self._ecg_n = max(self._ecg_n, last)
        t = self.start_time + np.arange(first, last + 1) / self.ecg_rate
        if t.size == 0:
            return t, np.zeros(0)
        self._beats = [b for b in self._beats if b[0] + _BEAT_AFTER >= t[0]]
        ecg = np.zeros(t.size)
        for r_time, rr in [*self._beats, (self._next_beat, self._last_rr)]:
            for offset, amp, sigma, bazett in _WAVES:
                centre = r_time + (offset * math.sqrt(rr) if bazett else offset)
                # the wave's support, in global sample indices (the same for any chunking)
                lo = math.ceil((centre - _CUT_SIGMAS * sigma - self.start_time) * self.ecg_rate)
                hi = math.floor((centre + _CUT_SIGMAS * sigma - self.start_time) * self.ecg_rate)
                lo, hi = max(lo, first) - first, min(hi, last) - first + 1
                if lo < hi:
                    z = (t[lo:hi] - centre) / sigma
                    ecg[lo:hi] += amp * np.exp(-0.5 * z * z)
        p = self.profile
        rel = t - self.start_time
        ecg += _WANDER_MV[0] * np.sin(2.0 * np.pi * p.breathing_rate / 60.0 * rel + self._phase[0])
        ecg += _WANDER_MV[1] * np.sin(2.0 * np.pi * 0.05 * rel + self._phase[1])
        ecg += p.ecg_noise_mv * self._rng_ecg.standard_normal(t.size)
        return t, ecg

    def _advance_scr_onsets(self, ticks_t: np.ndarray, arousal: np.ndarray) -> np.ndarray:
        """Poisson SCR onsets on the model ticks; rate rises with arousal."""
        p = self.profile
        rate = (p.scr_rate_rest + (p.scr_rate_max - p.scr_rate_rest) * arousal) / 60.0
        prob = 1.0 - np.exp(-rate / self.eda_rate)
        fired = self._rng_scr.random(ticks_t.size) < prob
        onsets = ticks_t[fired]
        amps = p.scr_amplitude * np.exp(0.3 * self._rng_amp.standard_normal(onsets.size))
        self._scrs.extend(zip(onsets.tolist(), amps.tolist(), strict=True))
        return onsets

    def _eda_samples(self, ticks_t: np.ndarray, tonic: np.ndarray) -> np.ndarray:
        """Tonic level plus every visible SCR (Bateman shape) plus noise, per model tick."""
        if ticks_t.size == 0:
            return np.zeros(0)
        self._scrs = [s for s in self._scrs if s[0] + _SCR_SPAN >= ticks_t[0]]
        eda = tonic.copy()
        for onset, amp in self._scrs:
            lo = int(np.searchsorted(ticks_t, onset, side="left"))
            hi = int(np.searchsorted(ticks_t, onset + _SCR_SPAN, side="right"))
            x = ticks_t[lo:hi] - onset
            shape = np.exp(-x / _SCR_DECAY) - np.exp(-x / _SCR_RISE)
            eda[lo:hi] += amp / _SCR_NORM * shape
        eda += self.profile.eda_noise_us * self._rng_eda.standard_normal(ticks_t.size)
        return eda
