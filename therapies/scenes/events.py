"""Scene events in progress: what a therapist made happen, and for how long it shows.

A scene declares its events (``events``: names) and how long each lasts; firing one
(:meth:`therapies.scenes.base.SmoothedLevel.trigger`) starts its clock, every ``update``
advances it by ``dt`` (so an event is deterministic for a sequence of ``(intensity, dt)``
like everything else a scene shows), and the scene draws the event from its age and
:meth:`EventClock.envelope` (0 before and after, 1 in the middle, smooth at the edges).
Firing an event again while it runs starts it over.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = ["EventClock"]


class EventClock:
    """Ages of the events in progress (see the module docstring).

    Parameters
    ----------
    durations
        Seconds each event lasts, by name.
    """

    def __init__(self, durations: Mapping[str, float]) -> None:
        self.durations = dict(durations)
        self._age: dict[str, float] = {}

    def start(self, name: str) -> None:
        """``name`` begins now (again, if it was running)."""
        if name not in self.durations:
            raise ValueError(f"no event {name!r} (events: {', '.join(self.durations)})")
        self._age[name] = 0.0

    def advance(self, dt: float) -> None:
        """Move every running event on by ``dt`` seconds; those that are over end."""
        for name in list(self._age):
            self._age[name] += max(dt, 0.0)
            if self._age[name] >= self.durations[name]:
                del self._age[name]

    def age(self, name: str) -> float | None:
        """Seconds since ``name`` began, or ``None`` when it is not running."""
        return self._age.get(name)

    @property
    def running(self) -> tuple[str, ...]:
        """The events in progress."""
        return tuple(self._age)

    def envelope(self, name: str, fade: float = 0.5) -> float:
        """0..1: 0 when ``name`` is not running, rising over its first ``fade`` seconds
        and falling over its last (raised-cosine edges), 1 between."""
        age = self._age.get(name)
        if age is None:
            return 0.0
        edge = min(age, self.durations[name] - age) / fade if fade > 0 else 1.0
        return 0.5 - 0.5 * math.cos(math.pi * min(max(edge, 0.0), 1.0))
