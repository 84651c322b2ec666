"""A real outlet disappears and comes back; the session's pulls never block or raise.

Outlets push 100 Hz samples whose value is their sample index, stamped on the LSL clock,
paced by elapsed time; "dropping" deletes the outlet (the bridge process dying) and
"restoring" creates a new one with the same identity.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from waiting import wait_for

from biosignals.lsl import import_pylsl
from biosignals.reconnect import StreamStatus
from biosignals.streams import LslInlet, StreamPredicate, open_inlet

pylsl = import_pylsl()
pytestmark = pytest.mark.lsl
RATE = 100.0


class Source:
    """A device bridge that can die and restart with the same name/type/source_id."""

    def __init__(self, kind: str, source_id: str) -> None:
        self.name = f"{kind}{uuid.uuid4().hex[:12]}"
        self.kind, self.source_id = kind, source_id
        self.outlet: Any = None
        self.restore()
        self.t0 = pylsl.local_clock()
        self.sent = 0

    def restore(self) -> None:
        info = pylsl.StreamInfo(self.name, self.kind, 1, RATE, "float32", self.source_id)
        self.outlet = pylsl.StreamOutlet(info)

    def drop(self) -> None:
        self.outlet = None  # destroys the outlet: the inlet's connection breaks

    def pump(self, now: float) -> None:
        due = int((now - self.t0) * RATE)
        if due > self.sent and self.outlet is not None:
            k = np.arange(self.sent, due)
            self.outlet.push_chunk(k.astype(np.float32).reshape(-1, 1),
                                   timestamp=(self.t0 + k / RATE).tolist())  # fmt: skip
        self.sent = max(self.sent, due)


@dataclass
class Log:
    values: list[np.ndarray] = field(default_factory=list)
    stamps: list[np.ndarray] = field(default_factory=list)
    statuses: list[StreamStatus] = field(default_factory=list)
    longest_pull: float = 0.0

    def add(self, inlet: LslInlet) -> None:
        start = pylsl.local_clock()
        v, t = inlet.pull()
        self.longest_pull = max(self.longest_pull, pylsl.local_clock() - start)
        self.values.append(v)
        self.stamps.append(t)
        self.statuses.append(inlet.status)

    def all(self) -> tuple[np.ndarray, np.ndarray]:
        return np.concatenate(self.values), np.concatenate(self.stamps)


def drive(sources: list[Source], inlets: list[LslInlet], drop: Source, until: float) -> list[Log]:
    """Stream for 0.7 s, drop ``drop`` for 1.5 s, restore it, go on until it has resumed
    for 0.5 s (failing after ``until`` seconds in all)."""
    logs = [Log() for _ in inlets]
    start = pylsl.local_clock()
    for source in sources:
        source.t0, source.sent = start, 0
    phase = "before"
    resumed_at: float | None = None

    def resumed_for_half_a_second() -> bool:
        nonlocal phase, resumed_at
        now = pylsl.local_clock()
        if phase == "before" and now - start > 0.7:
            drop.drop()
            phase = "dropped"
        elif phase == "dropped" and now - start > 2.2:
            drop.restore()
            phase = "restored"
        for source in sources:
            source.pump(now)
        for log, inlet in zip(logs, inlets, strict=True):
            log.add(inlet)
        if phase == "restored" and resumed_at is None and inlets[-1].gaps:
            resumed_at = now
        return resumed_at is not None and now - resumed_at > 0.5

    wait_for(resumed_for_half_a_second, until, what=f"{drop.name} to resume for 0.5 s")
    return logs


@pytest.mark.parametrize("with_source_id", [True, False])
def test_dropped_outlet_comes_back_gap_marked(with_source_id: bool) -> None:
    """With a source_id liblsl recovers the same inlet; without one pylsl raises LostError
    and the inlet re-resolves its predicate (by name) in the background."""
    source = Source("ECG", f"src{uuid.uuid4().hex[:12]}" if with_source_id else "")
    inlet = open_inlet(StreamPredicate(type="ECG", name=source.name), 3.0, min_wait=0.2)
    try:
        (log,) = drive([source], [inlet], drop=source, until=9.0)
        values, stamps = log.all()
        assert log.longest_pull < 0.25  # never waits on the network (blocking would be > 0.5)
        assert StreamStatus.STALE in log.statuses or StreamStatus.RESOLVING in log.statuses
        if not with_source_id:
            assert StreamStatus.RESOLVING in log.statuses
        assert inlet.status is StreamStatus.CONNECTED
        (gap,) = inlet.drain_gaps()
        assert inlet.drain_gaps() == [] and inlet.gaps == (gap,)
        assert gap.reopened is (not with_source_id)
        before, after = stamps[stamps <= gap.start], stamps[stamps >= gap.end]
        assert before.size > 50 and after.size > 20  # data before, and it resumed
        assert gap.start == before[-1] and gap.end == after[0]
        assert 1.4 < gap.duration < 5.0
        assert gap.start < source.t0 + 0.75 and values[stamps == gap.end][0] >= 220
        np.testing.assert_array_equal(np.diff(values[stamps >= gap.end]), 1.0)
    finally:
        inlet.close()
    assert inlet.status is StreamStatus.CLOSED


def test_one_of_two_streams_drops_the_other_flows_on() -> None:
    ident = uuid.uuid4().hex[:12]
    ecg, eda = Source("ECG", f"ecg{ident}"), Source("EDA", f"eda{ident}")
    inlets = [
        open_inlet(StreamPredicate(source_id=f"ecg{ident}"), 3.0, min_wait=0.2),
        open_inlet(StreamPredicate(source_id=f"eda{ident}"), 3.0, min_wait=0.2),
    ]
    try:
        ecg_log, eda_log = drive([ecg, eda], inlets, drop=eda, until=9.0)
        ecg_values, ecg_stamps = ecg_log.all()
        first = next(i for i, v in enumerate(ecg_log.values) if v.size)
        assert inlets[0].gaps == ()
        assert set(ecg_log.statuses[first:]) == {StreamStatus.CONNECTED}
        np.testing.assert_array_equal(np.diff(ecg_values), 1.0)  # not one sample missing
        assert ecg_stamps[-1] - ecg_stamps[0] > 2.2
        (gap,) = inlets[1].gaps
        assert 1.4 < gap.duration < 5.0 and not gap.reopened
        assert StreamStatus.STALE in eda_log.statuses
        assert inlets[1].status is StreamStatus.CONNECTED
    finally:
        for inlet in inlets:
            inlet.close()
