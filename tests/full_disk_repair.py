"""``repair`` of a torn recording on a disk that fills up, then again once space is freed.

Run as a script (a fresh process, so the file-size limit or mount stays its own)::

    python full_disk_repair.py fsize TORN WORKDIR HARDLINK
    unshare -rm python full_disk_repair.py tmpfs TORN WORKDIR HARDLINK

``fsize`` caps file sizes with ``RLIMIT_FSIZE`` (writes past it fail with EFBIG, the
kernel's stand-in for a full disk that needs no mount); ``tmpfs`` mounts a 4 MiB tmpfs on
WORKDIR and fills it, so writes fail with ENOSPC. HARDLINK is 1 or 0 (``repair``'s backup by
hard link, or by copy). Prints one JSON object: what the failed repair said and left behind,
and what the repair after freeing space did.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

FILLER = "filler.bin"


def _fill(folder: Path) -> None:
    """Write ``folder/filler.bin`` until the file system is full (ENOSPC)."""
    block = b"\0" * 4096
    with open(folder / FILLER, "wb", buffering=0) as f:
        try:
            while True:
                f.write(block)
        except OSError:
            pass


def _listing(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.name != FILLER}


def main(mode: str, torn: Path, work: Path, hardlink: bool) -> dict[str, Any]:
    """Break a repair with a full disk, free it, repair again; report every step."""
    from engine.errors import RecordingError
    from engine.record.reader import load_recording, repair, scan_chunks

    if mode == "tmpfs":
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(work)], check=True)
    rec = work / "recording.xdf"
    shutil.copyfile(torn, rec)
    original = rec.read_bytes()
    if mode == "tmpfs":
        _fill(work)
    else:
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
    result: dict[str, Any] = {}
    try:
        repair(rec)
        result["first"] = "repaired"
    except RecordingError as exc:
        result["first"] = str(exc)
    result["after_failure"] = _listing(work)
    result["unchanged"] = rec.read_bytes() == original
    if mode == "tmpfs":
        (work / FILLER).unlink()
    else:
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
    backup = repair(rec)
    result["second"] = backup.name
    result["backup_is_original"] = backup.read_bytes() == original
    result["whole"] = not scan_chunks(rec).needs_repair
    result["ecg_samples"] = len(load_recording(rec).streams["ECG"].time_stamps)
    result["after_repair"] = _listing(work)
    return result


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    args = sys.argv[1:]
    out = main(args[0], Path(args[1]), Path(args[2]), args[3] == "1")
    print(json.dumps(out))
