"""Waiting in tests for real state, never for a fixed time.

A test that waits on something running beside it (a writer thread, an LSL outlet, a
``vrtherapy`` subprocess, an audio device) says *what* it waits for: :func:`wait_for` polls a
predicate over real state until it holds or a deadline passes, and fails naming what was
awaited. A loaded machine then makes a test slower, never wrong, and an idle one makes it
as fast as the awaited thing is.

A simulated device that must emit data in real time paces itself with :func:`ticks`, which
ends the moment its ``stop`` event is set.

This module is the one place in ``tests/`` that blocks with ``Event.wait(<seconds>)``: between
two polls of a predicate that was false, or between two ticks of a simulated device
(``tests/test_codebase.py::test_no_sleep_pacing`` exempts it and fails on such a wait
anywhere else).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
TESTS_DIR = Path(__file__).resolve().parent


class WaitTimeout(AssertionError):
    """What a test waited for did not happen before its deadline (a test failure)."""


def wait_for(
    predicate: Callable[[], T],
    timeout: float,
    *,
    interval: float = 0.01,
    what: str | None = None,
) -> T:
    """Poll ``predicate`` until it returns a truthy value; return that value.

    Parameters
    ----------
    predicate
        Reads real state (and may pull data as it goes); called at once, then after each
        ``interval``. An exception it raises propagates at once (a test may wait for one).
    timeout
        Seconds, on the monotonic clock, before :class:`WaitTimeout` is raised.
    interval
        Longest block between two polls, in seconds.
    what
        What is awaited, for the failure message (default: the predicate's name).

    Returns
    -------
    T
        The predicate's first truthy value.

    Raises
    ------
    WaitTimeout
        When the deadline passed; the message names ``what`` and the last value seen.
    """
    if timeout <= 0 or interval < 0:
        raise ValueError(f"wait_for: timeout must be > 0 and interval >= 0 ({timeout}, {interval})")
    deadline = time.monotonic() + timeout
    pause = threading.Event()  # never set: waiting on it is the pause between two polls
    while True:
        value = predicate()
        if value:
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            name = what or getattr(predicate, "__name__", repr(predicate))
            raise WaitTimeout(f"waited {timeout:g} s for {name}; last value: {value!r}")
        pause.wait(min(interval, left))


def ticks(stop: threading.Event, period: float) -> Iterator[float]:
    """Yield the monotonic time about every ``period`` s until ``stop`` is set.

    For a simulated device publishing in real time (a thread that stamps and pushes what
    became due since its last tick); ``stop.set()`` ends the wait between ticks at once.
    """
    if period <= 0:
        raise ValueError(f"ticks: period must be > 0, got {period}")
    while not stop.is_set():
        yield time.monotonic()
        stop.wait(period)


def script(code: str) -> str:
    """``code`` for ``python -c`` in a subprocess, able to ``from waiting import wait_for``."""
    return f"import sys\nsys.path.insert(0, {str(TESTS_DIR)!r})\n{code}"
