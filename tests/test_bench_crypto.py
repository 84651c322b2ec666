"""``vrtherapy bench crypto`` runs: it records a simulated session plain and sealed.

It imported three private helpers of engine.record.bench and broke when that module moved
to SessionRecording; it now uses the module's public ones (prepare_feeds,
simulate_frames, FRAME_RATE)."""

from __future__ import annotations

import re

from conftest import run_cli


def test_bench_crypto_records_plain_and_sealed() -> None:
    r = run_cli("bench", "crypto", "--seconds", "2", "--repeat", "1", "--speedup", "50")
    assert r.returncode == 0, r.stderr
    assert re.search(r"^plain recorder : \d+\.\d+ % of a core", r.stdout, re.M), r.stdout
    assert re.search(r"^sealed recorder: \d+\.\d+ % of a core", r.stdout, re.M), r.stdout
    size = re.search(r"file size      : plain (\d+) B, sealed (\d+) B", r.stdout)
    assert size is not None and int(size[2]) > int(size[1]) > 0  # sealing adds framing
