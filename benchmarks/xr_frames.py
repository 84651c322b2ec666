"""Sustained OpenXR frames of the heights scene: submitted, late, dropped, CPU per frame.

Runs inside the project's OpenXR harness (``scripts/xr/harness.sh``: Monado's simulated
headset in a Debian chroot, as root), which imports the working tree; from the repository::

    # 20 Hz null compositor, runtime-recommended 320x240 per eye
    bash scripts/xr/harness.sh run -- python -m benchmarks.xr_frames --seconds 300
    # 90 Hz compositor on Xvfb (Monado's main compositor, lavapipe), optional smaller eyes
    bash scripts/xr/harness.sh run --xvfb -- \
        python -m benchmarks.xr_frames --seconds 60 --eye-size 224 252
    # the same with the collector as before engine.gcpolicy.FrameCollector (--gc freeze),
    # or CPython's default (--gc off)

(``vrtherapy bench xr ARGS`` inside the harness is the same.)

What is measured
----------------
Every frame is a real ``xrWaitFrame`` / ``xrBeginFrame`` / render both eyes /
``xrEndFrame``, paced by the runtime. Per frame: ``time.thread_time()`` of the calling thread
around ``scene.update() + draw_list() + display.present()`` (*CPU*; excludes the time blocked
in ``xrWaitFrame`` and llvmpipe's rasteriser threads, includes what the GL driver does on
this thread), and the display's :class:`~engine.display.openxr.XrFrameInfo`: *late* = the
frame's ``xrEndFrame`` returned after its predicted display time; *dropped* = display
periods the runtime skipped. The frame budget is a 90 Hz headset's 11.1 ms. PyOpenGL error
checking is off (``VRTHERAPY_GL_ERROR_CHECKING=0``) unless the environment sets it.

Garbage collector (``--gc``): ``policy`` (default) is what a session does,
:class:`engine.gcpolicy.FrameCollector` entered after warm-up with its safe point called
after each frame's ``present()``; ``freeze`` only freezes the heap after warm-up and leaves
automatic collection on (the policy before); ``off`` leaves CPython's collector alone. Every
collection is timed (:class:`engine.gcpolicy.CollectorMonitor`): longest pause, how many ran
inside a frame (anywhere but a safe point), and how many late frames had a collection in
them or at the safe point before them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vrtherapy_benchmarks.bench_args import bench_parser, count, positive

os.environ.setdefault("VRTHERAPY_GL_ERROR_CHECKING", "0")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import numpy as np

from engine.display.openxr import OpenXRDisplay
from engine.gcpolicy import (
    CollectorMonitor,
    CollectorStats,
    FrameCollector,
    frozen_heap,
    resident_memory_mib,
)
from therapies.scenes import HeightsScene

if TYPE_CHECKING:
    from engine.display.openxr import XrFrameInfo
    from therapies.scenes.base import DrawList

FRAME_BUDGET_MS = 1000.0 / 90.0
_FIXED_INSTANCES = 110  # as benchmarks/render_cpu.py: balcony, railing, cars, ground
_WARMUP_FRAMES = 30


def _pct(samples: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples), q)) if samples else float("nan")


def measure(
    seconds: float,
    objects: int = 200,
    graphics: str = "auto",
    eye_size: tuple[int, int] | None = None,
    gc_mode: str = "policy",
) -> dict[str, object]:
    """Present heights-scene frames to the OpenXR runtime for ``seconds``; return figures.

    Parameters
    ----------
    seconds
        Wall-clock seconds of measured frames (after 30 warm-up frames).
    objects
        Approximate instances per frame (same convention as ``render_cpu.py``).
    graphics
        ``auto``, ``egl`` or ``glx`` (see :class:`OpenXRDisplay`).
    eye_size
        Per-eye resolution; default the runtime's recommendation.
    gc_mode
        ``policy``, ``freeze`` or ``off`` (module docstring), from the end of warm-up.

    Returns
    -------
    dict
        ``frames``, ``submitted``, ``late``, ``dropped_periods``, ``runtime_hz``,
        ``achieved_fps``, ``cpu_p50_ms``/``cpu_p99_ms``/``cpu_max_ms`` and their % of
        11.1 ms, ``margin_min_ms``/``margin_p1_ms`` (slack before the display time),
        ``wait_p50_ms``, ``busy_p50_ms``/``busy_p99_ms`` (wall time of a frame outside
        ``xrWaitFrame``: CPU plus waiting on the rasteriser), ``instances``, ``eye_size``,
        ``graphics``, ``runtime``; the collector's: ``gc_mode``, ``gc`` (the
        :class:`~engine.gcpolicy.CollectorStats` as a dict), ``gc_late_frames`` (late
        frames with a collection in them or at the safe point before them); ``rss_mib``:
        resident memory after warm-up and at the end.
    """
    if gc_mode not in GC_MODES:
        raise ValueError(f"gc_mode {gc_mode!r} is not one of {', '.join(GC_MODES)}")
    buildings = max(1, (objects - _FIXED_INSTANCES) // 2 + 1)
    scene = HeightsScene(seed=0, buildings=buildings)
    display = OpenXRDisplay(graphics=graphics, eye_size=eye_size)
    monitor, frames = CollectorMonitor(), _Frames()
    stack = contextlib.ExitStack()
    safe_point: Callable[[], object] = _no_safe_point
    try:
        period_s, i, t_start, base, rss_start = 1.0 / 90.0, 0, 0.0, display.stats, 0.0
        while True:
            if i == _WARMUP_FRAMES:
                safe_point = _enter_gc_mode(gc_mode, monitor, stack)
                t_start, base, rss_start = time.perf_counter(), display.stats, resident_memory_mib()
            if i > _WARMUP_FRAMES and time.perf_counter() - t_start >= seconds:
                break
            if display.poll().quit:
                break
            t0, w0 = time.thread_time(), time.perf_counter()
            scene.update(0.5 - 0.5 * float(np.cos(2.0 * np.pi * i * period_s / 20.0)), period_s)
            dl = scene.draw_list()
            display.present(dl)
            t1, w1 = time.thread_time(), time.perf_counter()
            frame = display.last_frame
            if frame is not None:
                period_s = frame.predicted_display_period_ns / 1e9
                if i >= _WARMUP_FRAMES:
                    frames.add(frame, (t1 - t0) * 1e3, (w1 - w0) * 1e3, dl, monitor.count)
            safe_point()  # as Session.run calls it after each step
            i += 1
        elapsed = time.perf_counter() - t_start
        end, rss_end = display.stats, resident_memory_mib()
        eye_size, runtime, graphics = display.eye_size, display.runtime, display.graphics
    finally:
        stack.close()
        display.close()
    n = end.frames - base.frames
    return {
        "seconds": elapsed,
        "frames": n,
        "submitted": end.submitted - base.submitted,
        "late": end.late - base.late,
        "dropped_periods": end.skipped_periods - base.skipped_periods,
        "runtime_hz": 1.0 / period_s,
        "achieved_fps": n / elapsed if elapsed > 0 else 0.0,
        **frames.figures(),
        "gc_mode": gc_mode,
        "gc": dataclasses.asdict(monitor.stats),
        "rss_mib": [rss_start, rss_end],
        "eye_size": list(eye_size),
        "graphics": graphics,
        "runtime": runtime,
    }


GC_MODES = ("policy", "freeze", "off")


def _no_safe_point() -> None:
    return None


def _enter_gc_mode(
    mode: str, monitor: CollectorMonitor, stack: contextlib.ExitStack
) -> Callable[[], object]:
    """Set the collector up as ``mode`` says; return what to call after each frame."""
    if mode == "policy":
        return stack.enter_context(FrameCollector(monitor=monitor)).safe_point
    if mode == "freeze":
        stack.enter_context(frozen_heap())
    stack.enter_context(monitor)
    return _no_safe_point


class _Frames:
    """Per-frame figures of the measured frames."""

    def __init__(self) -> None:
        self.cpu: list[float] = []
        self.margins: list[float] = []
        self.waits: list[float] = []
        self.busy: list[float] = []
        self.counts: list[int] = []
        self.late_with_gc = 0
        self._collections = -1

    def add(
        self, frame: XrFrameInfo, cpu_ms: float, wall_ms: float, dl: DrawList, gcs: int
    ) -> None:
        """One presented frame; ``gcs``: collections so far (monitor count)."""
        self.cpu.append(cpu_ms)
        self.waits.append(frame.wait_ms)
        self.busy.append(wall_ms - frame.wait_ms)
        self.counts.append(dl.instance_count)
        if frame.margin_ms is not None:
            self.margins.append(frame.margin_ms)
        if frame.late and self._collections >= 0 and gcs > self._collections:
            self.late_with_gc += 1
        self._collections = gcs

    def figures(self) -> dict[str, object]:
        """The per-frame part of :func:`measure`'s figures."""
        cpu = self.cpu
        return {
            "cpu_p50_ms": _pct(cpu, 50),
            "cpu_p99_ms": _pct(cpu, 99),
            "cpu_max_ms": max(cpu, default=float("nan")),
            "cpu_p50_pct_of_11_1ms": 100.0 * _pct(cpu, 50) / FRAME_BUDGET_MS,
            "cpu_p99_pct_of_11_1ms": 100.0 * _pct(cpu, 99) / FRAME_BUDGET_MS,
            "margin_min_ms": min(self.margins, default=float("nan")),
            "margin_p1_ms": _pct(self.margins, 1),
            "wait_p50_ms": _pct(self.waits, 50),
            "busy_p50_ms": _pct(self.busy, 50),
            "busy_p99_ms": _pct(self.busy, 99),
            "instances": float(np.mean(self.counts)) if self.counts else 0.0,
            "gc_late_frames": self.late_with_gc,
        }


