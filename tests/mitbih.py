"""The MIT-BIH development records for the tests, read by the benchmark's own loader.

The records ship with the project (``benchmarks/data/mitbih``; ``$VRTHERAPY_MITBIH_DIR``
overrides), so these tests never skip for want of data.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from types import ModuleType

import numpy as np

REPO = Path(__file__).resolve().parents[1]


@cache
def bench() -> ModuleType:
    """``benchmarks/mitbih_rpeaks.py`` (loader, scoring), imported from the working tree."""
    spec = importlib.util.spec_from_file_location(
        "mitbih_rpeaks", REPO / "benchmarks" / "mitbih_rpeaks.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def record(name: str) -> tuple[np.ndarray, np.ndarray, float]:
    """(ECG in mV, annotated beat samples, sampling rate) of record ``name``, read-only."""
    ecg, beats, fs = bench().load_record(bench().default_data_dir(), name)
    ecg.setflags(write=False)
    beats.setflags(write=False)
    return ecg, beats, fs
