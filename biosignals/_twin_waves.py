"""PQRST waveforms of the twin's ECG: Gaussian waves per beat, summed over a sample block.

Internal to :mod:`biosignals.twin_model`. Each wave is cut to +-``CUT_SIGMAS`` sigma, with
its support computed in *global* sample indices, so a block's samples do not depend on how
the recording is chunked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# PQRST waves: (offset from R in s, amplitude in mV, width sigma in s, Bazett-scaled?)
WAVES = (
    (-0.17, 0.15, 0.025, False),  # P
    (-0.035, -0.12, 0.010, False),  # Q
    (0.0, 1.2, 0.012, False),  # R
    (0.035, -0.25, 0.012, False),  # S
    (0.26, 0.30, 0.045, True),  # T
)
# Premature ventricular beat: no P wave, wide QRS, discordant (inverted) T
PVC_WAVES = (
    (0.0, 1.5, 0.030, False),  # wide R
    (0.07, -0.6, 0.030, False),  # deep S
    (0.32, -0.45, 0.060, True),  # inverted T
)
CUT_SIGMAS = 4.0
BEAT_BEFORE = 0.17 + CUT_SIGMAS * 0.025  # earliest wave start before R, s
BEAT_AFTER = 0.32 * math.sqrt(2.0) + CUT_SIGMAS * 0.060  # latest wave end after R, s


def pqrst(
    t: np.ndarray,
    first: int,
    beats: Sequence[tuple[float, float, bool]],
    start_time: float,
    rate: float,
) -> np.ndarray:
    """Sum of every beat's waves at the samples ``t`` (global indices ``first``...).

    Parameters
    ----------
    t
        Sample times, ``start_time + (first + i) / rate``.
    first
        Global index of ``t[0]``.
    beats
        ``(R time, preceding RR, is PVC)`` of every beat whose waves may reach ``t``.
    start_time, rate
        The sample grid.
    """
    ecg = np.zeros(t.size)
    n = t.size
    for r_time, rr, pvc in beats:
        for offset, amp, sigma, bazett in PVC_WAVES if pvc else WAVES:
            centre = r_time + (offset * math.sqrt(rr) if bazett else offset)
            lo = math.ceil((centre - CUT_SIGMAS * sigma - start_time) * rate) - first
            if lo >= n:
                break  # this beat's later waves start later still
            hi = math.floor((centre + CUT_SIGMAS * sigma - start_time) * rate) - first + 1
            lo, hi = max(lo, 0), min(hi, n)
            if lo < hi:
                z = (t[lo:hi] - centre) / sigma
                ecg[lo:hi] += amp * np.exp(-0.5 * z * z)
    return ecg
