"""Keep Python's garbage collector out of the frames of a session.

CPython collects whenever allocations cross a threshold, wherever that happens: in the
middle of drawing a frame just as well as between frames. Its oldest-generation collection
walks every tracked container of the process; in a headset session that is tens of
thousands of objects built before the first frame (modules, meshes, ctypes structures of the
OpenXR bindings, the protocol model...). A full pass measured ~86 ms of CPU inside one frame
on the project's 2-core test machine under Monado, and, with the start-up heap frozen, a
75 ms generation-2 collection still fell inside the frame loop at 90 Hz.

:class:`FrameCollector` takes the collector over for the length of a session:

- on entry it collects once and freezes what is alive (:func:`gc.freeze`: start-up objects
  are never walked again), then turns automatic collection **off**;
- the loop calls :meth:`FrameCollector.safe_point` once per frame, after the frame was
  presented and before the next one starts (``Session.run``'s ``between_frames`` hook). It
  runs the collection CPython would have run, on CPython's own schedule (its thresholds by
  default: young generation after ``young`` net container allocations, generation 1 every
  ``ratio1`` young ones, a full pass over the unfrozen heap every ``ratio2`` of those), but
  only there;
- a full collection whose CPU time went over half the ``budget_ms`` freezes what survived
  it, so that the next one walks only what the loop allocated since: every collection stays
  within the budget however long the session runs;
- on exit (also on an exception) the heap is unfrozen and the previous collector state
  (enabled, thresholds) is restored.

Memory stays bounded: cyclic garbage is reclaimed at the safe points as before. What the
policy gives up is garbage among objects it froze mid-session (they were alive then and
became unreachable in a cycle later): it is reclaimed after the session, when the heap is
unfrozen. ``vrtherapy bench gc`` measures it over a 60-minute session.

:class:`CollectorMonitor` records every collection through :data:`gc.callbacks` (generation,
wall and CPU duration, whether it ran at a safe point or inside a frame);
:class:`CollectorStats` is its summary, reported by ``vrtherapy bench xr`` and ``bench gc``.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = [
    "CollectorMonitor",
    "CollectorStats",
    "FrameCollector",
    "frozen_heap",
    "resident_memory_mib",
]


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Collect, freeze the surviving objects for the ``with`` block, unfreeze after.

    Automatic collection stays on (the policy before :class:`FrameCollector`; kept for
    comparison in ``bench xr --gc freeze``).
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def resident_memory_mib() -> float:
    """Resident memory of this process in MiB (Linux ``/proc``; NaN elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return float("nan")
    return pages * 4096 / 2**20


@dataclass(frozen=True)
class CollectorStats:
    """What the collector did while a :class:`CollectorMonitor` watched.

    Attributes
    ----------
    collections
        Number of collections of generation 0, 1 and 2.
    at_safe_points, inside_frames
        Collections run by :meth:`FrameCollector.safe_point`, and all others (automatic, or
        a ``gc.collect()`` somewhere in the frame loop).
    longest_ms, longest_cpu_ms
        Longest pause, wall-clock and CPU time of the collecting thread.
    longest_inside_ms
        Longest pause among ``inside_frames`` (0 when there was none).
    longest_by_generation_ms
        Longest wall-clock pause of each generation.
    total_ms
        Wall-clock time spent collecting.
    over_budget
        Pauses longer than the monitor's ``budget_ms``.
    collected
        Unreachable objects found.
    """

    collections: tuple[int, int, int]
    at_safe_points: int
    inside_frames: int
    longest_ms: float
    longest_cpu_ms: float
    longest_inside_ms: float
    longest_by_generation_ms: tuple[float, float, float]
    total_ms: float
    over_budget: int
    collected: int

    def describe(self) -> str:
        """One line for benchmark output."""
        return (
            f"collections (gen 0/1/2) {list(self.collections)}: {self.at_safe_points} at safe "
            f"points, {self.inside_frames} inside frames; longest {self.longest_ms:.2f} ms "
            f"(CPU {self.longest_cpu_ms:.2f} ms; by generation "
            f"{[round(v, 2) for v in self.longest_by_generation_ms]}), longest inside a "
            f"frame {self.longest_inside_ms:.2f} ms, {self.over_budget} over budget, "
            f"{self.total_ms:.0f} ms in all"
        )


class CollectorMonitor:
    """Every garbage collection, timed through :data:`gc.callbacks`.

    Use as a context manager (installs and removes the callback). Aggregates only, so that
    an hour at 90 Hz costs no memory.

    Parameters
    ----------
    budget_ms
        Pauses longer than this count in :attr:`CollectorStats.over_budget`.
    timer, cpu_timer
        Wall-clock and thread-CPU time in seconds (injectable for tests).
    """

    def __init__(
        self,
        budget_ms: float = 2.0,
        timer: Callable[[], float] = time.perf_counter,
        cpu_timer: Callable[[], float] = time.thread_time,
    ) -> None:
        self.budget_ms = budget_ms
        self._timer, self._cpu_timer = timer, cpu_timer
        self.at_safe_point = False
        """Set by :class:`FrameCollector` around its own collections."""
        self.last_cpu_ms = 0.0
        """CPU time of the latest collection."""
        self._start = self._start_cpu = 0.0
        self._counts = [0, 0, 0]
        self._longest_gen = [0.0, 0.0, 0.0]
        self._safe = self._inside = self._over = self._collected = 0
        self._longest = self._longest_cpu = self._longest_inside = self._total = 0.0

    def __enter__(self) -> CollectorMonitor:
        gc.callbacks.append(self._on_gc)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start, self._start_cpu = self._timer(), self._cpu_timer()
            return
        ms = (self._timer() - self._start) * 1e3
        cpu_ms = (self._cpu_timer() - self._start_cpu) * 1e3
        generation = min(2, int(info["generation"]))
        self.last_cpu_ms = cpu_ms
        self._counts[generation] += 1
        self._longest_gen[generation] = max(self._longest_gen[generation], ms)
        self._longest, self._longest_cpu = max(self._longest, ms), max(self._longest_cpu, cpu_ms)
        self._total += ms
        self._over += ms > self.budget_ms
        self._collected += int(info.get("collected", 0))
        if self.at_safe_point:
            self._safe += 1
        else:
            self._inside += 1
            self._longest_inside = max(self._longest_inside, ms)

    @property
    def count(self) -> int:
        """Collections so far."""
        return self._safe + self._inside

    @property
    def stats(self) -> CollectorStats:
        """The figures so far."""
        c, g = self._counts, self._longest_gen
        return CollectorStats(
            (c[0], c[1], c[2]), self._safe, self._inside, self._longest, self._longest_cpu,
            self._longest_inside, (g[0], g[1], g[2]), self._total, self._over, self._collected,
        )  # fmt: skip


class FrameCollector:
    """Automatic collection off for a session; collections at its safe points only.

    See the module docstring. Use as a context manager around the frame loop and call
    :meth:`safe_point` between frames.

    Parameters
    ----------
    budget_ms
        Longest pause wanted at a safe point; a full collection that took more than half of
        it (CPU time) freezes its survivors.
    young, ratio1, ratio2
        Net container allocations before a young collection, young collections per
        generation-1 collection, generation-1 collections per full one; by default the
        interpreter's thresholds (:func:`gc.get_threshold`, e.g. 2000, 10, 10 on 3.13).
    monitor
        Records the collections; by default one of its own with ``budget_ms``.
    """

    def __init__(
        self,
        budget_ms: float = 2.0,
        *,
        young: int | None = None,
        ratio1: int | None = None,
        ratio2: int | None = None,
        monitor: CollectorMonitor | None = None,
    ) -> None:
        interpreter = [max(1, t) for t in gc.get_threshold()]
        young = interpreter[0] if young is None else young
        ratio1 = interpreter[1] if ratio1 is None else ratio1
        ratio2 = interpreter[2] if ratio2 is None else ratio2
        if budget_ms <= 0 or young < 1 or ratio1 < 1 or ratio2 < 1:
            raise ValueError("budget_ms, young, ratio1 and ratio2 must be positive")
        self.budget_ms = budget_ms
        self.young, self.ratio1, self.ratio2 = young, ratio1, ratio2
        self.monitor = monitor or CollectorMonitor(budget_ms)
        self.refrozen = 0
        """Objects frozen by safe-point full collections (not counting the entry freeze)."""
        self._saved: tuple[bool, tuple[int, ...]] | None = None

    def __enter__(self) -> FrameCollector:
        if self._saved is not None:
            raise RuntimeError("FrameCollector is already active")
        self._saved = (gc.isenabled(), gc.get_threshold())
        gc.collect()  # before the first frame; not in the monitor's figures
        gc.freeze()
        gc.disable()
        self.monitor.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        saved, self._saved = self._saved, None
        if saved is None:
            return
        enabled, thresholds = saved
        self.monitor.__exit__()  # first: what follows may trigger a collection
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        if enabled:
            gc.enable()

    @property
    def stats(self) -> CollectorStats:
        """The monitor's figures."""
        return self.monitor.stats

    def due(self) -> int | None:
        """The generation a safe point would collect now, or ``None``."""
        young, young_runs, middle_runs = gc.get_count()
        if young < self.young:
            return None
        if young_runs + 1 < self.ratio1:
            return 0
        return 2 if middle_runs + 1 >= self.ratio2 else 1

    def safe_point(self) -> int | None:
        """Run the collection that is due, if any; return its generation.

        Call between frames (after one is presented, before the next starts).
        """
        generation = self.due()
        if generation is None:
            return None
        self._collect(generation)
        if generation == 2 and self.monitor.last_cpu_ms > self.budget_ms / 2:
            before = gc.get_freeze_count()
            gc.freeze()
            self.refrozen += gc.get_freeze_count() - before
        return generation

    def _collect(self, generation: int) -> None:
        self.monitor.at_safe_point = True
        try:
            gc.collect(generation)
        finally:
            self.monitor.at_safe_point = False
