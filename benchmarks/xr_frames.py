"""Sustained OpenXR frames of the heights scene: submitted, late, dropped, CPU per frame.

Runs inside the project's OpenXR harness (``scripts/xr/harness.sh``: Monado's simulated
headset in a Debian chroot, as root), which imports the working tree; from the repository::

    # 20 Hz null compositor, runtime-recommended 320x240 per eye
    bash scripts/xr/harness.sh run -- python -m benchmarks.xr_frames --seconds 300
    # 90 Hz compositor on Xvfb (Monado's main compositor, lavapipe), optional smaller eyes
    bash scripts/xr/harness.sh run --xvfb -- \
        python -m benchmarks.xr_frames --seconds 60 --eye-size 224 252

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
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import time

os.environ.setdefault("VRTHERAPY_GL_ERROR_CHECKING", "0")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import numpy as np

from engine.display.openxr import OpenXRDisplay
from engine.gcpolicy import frozen_heap
from therapies.scenes import HeightsScene

FRAME_BUDGET_MS = 1000.0 / 90.0
_FIXED_INSTANCES = 110  # as benchmarks/render_cpu.py: balcony, railing, cars, ground
_WARMUP_FRAMES = 30


class _GcPauses:
    """Wall-clock duration of every garbage collection, by generation (gc.callbacks)."""

    def __init__(self) -> None:
        self._start = 0.0
        self.ms: dict[int, list[float]] = {0: [], 1: [], 2: []}
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.ms[info["generation"]].append((time.perf_counter() - self._start) * 1e3)

    def stop(self) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def max_ms(self) -> list[float]:
        return [round(max(v, default=0.0), 2) for v in self.ms.values()]

    def count(self) -> list[int]:
        return [len(v) for v in self.ms.values()]


def _pct(samples: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples), q)) if samples else float("nan")


def measure(
    seconds: float,
    objects: int = 200,
    graphics: str = "auto",
    eye_size: tuple[int, int] | None = None,
    freeze: bool = True,
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
    freeze
        Freeze the heap after warm-up (:func:`engine.gcpolicy.frozen_heap`), as a session
        does; ``False`` measures CPython's default collector behaviour.

    Returns
    -------
    dict
        ``frames``, ``submitted``, ``late``, ``dropped_periods``, ``runtime_hz``,
        ``achieved_fps``, ``cpu_p50_ms``/``cpu_p99_ms``/``cpu_max_ms`` and their % of
        11.1 ms, ``margin_min_ms``/``margin_p1_ms`` (slack before the display time),
        ``wait_p50_ms``, ``busy_p50_ms``/``busy_p99_ms`` (wall time of a frame outside
        ``xrWaitFrame``: CPU plus waiting on the rasteriser), ``instances``, ``eye_size``,
        ``graphics``, ``runtime``.
    """
    buildings = max(1, (objects - _FIXED_INSTANCES) // 2 + 1)
    scene = HeightsScene(seed=0, buildings=buildings)
    display = OpenXRDisplay(graphics=graphics, eye_size=eye_size)
    pauses = _GcPauses()
    stack = contextlib.ExitStack()
    stack.callback(pauses.stop)
    cpu: list[float] = []
    margins: list[float] = []
    waits: list[float] = []
    busy: list[float] = []
    counts: list[int] = []
    try:
        period_s, i, t_start, base = 1.0 / 90.0, 0, 0.0, display.stats
        while True:
            if i == _WARMUP_FRAMES:
                if freeze:  # as engine.live does around Session.run()
                    stack.enter_context(frozen_heap())
                t_start, base = time.perf_counter(), display.stats
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
                    cpu.append((t1 - t0) * 1e3)
                    waits.append(frame.wait_ms)
                    busy.append((w1 - w0) * 1e3 - frame.wait_ms)
                    counts.append(dl.instance_count)
                    if frame.margin_ms is not None:
                        margins.append(frame.margin_ms)
            i += 1
        elapsed = time.perf_counter() - t_start
        end = display.stats
        eye_size, runtime, graphics = display.eye_size, display.runtime, display.graphics
    finally:
        stack.close()
        display.close()
    frames = end.frames - base.frames
    return {
        "seconds": elapsed,
        "frames": frames,
        "submitted": end.submitted - base.submitted,
        "late": end.late - base.late,
        "dropped_periods": end.skipped_periods - base.skipped_periods,
        "runtime_hz": 1.0 / period_s,
        "achieved_fps": frames / elapsed if elapsed > 0 else 0.0,
        "cpu_p50_ms": _pct(cpu, 50),
        "cpu_p99_ms": _pct(cpu, 99),
        "cpu_max_ms": max(cpu, default=float("nan")),
        "cpu_p50_pct_of_11_1ms": 100.0 * _pct(cpu, 50) / FRAME_BUDGET_MS,
        "cpu_p99_pct_of_11_1ms": 100.0 * _pct(cpu, 99) / FRAME_BUDGET_MS,
        "margin_min_ms": min(margins, default=float("nan")),
        "margin_p1_ms": _pct(margins, 1),
        "wait_p50_ms": _pct(waits, 50),
        "busy_p50_ms": _pct(busy, 50),
        "busy_p99_ms": _pct(busy, 99),
        "instances": float(np.mean(counts)) if counts else 0.0,
        "gc_frozen": freeze,
        "gc_max_ms": pauses.max_ms(),
        "gc_count": pauses.count(),
        "eye_size": list(eye_size),
        "graphics": graphics,
        "runtime": runtime,
    }


def main() -> None:
    """Print :func:`measure` for the command-line arguments (``--json`` for raw figures)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--objects", type=int, default=200)
    parser.add_argument("--graphics", default="auto", choices=("auto", "egl", "glx"))
    parser.add_argument("--eye-size", type=int, nargs=2, metavar=("W", "H"), default=None)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--no-gc-freeze", action="store_true", help="leave CPython's collector as it is"
    )
    args = parser.parse_args()
    eye = (args.eye_size[0], args.eye_size[1]) if args.eye_size else None
    r = measure(args.seconds, args.objects, args.graphics, eye, freeze=not args.no_gc_freeze)
    if args.json:
        print(json.dumps(r, indent=2))
        return
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
    print(
        f"  garbage collections (gen 0/1/2) {r['gc_count']}, longest ms {r['gc_max_ms']}, "
        f"heap frozen after warm-up: {r['gc_frozen']}"
    )


if __name__ == "__main__":
    main()
