"""A fast in-process twin for forecasts: heart rate from the twin's beats, no ECG waveform.

:class:`BeatFeed` is :class:`engine.twinfeed.TwinFeed` without the costliest part of a
dry-run — synthesising a 500 Hz ECG and detecting its R peaks again: the twin's beats go
to the session as an ``hr`` role (one instantaneous rate per beat, like a chest strap), the
skin conductance as the ``eda`` role (32 Hz, through the real EDA extractor). The session
then sees the heart rate through the ``hr`` role's median filter (5 s) instead of the ECG
extractor's median RR of 10 s; a twin with heart-sensor dropouts loses the beats inside
them (the ECG's artefacts and noise are not synthesised: ``--ecg`` shows them);
``vrtherapy bench twin-fit`` measures what that changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from biosignals.conversion import SignalSettings
from biosignals.role_streams import SharedStream
from biosignals.streams import FakeInlet
from biosignals.twin import TwinPhysiology
from engine.clock import Clock
from engine.twinfeed import pumped_stream, twin_meta

__all__ = ["BeatFeed"]


class BeatFeed:
    """Feeds a session from a twin made with ``ecg=False`` (see module docstring)."""

    def __init__(self, physiology: TwinPhysiology, clock: Clock) -> None:
        self.physiology, self.clock = physiology, clock
        self._hr = FakeInlet(twin_meta("hr", "HR", 0.0, "HR", "bpm", "forecast"))
        self._eda = FakeInlet(
            twin_meta("eda", "EDA", physiology.eda_rate, "EDA", "microsiemens", "forecast")
        )
        self._until = clock.now()
        self._last_beat: float | None = None
        self._streams = (
            pumped_stream(self, self._hr, "hr", SignalSettings(content="hr_bpm"), keep_raw=False),
            pumped_stream(self, self._eda, "eda", keep_raw=False),
        )

    def pump(self) -> None:
        """Generate everything up to the clock's current time."""
        now = self.clock.now()
        if now <= self._until:
            return
        chunk = self.physiology.advance(now)
        self._until = now
        beats = chunk.beat_times
        if beats.size:
            previous = np.concatenate(([self._last_beat or np.nan], beats[:-1]))
            rate = 60.0 / (beats - previous)
            keep = np.isfinite(rate) & self.physiology.heart_present(beats)
            self._hr.push(rate[keep], beats[keep])
            self._last_beat = float(beats[-1])
        self._eda.push(chunk.eda, chunk.eda_t)

    def streams(self) -> tuple[SharedStream, ...]:
        """The ``hr`` and ``eda`` streams for the session."""
        return self._streams

    def push_marker(self, event: Mapping[str, Any], timestamp: float) -> None:
        """The simulated patient does not read markers."""

    def push_intensity(self, value: float, timestamp: float) -> None:
        """The intensity the session shows drives the twin's arousal."""
        self.physiology.set_intensity(value)
