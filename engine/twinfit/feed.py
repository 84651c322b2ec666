"""A fast in-process twin for forecasts: heart rate from the twin's beats, no ECG waveform.

:class:`BeatFeed` is :class:`engine.twinfeed.TwinFeed` without the costliest part of a
dry-run — synthesising a 500 Hz ECG and detecting its R peaks again: the twin's beats go
to the session as an ``hr`` role (one instantaneous rate per beat, like a chest strap), the
skin conductance as the ``eda`` role (32 Hz, through the real EDA extractor). The session
then sees the heart rate through the ``hr`` role's median filter (5 s) instead of the ECG
extractor's median RR of 10 s; a twin with heart-sensor dropouts loses the beats inside
them (the ECG's artefacts and noise are not synthesised: ``--ecg`` shows them);
``vrtherapy bench twin-fit`` measures what that changes.

Heart-sensor dropouts are seen when the ECG would have seen them: the ECG's quality
monitor flags a dropout once no sample came for :data:`HEART_LOSS_AFTER` (0.4 s at
500 Hz), an irregular ``hr`` stream only after 3 s without a beat. A dropout shorter
than about 3 s minus a beat interval would then raise a signal loss in the session
recorded and none in its forecast (at 1.5 s dropouts, 40 per stream-hour: 2.67 losses
per 10-min session recorded, 2.42 forecast with the same seeds, and some runs climbed
two steps higher). So the feed marks each heart dropout that has lasted
:data:`HEART_LOSS_AFTER` with one NaN sample (``nan`` flag: signal loss) which the first
beat after the dropout clears, as the ECG's samples clear its dropout flag.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from biosignals.conversion import SignalSettings
from biosignals.quality import default_dropout_after
from biosignals.role_streams import SharedStream
from biosignals.streams import FakeInlet
from biosignals.twin import TwinPhysiology
from engine.clock import Clock
from engine.live import TWIN_ECG_RATE
from engine.twinfeed import pumped_stream, twin_meta

__all__ = ["HEART_LOSS_AFTER", "BeatFeed"]

HEART_LOSS_AFTER = default_dropout_after(TWIN_ECG_RATE)
"""s without ECG samples before the session sees a heart dropout (see module docstring)."""


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
        self._silent_since: float | None = None
        self._loss_marked = False
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
        beats = chunk.beat_times
        times, values = np.zeros(0), np.zeros(0)
        if beats.size:
            previous = np.concatenate(([self._last_beat or np.nan], beats[:-1]))
            rate = 60.0 / (beats - previous)
            keep = np.isfinite(rate) & self.physiology.heart_present(beats)
            times, values = beats[keep], rate[keep]
            self._last_beat = float(beats[-1])
        losses = self._heart_losses(now)
        if losses.size:
            times = np.concatenate((times, losses))
            values = np.concatenate((values, np.full(losses.size, np.nan)))
            order = np.argsort(times, kind="stable")
            times, values = times[order], values[order]
        if times.size:
            self._hr.push(values, times)
        self._until = now
        self._eda.push(chunk.eda, chunk.eda_t)

    def _heart_losses(self, now: float) -> np.ndarray:
        """When, in (last pump, now], a heart dropout had lasted :data:`HEART_LOSS_AFTER`
        (on the twin's model ticks, where dropouts start; once per dropout)."""
        p = self.physiology
        rate, origin = p.eda_rate, p.start_time
        first = math.floor((self._until - origin) * rate) + 1
        grid = origin + np.arange(first, math.floor((now - origin) * rate) + 1) / rate
        present = p.heart_present(grid)
        if self._silent_since is None and bool(present.all()):
            return np.zeros(0)
        out = []
        for t, here in zip(grid.tolist(), present.tolist(), strict=True):
            if here:
                self._silent_since, self._loss_marked = None, False
                continue
            if self._silent_since is None:
                self._silent_since = t
            if not self._loss_marked and t - self._silent_since >= HEART_LOSS_AFTER:
                out.append(t)
                self._loss_marked = True
        return np.asarray(out)

    def streams(self) -> tuple[SharedStream, ...]:
        """The ``hr`` and ``eda`` streams for the session."""
        return self._streams

    def push_marker(self, event: Mapping[str, Any], timestamp: float) -> None:
        """The simulated patient does not read markers."""

    def push_intensity(self, value: float, timestamp: float) -> None:
        """The intensity the session shows drives the twin's arousal."""
        self.physiology.set_intensity(value)
