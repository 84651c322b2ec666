"""Signal-quality monitoring: NaN/inf, flatline, dropout and implausible values.

Each :class:`QualityMonitor` watches one stream and keeps a set of active flags with
their onset times; ended flags become :class:`QualityEvent` records for the recording.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

NAN = "nan"
FLATLINE = "flatline"
DROPOUT = "dropout"
IMPLAUSIBLE = "implausible"
OUT_OF_RANGE = "out_of_range"


@dataclass(frozen=True, slots=True)
class QualityEvent:
    """A quality flag that started (``end is None``) or ended on one stream."""

    role: str
    flag: str
    start: float
    end: float | None

    def describe(self) -> str:
        """``'heart:dropout started at 12.30 s'``-style text."""
        if self.end is None:
            return f"{self.role}:{self.flag} started at {self.start:.2f}"
        lasted = self.end - self.start
        return f"{self.role}:{self.flag} ended at {self.end:.2f} (lasted {lasted:.2f} s)"


class QualityMonitor:
    """Quality flags for one stream.

    Parameters
    ----------
    role
        Stream role in the protocol (``"heart"``, ``"eda"``), used in flag names.
    sampling_rate
        Nominal rate in Hz (0 for irregular streams).
    dropout_after
        Seconds without any sample before ``dropout`` is raised.
    flatline_after
        Seconds of (near) constant signal before ``flatline`` is raised.
    value_range
        Physiologically plausible sample range; samples outside raise ``out_of_range``.
    """

    def __init__(
        self,
        role: str,
        sampling_rate: float,
        *,
        dropout_after: float = 0.5,
        flatline_after: float = 1.0,
        flatline_epsilon: float = 1e-6,
        value_range: tuple[float, float] | None = None,
    ) -> None:
        self.role = role
        self.sampling_rate = sampling_rate
        self.dropout_after = dropout_after
        self.flatline_after = flatline_after
        self.flatline_epsilon = flatline_epsilon
        self.value_range = value_range
        self._active: dict[str, float] = {}
        self._events: list[QualityEvent] = []
        self._last_sample_time: float | None = None
        self._flat_since: float | None = None
        self._flat_value: float | None = None

    @property
    def active(self) -> tuple[str, ...]:
        """Currently active flags, sorted."""
        return tuple(sorted(self._active))

    def _set(self, flag: str, on: bool, t: float) -> None:
        if on and flag not in self._active:
            self._active[flag] = t
            self._events.append(QualityEvent(self.role, flag, t, None))
        elif not on and flag in self._active:
            start = self._active.pop(flag)
            self._events.append(QualityEvent(self.role, flag, start, t))

    def update(self, samples: ArrayLike, timestamps: ArrayLike) -> None:
        """Inspect a chunk of samples (values and LSL timestamps)."""
        x = np.asarray(samples, dtype=np.float64).reshape(-1)
        t = np.asarray(timestamps, dtype=np.float64).reshape(-1)
        if x.size == 0:
            return
        finite = np.isfinite(x)
        self._set(
            NAN, not bool(finite[-1]), float(t[np.argmin(finite)] if not finite.all() else t[-1])
        )
        if self._last_sample_time is None:
            self._last_sample_time = float(t[0])
        self._set(DROPOUT, False, float(t[0]))
        self._last_sample_time = float(t[-1])
        good = x[finite]
        if good.size:
            self._update_flatline(good, t[finite])
            if self.value_range is not None:
                lo, hi = self.value_range
                last = float(good[-1])
                self._set(OUT_OF_RANGE, not (lo <= last <= hi), float(t[finite][-1]))

    def _update_flatline(self, x: np.ndarray, t: np.ndarray) -> None:
        ref = self._flat_value if self._flat_value is not None else float(x[0])
        moved = np.flatnonzero(np.abs(x - ref) > self.flatline_epsilon)
        if moved.size:
            last_move = int(moved[-1])
            self._flat_value = float(x[last_move])
            self._flat_since = float(t[last_move])
        elif self._flat_since is None:
            self._flat_value, self._flat_since = ref, float(t[0])
        assert self._flat_since is not None
        flat_for = float(t[-1]) - self._flat_since
        self._set(FLATLINE, flat_for >= self.flatline_after, float(t[-1]))

    def check(self, now: float) -> None:
        """Raise ``dropout`` if no sample arrived for ``dropout_after`` seconds."""
        if self._last_sample_time is None:
            return
        if now - self._last_sample_time > self.dropout_after:
            self._set(DROPOUT, True, self._last_sample_time + self.dropout_after)

    def flag_value(self, flag: str, bad: bool, t: float) -> None:
        """Set or clear a flag computed outside (e.g. ``implausible`` heart rate)."""
        self._set(flag, bad, t)

    def drain_events(self) -> list[QualityEvent]:
        """Flag starts/ends since the last call."""
        events, self._events = self._events, []
        return events


def active_flags(monitors: Iterable[QualityMonitor]) -> tuple[str, ...]:
    """All active flags of several monitors as ``"role:flag"``."""
    return tuple(f"{m.role}:{f}" for m in monitors for f in m.active)