def main(argv: list[str] | None = None) -> int:
    """Print :func:`measure` for the command-line arguments (``--json`` for raw figures)."""
    parser = bench_parser("vrtherapy bench xr", __doc__)
    parser.add_argument("--seconds", type=positive(86_400.0), default=60.0)
    parser.add_argument("--objects", type=count(1, 100_000), default=200)
    parser.add_argument("--graphics", default="auto", choices=("auto", "egl", "glx"))
    parser.add_argument(
        "--eye-size", type=count(16, 16_384), nargs=2, metavar=("W", "H"), default=None
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--gc", default="policy", choices=GC_MODES,
        help="collector: as a session (policy), heap frozen only (freeze), CPython's (off)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    eye = (args.eye_size[0], args.eye_size[1]) if args.eye_size else None
    r = measure(args.seconds, args.objects, args.graphics, eye, gc_mode=args.gc)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    _print(r)
    return 0


def _print(r: dict[str, Any]) -> None:
    print(
        f"xr_frames: {r['runtime']} graphics={r['graphics']} eye={r['eye_size']} "
        f"instances={r['instances']:.0f} runtime={r['runtime_hz']:.1f} Hz"
    )
    print(
        f"  {r['seconds']:.1f} s: frames={r['frames']} submitted={r['submitted']} "
        f"late={r['late']} dropped_periods={r['dropped_periods']} "
        f"({r['achieved_fps']:.1f} fps)"
    )
    print(
        f"  CPU per stereo frame p50 {r['cpu_p50_ms']:.2f} ms "
        f"({r['cpu_p50_pct_of_11_1ms']:.0f}% of 11.1 ms)  p99 {r['cpu_p99_ms']:.2f} ms "
        f"({r['cpu_p99_pct_of_11_1ms']:.0f}%)  max {r['cpu_max_ms']:.2f} ms"
    )
    print(
        f"  slack before display time: min {r['margin_min_ms']:.2f} ms, "
        f"p1 {r['margin_p1_ms']:.2f} ms; xrWaitFrame p50 {r['wait_p50_ms']:.2f} ms; "
        f"busy p50 {r['busy_p50_ms']:.2f} ms p99 {r['busy_p99_ms']:.2f} ms"
    )
    print(f"  garbage collector ({r['gc_mode']}): {CollectorStats(**r['gc']).describe()}")
    print(f"  late frames with a collection in or just before them: {r['gc_late_frames']}")
    print(
        "  resident memory after warm-up / at the end: "
        f"{r['rss_mib'][0]:.1f} / {r['rss_mib'][1]:.1f} MiB"
    )


if __name__ == "__main__":
    raise SystemExit(main())
