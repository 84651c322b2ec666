"""EdaExtractor keeps its per-sample rows in one buffer: results must not depend on how
chunks fall on its boundaries (empty chunks, single samples, blocks larger than the buffer),
and the SCR rate must count exactly the flagged onsets in its window."""

from __future__ import annotations

import numpy as np
import pytest

from biosignals._eda_features import N_ROWS, ROW_BAND, ROW_S, ROW_T, ROW_THR, ROW_V, ROW_W
from biosignals._eda_scan import first_hit, first_hit_one
from biosignals.eda import EdaExtractor


def _signal(fs: float, seconds: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Tonic drift, a tonic ramp, Bateman SCRs every ~8 s, noise and a NaN burst."""
    rng = np.random.default_rng(seed)
    t = 100.0 + np.arange(int(seconds * fs)) / fs
    x = 3.0 + 0.1 * np.sin(t / 50.0) + rng.normal(0.0, 0.003 * np.sqrt(fs / 32.0), t.size)
    x += 0.02 * np.clip(t - t[0] - seconds / 3.0, 0.0, 20.0)
    for onset in np.arange(5.0, seconds - 5.0, 8.0) + rng.uniform(-2.0, 2.0):
        u = np.maximum(t - t[0] - onset, 0.0)
        x += rng.uniform(0.02, 0.5) * (np.exp(-u / 2.0) - np.exp(-u / 0.75)) / 0.4
    i = int(rng.integers(0, t.size // 2))
    x[i : i + int(fs)] = np.nan
    return x, t


def _run(
    fs: float, x: np.ndarray, t: np.ndarray, sizes: list[int]
) -> tuple[list[str], list[str], tuple[float | None, float, float]]:
    """Flagged and completed SCRs (reprs) and the final (SCL, rates) for these chunks."""
    ext = EdaExtractor(fs)
    flagged: list[str] = []
    done: list[str] = []
    i = 0
    for k in sizes:
        flagged += [repr(r) for r in ext.update(x[i : i + k], t[i : i + k])]
        done += [repr(r) for r in ext.drain_completed()]
        i += k
    assert i >= t.size
    now = float(t[-1])
    return flagged, done, (ext.scl, ext.scr_rate(now), ext.scr_rate(now, 600.0))


@pytest.mark.parametrize("fs", [4.0, 32.0, 250.0, 1000.0])
def test_any_chunking_matches_one_block(fs: float) -> None:
    x, t = _signal(fs, 60.0 if fs > 100.0 else 240.0, seed=int(fs))
    rng = np.random.default_rng(1)
    # empty chunks, single samples, and blocks beyond the buffer (4 x the kept past)
    sizes = [int(k) for k in rng.choice([0, 1, 3, 64, int(12 * fs), int(45 * fs)], 400)]
    sizes.append(t.size)
    chunked, whole = _run(fs, x, t, sizes), _run(fs, x, t, [t.size])
    assert chunked[0] and chunked[2][0] is not None
    assert chunked == whole


@pytest.mark.parametrize("fs", [4.0, 32.0])
def test_sample_by_sample_matches_one_block(fs: float) -> None:
    """One sample per call (a slow stream in fast frames: the one-sample path in Python
    floats) gives the numbers of the vectorised block, SCRs, completions and SCL alike."""
    x, t = _signal(fs, 240.0, seed=7 + int(fs))
    single, whole = _run(fs, x, t, [1] * t.size), _run(fs, x, t, [t.size])
    assert single[0] and single[1] and single[2][0] is not None
    assert single == whole


def test_scr_rate_counts_flagged_onsets_in_its_window() -> None:
    fs = 4.0
    x, t = _signal(fs, 4000.0, seed=5)  # more than the hour the rate remembers
    ext = EdaExtractor(fs)
    onsets: list[float] = []
    for i in range(0, t.size, 40):
        onsets += [r.onset for r in ext.update(x[i : i + 40], t[i : i + 40])]
    assert len(onsets) > 300 and onsets == sorted(onsets)
    # the window is open on the left, closed on the right (onsets[-3] is one's edge)
    for now, window in [(float(t[-1]), w) for w in (10.0, 60.0, 600.0, 3600.0)] + [
        (onsets[-3], 60.0),
        (onsets[-3] + 60.0, 60.0),
    ]:
        count = sum(1 for p in onsets if now - window < p <= now)
        assert ext.scr_rate(now, window) == pytest.approx(count * 60.0 / window)


def test_one_column_onset_search_equals_the_vectorised_one() -> None:
    """``first_hit_one`` (a frame's one sample) returns what ``first_hit`` returns for
    that column: floors before, inside and after the window, the top of ``v`` before or
    after the flag's second, hits and misses."""
    rng = np.random.default_rng(8)
    back = np.arange(0, 24, 1)
    compared = hits = 0
    for _ in range(3000):
        buf = np.zeros((N_ROWS, 80))
        buf[ROW_T] = np.cumsum(rng.uniform(0.02, 0.04, 80))
        for row in (ROW_V, ROW_W, ROW_S):
            buf[row] = np.cumsum(rng.normal(0.0, 0.02, 80))
        buf[ROW_BAND] = rng.uniform(0.0, 0.02, 80)
        buf[ROW_THR] = rng.uniform(0.0, 0.05, 80)
        c = int(rng.integers(30, 80))
        until = float(buf[ROW_T, c] + rng.uniform(-0.2, 0.2))
        vpeak = (float(rng.normal(0.0, 0.1)), int(rng.integers(0, c + 1)), until)
        want = first_hit(buf, np.array([c]), c, c + 1, vpeak, back)
        assert first_hit_one(buf, c, vpeak, back) == want
        compared += 1
        hits += want is not None
    assert compared == 3000 and 300 < hits < 2700
