"""The session's garbage-collector policy: collections only at safe points between frames.

Every test watches the collector through its own :data:`gc.callbacks` entry, independently of
:class:`~engine.gcpolicy.CollectorMonitor`, and knows itself whether it is inside a (fake or
real) frame or at the safe point.
"""

from __future__ import annotations

import gc
import itertools
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from conftest import run_cli
from session_helpers import make_session

from biosignals.twin import TwinProfile
from engine.gcpolicy import CollectorMonitor, FrameCollector, frozen_heap
from engine.live import RunOptions, run_simulated, with_duration
from engine.protocol import load_protocol, resolve_seed
from engine.session import Session, SessionState
from engine.twinfeed import TwinFeed


class Node:
    """A container that takes part in reference cycles; the class tracks live instances."""

    live: ClassVar[weakref.WeakSet[Node]] = weakref.WeakSet()

    def __init__(self) -> None:
        self.other: Any = None
        Node.live.add(self)


def make_cycles(n: int) -> list[Node]:
    """``n`` two-node cycles; returns one node of each (drop the list to make garbage)."""
    heads = []
    for _ in range(n):
        a, b = Node(), Node()
        a.other, b.other = b, a
        heads.append(a)
    return heads


class Where:
    """Records the generation of every collection and where it happened (gc.callbacks)."""

    def __init__(self) -> None:
        self.place = "outside"
        self.seen: list[tuple[str, int]] = []

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.seen.append((self.place, info["generation"]))

    def at(self, place: str) -> list[int]:
        return [generation for p, generation in self.seen if p == place]


@pytest.fixture
def where() -> Iterator[Where]:
    w = Where()
    gc.callbacks.append(w._on_gc)
    try:
        yield w
    finally:
        gc.callbacks.remove(w._on_gc)


def fake_frames(
    collector: FrameCollector, where: Where, frames: int, frame: Callable[[int], None]
) -> None:
    """A frame loop: ``frame(i)`` inside the frame, the collector's safe point after it."""
    for i in range(frames):
        where.place = "frame"
        frame(i)
        where.place = "safe point"
        collector.safe_point()
    where.place = "outside"


def test_frozen_heap_freezes_then_unfreezes_and_still_collects_new_cycles() -> None:
    before = gc.get_freeze_count()
    with frozen_heap():
        assert gc.get_freeze_count() > before  # what was alive is frozen
        assert gc.isenabled()  # automatic collection stays on
        del make_cycles(1)[0]  # a cycle made inside the loop
        assert gc.collect() >= 2  # still found and freed
    assert gc.get_freeze_count() == 0


def test_collections_happen_only_at_safe_points_and_keep_cyclic_garbage_bounded(
    where: Where,
) -> None:
    peak = 0

    def frame(i: int) -> None:
        nonlocal peak
        make_cycles(40)  # 80 nodes of cyclic garbage per frame, 240k in all
        peak = max(peak, len(Node.live))

    with FrameCollector(young=700, ratio1=10, ratio2=10) as collector:
        assert not gc.isenabled()
        fake_frames(collector, where, 3000, frame)
        stats = collector.stats
    assert where.at("frame") == []  # not one collection inside a frame
    at_safe = where.at("safe point")
    assert {0, 1, 2} <= set(at_safe)  # young, middle and full collections all ran there
    assert at_safe.count(0) > at_safe.count(1) > at_safe.count(2)  # CPython's schedule
    # what the monitor reports agrees
    assert stats.inside_frames == 0 and stats.at_safe_points == len(at_safe)
    assert sum(stats.collections) == len(at_safe)
    assert stats.collected >= 200_000
    # garbage never piles up: at most a few hundred frames' worth lives at any time
    assert peak < 5_000, peak
    assert where.at("outside") == [2]  # the entry collection, before the loop (not counted)


def test_long_lived_cycles_are_reclaimed_by_full_collections_at_safe_points(
    where: Where,
) -> None:
    window: deque[list[Node]] = deque()
    peak = 0

    def frame(i: int) -> None:
        nonlocal peak
        window.append(make_cycles(10))  # lives 200 frames: promoted to the old generation
        if len(window) > 200:
            window.popleft()  # ... then becomes garbage there
        peak = max(peak, len(Node.live))

    # CPython's schedule, scaled down: a full collection about every 120 frames here; the
    # injected timers say every collection is cheap (no CPU-speed dependence in the test)
    monitor = CollectorMonitor(2.0, lambda: 0.0, lambda: 0.0)
    with FrameCollector(young=100, ratio1=5, ratio2=5, monitor=monitor) as collector:
        fake_frames(collector, where, 4000, frame)
    assert where.at("frame") == [] and where.at("safe point").count(2) > 10
    alive = 200 * 10 * 2
    assert peak < 3 * alive, peak  # freed by full collections, not only after the session
    assert collector.refrozen == 0  # cheap full collections never freeze their survivors
    window.clear()


