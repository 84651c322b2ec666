"""A synthetic ECG beat for the detector's unit tests (test_ecg_split, test_ecg_motion)."""

from __future__ import annotations

import numpy as np


def gauss(u: np.ndarray, sigma: float) -> np.ndarray:
    """An unnormalised Gaussian of width ``sigma`` s, 1 at ``u = 0``."""
    return np.exp(-0.5 * (u / sigma) ** 2)


def beat(u: np.ndarray) -> np.ndarray:
    """Q, R, S and a T wave, R at ``u = 0`` (1 mV)."""
    return (
        gauss(u, 0.010)
        - 0.25 * gauss(u + 0.025, 0.008)
        - 0.3 * gauss(u - 0.025, 0.010)
        + 0.2 * gauss(u - 0.25, 0.04)
    )
