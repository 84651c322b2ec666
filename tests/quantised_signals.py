"""Clean physiology as low-resolution devices send it, for the quantisation-aware quality
tests: each case is a role, a rate, the device's value grid and ADC limits, and a clean
signal generator (seeded, so every run sees the same samples)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from biosignals.ppg import simulate_ppg
from biosignals.twin_model import TwinChunk, TwinPhysiology, TwinProfile

VCC = 3.3  # BITalino supply, V
EDA_GAIN = 0.132  # BITalino EDA: EDA(uS) = ((ADC / 2^n) * VCC) / 0.132
ECG_GAIN = 1100.0  # BITalino ECG: ECG(mV) = ((ADC / 2^n - 1/2) * VCC / 1100) * 1000

Signal = tuple[np.ndarray, np.ndarray]


def bitalino_eda(us: np.ndarray, bits: int = 10) -> np.ndarray:
    """What OpenSignals sends for BITalino's EDA sensor: the n-bit ADC code in uS."""
    code = np.clip(np.round(us * EDA_GAIN * 2**bits / VCC), 0, 2**bits - 1)
    return code * VCC / 2**bits / EDA_GAIN


def bitalino_ecg(mv: np.ndarray, bits: int) -> np.ndarray:
    """What OpenSignals sends for BITalino's ECG sensor: the n-bit ADC code in mV."""
    code = np.clip(np.round((mv / 1000.0 * ECG_GAIN / VCC + 0.5) * 2**bits), 0, 2**bits - 1)
    return (code / 2**bits - 0.5) * VCC / ECG_GAIN * 1000.0


def skin_conductance(
    seconds: float, rate: float, *, level: float, seed: int, noise: float, drift: float = 1.0
) -> Signal:
    """Resting skin conductance (uS): a tonic level drifting over minutes (three slow
    sines, ``drift`` scales their 0.4/0.25/0.1 uS), Bateman SCRs (3/min, amplitudes
    log-uniform 0.05-1 uS, rise 0.75 s, decay 2 s) and white noise ``noise`` uS."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    phase = rng.uniform(0.0, 2.0 * np.pi, 3)
    x = level + drift * (
        0.4 * np.sin(2 * np.pi * t / 170.0 + phase[0])
        + 0.25 * np.sin(2 * np.pi * t / 47.0 + phase[1])
        + 0.1 * np.sin(2 * np.pi * t / 400.0 + phase[2])
    )
    count = int(rng.poisson(3.0 * seconds / 60.0))
    onsets = np.sort(rng.uniform(0.0, seconds, count))
    amps = np.exp(rng.uniform(math.log(0.05), math.log(1.0), count))
    rise, decay = 0.75, 2.0
    peak = math.log(decay / rise) * rise * decay / (decay - rise)
    norm = math.exp(-peak / decay) - math.exp(-peak / rise)
    for onset, amp in zip(onsets.tolist(), amps.tolist(), strict=True):
        lo, hi = np.searchsorted(t, [onset, onset + 30.0])
        d = t[lo:hi] - onset
        x[lo:hi] += amp / norm * (np.exp(-d / decay) - np.exp(-d / rise))
    return t, x + noise * rng.standard_normal(t.size)


def _twin(seconds: float, rate: float, seed: int, noise_mv: float) -> TwinChunk:
    profile = TwinProfile(resting_hr=50.0, ecg_noise_mv=noise_mv)
    return TwinPhysiology(profile, start_time=0.0, ecg_rate=rate, seed=seed).advance(seconds)


def electrocardiogram(seconds: float, rate: float, *, seed: int, noise_mv: float) -> Signal:
    """The twin's ECG (mV) at 50 bpm: long isoelectric stretches between beats."""
    chunk = _twin(seconds, rate, seed, noise_mv)
    return chunk.ecg_t, chunk.ecg


def photoplethysmogram(seconds: float, rate: float, *, seed: int) -> Signal:
    """A PPG (unitless pulse of amplitude ~1 plus wander) for the twin's beats."""
    beats = _twin(seconds, 250.0, seed, 0.02).beat_times
    t, x, _ = simulate_ppg(beats, rate, seconds, seed=seed, noise=0.01)
    return t, x