@pytest.mark.slow
def test_expensive_full_collection_freezes_its_survivors_until_the_session_ends(
    where: Where,
) -> None:
    wall, cpu = itertools.count(), itertools.count()
    # every collection "takes" 2.5 ms (wall and CPU): over the 2 ms budget
    monitor = CollectorMonitor(2.0, lambda: next(wall) * 0.0025, lambda: next(cpu) * 0.0025)
    keep = make_cycles(500)
    with FrameCollector(2.0, young=100, ratio1=2, ratio2=2, monitor=monitor) as collector:
        frozen_at_start = gc.get_freeze_count()
        survivors = make_cycles(300)  # alive during the first full collection

        def frame(i: int) -> None:
            make_cycles(40)

        fake_frames(collector, where, 400, frame)
        assert 2 in where.at("safe point")
        assert collector.refrozen >= 600  # the survivors were frozen after it ...
        assert gc.get_freeze_count() == frozen_at_start + collector.refrozen
        assert monitor.stats.over_budget == len(where.at("safe point"))
        del survivors[:]  # ... so their cycles, now garbage, wait for the session's end
        fake_frames(collector, where, 400, frame)
        assert len(Node.live) >= 600 + 1000
    assert gc.get_freeze_count() == 0
    del keep
    gc.collect()
    assert len(Node.live) == 0


def test_previous_collector_state_is_restored_even_after_an_exception() -> None:
    thresholds, enabled = gc.get_threshold(), gc.isenabled()
    callbacks = list(gc.callbacks)
    try:
        gc.set_threshold(900, 11, 12)
        with pytest.raises(RuntimeError, match="frame failed"), FrameCollector():
            assert not gc.isenabled() and gc.get_freeze_count() > 0
            assert len(gc.callbacks) == len(callbacks) + 1
            raise RuntimeError("frame failed")
        assert gc.isenabled() and gc.get_threshold() == (900, 11, 12)
        assert gc.get_freeze_count() == 0 and gc.callbacks == callbacks
        gc.disable()  # a collector that was off stays off
        with FrameCollector():
            pass
        assert not gc.isenabled()
    finally:
        gc.set_threshold(*thresholds)
        if enabled:
            gc.enable()


def test_schedule_defaults_to_the_interpreters_thresholds_and_refuses_bad_ones() -> None:
    collector = FrameCollector()
    schedule = (collector.young, collector.ratio1, collector.ratio2)
    assert schedule == tuple(max(1, t) for t in gc.get_threshold())
    with pytest.raises(ValueError, match="must be positive"):
        FrameCollector(young=0)


class LitteringFeed(TwinFeed):
    """A twin that leaves cyclic garbage behind every pump (as any Python code may)."""

    def pump(self) -> None:
        super().pump()
        make_cycles(60)


def _watch_steps(session: Session, where: Where) -> None:
    step = session.step

    def watched(now: float) -> bool:
        where.place = "step"
        try:
            return step(now)
        finally:
            where.place = "between frames"

    session.step = watched  # type: ignore[method-assign]


def demo(seconds: float) -> Any:
    return with_duration(load_protocol(resolve_seed("protocols", "heights-demo")), seconds)


def test_session_run_collects_between_frames_only(tmp_path: Path, where: Where) -> None:
    # without the policy CPython collects wherever allocation crosses its threshold: in step()
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    session, _, recorder = make_session(tmp_path / "a", demo(30.0), feed_cls=LitteringFeed)
    _watch_steps(session, where)
    session.run()
    recorder.close()
    assert where.at("step"), "the instrument sees automatic collections inside step()"
    where.seen.clear()
    session, _, recorder = make_session(tmp_path / "b", demo(30.0), feed_cls=LitteringFeed)
    _watch_steps(session, where)
    with FrameCollector() as collector:
        summary = session.run(collector.safe_point)
    recorder.close()
    assert summary.state is SessionState.FINISHED
    assert where.at("step") == []
    assert len(where.at("between frames")) > 10 and collector.stats.inside_frames == 0


@pytest.mark.slow
def test_dry_run_steps_with_automatic_collection_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[bool, bool]] = []
    step = Session.step

    def watched(self: Session, now: float) -> bool:
        seen.append((gc.isenabled(), gc.get_freeze_count() > 0))
        return step(self, now)

    monkeypatch.setattr(Session, "step", watched)
    opts = RunOptions(out=tmp_path, display="null", report=False)
    result = run_simulated(demo(25.0), opts, TwinProfile())
    assert result.summary.state is SessionState.FINISHED
    assert seen and set(seen) == {(False, True)}  # collector off, start-up heap frozen
    assert gc.isenabled() and gc.get_freeze_count() == 0  # and restored after


def test_bench_gc_prints_memory_rows_and_no_collection_inside_frames() -> None:
    args = ("--protocol", "heights-demo", "--minutes", "1", "--frame-rate", "30", "--every", "0.5")
    r = run_cli("bench", "gc", *args)
    assert r.returncode == 0, r.stderr
    rows = [line for line in r.stdout.splitlines() if " min  rss " in line]
    assert len(rows) == 2 and all("(inside frames 0)" in row for row in rows), r.stdout
    assert " 0.5 min " in rows[0] and " 1.0 min " in rows[1]
    assert "0 inside frames" in r.stdout.splitlines()[-2]
