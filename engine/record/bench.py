"""How much CPU recording a session costs (wired into ``vrtherapy bench``).

Simulates a 90 Hz headset session's recording through the path a live session uses,
:class:`~engine.session_record.SessionRecording` over a real
:class:`~engine.record.XdfRecorder` writing a real file: raw ECG 500 Hz, PPG 100 Hz and
EDA 32 Hz (float32) handed over every frame as an inlet pull would deliver them; every
frame the intensity, the frame-timing row (6 x float32) and the head pose (7 x float32);
a feature row at each 1 s controller tick and a JSON marker every 2 s. Paced in real time
by default (``threading.Event().wait`` between frames, as a display's vsync would). The
harness's own CPU (pacing waits, slicing the simulated data) is measured on the pushing
thread with ``time.thread_time`` around each recording call and excluded.

``speedup > 1`` runs faster than real time with the recorder's flush / clock-offset /
boundary intervals shortened to match (same pushes, chunks, writes, fsyncs), but it
underestimates the cost (2-3x here): back-to-back calls run with warm caches, whereas a
real 90 Hz frame records a handful of values and then leaves the core. Report real-time
figures.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biosignals.features import FeatureSnapshot
from engine.record.spec import ChannelSpec, StreamSpec
from engine.record.writer import XdfRecorder
from engine.session_record import SessionRecording

__all__ = ["FRAME_RATE", "measure_recording_cost", "prepare_feeds", "simulate_frames"]

FRAME_RATE = 90.0
"""Frames per second of the simulated session (a headset's 90 Hz)."""
_RAW: tuple[tuple[str, StreamSpec], ...] = (
    ("heart", StreamSpec("ECG", "ECG", 1, 500.0, "float32", channels=(ChannelSpec("II", "mV"),))),
    ("ppg", StreamSpec("PPG", "PPG", 1, 100.0, "float32")),
    ("eda", StreamSpec("EDA", "EDA", 1, 32.0, "float32", channels=(ChannelSpec("SC", "uS"),))),
)


@dataclass(frozen=True)
class _XrFrame:
    """What :meth:`SessionRecording.frame` reads of an OpenXR display's last frame."""

    predicted_display_period_ns: int = 11_111_111
    late: bool = False
    should_render: bool = True
    skipped_periods: int = 0
    head_pose_valid: bool = True
    head_position: tuple[float, float, float] = (0.0, 1.6, 0.0)
    head_orientation: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)
    display_time_monotonic_s: float | None = None


_Feed = tuple[str, np.ndarray, np.ndarray, list[int]]


def prepare_feeds(
    rec: SessionRecording, frame_t: np.ndarray, seconds: float, rng: np.random.Generator
) -> list[_Feed]:
    """Register the raw streams and generate their data: (role, timestamps, values, ends)."""
    feeds = []
    for role, spec in _RAW:
        rec.add_source(role, spec)
        ts = np.arange(int(seconds * spec.nominal_srate)) / spec.nominal_srate
        values = rng.standard_normal(len(ts)).astype(np.float32)
        ends = np.searchsorted(ts, frame_t, side="right").tolist()
        feeds.append((role, ts, values, ends))
    return feeds


def simulate_frames(
    rec: SessionRecording, frame_t: np.ndarray, feeds: list[_Feed], speedup: float
) -> tuple[int, float, float]:
    """Record every frame's data, paced at ``speedup`` x real time.

    Returns (recording calls, CPU seconds inside them, CPU seconds of this harness around
    them: pacing waits, slicing, loop).
    """
    waiter = threading.Event()
    calls, inside = 0, 0.0
    wall0 = time.perf_counter()
    cpu0 = time.thread_time()
    starts = [0] * len(feeds)
    xr = _XrFrame()
    tick = int(FRAME_RATE)
    for k, t in enumerate(frame_t.tolist()):
        ahead = t / speedup - (time.perf_counter() - wall0)
        if ahead > 0.002:
            waiter.wait(ahead)
        chunks = []
        for i, (role, ts, values, ends) in enumerate(feeds):
            end = ends[k]
            if end > starts[i]:
                chunks.append((role, values[starts[i] : end], ts[starts[i] : end]))
                starts[i] = end
        c = time.thread_time()  # one clock pair per frame: each read costs ~1 us itself
        for role, chunk, stamps in chunks:
            rec.raw(role, chunk, stamps)
        rec.intensity(0.5, t)
        rec.frame(1.0, k, t, xr)
        if k % tick == 0:
            rec.features(FeatureSnapshot(t, 70.0, 4.0, 2.0, 0.5, True))
            calls += 1
        if k % (2 * tick) == 0:
            rec.marker({"event": "note", "text": f"event {k}"}, t)
            calls += 1
        inside += time.thread_time() - c
        calls += 2 + len(chunks)
    harness = time.thread_time() - cpu0 - inside
    return calls, inside, harness


def measure_recording_cost(
    seconds: float = 60.0,
    *,
    speedup: float = 1.0,
    directory: str | os.PathLike[str] | None = None,
) -> dict[str, float]:
    """Record ``seconds`` of a simulated session and measure the CPU it takes.

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
        ``cpu_fraction``: process CPU seconds (inside the recording calls + writer thread;
        the harness excluded) per simulated second, i.e. the fraction of one core;
        ``percent_of_core`` (x100); ``caller_fraction`` (inside the recording calls) and
        ``writer_fraction`` (the rest: the writer thread); ``harness_cpu_seconds``
        (excluded); plus ``cpu_seconds``, ``simulated_seconds``, ``wall_seconds``,
        ``calls`` (recording calls by the session), ``pushes`` (recorder pushes they
        made), ``bytes``, ``chunks``, ``samples``.
    """
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        recorder = XdfRecorder(
            Path(tmp) / "bench.xdf",
            flush_interval=0.5 / speedup,
            clock_offset_interval=5.0 / speedup,
            boundary_interval=10.0 / speedup,
        )
        rec = SessionRecording(recorder, head_pose=True)
        frame_t = np.arange(1, int(seconds * FRAME_RATE) + 1) / FRAME_RATE
        feeds = prepare_feeds(rec, frame_t, seconds, np.random.default_rng(0))
        pushes = 0
        push = recorder.push

        def counted(*args: object, **kwargs: object) -> None:
            nonlocal pushes
            pushes += 1
            push(*args, **kwargs)  # type: ignore[arg-type]

        recorder.push = counted  # type: ignore[method-assign]
        recorder.start()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        calls, caller_cpu, harness_cpu = simulate_frames(rec, frame_t, feeds, speedup)
        c = time.thread_time()
        rec.flush()
        caller_cpu += time.thread_time() - c
        recorder.close()
        cpu = time.process_time() - cpu0 - harness_cpu
        wall = time.perf_counter() - wall0
        stats = recorder.stats()
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
        "calls": float(calls),
        "pushes": float(pushes),
        "bytes": float(stats["bytes"]),
        "chunks": float(stats["chunks"]),
        "samples": float(samples),
    }
