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

Ectopic beats: after a sinus beat, with probability ``ectopic_rate_per_min / HR`` the next
beat is a premature ventricular contraction, ``ectopic_prematurity`` of an RR early (at least
0.3 s), with a wide QRS, no P wave and an inverted T, then a full compensatory pause (next
sinus beat two RR after the last one). ``beat_times`` include them; ``ectopic_times`` lists them.

Sensor faults (``noisy-sensors``): dropouts start per stream as a Poisson process
(``dropout_rate_per_hour``) on the model ticks and last ``dropout_duration``; the chunk
simply lacks those samples. Motion artefacts (``artifact_rate_per_hour``) add a 2 s
Hann-windowed 1.3 Hz swing to the ECG (``artifact_mv``) and a bump to the EDA
(``artifact_us``), sizes varying by 30 %.

Pain (for distraction): ``pain <- pain + (pain_level * (1 - pain_relief * intensity) - pain)
* (1 - exp(-dt / pain_lag))`` per tick, and ``pain_arousal * pain / 10`` is added to the
arousal target. :meth:`TwinPhysiology.pain_nrs` and :meth:`TwinPhysiology.suds` give the
ratings a patient would report (a dry-run answers prompts with them).

Paced breathing (HRV biofeedback): :meth:`TwinPhysiology.set_paced_breathing` moves a share
``adherence`` of the RSA to the pacer rate, amplified near ``resonance_rate`` and by the
reward shown (the intensity); while pacing, intensity does not drive arousal.

Course of treatment: a profile's course fields (:mod:`biosignals.twin_profile`) make the
twin play session ``n`` of a course: reactivity ``* (1 - between_session_rate) ** n``
(between-session habituation) and that day's resting HR and SCL shifts. The defaults
(session 0, no shifts) leave the model above exactly as it is. :mod:`biosignals.twin_mean`
computes the model's deterministic mean response (no noise, no beats) fast, for fitting.

Intensity set with :meth:`TwinPhysiology.set_intensity` applies to the ticks after
:attr:`TwinPhysiology.now`. Dry runs need no LSL::

    clock = ManualClock(0.0)
    twin = TwinPhysiology(TwinProfile(), start_time=clock.now(), seed=1)
    twin.set_intensity(0.4)
    chunk = twin.advance(clock.advance(1 / 60))   # one frame's samples and ground truth
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from biosignals._twin_waves import BEAT_AFTER, pqrst
from biosignals.errors import SignalError
from biosignals.twin_profile import TwinProfile

__all__ = ["TwinChunk", "TwinPhysiology", "TwinProfile"]


def _empty() -> np.ndarray:
    return np.zeros(0)


@dataclass(frozen=True)
class TwinChunk:
    """Samples and ground truth generated by one :meth:`TwinPhysiology.advance` call.

    During a sensor dropout the stream's arrays simply lack those samples.
    """

    ecg: np.ndarray  #: ECG, mV
    ecg_t: np.ndarray  #: ECG timestamps, s
    eda: np.ndarray  #: skin conductance, µS
    eda_t: np.ndarray  #: EDA timestamps, s
    beat_times: np.ndarray  #: true R-peak times in this chunk (PVCs included), s
    scr_onsets: np.ndarray  #: true SCR onset times in this chunk, s
    ectopic_times: np.ndarray = field(default_factory=_empty)  #: PVC times among beat_times, s


