"""A recording process killed with SIGKILL mid-write, for the plain and sealed crash tests.

The writer pushes a 500 Hz ECG ramp (sample ``i`` has value ``i`` and time
``1000 + i / 500``), as many samples as became due in real time, and a marker every 0.5 s;
it prints how many samples it pushed, then waits until the recorder has written them
(``stats()``; a flush every 0.25 s) before pushing what became due meanwhile. With a key
file it writes an encrypted (sealed) recording.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
from waiting import script

RATE = 500
_WRITER = script(r"""
import time
import numpy as np
from waiting import wait_for
from engine.record import StreamSpec, XdfRecorder
sink = None
if len(sys.argv) > 2:
    from engine.privacy.keys import load_site_key
    from engine.privacy.sealed import sealed_sink
    sink = sealed_sink(load_site_key(sys.argv[2]))
rec = XdfRecorder(sys.argv[1], flush_interval=0.25, sink_factory=sink)
ecg = rec.add_stream(StreamSpec("ECG", "ECG", 1, 500.0, "float32"))
ev = rec.add_stream(StreamSpec("events", "Markers", 1, 0.0, "string"))
rec.start()
t0, sent, k = time.perf_counter(), 0, 0
def due():
    return int((time.perf_counter() - t0) * 500)
while True:
    wait_for(  # what was pushed is written, and more became due
        lambda: rec.stats()["samples.ECG"] >= sent and due() > sent,
        10.0,
        what="the recorder to write the pushed samples",
    )
    idx = np.arange(sent, due())
    rec.push(ecg, idx.astype(np.float32), 1000.0 + idx / 500)
    sent += idx.size
    while sent // 250 > k:  # one marker per 0.5 s of ECG, however much was due
        k += 1
        rec.push_marker(ev, f"m{k}", 1000.0 + k * 250 / 500)
    print(sent, flush=True)
""")


def write_and_kill(path: Path, seconds: float, key_path: Path | None = None) -> int:
    """Run the writer until it pushed ``seconds`` of ECG, SIGKILL it; return samples pushed."""
    args = [sys.executable, "-c", _WRITER, str(path)]
    if key_path is not None:
        args.append(str(key_path))
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        pushed = 0
        while pushed < seconds * RATE:
            line = proc.stdout.readline()
            assert line, "writer subprocess died"
            pushed = int(line)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    return pushed


def assert_ecg_ramp(time_series: np.ndarray, time_stamps: np.ndarray, pushed: int) -> None:
    """The recovered ECG is the writer's ramp, with at most ~1 s lost (0.25 s flushes)."""
    n = len(time_stamps)
    assert n >= pushed - RATE
    assert np.array_equal(time_series[:, 0], np.arange(n, dtype=np.float32))
    assert np.array_equal(time_stamps, 1000.0 + np.arange(n) / RATE)
