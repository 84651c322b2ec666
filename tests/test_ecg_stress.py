"""The hard ECG development set (benchmarks/ecg_stress.py) is what it claims (issue 19).

Each noise generator's SNR, measured here with an independent implementation of the
MIT-BIH Noise Stress Test's definition, is the one asked for; each generator has the
spectrum its docstring describes; noise is added only inside the NST protocol's noisy
segments; the abnormal variants change what they say. The detector keeps its accuracy on
moderate noise and its per-beat confidence tells true beats from false ones.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from types import ModuleType

import numpy as np
import pytest
from ecg_synth import beat, gauss
from mitbih import REPO, record
from scipy.signal import welch

from biosignals.ecg import EcgExtractor, detect_r_peaks

FS = 360.0


@cache
def stress() -> ModuleType:
    """``benchmarks/ecg_stress.py``, imported from the working tree."""
    spec = importlib.util.spec_from_file_location(
        "ecg_stress", REPO / "benchmarks" / "ecg_stress.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("ecg_stress", module)
    spec.loader.exec_module(module)
    return module


def _first(name: str, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    ecg, beats, fs = record(name)
    assert fs == FS
    x = np.array(ecg[: round(seconds * fs)])
    return x, np.asarray(beats[beats < x.size], dtype=np.int64)


def _nst_snr(clean: np.ndarray, noisy: np.ndarray, beats: np.ndarray, mask: np.ndarray) -> float:
    """SNR as WFDB's ``nst`` defines it (Moody, Muldrow & Mark 1984), written apart from
    the generator: S = (mean QRS peak-to-peak, 5 % trimmed each side)**2 / 8 over the
    annotated beats, N = (mean RMS of 1-s windows of noise, each mean removed, trimmed)**2
    over the noisy segments."""
    h = round(0.06 * FS)
    pp = np.array([np.ptp(clean[b - h : b + h + 1]) for b in beats if h <= b < clean.size - h])
    noise = (noisy - clean)[mask]
    w = round(FS)
    rms = np.array([np.std(noise[i : i + w]) for i in range(0, noise.size - w + 1, w)])

    def trimmed(v: np.ndarray) -> float:
        v = np.sort(v)
        k = int(0.05 * v.size)
        return float(v[k : v.size - k].mean())

    return float(10.0 * np.log10(trimmed(pp) ** 2 / 8.0 / trimmed(rms) ** 2))


@pytest.mark.parametrize("snr", [24.0, 12.0, 6.0, 0.0])
@pytest.mark.parametrize("kind", ["bw", "ma", "em", "mix"])
def test_noise_is_added_at_the_claimed_snr_inside_noisy_segments(kind: str, snr: float) -> None:
    x, beats = _first("106", 720.0)
    noisy, mask = stress().add_noise(x, beats, FS, kind, snr, seed=3)
    assert _nst_snr(x, noisy, beats, mask) == pytest.approx(snr, abs=0.2)
    # the protocol: 5 clean minutes, then 2-min noisy and clean segments alternate
    t = np.arange(x.size) / FS
    assert not mask[t < 300.0].any() and mask[(t >= 300.0) & (t < 420.0)].all()
    assert not mask[(t >= 420.0) & (t < 540.0)].any()
    assert mask[(t >= 540.0) & (t < 660.0)].all() and not mask[t >= 660.0].any()
    np.testing.assert_array_equal(noisy[~mask], x[~mask])  # clean outside, fades inside


@pytest.mark.parametrize(
    ("kind", "band", "share"),
    [
        ("bw", (0.0, 1.0), 0.95),  # respiration and sway: almost all below 1 Hz
        ("ma", (10.0, 150.0), 0.95),  # muscle: the EMG band
        ("em", (0.0, 1.5), 0.3),  # electrode motion: 30 % slow potential, plus transients
    ],
)
def test_each_generator_has_the_spectrum_it_claims(
    kind: str, band: tuple[float, float], share: float
) -> None:
    noise = stress().make_noise(kind, round(600.0 * FS), FS, seed=11)
    assert np.std(noise) == pytest.approx(1.0)
    f, p = welch(noise, FS, nperseg=round(20.0 * FS))
    inside = p[(f >= band[0]) & (f < band[1])].sum() / p.sum()
    assert inside >= share
    if kind in ("ma", "em"):  # bursts (contractions) and transients: heavy tails
        z = (noise - noise.mean()) / noise.std()
        assert float(np.mean(z**4)) > 6.0
    if kind == "em":  # QRS-wide transients put power where the QRS is (5-25 Hz)
        assert p[(f >= 5.0) & (f < 25.0)].sum() / p.sum() > 0.05


def test_abnormal_variants_change_what_they_claim() -> None:
    x, beats = _first("100", 300.0)
    es = stress()
    flipped = es.polarity(x, FS, seed=2)
    changed = np.abs(flipped - x) > 1e-9
    assert 0.3 < changed.mean() < 0.7  # about half the record is inverted
    base = es._lowpass(x, FS, 0.3)
    np.testing.assert_allclose(flipped[changed] - base[changed], base[changed] - x[changed])
    tall = es.tall_waves(x, beats, FS, seed=2)
    amp = es._qrs_amplitude(x, beats, FS)
    rr = np.diff(beats) / FS
    t_at = beats[:-1] + np.round(0.28 * np.sqrt(np.clip(rr, 0.3, 2.0)) * FS).astype(int)
    added = (tall - x)[t_at] / amp[:-1]
    assert float(np.min(added)) >= 0.55 and float(np.max(added)) <= 1.55  # 0.6-1.5 x QRS
    stepped = es.steps(x, FS, seed=2)
    jumps = np.abs(np.diff(stepped - x))
    assert np.count_nonzero(jumps > 0.25) >= 300.0 / 25.0  # a step every 5-25 s


@pytest.mark.parametrize(
    ("kind", "snr", "f1_min"),
    [("bw", 12.0, 0.995), ("ma", 12.0, 0.994), ("em", 12.0, 0.988), ("em", 6.0, 0.974)],
)
def test_detector_holds_up_in_noise(kind: str, snr: float, f1_min: float) -> None:
    """F1 floors on record 100's first 10 min, about one beat below what the detector
    reaches (ma 12 dB: 0.998; em: 0.991 at 12 dB and 0.979 at 6 dB; 0.994, 0.987 and
    0.966 before its decisions weighed rivals and the rhythm more in noise)."""
    x, beats = _first("100", 600.0)
    noisy, mask = stress().add_noise(x, beats, FS, kind, snr, seed=7)
    score = stress().score(detect_r_peaks(noisy, FS), beats, FS, mask)
    assert score["TP"] + score["FN"] > 200  # the noisy segments (3 min) hold many beats
    assert score["F1"] >= f1_min


@pytest.mark.parametrize(
    ("name", "seconds", "kind", "f1_min"),
    [("100", 900.0, "ma", 0.983), ("106", 900.0, "em", 0.964)],
)
def test_noise_aware_decisions_hold_up_at_6_db(
    name: str, seconds: float, kind: str, f1_min: float
) -> None:
    """6 dB muscle noise (record 100, 15 min: 0.987; 0.977 before) and electrode motion
    with frequent PVCs (record 106, 15 min: 0.968; 0.956 before): in noise a doubtful beat
    waits for a rival, the rhythm decides between a held complex and the next beat, and a
    candidate under THR1 where the next beat is due counts if it is shaped like the beats."""
    x, beats = _first(name, seconds)
    noisy, mask = stress().add_noise(x, beats, FS, kind, 6.0, seed=7)
    score = stress().score(detect_r_peaks(noisy, FS), beats, FS, mask)
    assert score["TP"] + score["FN"] > 200
    assert score["F1"] >= f1_min


@pytest.mark.parametrize("kind", ["ma", "em"])
def test_wide_ectopic_beats_are_kept_in_noise(kind: str) -> None:
    """A wide premature beat with a pause after it (every fourth beat), at 12 dB: noise
    makes the detector weigh edges and the rhythm more, yet a blunt premature complex
    followed by a pause is an ectopic beat as often as a bump (a rule that dropped blunt
    premature complexes in noise kept 16 % of them in electrode motion, 84 % in muscle
    noise)."""
    rr, u = 0.8, np.arange(-round(0.5 * FS), round(0.5 * FS) + 1) / FS
    x = np.zeros(round(660.0 * FS))  # 5 clean minutes, then 2 noisy segments
    sinus = np.arange(1.0, 659.0, rr)
    sinus[11:-1:4] += 0.3 * rr  # the pause after each ectopic beat
    ectopic = sinus[10:-2:4] + 0.45 * rr
    wide = -1.3 * (gauss(u, 0.03) - 0.5 * gauss(u - 0.06, 0.03))  # opposite polarity
    for times, shape in ((sinus, beat(u)), (ectopic, wide)):
        for i in np.round(times * FS).astype(int).tolist():
            x[i - u.size // 2 : i + u.size // 2 + 1] += shape
    s_idx, e_idx = np.round(sinus * FS).astype(int), np.round(ectopic * FS).astype(int)
    noisy, mask = stress().add_noise(x, np.sort(np.r_[s_idx, e_idx]), FS, kind, 12.0, seed=3)
    det = detect_r_peaks(noisy, FS)

    def found(at: np.ndarray) -> float:
        at = at[mask[at]]
        return float(np.mean([np.min(np.abs(det - i)) <= 0.05 * FS for i in at]))

    assert found(e_idx) >= 0.93  # 1.0 (ma) and 0.96 (em), as before the noise rules
    assert found(s_idx) >= 0.98


def test_beat_confidence_is_higher_for_true_beats() -> None:
    x, beats = _first("104", 600.0)
    es = stress()
    noisy, mask = es.add_noise(x, beats, FS, "em", 6.0, seed=5)
    found = EcgExtractor(FS).update(noisy, np.arange(noisy.size) / FS)
    det = np.array([b.sample for b in found], dtype=np.int64)
    conf = np.array([b.confidence for b in found])
    assert np.all((conf >= 0.0) & (conf <= 1.0))
    _, hit, _ = es.match(det, beats, 0.15 * FS)
    inside = mask[det]
    true_c, false_c = conf[hit & inside], conf[~hit & inside]
    assert false_c.size >= 5  # 6 dB: the detector does make mistakes here (8 in 2026-12)
    # probability that a true beat is more confident than a false one
    auc = np.mean([np.mean(tc > false_c) + 0.5 * np.mean(tc == false_c) for tc in true_c])
    assert auc > 0.7
