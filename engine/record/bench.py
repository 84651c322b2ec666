"""How much CPU recording a session costs (wired into ``vrtherapy bench``).

Simulates a session's streams -- ECG 500 Hz, PPG 100 Hz, EDA 32 Hz (float32), three 90 Hz
session streams (intensity float32, frame timing 2 x double64, arousal features 3 x
float32) and a marker every 2 s -- pushed once per 90 Hz frame into a real
:class:`~engine.record.XdfRecorder` writing a real file, paced in real time by default
(``threading.Event().wait`` between frames, as a display's vsync would). The harness's own
CPU (pacing waits, slicing the simulated data) is measured on the pushing thread with
``time.thread_time`` around each push and excluded.

``speedup > 1`` runs faster than real time with the recorder's flush / clock-offset /
boundary intervals shortened to match (same pushes, chunks, writes, fsyncs), but it
underestimates the cost (2-3x here): back-to-back pushes run with warm caches, whereas
a real 90 Hz frame pushes a handful of times and then leaves the core. Report real-time
figures.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from engine.record.spec import ChannelSpec, StreamSpec
from engine.record.writer import XdfRecorder

__all__ = ["measure_recording_cost"]

_FRAME_RATE = 90.0
_STREAMS: tuple[tuple[StreamSpec, float], ...] = (
    (StreamSpec("ECG", "ECG", 1, 500.0, "float32", channels=(ChannelSpec("II", "mV"),)), 500.0),
    (StreamSpec("PPG", "PPG", 1, 100.0, "float32"), 100.0),
    (StreamSpec("EDA", "EDA", 1, 32.0, "float32", channels=(ChannelSpec("SC", "uS"),)), 32.0),
    (StreamSpec("intensity", "Intensity", 1, _FRAME_RATE, "float32"), _FRAME_RATE),
    (StreamSpec("frames", "FrameTiming", 2, _FRAME_RATE, "double64"), _FRAME_RATE),
    (StreamSpec("arousal", "Features", 3, _FRAME_RATE, "float32"), _FRAME_RATE),
)


_Feed = tuple[int, np.ndarray, np.ndarray, np.ndarray]


def _prepare(
    rec: XdfRecorder, frame_t: np.ndarray, seconds: float, rng: np.random.Generator
) -> list[_Feed]:
    """Register the streams and generate their data: (id, timestamps, values, frame ends)."""
    feeds = []
    for spec, rate in _STREAMS:
        sid = rec.add_stream(spec)
        ts = np.arange(int(seconds * rate)) / rate
        values = rng.standard_normal((len(ts), spec.channel_count)).astype(np.float32)
        feeds.append((sid, ts, values, np.searchsorted(ts, frame_t, side="right")))
    return feeds


def _simulate(
    rec: XdfRecorder, frame_t: np.ndarray, feeds: list[_Feed], markers: int, speedup: float
) -> tuple[int, float, float]:
    """Push every frame's data, paced at ``speedup`` x real time.

    Returns (pushes, CPU seconds inside push calls, CPU seconds of this harness around them:
    pacing waits, slicing, loop).
    """
    waiter = threading.Event()
    pushes, in_push = 0, 0.0
    wall0 = time.perf_counter()
    cpu0 = time.thread_time()
    starts = [0] * len(feeds)
    ends = [[int(e) for e in feed[3]] for feed in feeds]
    for k, t in enumerate(frame_t.tolist()):
        ahead = t / speedup - (time.perf_counter() - wall0)
        if ahead > 0.002:
            waiter.wait(ahead)
        for i, (sid, ts, values, _) in enumerate(feeds):
            end = ends[i][k]
            if end > starts[i]:
                chunk, stamps = values[starts[i] : end], ts[starts[i] : end]
                c = time.thread_time()
                rec.push(sid, chunk, stamps)
                in_push += time.thread_time() - c
                starts[i] = end
                pushes += 1
        if k % int(2 * _FRAME_RATE) == 0:
            text = f"event {k}"
            c = time.thread_time()
            rec.push_marker(markers, text, t)
            in_push += time.thread_time() - c
            pushes += 1
    harness = time.thread_time() - cpu0 - in_push
    return pushes, in_push, harness


def measure_recording_cost(
    seconds: float = 60.0,
    *,
    speedup: float = 1.0,
    directory: str | os.PathLike[str] | None = None,
) -> dict[str, float]:
    """Record ``seconds`` of simulated session streams and measure the CPU it takes.

    Parameters
    ----------
    seconds
        Simulated session length.
    speedup
        How much faster than real time to run (intervals scaled to match); 1.0 = real
        time, the honest figure (faster runs underestimate, see the module docstring).
    directory
        Where to write the temporary recording (default: a fresh temp directory).

    Returns
    -------
    dict
        ``cpu_fraction``: process CPU seconds (inside push calls + writer thread; the
        harness excluded) per simulated second, i.e. the fraction of one core;
        ``percent_of_core`` (x100); ``caller_fraction`` (inside push calls) and
        ``writer_fraction`` (the rest: the writer thread); ``harness_cpu_seconds``
        (excluded); plus ``cpu_seconds``,
        ``simulated_seconds``, ``wall_seconds``, ``pushes``, ``bytes``, ``chunks``,
        ``samples``.
    """
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        rec = XdfRecorder(
            Path(tmp) / "bench.xdf",
            flush_interval=0.5 / speedup,
            clock_offset_interval=5.0 / speedup,
            boundary_interval=10.0 / speedup,
        )
        frame_t = np.arange(1, int(seconds * _FRAME_RATE) + 1) / _FRAME_RATE
        feeds = _prepare(rec, frame_t, seconds, np.random.default_rng(0))
        markers = rec.add_stream(StreamSpec("markers", "Markers", 1, 0.0, "string"))
        rec.start()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        pushes, caller_cpu, harness_cpu = _simulate(rec, frame_t, feeds, markers, speedup)
        rec.close()
        cpu = time.process_time() - cpu0 - harness_cpu
        wall = time.perf_counter() - wall0
        stats = rec.stats()
    samples = sum(v for k, v in stats.items() if k.startswith("samples."))
    return {
        "simulated_seconds": float(seconds),
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "cpu_fraction": cpu / seconds,
        "percent_of_core": 100.0 * cpu / seconds,
        "caller_fraction": caller_cpu / seconds,
        "writer_fraction": (cpu - caller_cpu) / seconds,
        "harness_cpu_seconds": harness_cpu,
        "pushes": float(pushes),
        "bytes": float(stats["bytes"]),
        "chunks": float(stats["chunks"]),
        "samples": float(samples),
    }
