"""Garbage collector over a whole session: pauses, and memory over 60 minutes at 90 Hz.

A session as ``engine.live`` wires it (in-process twin with ECG 500 Hz and EDA 32 Hz, real XDF
recording, null display) runs on a manual clock at ``--frame-rate`` frames per simulated
second, so an hour of 90 Hz frames (324,000 steps) takes minutes instead of an hour. The
collector is set up as ``--gc`` says: ``policy`` (default) is what a live session does
(:class:`engine.gcpolicy.FrameCollector`, safe point after each step), ``freeze`` the policy
before it (heap frozen, automatic collection on), ``off`` CPython's own.

Every ``--every`` simulated minutes, at a point between frames, it prints the process's
resident memory, the tracked containers the collector can still walk (not frozen), the
frozen ones, and the collector's figures so far (:class:`engine.gcpolicy.CollectorStats`:
collections at safe points and inside frames, longest pause). Memory that grows with the
session's length shows up as a rising row; with the policy it must stay flat.

    vrtherapy bench gc --minutes 60 --frame-rate 90
"""

from __future__ import annotations

import contextlib
import gc
import tempfile
import time
from pathlib import Path

from vrtherapy_benchmarks.bench_args import bench_parser, positive

from biosignals.twin import TwinPhysiology, TwinProfile
from engine.clock import ManualClock
from engine.display.null import NullDisplay
from engine.gcpolicy import CollectorMonitor, FrameCollector, frozen_heap, resident_memory_mib
from engine.live import TWIN_ECG_RATE, TWIN_EDA_RATE, with_duration
from engine.protocol import Protocol, load_protocol, resolve_seed
from engine.record import XdfRecorder
from engine.record.rolemap import raw_stream_spec
from engine.session import Session
from engine.session_record import SessionRecording
from engine.twinfeed import TwinFeed
from therapies.scenes import create_scene

GC_MODES = ("policy", "freeze", "off")


class _Sampler:
    """Called between frames: prints a row every ``every_frames`` frames."""

    def __init__(self, monitor: CollectorMonitor, every_frames: int, minutes_per_row: float):
        self.monitor, self.every, self.per_row = monitor, every_frames, minutes_per_row
        self.frames = 0
        self.rows: list[tuple[float, float, int, int]] = []

    def __call__(self) -> None:
        self.frames += 1
        if self.frames % self.every:
            return
        tracked, frozen = len(gc.get_objects()), gc.get_freeze_count()
        row = (len(self.rows) + 1) * self.per_row, resident_memory_mib(), tracked, frozen
        self.rows.append(row)
        s = self.monitor.stats
        print(
            f"  {row[0]:5.1f} min  rss {row[1]:7.1f} MiB  tracked {tracked:7d}  frozen "
            f"{frozen:7d}  collections {list(s.collections)} (inside frames "
            f"{s.inside_frames})  longest {s.longest_ms:6.2f} ms (CPU {s.longest_cpu_ms:.2f})",
            flush=True,
        )


def _session(protocol: Protocol, folder: Path, frame_rate: float) -> tuple[Session, XdfRecorder]:
    clock = ManualClock(0.0)
    feed = TwinFeed(
        TwinPhysiology(TwinProfile(), start_time=0.0, seed=protocol.seed),
        clock,
        TWIN_ECG_RATE,
        TWIN_EDA_RATE,
    )
    recorder = XdfRecorder(folder / "session.xdf")
    recorder.start()
    session = Session(
        protocol,
        clock=clock,
        display=NullDisplay(),
        scene=create_scene(protocol.scene, protocol.seed),
        sources=feed.sources(),
        streams=feed.streams(),
        recording=SessionRecording(recorder, batch_seconds=0.25),
        raw_specs=[raw_stream_spec(stream) for stream in feed.streams()],
        sinks=(feed,),
        frame_rate=frame_rate,
    )
    return session, recorder


def measure(protocol: str, minutes: float, frame_rate: float, gc_mode: str, every: float) -> int:
    """Run the session, printing rows as it goes; return the number of frames."""
    if gc_mode not in GC_MODES:
        raise ValueError(f"gc_mode {gc_mode!r} is not one of {', '.join(GC_MODES)}")
    p = with_duration(load_protocol(resolve_seed("protocols", protocol)), minutes * 60.0)
    monitor = CollectorMonitor()
    sampler = _Sampler(monitor, max(1, round(every * 60.0 * frame_rate)), every)
    with tempfile.TemporaryDirectory() as out, contextlib.ExitStack() as stack:
        session, recorder = _session(p, Path(out), frame_rate)
        stack.callback(recorder.close)
        if gc_mode == "policy":
            collector = stack.enter_context(FrameCollector(monitor=monitor))

            def between_frames() -> None:
                collector.safe_point()
                monitor.at_safe_point = True  # the sampler's own work is not a frame
                try:
                    sampler()
                finally:
                    monitor.at_safe_point = False

        else:
            if gc_mode == "freeze":
                stack.enter_context(frozen_heap())
            stack.enter_context(monitor)
            between_frames = sampler
        wall = time.perf_counter()
        summary = session.run(between_frames)
        wall = time.perf_counter() - wall
        print(f"  {summary.frames} frames in {wall:.0f} s; {monitor.stats.describe()}")
        if gc_mode == "policy":
            print(f"  objects frozen by expensive full collections: {collector.refrozen}")
    return summary.frames


def main(argv: list[str] | None = None) -> int:
    """Print the collector's figures and memory over a session."""
    parser = bench_parser("vrtherapy bench gc", __doc__)
    parser.add_argument("--protocol", default="heights-graded")
    parser.add_argument("--minutes", type=positive(1440.0), default=60.0)
    parser.add_argument("--frame-rate", type=positive(1000.0), default=90.0)
    parser.add_argument("--gc", default="policy", choices=GC_MODES)
    parser.add_argument("--every", type=positive(1440.0), default=5.0, help="minutes between rows")
    args = parser.parse_args(argv)
    print(
        f"gc_session: {args.protocol}, {args.minutes:g} min at {args.frame_rate:g} frames/s, "
        f"collector {args.gc}"
    )
    measure(args.protocol, args.minutes, args.frame_rate, args.gc, args.every)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
