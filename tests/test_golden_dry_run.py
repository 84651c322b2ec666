"""Golden dry-runs: what a fixed dry-run records (every marker, the intensity shown, the
features at each tick) must not change when the engine is restructured.

The golden files in ``tests/golden/`` were written by this test with
``VRTHERAPY_UPDATE_GOLDEN=1``; only regenerate them for an intended change of behaviour,
and say so in the commit.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pyxdf

from engine.live import RunOptions, run_simulated, with_duration
from engine.protocol import load_protocol, resolve_seed
from engine.twin_profiles import load_patient

GOLDEN = Path(__file__).parent / "golden"
CASES = {
    "heights-demo": ("typical", None),
    "breathing-biofeedback": ("typical", 300.0),
    "snow-distraction": ("chronic-pain", 240.0),
    "spiders-graded": ("ectopic-beats", 300.0),
}


def _rounded(values: np.ndarray) -> list[Any]:
    return [None if not np.isfinite(v) else round(float(v), 6) for v in values.ravel()]


def dry_run_digest(tmp_path: Path, name: str) -> dict[str, Any]:
    """Markers, intensity and features of a fixed dry-run, as plain JSON values."""
    patient, duration = CASES[name]
    protocol = with_duration(load_protocol(resolve_seed("protocols", name)), duration)
    opts = RunOptions(out=tmp_path, display="null", frame_rate=2.0, report=False)
    result = run_simulated(protocol, opts, load_patient(patient))
    streams, _ = pyxdf.load_xdf(str(result.recording), dejitter_timestamps=False)
    by = {s["info"]["name"][0]: s for s in streams}
    markers = by["vrtherapy-markers"]
    intensity = by["vrtherapy-intensity"]
    features = by["vrtherapy-features"]
    return {
        "markers": [
            [round(float(t), 6), json.loads(m[0])]
            for t, m in zip(markers["time_stamps"], markers["time_series"], strict=True)
        ],
        "intensity_t": _rounded(np.asarray(intensity["time_stamps"])),
        "intensity": _rounded(np.asarray(intensity["time_series"])),
        "features_t": _rounded(np.asarray(features["time_stamps"])),
        "features": _rounded(np.asarray(features["time_series"])),
    }


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_a_fixed_dry_run_records_what_it_always_recorded(tmp_path: Path, name: str) -> None:
    digest = dry_run_digest(tmp_path, name)
    path = GOLDEN / f"{name}.json.gz"
    if os.environ.get("VRTHERAPY_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_bytes(gzip.compress(json.dumps(digest, sort_keys=True).encode(), mtime=0))
    golden = json.loads(gzip.decompress(path.read_bytes()))
    assert len(digest["markers"]) == len(golden["markers"])
    for got, want in zip(digest["markers"], golden["markers"], strict=True):
        assert got == want
    for key in ("intensity_t", "intensity", "features_t", "features"):
        assert digest[key] == golden[key], key