@dataclass(frozen=True)
class Device:
    """One low-resolution stream: how it is made and what its faults look like.

    ``bound`` is the documented flatline/clipping bound (s) for a hold of the clean
    value grid (biosignals.quality, "Quantisation"); ``lsb`` the device's value step;
    ``adc_min``/``adc_max`` the values it sends at the ADC's limits; ``off`` the value
    with the electrode off (None: ADC noise of +-1 step around the signal's mean
    instead); ``uniform`` whether every step is ``lsb`` (EmotiBit's reciprocal grid is
    not: ``lsb`` is roughly its finest step).
    """

    name: str
    role: str
    rate: float
    lsb: float
    adc_min: float
    adc_max: float
    bound: float
    make: Callable[[float], Signal]
    off: float | None = None
    uniform: bool = True


def _bitalino_eda(seconds: float) -> Signal:
    t, x = skin_conductance(seconds, 1000.0, level=5.0, seed=0, noise=0.002)
    return t, bitalino_eda(x)


def _e4_eda(seconds: float) -> Signal:
    t, x = skin_conductance(seconds, 4.0, level=1.5, seed=1, noise=0.001, drift=0.5)
    return t, np.round(x / 0.001) * 0.001


def _emotibit_eda(seconds: float) -> Signal:
    """Conductance as 1 / resistance, the resistance on a 1 kOhm grid: uneven steps of
    ~4-16 nS over 2-4 uS."""
    t, x = skin_conductance(seconds, 15.0, level=3.0, seed=2, noise=0.003)
    return t, 1000.0 / np.round(1000.0 / x)


def _zephyr_ecg(seconds: float) -> Signal:
    t, x = electrocardiogram(seconds, 250.0, seed=3, noise_mv=0.005)
    return t, np.round(x / 0.025) * 0.025


def _bitalino_ecg6(seconds: float) -> Signal:
    t, x = electrocardiogram(seconds, 1000.0, seed=4, noise_mv=0.005)
    return t, bitalino_ecg(x, 6)


def _muse_ppg(seconds: float) -> Signal:
    """A weak pulse of ~12 ADC counts on a 30000-count offset, sent as integers."""
    t, x = photoplethysmogram(seconds, 64.0, seed=5)
    return t, np.round(30000.0 + 12.0 * x)


# EmotiBit's steps are G^2 / 1000 uS per kOhm: 5.8-13 nS over its 2.4-3.6 uS, so its bound
# is 600 s/uS times the finest step seen so far: at most 600 * 3.6^2 / 1000 = 7.8 s.
EMOTIBIT_BOUND = 600.0 * 3.6**2 / 1000.0
BITALINO_EDA_LSB = VCC / 2**10 / EDA_GAIN  # 0.0244 uS
BITALINO_ECG6_LSB = VCC / 2**6 / ECG_GAIN * 1000.0  # 0.0469 mV

DEVICES = (
    Device("bitalino_eda_10bit_1000hz", "eda", 1000.0, BITALINO_EDA_LSB, 0.0,
           1023 * BITALINO_EDA_LSB, 600.0 * BITALINO_EDA_LSB, _bitalino_eda, off=0.0),
    Device("e4_eda_1ns_4hz", "eda", 4.0, 0.001, 0.0, 100.0, 4.0, _e4_eda, off=0.0),
    Device("emotibit_eda_15hz", "eda", 15.0, 0.004, 0.0, 1000.0, EMOTIBIT_BOUND,
           _emotibit_eda, off=0.0, uniform=False),
    Device("zephyr_ecg_25uv_250hz", "heart", 250.0, 0.025, -2048 * 0.025, 2047 * 0.025,
           2.5, _zephyr_ecg),
    Device("bitalino_ecg_6bit_1000hz", "heart", 1000.0, BITALINO_ECG6_LSB,
           -0.5 * VCC / ECG_GAIN * 1000.0, (63 / 64 - 0.5) * VCC / ECG_GAIN * 1000.0, 2.5,
           _bitalino_ecg6),
    Device("muse_ppg_counts_64hz", "ppg", 64.0, 1.0, 0.0, 2.0**24 - 1, 2.5, _muse_ppg),
)  # fmt: skip
