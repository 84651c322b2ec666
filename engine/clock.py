"""Time for the whole engine: one time base, the LSL clock, injected everywhere.

Production code gets an :class:`LslClock`; tests and dry-runs get a :class:`ManualClock`
and advance it themselves, so a 40-minute session runs in well under a second.
"""

from __future__ import annotations

import threading
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Anything that tells the current time in seconds on the LSL clock."""

    def now(self) -> float:
        """Current time in seconds."""
        ...

    def wait_until(self, t: float) -> None:
        """Return once the clock reads ``t`` or later (pacing for displays without vsync)."""
        ...


class LslClock:
    """The LSL clock (``pylsl.local_clock``): the time base of every stream and event."""

    def __init__(self) -> None:
        from biosignals.lsl import import_pylsl

        self._local_clock = import_pylsl().local_clock
        self._waiter = threading.Event()

    def now(self) -> float:
        """Current LSL time in seconds."""
        return float(self._local_clock())

    def wait_until(self, t: float) -> None:
        """Block until LSL time ``t``.

        Only used to pace displays that have no vsync of their own (offscreen, null in a
        live session); a windowed or OpenXR display paces the loop itself.
        """
        remaining = t - self.now()
        if remaining > 0:
            self._waiter.wait(remaining)


class ManualClock:
    """A clock that only moves when told to; for tests and dry-runs.

    Parameters
    ----------
    start
        Initial time in seconds.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        """Current (manual) time in seconds."""
        return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (>= 0) and return the new time."""
        if seconds < 0:
            raise ValueError(f"ManualClock cannot go back in time (advance by {seconds})")
        self._now += seconds
        return self._now

    def wait_until(self, t: float) -> None:
        """Jump straight to ``t`` (a dry-run never waits)."""
        if t > self._now:
            self._now = float(t)

    def set(self, t: float) -> None:
        """Jump to time ``t``, which must not be earlier than now."""
        if t < self._now:
            raise ValueError(f"ManualClock cannot go back in time ({t} < {self._now})")
        self._now = float(t)
