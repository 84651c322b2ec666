"""The official BIDS validator on an exported dataset, and a snapshot of a sessions folder
(to show an export modified nothing in it)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

VALIDATOR = Path(sys.executable).parent / "bids-validator-deno"
"""The ``bids-validator-deno`` console script of this environment (the ``dev`` extra)."""


def validate(dataset: Path) -> list[dict[str, Any]]:
    """Run the BIDS validator (every TSV row checked) and return its errors; fails the
    test when the validator is missing or its output is not its JSON report."""
    if not VALIDATOR.is_file():
        pytest.fail(f"{VALIDATOR} is missing: install the dev extra (pip install -e '.[dev]')")
    run = subprocess.run(
        [str(VALIDATOR), str(dataset), "--format", "json", "--max-rows", "-1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        report = json.loads(run.stdout)
    except ValueError:
        pytest.fail(f"bids-validator gave no JSON report (exit {run.returncode}): {run.stderr}")
    issues = report["issues"]["issues"]
    errors = [i for i in issues if i["severity"] == "error"]
    assert (run.returncode == 0) == (not errors), (run.returncode, errors)
    return errors


def snapshot(folder: Path) -> tuple[dict[str, str], bytes]:
    """SHA-256 of every file under ``folder`` but the audit log, and the audit log's bytes."""
    files = {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "audit.log"
    }
    log = folder / "audit.log"
    return files, log.read_bytes() if log.is_file() else b""


def unchanged(folder: Path, before: tuple[dict[str, str], bytes]) -> None:
    """Every file as before; the audit log only appended to (its chain still valid)."""
    from engine.privacy.audit import verify_chain

    files, log = snapshot(folder)
    assert files == before[0]
    assert log.startswith(before[1])
    if log:
        assert verify_chain(folder / "audit.log").ok