_PVC_MIN_COUPLING = 0.3  # s; > the PVC's earliest wave (4 sigma = 0.12 s) before its R
_ART_SPAN = 2.0  # s, one motion artefact
_RES_WIDTH = 1.5  # breaths/min, width of the RSA resonance curve
_HR_MIN, _HR_MAX = 30.0, 200.0  # 60/200 = 0.3 s > BEAT_BEFORE (_twin_waves) keeps chunk invariance
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
        How the patient reacts; a course profile plays its ``session``
        (:meth:`TwinProfile.in_session`, kept as :attr:`profile`).
    start_time
        Time (s, any clock, e.g. LSL or a ManualClock) at which the simulation starts.
    ecg_rate, eda_rate
        Sampling rates in Hz; ``eda_rate`` is also the model tick.
    seed
        Random seed; same seed and intensity schedule give the same samples.
    ecg
        Generate the ECG waveform; ``False`` leaves ``ecg``/``ecg_t`` empty (beats, EDA
        and the ground truth are unchanged), for fast forecasts that read beats only.
    """

    def __init__(
        self,
        profile: TwinProfile,
        *,
        start_time: float,
        ecg_rate: float = 500.0,
        eda_rate: float = 32.0,
        seed: int = 0,
        ecg: bool = True,
    ) -> None:
        if ecg_rate <= 0 or eda_rate <= 0:
            raise SignalError(f"twin rates must be > 0 (ecg {ecg_rate}, eda {eda_rate})")
        profile = profile.in_session()
        self.profile = profile
        self._ecg_on = bool(ecg)
        self.start_time = float(start_time)
        self.ecg_rate = float(ecg_rate)
        self.eda_rate = float(eda_rate)
        rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(10)]
        self._rng_rr, self._rng_scr, self._rng_amp, self._rng_ecg, self._rng_eda = rngs[:5]
        self._phase = rngs[5].uniform(0.0, 2.0 * math.pi, size=2)
        # one generator per kind of draw, so chunking never reorders draws
        self._rng_ect, self._rng_drop, self._rng_art, self._rng_art_amp = rngs[6:10]
        self._gaps: dict[str, list[tuple[float, float]]] = {"ecg": [], "eda": []}
        self._artifacts: list[tuple[float, float, float]] = []  # (onset, ECG mV, EDA µS)
        self._paced: tuple[float, float] | None = None  # (breaths/min, adherence)
        self._pain = profile.pain_level
        self._next_ectopic = False
        self._after_pvc = 0.0
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
        self._beats: list[tuple[float, float, bool]] = []  # (R time, prev. RR, PVC?) visible
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

    @property
    def paced_breathing(self) -> tuple[float, float] | None:
        """``(breaths per minute, adherence)`` while following a pacer, else ``None``."""
        return self._paced

    def pain_nrs(self) -> int:
        """Pain the patient would report now on a 0-10 numeric rating scale.

        Pain follows ``pain_level * (1 - pain_relief * intensity)`` with lag ``pain_lag``
        (intensity = engagement of a distraction scene). Pure: no random draw.
        """
        return round(min(10.0, max(0.0, self._pain)))

    def suds(self) -> int:
        """Distress the patient would report now, 0-100: ``100 * suds_scale * arousal``."""
        return round(100.0 * min(1.0, max(0.0, self.profile.suds_scale * self._arousal)))

    def set_paced_breathing(
        self, rate_per_min: float | None, adherence: float | None = None
    ) -> None:
        """Follow a breathing pacer from :attr:`now` on (``None``: breathe freely again).

        While pacing, a share ``adherence`` (default: the profile's ``pacer_adherence``) of
        the respiratory sinus arrhythmia oscillates at ``rate_per_min``, the rest at the own
        ``breathing_rate``; the paced part grows by up to ``resonance_gain`` times near
        ``resonance_rate`` and with the feedback shown (the intensity, read as reward 0..1).
        The intensity then does not drive arousal (the pacer scene is not a threat).

        Raises
        ------
        SignalError
            Rate outside 2..30 breaths/min or adherence outside 0..1.
        """
        if rate_per_min is None:
            self._paced = None
            return
        share = self.profile.pacer_adherence if adherence is None else adherence
        if not (math.isfinite(rate_per_min) and 2.0 <= rate_per_min <= 30.0):
            raise SignalError(f"paced breathing rate must be 2..30 /min, got {rate_per_min}")
        if not (math.isfinite(share) and 0.0 <= share <= 1.0):
            raise SignalError(f"pacer adherence must be within 0..1, got {share}")
        self._paced = (float(rate_per_min), float(share))

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
        self._advance_faults(ticks_t)
        beats, ectopic = self._advance_beats(until, ticks_t, arousal, before)
        onsets = self._advance_scr_onsets(ticks_t, arousal)
        eda = self._eda_samples(ticks_t, tonic)
        ecg_t, ecg = self._ecg_samples(until)
        self._until = float(until)
        keep_ecg, keep_eda = self._present("ecg", ecg_t), self._present("eda", ticks_t)
        return TwinChunk(
            ecg[keep_ecg], ecg_t[keep_ecg], eda[keep_eda], ticks_t[keep_eda], beats, onsets, ectopic
        )

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
        if self._paced is not None:
            drive = 0.0
        pain_lag = 1.0 - math.exp(-dt / p.pain_lag)
        pain_target = p.pain_level * (1.0 - p.pain_relief * self._intensity)
        pain_gain = p.pain_arousal / 10.0
        h, a, scl, pain = self._h, self._arousal, self._scl, self._pain
        arousal = np.empty(ticks_t.size)
        tonic = np.empty(ticks_t.size)
        for k in range(ticks_t.size):
            h = floor + (h - floor) * hab
            pain += (pain_target - pain) * pain_lag
            a += (min(1.0, max(0.0, drive * h + pain_gain * pain)) - a) * lag
            scl += (p.resting_scl + p.max_scl_gain * a - scl) * scl_lag
            arousal[k] = a
            tonic[k] = scl
        self._h, self._arousal, self._scl, self._tick = h, a, scl, last
        self._pain = pain
        return ticks_t, arousal, tonic

    def _rsa(self, t: float) -> float:
        """Respiratory sinus arrhythmia at ``t``, bpm (own rhythm and, if any, the pacer's)."""
        p = self.profile
        rel = t - self.start_time
        own = p.hrv_rsa_bpm * math.sin(2.0 * math.pi * p.breathing_rate / 60.0 * rel)
        if self._paced is None:
            return own
        rate, share = self._paced
        resonance = math.exp(-0.5 * ((rate - p.resonance_rate) / _RES_WIDTH) ** 2)
        boost = 1.0 + p.resonance_gain * resonance * (0.5 + 0.5 * self._intensity)
        paced = p.hrv_rsa_bpm * boost * math.sin(2.0 * math.pi * rate / 60.0 * rel)
        return share * paced + (1.0 - share) * own

    def _heart_rate(self, t: float, arousal: float) -> float:
        p = self.profile
        hr = p.resting_hr + p.max_hr_gain * arousal + self._rsa(t) + self._ar
        return min(_HR_MAX, max(_HR_MIN, hr))

    def _advance_beats(
        self, until: float, ticks_t: np.ndarray, arousal: np.ndarray, before: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Fire every beat due by ``until``; each one schedules the next (RR process).

        After a sinus beat, with probability ``ectopic_rate_per_min / HR`` the next beat is
        a PVC, ``ectopic_prematurity`` of an RR early, followed by a full compensatory
        pause (the next sinus beat two RR after the last one). Returns all beat times and
        the PVC times among them.
        """
        p = self.profile
        sd_innov = p.hrv_sd_bpm * math.sqrt(1.0 - _AR_COEF**2)
        found, ectopic = [], []
        while self._next_beat <= until:
            t = self._next_beat
            found.append(t)
            if self._ecg_on:
                self._beats.append((t, self._last_rr, self._next_ectopic))
            if self._next_ectopic:
                ectopic.append(t)
                self._next_ectopic = False
                self._next_beat, self._last_rr = self._after_pvc, self._after_pvc - t
                continue
            k = int(np.searchsorted(ticks_t, t, side="right")) - 1
            a = float(arousal[k]) if k >= 0 else before
            self._ar = _AR_COEF * self._ar + sd_innov * float(self._rng_rr.standard_normal())
            hr = self._heart_rate(t, a)
            rr = 60.0 / hr
            if p.ectopic_rate_per_min > 0 and self._rng_ect.random() < p.ectopic_rate_per_min / hr:
                coupling = max(_PVC_MIN_COUPLING, rr * (1.0 - p.ectopic_prematurity))
                self._next_ectopic, self._after_pvc = True, t + 2.0 * rr
                rr = coupling
            self._last_rr = rr
            self._next_beat = t + rr
        self._hr = self._heart_rate(until, self._arousal)
        return np.asarray(found, dtype=np.float64), np.asarray(ectopic, dtype=np.float64)

    def _ecg_samples(self, until: float) -> tuple[np.ndarray, np.ndarray]:
        """ECG samples in (now, until]: PQRST of every visible beat, wander, noise."""
        first, last = self._ecg_n + 1, self._last_index(until, self.ecg_rate)
        self._ecg_n = max(self._ecg_n, last)
        if not self._ecg_on:
            return np.zeros(0), np.zeros(0)
        t = self.start_time + np.arange(first, last + 1) / self.ecg_rate
        if t.size == 0:
            return t, np.zeros(0)
        self._beats = [b for b in self._beats if b[0] + BEAT_AFTER >= t[0]]
        beats = [*self._beats, (self._next_beat, self._last_rr, self._next_ectopic)]
        ecg = pqrst(t, first, beats, self.start_time, self.ecg_rate)
        p = self.profile
        rel = t - self.start_time
        ecg += _WANDER_MV[0] * np.sin(2.0 * np.pi * p.breathing_rate / 60.0 * rel + self._phase[0])
        ecg += _WANDER_MV[1] * np.sin(2.0 * np.pi * 0.05 * rel + self._phase[1])
        ecg += p.ecg_noise_mv * self._rng_ecg.standard_normal(t.size)
        ecg += self._artifact_wave(t, 1)
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
        eda += self._artifact_wave(ticks_t, 2)
        return eda

    # ------------------------------------------------------------------ sensor faults
    def _advance_faults(self, ticks_t: np.ndarray) -> None:
        """Dropout and motion-artefact onsets (Poisson, on the model ticks)."""
        p = self.profile
        if ticks_t.size == 0:
            return
        if p.dropout_rate_per_hour > 0:
            prob = 1.0 - math.exp(-p.dropout_rate_per_hour / 3600.0 / self.eda_rate)
            draws = self._rng_drop.random((ticks_t.size, 2))
            for column, stream in enumerate(("ecg", "eda")):
                for onset in ticks_t[draws[:, column] < prob].tolist():
                    self._gaps[stream].append((onset, onset + p.dropout_duration))
        if p.artifact_rate_per_hour > 0:
            prob = 1.0 - math.exp(-p.artifact_rate_per_hour / 3600.0 / self.eda_rate)
            onsets = ticks_t[self._rng_art.random(ticks_t.size) < prob]
            sizes = self._rng_art_amp.standard_normal((onsets.size, 2))
            for onset, (ecg_z, eda_z) in zip(onsets.tolist(), sizes.tolist(), strict=True):
                ecg_amp = p.artifact_mv * (1.0 + 0.3 * ecg_z)
                eda_amp = p.artifact_us * (1.0 + 0.3 * abs(eda_z)) * (1.0 if eda_z >= 0 else -1.0)
                self._artifacts.append((onset, ecg_amp, eda_amp))

    def heart_present(self, t: np.ndarray) -> np.ndarray:
        """Mask of the times ``t`` (already generated) outside every heart-sensor dropout."""
        return self._present("ecg", np.asarray(t, dtype=np.float64))

    def _present(self, stream: str, t: np.ndarray) -> np.ndarray:
        """Mask of the samples at ``t`` outside every dropout of ``stream``."""
        keep = np.ones(t.size, dtype=bool)
        if t.size == 0 or not self._gaps[stream]:
            return keep
        self._gaps[stream] = [g for g in self._gaps[stream] if g[1] > t[0]]
        for start, end in self._gaps[stream]:
            keep &= ~((t >= start) & (t < end))
        return keep

    def _artifact_wave(self, t: np.ndarray, column: int) -> np.ndarray:
        """Motion artefacts at ``t``: a Hann-windowed 1.3 Hz swing (ECG, column 1) or bump
        (EDA, column 2) of each artefact's size, 2 s long."""
        out = np.zeros(t.size)
        if t.size == 0 or not self._artifacts:
            return out
        self._artifacts = [a for a in self._artifacts if a[0] + _ART_SPAN >= t[0] - 1.0]
        for artifact in self._artifacts:
            onset, amp = artifact[0], artifact[column]
            lo = int(np.searchsorted(t, onset, side="left"))
            hi = int(np.searchsorted(t, onset + _ART_SPAN, side="right"))
            x = (t[lo:hi] - onset) / _ART_SPAN
            window = np.sin(np.pi * x) ** 2
            shape = np.sin(2.0 * np.pi * 1.3 * _ART_SPAN * x) if column == 1 else 1.0
            out[lo:hi] += amp * window * shape
        return out
