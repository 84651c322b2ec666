"""Every bridge in docs/devices.md, end to end, from the docs alone.

For each bridge, ``docs/devices/<bridge>.yaml`` (whose ``streams:`` block is the one the
docs show) runs as a clinic would run it, ``vrtherapy run <file> --participant P-<bridge>
--duration 60s --display null``, in a fresh process, against an emulator of the bridge
(``tests/bridges``) publishing in another process what the real app publishes. The session
must end with exit 0, a report and a verifiable ``integrity.json``; its live heart rate
after the baseline must be within 3 bpm and its skin conductance level within 10 % of the
truth the emulator published, at the same times; the raw streams the roles read must be
recorded once, whole, on the session clock (``docs/recording.md``); and no quality flag on
the values may be raised (the emulators send clean signals at the devices' own resolution;
dropout flags are only counted: they depend on the machine's load).

Each run gets liblsl ports of its own (``--lsl-config``): the snippets use the real
stream names, which no other test may see. ``BRIDGES_RESULTS=<file>`` appends one JSON
line per bridge (exit code, errors, flags) for the table in the issue.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from bridges.base import StreamDef, stream_info
from bridges.e2e import (
    EmulatorProcess,
    Measured,
    Recorded,
    lsl_config,
    measure,
    read_exported,
    read_plain,
)
from conftest import ROOT, run_cli

from biosignals.errors import VrTherapyError
from biosignals.lsl import import_pylsl
from biosignals.streams import StreamPredicate
from engine.protocol import Protocol, load_protocol

pytestmark = [pytest.mark.lsl, pytest.mark.slow]
pylsl = import_pylsl()

DEVICES = ROOT / "docs" / "devices"
BRIDGES = ["polar", "exciteometer", "muse", "e4", "emotibit", "zephyr", "bitalino", "shimmer",
           "brainamp"]  # fmt: skip
HR_TOLERANCE_BPM = 3.0
SCL_TOLERANCE = 0.10
MIN_COVERAGE = 0.9


def _streams_read(protocol: Protocol, emulated: tuple[StreamDef, ...]) -> list[StreamDef]:
    out: list[StreamDef] = []
    for sel in protocol.streams.values():
        pred = StreamPredicate(sel.type, sel.name, sel.source_id)
        out += [sd for sd in emulated if pred.matches(stream_info(pylsl, sd)) and sd not in out]
    return out


def _tail(text: str) -> str:
    """The error line of a command's output (else its last two lines)."""
    lines = text.strip().splitlines()
    errors = [line for line in lines if "error" in line.lower() or "PROBLEM" in line]
    return " | ".join(errors[-2:] or lines[-2:])


def _check(m: Measured, protocol: Protocol) -> list[str]:
    problems = list(m.problems)
    roles = set(protocol.streams)
    if roles & {"heart", "ppg", "hr"}:
        if m.hr_coverage < MIN_COVERAGE or m.hr_error is None:
            problems.append(f"heart rate known at {m.hr_coverage:.0%} of ticks after the baseline")
        elif m.hr_error > HR_TOLERANCE_BPM:
            problems.append(f"heart rate off by up to {m.hr_error:.1f} bpm")
    if "eda" in roles:
        if m.scl_coverage < MIN_COVERAGE or m.scl_error is None:
            problems.append(f"SCL known at {m.scl_coverage:.0%} of ticks after the baseline")
        elif m.scl_error > SCL_TOLERANCE:
            problems.append(f"SCL off by up to {m.scl_error:.1%}")
    # The emulators send clean signals, so a flag on the values is a false alarm. Dropouts
    # (no sample for a while) are counted but not judged: on a loaded machine a process
    # that is not scheduled for half a second is a real dropout, not a signal fault.
    judged = {k: n for k, n in m.flags.items() if not k.endswith(":dropout")}
    if judged:
        problems.append(f"quality flags raised on a clean signal: {judged}")
    return problems


def _record(snippet: str, row: dict[str, object]) -> None:
    path = os.environ.get("BRIDGES_RESULTS")
    if path:
        with Path(path).open("a", encoding="utf-8") as f:
            f.write(json.dumps({"bridge": snippet, **row}, sort_keys=True) + "\n")


def _session(out: Path, snippet: str) -> tuple[Path | None, list[str]]:
    folders = [p for p in (out / f"P-{snippet}").glob("*") if p.is_dir()]
    if len(folders) != 1:
        return None, [f"{len(folders)} session folders in {out / f'P-{snippet}'}"]
    folder, problems = folders[0], []
    if not any(folder.glob("report*")):
        problems.append(f"no report in {folder.name}: {sorted(p.name for p in folder.iterdir())}")
    if not (folder / "integrity.json").is_file():
        problems.append("no integrity.json (session not sealed)")
    verify = run_cli("verify", str(folder))
    if verify.returncode != 0:
        problems.append(f"vrtherapy verify exit {verify.returncode}: {_tail(verify.stdout)}")
    return folder, problems


def _read(folder: Path | None, export: Path, problems: list[str]) -> list[Recorded] | None:
    """The session's streams: ``recording.xdf`` directly, a sealed one through the CLI."""
    if folder is None:
        return None
    try:
        if (folder / "recording.xdf").is_file():
            return read_plain(folder / "recording.xdf")
        if (folder / "recording.xdf.sealed").is_file():
            return read_exported(folder / "recording.xdf.sealed", export)
    except (AssertionError, VrTherapyError) as exc:
        problems.append(f"recording unreadable: {exc}")
        return None
    problems.append(f"no recording in {folder.name}")
    return None


@pytest.mark.parametrize("snippet", BRIDGES)
def test_bridge_snippet_runs_a_session_end_to_end(snippet: str, tmp_path: Path) -> None:
    path = DEVICES / f"{snippet}.yaml"
    protocol = load_protocol(path)
    config = lsl_config(tmp_path, BRIDGES.index(snippet))
    emulator = EmulatorProcess(snippet, config, tmp_path, seed=11 + BRIDGES.index(snippet))
    try:
        run = run_cli("--lsl-config", str(config), "run", str(path), "--participant",
                      f"P-{snippet}", "--duration", "60s", "--display", "null",
                      "--out", str(tmp_path / "out"))  # fmt: skip
    finally:
        emulator_rc = emulator.stop()
    problems = []
    if run.returncode != 0:
        problems.append(f"vrtherapy run exit {run.returncode}: {_tail(run.stderr)}")
    if emulator_rc != 0:
        problems.append(f"emulator failed: {_tail(emulator.log.read_text())}")
    valid = run_cli("validate", str(path))
    if valid.returncode != 0:
        problems.append(f"vrtherapy validate exit {valid.returncode}: {_tail(valid.stderr)}")
    folder, found = _session(tmp_path / "out", snippet)
    problems += found
    m = Measured()
    recorded = _read(folder, tmp_path / "export", problems)
    if recorded is not None:
        streams = _streams_read(protocol, emulator.bridge.streams())
        m = measure(recorded, emulator.truth, protocol, streams)
        problems += _check(m, protocol)
    _record(snippet, {"exit": run.returncode, "hr_error": m.hr_error,
                      "hr_mean_error": m.hr_mean_error, "hr_coverage": m.hr_coverage,
                      "scl_error": m.scl_error, "scl_coverage": m.scl_coverage,
                      "flags": dict(m.flags), "problems": problems})  # fmt: skip
    assert not problems, f"{snippet}:\n  " + "\n  ".join(problems)
