"""Helpers shared by the real-LSL tests: pull a number of samples from an inlet in time."""

from __future__ import annotations

import threading

import numpy as np

from biosignals.lsl import import_pylsl
from biosignals.streams import LslInlet

pylsl = import_pylsl()


def pull_until(inlet: LslInlet, n: int, timeout: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Pull until ``n`` samples arrived or ``timeout`` s passed (polling every 10 ms)."""
    values, stamps = [np.zeros(0)], [np.zeros(0)]
    deadline = pylsl.local_clock() + timeout
    waiter = threading.Event()
    got = 0
    while got < n and pylsl.local_clock() < deadline:
        v, t = inlet.pull()
        values.append(v)
        stamps.append(t)
        got += v.size
        waiter.wait(0.01)
    return np.concatenate(values), np.concatenate(stamps)
