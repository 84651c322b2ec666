"""Tests of biosignals.ecg: streaming R-peak detection on real MIT-BIH ECG."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from mitbih import bench as _bench
from mitbih import record as _record

from biosignals.ecg import EcgExtractor, HeartBeat, detect_r_peaks
from biosignals.errors import SignalError


def _stream(
    ext: EcgExtractor, x: np.ndarray, fs: float, chunk: int, t0: float = 0.0
) -> list[tuple[int, HeartBeat]]:
    """Feed ``x`` in chunks; return (index of last sample given, beat) per beat."""
    t = t0 + np.arange(x.size) / fs
    out: list[tuple[int, HeartBeat]] = []
    for i in range(0, x.size, chunk):
        j = min(i + chunk, x.size)
        out.extend((j - 1, b) for b in ext.update(x[i:j], t[i:j]))
    return out


@pytest.mark.parametrize(("name", "start_s"), [("100", 0.0), ("106", 600.0)])
def test_chunk_sizes_give_identical_beats(name: str, start_s: float) -> None:
    ecg, _, fs = _record(name)
    seg = ecg[int(start_s * fs) : int((start_s + 60.0) * fs)]
    results = []
    for chunk in (1, 7, 1000, seg.size):  # the last: one chunk longer than the history
        beats = [b for _, b in _stream(EcgExtractor(fs), seg, fs, chunk, t0=start_s)]
        results.append(beats)
    assert len(results[0]) > 60
    assert results[0] == results[1] == results[2] == results[3]


def test_record_100_f1_and_timing() -> None:
    ecg, ann, fs = _record("100")
    det = detect_r_peaks(ecg, fs)
    assert det.dtype == np.int64
    m = _bench().match_beats(det, ann, fs, ecg.size)
    assert m["F1"] >= 0.99
    assert m["jitter_ms_sd"] <= 8.0


def test_heart_rate_matches_annotations_in_10s_windows() -> None:
    ecg, ann, fs = _record("100")
    n = int(600 * fs)
    ext = EcgExtractor(fs)
    t = np.arange(n) / fs
    step = int(10 * fs)
    checked = 0
    for i in range(0, n, step):
        beats = ext.update(ecg[i : i + step], t[i : i + step])
        if i == 0:
            continue
        # heart_rate: median RR of the beats in the 10 s up to the latest detected beat.
        last = beats[-1].time
        k = np.flatnonzero((ann / fs >= last - 10.0) & (ann / fs <= last + 0.05))
        rr = (ann[k] - ann[k - 1]) / fs
        ref = 60.0 / float(np.median(rr))
        hr = ext.heart_rate
        assert hr is not None
        assert abs(hr - ref) <= 1.0, (last, hr, ref)
        checked += 1
    assert checked == 59


def test_beats_are_reported_within_250_ms_of_the_r_peak() -> None:
    ecg, ann, fs = _record("100")
    seg = ecg[: int(40 * fs)]
    reported = _stream(EcgExtractor(fs), seg, fs, chunk=1)
    delays = []
    for last, beat in reported:
        k = int(np.argmin(np.abs(ann - beat.sample)))
        delays.append((last - ann[k]) / fs)
    assert np.percentile(delays, 95) <= 0.250


@pytest.mark.parametrize(("scale", "offset"), [(0.1, 0.0), (1000.0, 5000.0), (-1.0, 0.0)])
def test_detector_is_scale_and_polarity_robust(scale: float, offset: float) -> None:
    ecg, ann, fs = _record("116")
    seg = ecg[: int(60 * fs)]
    ref = detect_r_peaks(seg, fs)
    got = detect_r_peaks(seg * scale + offset, fs)
    m = _bench().match_beats(got, ann[ann < seg.size], fs, seg.size)
    assert m["F1"] >= 0.99
    assert got.size == ref.size
    assert np.max(np.abs(got - ref)) <= round(0.01 * fs)


def test_beat_fields_and_heart_rate_lifecycle() -> None:
    ecg, _, fs = _record("100")
    ext = EcgExtractor(fs)
    assert ext.heart_rate is None
    beats = [b for _, b in _stream(ext, ecg[: int(30 * fs)], fs, 500, t0=1000.0)]
    assert beats[0].rr is None and beats[0].hr_bpm is None
    for prev, cur in itertools.pairwise(beats):
        assert cur.rr == pytest.approx(cur.time - prev.time)
        assert cur.time == pytest.approx(1000.0 + cur.sample / fs)
    assert ext.heart_rate is not None and 60.0 < ext.heart_rate < 90.0
    ext.reset()
    assert ext.heart_rate is None
    again = [b for _, b in _stream(ext, ecg[: int(30 * fs)], fs, 500, t0=1000.0)]
    assert again == beats


def test_nan_burst_recovers() -> None:
    ecg, ann, fs = _record("100")
    seg = ecg[: int(60 * fs)].copy()
    seg[int(20 * fs) : int(25 * fs)] = np.nan
    seg[int(26 * fs)] = np.inf
    ext = EcgExtractor(fs)
    beats = [b.sample for _, b in _stream(ext, seg, fs, 360)]
    later = ann[(ann > 35 * fs) & (ann < 58 * fs)]
    found = sum(np.min(np.abs(np.asarray(beats) - a)) <= 0.15 * fs for a in later)
    assert found >= len(later) - 1
    assert ext.heart_rate is not None and 60.0 < ext.heart_rate < 90.0


def test_ectopic_rr_does_not_move_smoothed_rate() -> None:
    fs = 250.0
    times = list(np.arange(1.0, 30.0, 0.8))
    times.insert(20, times[19] + 0.4)  # one premature beat
    t = np.arange(int(32 * fs)) / fs
    x = np.zeros_like(t)
    for bt in times:
        x += np.exp(-0.5 * ((t - bt) / 0.012) ** 2) - 0.2 * np.exp(
            -0.5 * ((t - bt - 0.25) / 0.05) ** 2
        )
    ext = EcgExtractor(fs)
    beats = ext.update(x, t)
    assert len(beats) == len(times)
    early = min(beats[1:], key=lambda b: b.rr or 1.0)
    assert early.rr == pytest.approx(0.4, abs=0.02)
    assert early.hr_bpm == pytest.approx(75.0, abs=1.0)  # corrected, not 150 bpm
    assert ext.heart_rate == pytest.approx(75.0, abs=1.0)


def test_empty_chunk_returns_nothing() -> None:
    ext = EcgExtractor(360.0)
    assert ext.update(np.array([]), np.array([])) == []
    assert ext.update([], []) == []


@pytest.mark.parametrize("rate", [50.0, 20000.0, float("nan"), float("inf"), 0.0])
def test_bad_rate_raises(rate: float) -> None:
    with pytest.raises(SignalError, match="sampling_rate"):
        EcgExtractor(rate)


def test_bad_chunks_raise() -> None:
    ext = EcgExtractor(360.0)
    with pytest.raises(SignalError, match="lengths must match"):
        ext.update(np.zeros(10), np.arange(9) / 360.0)
    with pytest.raises(SignalError, match="1-D"):
        ext.update(np.zeros((2, 5)), np.zeros((2, 5)))
    with pytest.raises(SignalError, match="non-decreasing"):
        ext.update(np.zeros(3), np.array([0.0, 0.2, 0.1]))
    with pytest.raises(SignalError, match="1-D"):
        detect_r_peaks(np.zeros((3, 3)), 360.0)
    ext.update(np.zeros(3), np.array([1.0, 1.1, 1.2]))
    with pytest.raises(SignalError, match="non-decreasing"):
        ext.update(np.zeros(1), np.array([0.5]))


def test_no_beats_invented_during_a_pause() -> None:
    """A 6 s sinus pause (baseline + 0.03 mV noise) must stay empty: no masked asystole."""
    ecg, ann, fs = _record("100")
    x = ecg[: int(40 * fs)].copy()
    a = int(ann[ann > 20 * fs][0])
    i0, i1 = a + int(0.45 * fs), a + int(6.45 * fs)
    rng = np.random.default_rng(0)
    x[i0:i1] = np.linspace(x[i0], x[i1], i1 - i0) + rng.normal(0.0, 0.03, i1 - i0)
    det = detect_r_peaks(x, fs)
    assert not np.any((det > i0 + 0.1 * fs) & (det < i1))
    after = ann[(ann > i1 + 1 * fs) & (ann < 38 * fs)]
    assert all(np.min(np.abs(det - b)) <= 0.15 * fs for b in after)


def test_flat_start_then_signal() -> None:
    """Leads attached late: 5 s of constant input, then ECG; beats found from the start."""
    ecg, ann, fs = _record("100")
    x = np.concatenate((np.full(int(5 * fs), 0.3), ecg[: int(30 * fs)]))
    det = detect_r_peaks(x, fs) - int(5 * fs)
    m = _bench().match_beats(det, ann[ann < 30 * fs], fs, int(30 * fs), edge_s=0.5)
    assert m["FP"] == 0
    assert m["FN"] == 0


def test_sos_state_matches_scipy_sosfilt() -> None:
    """The lean filter used by the extractors equals scipy.signal.sosfilt with carried zi."""
    from scipy.signal import butter, sosfilt, sosfilt_zi

    from biosignals._stream import SosState

    sos = butter(2, [5.0, 15.0], btype="bandpass", fs=360.0, output="sos")
    x = np.random.default_rng(1).normal(size=1000) + 3.0
    ref, _ = sosfilt(sos, x, zi=sosfilt_zi(sos) * x[0])
    state = SosState(sos)
    state.start(float(x[0]))
    got = np.concatenate([state.filter(x[i : i + 7]) for i in range(0, x.size, 7)])
    np.testing.assert_array_equal(got, ref)
