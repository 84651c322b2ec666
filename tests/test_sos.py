"""SosState equals scipy.signal.sosfilt bit for bit, whichever path a chunk takes.

Short chunks run SciPy's recursion in Python floats (biosignals._sos), long ones SciPy's
public ``sosfilt``; the split must never show in the numbers.
"""

from __future__ import annotations

import platform
from typing import Any

import numpy as np
import pytest
from scipy.signal import butter, lfilter, sosfilt, sosfilt_zi

import biosignals._sos as sos_module
from biosignals._sos import PYTHON_FILTER_MAX, SosState, recursion_matches_sosfilt, sos_recursion


def _signal(n: int, seed: int) -> np.ndarray:
    """Noise spanning eight decades, with zeros, NaN, infinities and an overflow."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n) * 10.0 ** rng.uniform(-4, 4, n) + 2.0
    x[n // 5 : n // 5 + 9] = 0.0
    x[n // 3] = -0.0
    return x


@pytest.mark.parametrize("order", [1, 2, 3])
def test_chunks_of_any_size_equal_one_sosfilt_call(order: int) -> None:
    sos = butter(order, [5.0, 15.0], btype="bandpass", fs=500.0, output="sos")
    x = _signal(6000, order)
    ref, zf = sosfilt(sos, x, zi=sosfilt_zi(sos) * x[0])
    state = SosState(sos)
    state.start(float(x[0]))
    rng = np.random.default_rng(order)
    got, i = [], 0
    while i < x.size:  # sizes on both sides of the Python/SciPy split
        n = int(rng.choice([1, 2, 7, PYTHON_FILTER_MAX // sos.shape[0], 300, 1000]))
        got.append(state.filter(x[i : i + n]))
        i += n
    np.testing.assert_array_equal(np.concatenate(got), ref)
    assert state.zi == zf.tolist()


@pytest.mark.parametrize("exact", [True, False])
def test_filter_one_equals_one_sample_chunks(exact: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """``filter_one`` (a float in, a float out) is ``filter`` of a one-sample chunk, on the
    Python path and on SciPy's (where the recursion is not exact)."""
    monkeypatch.setattr(sos_module, "RECURSION_EXACT", exact)
    sos = butter(2, 1.0, fs=32.0, output="sos")
    x = _signal(300, 4)
    ref, _ = sosfilt(sos, x, zi=sosfilt_zi(sos) * x[0])
    state = SosState(sos)
    state.start(float(x[0]))
    got = [state.filter_one(v) for v in x.tolist()]
    assert all(isinstance(v, float) for v in got)
    np.testing.assert_array_equal(got, ref)


def test_non_finite_samples_propagate_as_in_sosfilt() -> None:
    sos = butter(2, 1.0, fs=32.0, output="sos")
    ema = np.array([[0.1, 0.0, 0.0, 1.0, -0.9, 0.0]])  # the EDA noise average's form
    for s in (sos, ema):
        for bad in (np.nan, np.inf, -np.inf, 1e308):
            x = np.full(40, 3.0)
            x[10] = bad
            x[11] = 1e308  # an overflow inside the recursion
            state = SosState(s)
            state.start(3.0)
            got = np.concatenate([state.filter(x[:20]), state.filter(x[20:])])
            ref, _ = sosfilt(s, x, zi=sosfilt_zi(s) * 3.0)
            np.testing.assert_array_equal(got, ref)


def test_python_recursion_is_exact_on_this_machine() -> None:
    """On x86-64 SciPy's kernel rounds every product and sum, so the Python path is on (a
    change to the recursion's arithmetic turns it off here, and this test catches it)."""
    if platform.machine().lower() in {"x86_64", "amd64"}:
        assert sos_module.RECURSION_EXACT
    if sos_module.RECURSION_EXACT:
        sos = butter(2, [0.5, 8.0], btype="bandpass", fs=100.0, output="sos")
        x = _signal(500, 9)
        zi = np.random.default_rng(9).standard_normal((2, 2))
        z = zi.tolist()
        want, zf = sosfilt(sos, x, zi=zi)
        np.testing.assert_array_equal(sos_recursion(sos.tolist(), z, x.tolist()), want)
        assert z == zf.tolist()


def test_a_scipy_that_rounds_differently_gets_every_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    """The import-time check notices a SciPy whose results differ in the last bit (here
    lfilter per section, which adds in another order), and SosState then calls SciPy."""

    def other_rounding(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> tuple[Any, Any]:
        zf = zi.copy()
        for k, row in enumerate(sos):
            x, zf[k] = lfilter(row[:3], row[3:], x, zi=zi[k])
        return x, zf

    monkeypatch.setattr(sos_module, "sosfilt", other_rounding)
    assert not recursion_matches_sosfilt()
    calls: list[int] = []

    def counting(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> tuple[Any, Any]:
        calls.append(x.size)
        return sosfilt(sos, x, zi=zi)

    monkeypatch.setattr(sos_module, "sosfilt", counting)
    monkeypatch.setattr(sos_module, "RECURSION_EXACT", False)
    state = SosState(butter(2, 1.0, fs=32.0, output="sos"))
    state.start(0.0)
    state.filter(np.ones(1))
    assert calls == [1]
