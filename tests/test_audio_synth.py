"""The synthesised sounds: format, seamless loops, levels, the pacer's glide. Pure numpy."""

from __future__ import annotations

import numpy as np
import pytest

from engine.audio.synth import (
    CUE_PEAKS,
    LOOP_RMS,
    SAMPLE_RATE,
    SYNTHS,
    SoundBank,
    band_noise,
    synthesise,
)
from therapies.scenes.base import CUE_SOUNDS, LAYER_SOUNDS

LOOPS = [s for s in LAYER_SOUNDS if s != "pacer"]


def as_float(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64) / 32767.0


@pytest.fixture(scope="module")
def bank() -> SoundBank:
    """Sounds made once for this module (synthesis is the slow part)."""
    return SoundBank(seed=0)


def test_every_scene_sound_can_be_made(bank: SoundBank) -> None:
    assert set(SYNTHS) | {"pacer"} == set(LAYER_SOUNDS) | set(CUE_SOUNDS)
    for name in (*SYNTHS, "pacer"):
        x = bank.get(name, cycle_s=4.0)
        assert x.dtype == np.int16 and x.ndim == 2 and x.shape[1] == 2, name
        assert x.flags.c_contiguous
        assert 0.1 * SAMPLE_RATE < x.shape[0] < 13 * SAMPLE_RATE, name
        assert np.abs(x).max() > 1000, f"{name} is silent"


@pytest.mark.parametrize("name", LOOPS)
def test_loops_repeat_without_a_click(name: str, bank: SoundBank) -> None:
    """The step from the last sample back to the first is like any step inside the loop."""
    x = as_float(bank.get(name))
    steps = np.abs(np.diff(x, axis=0))
    wrap = np.abs(x[0] - x[-1])
    assert (wrap <= np.quantile(steps, 0.999, axis=0) + 1e-4).all(), (wrap, steps.max())
    assert float(np.sqrt(np.mean(x**2))) == pytest.approx(LOOP_RMS, rel=0.05) or name == "skitter"


def test_loops_are_stereo_and_seeded() -> None:
    a, b, c = synthesise("engine", 1), synthesise("engine", 1), synthesise("engine", 2)
    assert (a == b).all() and not (a == c).all()
    left, right = as_float(a).T
    assert abs(np.corrcoef(left, right)[0, 1]) < 0.5, "decorrelated channels: a wide sound"


@pytest.mark.parametrize("name", sorted(CUE_PEAKS))
def test_cues_have_their_peak_and_end_quietly(name: str, bank: SoundBank) -> None:
    x = as_float(bank.get(name))
    assert np.abs(x).max() == pytest.approx(CUE_PEAKS[name], abs=2e-3)
    tail = x[-int(0.01 * SAMPLE_RATE) :]
    assert np.abs(tail).max() < 0.05 * CUE_PEAKS[name] + 2e-3, "a cue must not end with a click"


def dominant_hz(x: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1.0 / SAMPLE_RATE)[np.argmax(spec)])


def test_pacer_glides_up_breathing_in_and_down_breathing_out() -> None:
    cycle = 10.0
    x = as_float(synthesise("pacer", cycle_s=cycle))[:, 0]
    assert x.size == round(cycle * SAMPLE_RATE)
    win = int(0.2 * SAMPLE_RATE)

    def at(phase: float) -> tuple[float, float]:
        i = int(phase * x.size)
        seg = x[i - win // 2 : i + win // 2]
        return dominant_hz(seg), float(np.sqrt(np.mean(seg**2)))

    f_low, a_low = at(0.1)
    f_top, a_top = at(0.5)
    f_out, _ = at(0.9)
    assert f_low == pytest.approx(
        220.0 * 2 ** (7 / 12 * (0.5 - 0.5 * np.cos(0.2 * np.pi))), rel=0.03
    )
    assert f_top == pytest.approx(330.0, rel=0.02), "a fifth up at full inhale"
    assert f_out == pytest.approx(f_low, rel=0.03), "symmetric: back down breathing out"
    assert a_top > 1.5 * a_low, "swells with the breath"
    edge = int(0.02 * SAMPLE_RATE)
    assert np.abs(x[:edge]).max() < 0.01 and np.abs(x[-edge:]).max() < 0.01, "silent at the turn"


def test_bank_makes_each_sound_once() -> None:
    bank = SoundBank(seed=0)
    a = bank.get("chime")
    assert bank.get("chime") is a and not a.flags.writeable
    assert bank.get("pacer", 5.0) is not bank.get("pacer", 10.0)
    assert bank.get("pacer", 5.0).shape[0] == 5 * SAMPLE_RATE


def test_bad_names_and_cycles_are_refused() -> None:
    with pytest.raises(ValueError, match="not one of"):
        synthesise("siren")
    with pytest.raises(ValueError, match="cycle_s"):
        synthesise("pacer")


def test_band_noise_stays_in_its_band() -> None:
    """Soft (12 dB/octave) edges: most power within an octave of the band, little beyond."""
    x = band_noise(np.random.default_rng(0), 2.0, 500.0, 1000.0, channels=1)[:, 0]
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(x.size, 1.0 / SAMPLE_RATE)
    assert spec[(f > 250) & (f < 2000)].sum() > 0.9 * spec.sum()
    assert spec[(f < 125) | (f > 4000)].sum() < 0.02 * spec.sum()
