"""Helpers shared by the real-LSL tests: pull a number of samples from an inlet in time."""

from __future__ import annotations

import numpy as np
from waiting import wait_for

from biosignals.streams import LslInlet


def pull_until(inlet: LslInlet, n: int, timeout: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Pull until ``n`` samples arrived (polling every 10 ms); fail after ``timeout`` s."""
    values, stamps = [np.zeros(0)], [np.zeros(0)]

    def arrived() -> bool:
        v, t = inlet.pull()
        values.append(v)
        stamps.append(t)
        return sum(x.size for x in values) >= n

    if n > 0:
        wait_for(arrived, timeout, what=f"{n} samples from {inlet.meta.name!r}")
    return np.concatenate(values), np.concatenate(stamps)
