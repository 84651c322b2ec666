"""Repair on a full disk (issue 14, failure 7): the backup is never empty or partial, a
failed repair leaves the recording as it was, and the repair succeeds once space is freed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.record import StreamSpec, xdf
from engine.record.reader import scan_chunks

HELPER = Path(__file__).with_name("full_disk_repair.py")
SAMPLES = 40_000


@pytest.fixture(scope="module")
def torn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ~320 KB recording in 40 Samples chunks, cut inside its last one and without
    footers, as a killed writer leaves it (written chunk by chunk, no writer thread)."""
    spec = StreamSpec("ECG", "ECG", 2, 500.0, "float32")
    parts = [xdf.MAGIC, xdf.file_header_chunk({}), xdf.stream_header_chunk(1, spec.to_xml())]
    assert spec.dtype is not None
    record = xdf.sample_dtype(spec.dtype, 2)
    for block in range(SAMPLES // 1000):
        idx = np.arange(block * 1000, block * 1000 + 1000)
        values = np.column_stack([idx, -idx]).astype(np.float32)
        parts.append(xdf.numeric_samples_chunk(1, values, 10.0 + idx / 500, record))
    data = b"".join(parts)
    path = tmp_path_factory.mktemp("torn") / "recording.xdf"
    path.write_bytes(data[: len(data) - 700])
    scan = scan_chunks(path)
    assert scan.torn and scan.streams[1].sample_count == SAMPLES - 1000
    return path


def _run(prefix: list[str], mode: str, torn: Path, work: Path, hardlink: bool) -> dict[str, Any]:
    work.mkdir()
    r = subprocess.run(
        [*prefix, sys.executable, str(HELPER), mode, str(torn), str(work), str(int(hardlink))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    return dict(json.loads(r.stdout.strip().splitlines()[-1]))


def _assert_clean_failure_then_success(out: dict[str, Any]) -> None:
    assert out["first"].startswith("cannot "), out["first"]
    assert "free some space and repair again" in out["first"]
    # nothing left behind: no empty or partial backup, no temporary file
    assert out["after_failure"] == {"recording.xdf": out["after_failure"]["recording.xdf"]}
    assert out["unchanged"], "a failed repair must leave the recording as it was"
    assert out["second"] == "recording.xdf.orig" and out["backup_is_original"]
    assert out["whole"] and out["ecg_samples"] == SAMPLES - 1000
    assert sorted(out["after_repair"]) == ["recording.xdf", "recording.xdf.orig"]


@pytest.mark.parametrize("hardlink", [True, False], ids=["link-backup", "copy-backup"])
def test_repair_past_the_file_size_limit_then_again(
    torn: Path, tmp_path: Path, hardlink: bool
) -> None:
    """RLIMIT_FSIZE makes every write past 4 KiB fail (EFBIG), on any machine."""
    _assert_clean_failure_then_success(_run([], "fsize", torn, tmp_path / "w", hardlink))


def _mount_namespace() -> list[str] | None:
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    probe = subprocess.run([unshare, "-rm", "true"], capture_output=True, timeout=30)
    return [unshare, "-rm"] if probe.returncode == 0 else None


@pytest.mark.parametrize("hardlink", [True, False], ids=["link-backup", "copy-backup"])
def test_repair_on_a_full_tmpfs_then_again(torn: Path, tmp_path: Path, hardlink: bool) -> None:
    """A real full file system: a 4 MiB tmpfs filled to ENOSPC, in a private mount
    namespace (``unshare -rm``)."""
    prefix = _mount_namespace()
    if prefix is None:
        pytest.skip("this machine gives no private mount namespace (unshare -rm) for a tmpfs")
    out = _run(prefix, "tmpfs", torn, tmp_path / "w", hardlink)
    assert "No space left on device" in out["first"]
    _assert_clean_failure_then_success(out)
