"""Flag bookkeeping of :mod:`biosignals.quality`: the flag names, :class:`QualityEvent` and
:class:`FlagBook`, the set of active flags of one stream with the events they make.

Internal: import these names from :mod:`biosignals.quality`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

NAN = "nan"
FLATLINE = "flatline"
CLIPPING = "clipping"
DROPOUT = "dropout"
RATE = "rate"
IMPLAUSIBLE = "implausible"
OUT_OF_RANGE = "out_of_range"
FORMAT = "format"
ARTIFACT = "artifact"

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class QualityEvent:
    """A quality flag that started (``end is None``) or ended on one stream.

    Attributes
    ----------
    role : str
        Stream role (``"heart"``, ``"ppg"``, ``"hr"``, ``"eda"``).
    flag : str
        Flag name (see :mod:`biosignals.quality`).
    start : float
        When the fault began (s, stream clock).
    end : float or None
        When it ended; None for the event that reports the start.
    """

    role: str
    flag: str
    start: float
    end: float | None

    def describe(self) -> str:
        """``'heart:dropout started at 12.30'``-style text."""
        if self.end is None:
            return f"{self.role}:{self.flag} started at {self.start:.2f}"
        lasted = self.end - self.start
        return f"{self.role}:{self.flag} ended at {self.end:.2f} (lasted {lasted:.2f} s)"


class FlagBook:
    """The active flags of one stream (each with the time its fault began) and the
    :class:`QualityEvent` of every start and end, not yet drained.

    Parameters
    ----------
    role : str
        Stream role, named in the events.
    """

    def __init__(self, role: str) -> None:
        self.role = role
        self._active: dict[str, float] = {}
        self._sorted: tuple[str, ...] | None = ()  # sorted flags; None: to be rebuilt
        self._events: list[QualityEvent] = []
        self.raised = 0  # flags raised so far (lets callers see "anything since ...")

    @property
    def active(self) -> tuple[str, ...]:
        """Currently active flags, sorted."""
        if self._sorted is None:
            self._sorted = tuple(sorted(self._active))
        return self._sorted

    @property
    def flagged(self) -> bool:
        """True while any flag is active."""
        return bool(self._active)

    def is_active(self, flag: str) -> bool:
        """True while ``flag`` is raised."""
        return flag in self._active

    def _set(self, flag: str, on: bool, t: float) -> None:
        if on and flag not in self._active:
            self._active[flag] = t
            self._sorted = None
            self.raised += 1
            self._events.append(QualityEvent(self.role, flag, t, None))
        elif not on and flag in self._active:
            start = self._active.pop(flag)
            self._sorted = None
            self._events.append(QualityEvent(self.role, flag, start, max(t, start)))

    def _track(
        self, flag: str, cond: BoolArray, t: FloatArray, onset: FloatArray | None = None
    ) -> None:
        """Raise/clear ``flag`` at every transition of the per-sample condition ``cond``."""
        if cond.size == 0:
            return
        if not cond.any():  # the common case: at most one transition, to "off"
            if flag in self._active:
                self._set(flag, False, float(t[0]))
            return
        prev = np.empty_like(cond)
        prev[0] = flag in self._active
        prev[1:] = cond[:-1]
        for i in np.flatnonzero(cond != prev).tolist():
            on = bool(cond[i])
            self._set(flag, on, float(onset[i] if on and onset is not None else t[i]))

    def flag_value(self, flag: str, bad: bool, t: float) -> None:
        """Set or clear a flag computed outside (e.g. ``implausible`` heart rate)."""
        self._set(flag, bad, t)

    def drain_events(self) -> list[QualityEvent]:
        """Flag starts/ends since the last call."""
        events, self._events = self._events, []
        return events
