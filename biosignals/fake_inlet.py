"""A hand-fed inlet for fast unit tests of code that consumes inlets.

Re-exported by :mod:`biosignals.streams`; the real inlet is
:class:`biosignals.streams.LslInlet`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from biosignals.conversion import SignalSettings
from biosignals.errors import SignalError, StreamError
from biosignals.reconnect import Gap, GapTracker, StreamStatus, gap_threshold
from biosignals.stream_meta import EMPTY, StreamMeta, plan_for

__all__ = ["FakeInlet"]


class FakeInlet:
    """An inlet fed by hand with :meth:`push`; same contract as :class:`LslInlet`.

    Values are converted like :class:`LslInlet` does when ``settings`` are given (the
    declared unit comes from ``meta.channel_units``); gaps are found from the pushed
    timestamps. There is no clock mapping or dejittering: push LSL-clock timestamps.

    Parameters
    ----------
    meta
        The stream description the fake pretends to have.
    channel
        Channel label, index, or ``None`` for channel 0.
    settings, role_unit
        As for :class:`LslInlet`.
    """

    def __init__(
        self,
        meta: StreamMeta,
        *,
        channel: str | int | None = None,
        settings: SignalSettings | None = None,
        role_unit: str = "",
    ) -> None:
        self.meta: StreamMeta = meta
        self._index = meta.channel_index(channel)
        self.conversion = plan_for(meta, self._index, settings, role_unit)
        self._values: list[np.ndarray] = []
        self._stamps: list[np.ndarray] = []
        self._closed = False
        self._tracker = GapTracker(gap_threshold(meta.nominal_srate), 0.0)
        self._gaps: list[Gap] = []

    @property
    def status(self) -> StreamStatus:
        """CONNECTED until closed."""
        return StreamStatus.CLOSED if self._closed else StreamStatus.CONNECTED

    @property
    def clock_decision(self) -> bool | None:
        """Always ``False``: a fake is fed LSL-clock stamps."""
        return False

    @property
    def clock_offset(self) -> float | None:
        """Always ``0.0`` (stamps are used as pushed)."""
        return 0.0

    def drain_gaps(self) -> list[Gap]:
        """Gaps in the pulled timestamps since the last call."""
        gaps, self._gaps = self._gaps, []
        return gaps

    def push(self, samples: ArrayLike, timestamps: ArrayLike) -> None:
        """Queue samples for the next pull.

        Parameters
        ----------
        samples
            Shape (n,) for a one-channel stream or (n, channel_count).
        timestamps
            Shape (n,), seconds on the LSL clock.
        """
        if self._closed:
            raise StreamError(f"fake inlet for stream {self.meta.name!r} is closed")
        data = np.asarray(samples, dtype=np.float64)
        ts = np.asarray(timestamps, dtype=np.float64).reshape(-1)
        if data.ndim == 1 and self.meta.channel_count == 1:
            data = data.reshape(-1, 1)
        if data.ndim != 2 or data.shape[1] != self.meta.channel_count:
            raise SignalError(
                f"fake stream {self.meta.name!r}: samples of shape {data.shape} do not have "
                f"{self.meta.channel_count} channel(s)"
            )
        if data.shape[0] != ts.shape[0]:
            raise SignalError(
                f"fake stream {self.meta.name!r}: {data.shape[0]} samples but "
                f"{ts.shape[0]} timestamps"
            )
        self._values.append(data.copy())
        self._stamps.append(ts.copy())

    def pull(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (and forget) everything pushed since the last pull."""
        values, stamps = self.pull_all()
        if stamps.size == 0:
            return EMPTY.copy(), EMPTY.copy()
        selected = values[:, self._index].copy()
        if self.conversion is not None:
            selected = self.conversion(selected)
        return selected, stamps

    def pull_all(self) -> tuple[np.ndarray, np.ndarray]:
        """Every channel of everything pushed since the last pull, unconverted:
        ``(n, channel_count)`` float64 values and ``(n,)`` timestamps."""
        if self._closed:
            raise StreamError(f"fake inlet for stream {self.meta.name!r} is closed")
        empty = np.zeros((0, self.meta.channel_count))
        if not self._stamps:
            return empty, EMPTY.copy()
        values, stamps = np.concatenate(self._values), np.concatenate(self._stamps)
        self._values.clear()
        self._stamps.clear()
        if stamps.size == 0:  # only empty chunks were pushed (e.g. a sensor dropout)
            return empty, EMPTY.copy()
        self._gaps.extend(self._tracker.observe(stamps, float(stamps[-1])))
        return values, stamps

    def close(self) -> None:
        """Drop queued samples; later pulls and pushes raise StreamError (idempotent)."""
        self._closed = True
        self._values.clear()
        self._stamps.clear()
