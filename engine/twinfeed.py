"""An in-process simulated patient for dry-runs and fast tests (no LSL, no waiting).

:class:`TwinFeed` advances a :class:`~biosignals.twin.TwinPhysiology` to the clock's time
whenever the session pulls, hands the samples over through shipped
:class:`~biosignals.streams.FakeInlet` objects, and takes the intensity the session shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from biosignals.conversion import SignalSettings
from biosignals.reconnect import Gap, StreamPredicate
from biosignals.role_streams import RoleRequest, RoleView, SharedStream, bind_roles
from biosignals.roles import ROLE_UNITS
from biosignals.streams import FakeInlet, StreamMeta
from biosignals.twin import TwinPhysiology, TwinProfile
from engine.clock import Clock
from therapies.controllers import ControllerConfigBase, ExposureConfig


def twin_meta(
    role: str, stream_type: str, rate: float, label: str, unit: str, prefix: str = "twin"
) -> StreamMeta:
    """A one-channel stream's description as a simulated patient publishes it
    (``vrtherapy-PREFIX-TYPE``, source id ``PREFIX-ROLE``)."""
    name = f"vrtherapy-{prefix}-{stream_type}"
    xml = (
        f'<?xml version="1.0"?><info><name>{name}</name><type>{stream_type}</type>'
        f"<channel_count>1</channel_count><nominal_srate>{rate:g}</nominal_srate>"
        f"<channel_format>float32</channel_format><source_id>{prefix}-{role}</source_id>"
        f"<desc><channels><channel><label>{label}</label><unit>{unit}</unit>"
        f"<type>{stream_type}</type></channel></channels></desc></info>"
    )
    return StreamMeta(
        name=name,
        type=stream_type,
        source_id=f"{prefix}-{role}",
        channel_count=1,
        nominal_srate=rate,
        channel_format="float32",
        channel_labels=(label,),
        channel_units=(unit,),
        info_xml=xml,
    )


class Pump(Protocol):
    """An in-process feed that generates its samples up to the clock's time on demand."""

    def pump(self) -> None:
        """Generate everything up to the clock's current time."""


class PumpedSource:
    """One in-process stream as a :class:`~biosignals.role_streams.RawSource`: its feed
    generates up to the clock's time before every pull."""

    def __init__(self, feed: Pump, inlet: FakeInlet) -> None:
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


def pumped_stream(
    feed: Pump,
    inlet: FakeInlet,
    role: str,
    settings: SignalSettings | None = None,
    keep_raw: bool = True,
) -> SharedStream:
    """``inlet`` (fed by ``feed``) as the session's stream of ``role``."""
    request = RoleRequest(role, StreamPredicate(source_id=inlet.meta.source_id), None,
                          settings or SignalSettings(), ROLE_UNITS[role])  # fmt: skip
    bindings = bind_roles(inlet.meta, [request])
    return SharedStream(PumpedSource(feed, inlet), bindings, keep_raw=keep_raw)


class TwinFeed:
    """Feeds a session from a twin in the same process (see module docstring)."""

    def __init__(self, physiology: TwinPhysiology, clock: Clock, ecg_rate: float, eda_rate: float):
        self.physiology, self.clock = physiology, clock
        self.ecg_rate, self.eda_rate = ecg_rate, eda_rate
        self._ecg = FakeInlet(twin_meta("heart", "ECG", ecg_rate, "ECG", "millivolts"))
        self._eda = FakeInlet(twin_meta("eda", "EDA", eda_rate, "EDA", "microsiemens"))
        self._until = clock.now()
        self.beat_times: list[float] = []
        self._streams = (
            pumped_stream(self, self._ecg, "heart"),
            pumped_stream(self, self._eda, "eda"),
        )

    def pump(self) -> None:
        """Generate everything up to the clock's current time."""
        now = self.clock.now()
        if now <= self._until:
            return
        chunk = self.physiology.advance(now)
        self._until = now
        self._ecg.push(chunk.ecg, chunk.ecg_t)
        self._eda.push(chunk.eda, chunk.eda_t)
        self.beat_times.extend(float(t) for t in chunk.beat_times)

    def streams(self) -> tuple[SharedStream, ...]:
        """The twin's ECG and EDA streams (for :class:`~engine.session.Session` ``streams``)."""
        return self._streams

    def sources(self) -> dict[str, tuple[RoleView, float]]:
        """``{role: (source, rate)}`` for :class:`~engine.session.Session`."""
        return {
            role: (view, stream.meta.nominal_srate)
            for stream in self._streams
            for role, view in stream.views.items()
        }

    def push_marker(self, event: Mapping[str, Any], timestamp: float) -> None:
        """The simulated patient does not read markers."""

    def push_intensity(self, value: float, timestamp: float) -> None:
        """The intensity the session shows drives the twin's arousal."""
        self.physiology.set_intensity(value)


def predicted_suds(profile: TwinProfile, controller: ControllerConfigBase) -> int:
    """The simulated patient's answer to "how anxious do you expect to be at the hardest
    step?": its unhabituated SUDS there, ``100 * suds_scale * min(1, reactivity * top)``
    (``top`` the hierarchy's highest intensity; 1 for other controllers), clipped to 0-100.

    A twin habituates and the controller keeps it inside the window, so its peak SUDS stays
    below this: the over-prediction that expectancy violation measures.
    """
    top = max(controller.levels()) if isinstance(controller, ExposureConfig) else 1.0
    arousal = min(1.0, profile.reactivity * top)
    return round(100.0 * min(1.0, max(0.0, profile.suds_scale * arousal)))
