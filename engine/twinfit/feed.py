"""A fast in-process twin for forecasts: heart rate from the twin's beats, no ECG waveform.

:class:`BeatFeed` is :class:`engine.twinfeed.TwinFeed` without the costliest part of a
dry-run — synthesising a 500 Hz ECG and detecting its R peaks again: the twin's beats go
to the session as an ``hr`` role (one instantaneous rate per beat, like a chest strap), the
skin conductance as the ``eda`` role (32 Hz, through the real EDA extractor). The session
then sees the heart rate through the ``hr`` role's median filter (5 s) instead of the ECG
extractor's median RR of 10 s; ``vrtherapy bench twin-fit`` measures what that changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from biosignals.conversion import SignalSettings
from biosignals.reconnect import Gap, StreamPredicate
from biosignals.role_streams import RoleRequest, SharedStream, bind_roles
from biosignals.roles import ROLE_UNITS
from biosignals.streams import FakeInlet, StreamMeta
from biosignals.twin import TwinPhysiology
from engine.clock import Clock

__all__ = ["BeatFeed"]


def _meta(role: str, stream_type: str, rate: float, label: str, unit: str) -> StreamMeta:
    name = f"vrtherapy-forecast-{stream_type}"
    xml = (
        f'<?xml version="1.0"?><info><name>{name}</name><type>{stream_type}</type>'
        f"<channel_count>1</channel_count><nominal_srate>{rate:g}</nominal_srate>"
        f"<channel_format>float32</channel_format><source_id>forecast-{role}</source_id>"
        f"<desc><channels><channel><label>{label}</label><unit>{unit}</unit>"
        f"<type>{stream_type}</type></channel></channels></desc></info>"
    )
    return StreamMeta(
        name=name,
        type=stream_type,
        source_id=f"forecast-{role}",
        channel_count=1,
        nominal_srate=rate,
        channel_format="float32",
        channel_labels=(label,),
        channel_units=(unit,),
        info_xml=xml,
    )


class _Source:
    """One stream of the feed as a raw source: the twin advances before every pull."""

    def __init__(self, feed: BeatFeed, inlet: FakeInlet) -> None:
        self._feed, self.inlet = feed, inlet

    @property
    def meta(self) -> StreamMeta:
        return self.inlet.meta

    @property
    def clock_decision(self) -> bool | None:
        return self.inlet.clock_decision

    @property
    def clock_offset(self) -> float | None:
        return self.inlet.clock_offset

    def pull_all(self) -> tuple[np.ndarray, np.ndarray]:
        self._feed.pump()
        return self.inlet.pull_all()

    def drain_gaps(self) -> list[Gap]:
        return self.inlet.drain_gaps()

    def close(self) -> None:
        self.inlet.close()


class BeatFeed:
    """Feeds a session from a twin made with ``ecg=False`` (see module docstring)."""

    def __init__(self, physiology: TwinPhysiology, clock: Clock) -> None:
        self.physiology, self.clock = physiology, clock
        self._hr = FakeInlet(_meta("hr", "HR", 0.0, "HR", "bpm"))
        self._eda = FakeInlet(_meta("eda", "EDA", physiology.eda_rate, "EDA", "microsiemens"))
        self._until = clock.now()
        self._last_beat: float | None = None
        settings = {"hr": SignalSettings(content="hr_bpm"), "eda": SignalSettings()}
        self._streams = tuple(
            SharedStream(
                _Source(self, inlet),
                bind_roles(
                    inlet.meta,
                    [
                        RoleRequest(
                            role,
                            StreamPredicate(source_id=inlet.meta.source_id),
                            None,
                            settings[role],
                            ROLE_UNITS[role],
                        )
                    ],
                ),
                keep_raw=False,
            )
            for role, inlet in (("hr", self._hr), ("eda", self._eda))
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
            keep = np.isfinite(rate)
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
