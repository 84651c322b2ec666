"""Each command that reads a file, given that file truncated (a kill) or garbled (bit rot).

``report``, ``export``, ``replay``, ``twin fit`` (recordings), ``verify`` (a session's
manifest and the audit log) and ``simulate --patient`` (a profile YAML) run as a user runs
them: the exit code is 2 (``verify``: 1, a verification that found a problem, on stdout)
with one error line on stderr naming the file (a warning may precede it), never a
traceback. A truncated recording may also still be
read (exit 0): a killed session keeps its whole chunks.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from engine.privacy.audit import AuditLog
from engine.privacy.integrity import write_integrity
from engine.protocol import resolve_seed
from engine.record import StreamSpec, XdfRecorder


def _recording(path: Path) -> bytes:
    rec = XdfRecorder(path, file_header={"participant": "P01"})
    ecg = rec.add_stream(StreamSpec("ECG", "ECG", 1, 250.0, "float32"))
    rec.start()
    rec.push(ecg, np.sin(np.arange(500) / 10.0).astype(np.float32)[:, None], np.arange(500) / 250)
    rec.close()
    return path.read_bytes()


def _garble(data: bytes) -> bytes:
    """Bit rot: every 7th byte after the magic flipped."""
    out = bytearray(data)
    for i in range(6, len(out), 7):
        out[i] ^= 0x5A
    return bytes(out)


def _cases(tmp: Path) -> list[tuple[tuple[str, ...], str, tuple[int, ...]]]:
    """(arguments, the file the message must name, allowed exit codes)."""
    good = _recording(tmp / "good.xdf")
    cut, rot = tmp / "cut" / "session.xdf", tmp / "rot" / "session.xdf"
    summary = tmp / "summary" / "session.xdf"  # a whole recording, its summary.json not UTF-8
    for path, data in ((cut, good[: len(good) * 2 // 3]), (rot, _garble(good)), (summary, good)):
        path.parent.mkdir()
        path.write_bytes(data)
    (summary.parent / "summary.json").write_bytes(b'{"participant": "\xff\xfe\x00"}')
    session = tmp / "site" / "S1"
    session.mkdir(parents=True)
    (session / "notes.txt").write_text("ok")
    log = AuditLog(tmp / "site" / "audit.log")
    write_integrity(session, log)
    manifest = (session / "integrity.json").read_bytes()
    (session / "integrity.json").write_bytes(manifest[: len(manifest) // 2])
    patient = resolve_seed("patients", "typical").read_bytes()
    (tmp / "cut.yaml").write_bytes(patient[: len(patient) // 2] + b"\nresting_hr: [")
    (tmp / "rot.yaml").write_bytes(_garble(patient))
    out = ("--out", str(tmp / "sessions"), "--duration", "60s", "--no-report")
    cases: list[tuple[tuple[str, ...], str, tuple[int, ...]]] = [
        (("verify", str(session), "--audit", str(log.path)), "integrity.json", (1,)),
        (("simulate", "heights-demo", "--patient", str(tmp / "cut.yaml"), *out), "cut.yaml", (2,)),
        (("simulate", "heights-demo", "--patient", str(tmp / "rot.yaml"), *out), "rot.yaml", (2,)),
        (("report", str(summary), "-o", str(tmp / "r.html"), "--plaintext"), "summary.json", (2,)),
    ]
    for rec in (cut, rot):
        codes = (0, 2) if rec == cut else (2,)
        cases += [
            (
                ("report", str(rec), "-o", str(rec.parent / "r.html"), "--plaintext"),
                str(rec),
                codes,
            ),
            (("export", str(rec), "-o", str(rec.parent / "e"), "--format", "csv"), str(rec), codes),
            (("replay", str(rec), "--speed", "50"), str(rec), codes),
            (("twin", "fit", str(rec), "-o", str(rec.parent / "p.yaml")), str(rec), codes),
        ]
    return cases


@pytest.mark.slow
def test_commands_on_truncated_and_garbled_files_say_one_sentence(tmp_path: Path) -> None:
    todo = _cases(tmp_path)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda case: run_cli(*case[0], timeout=240), todo))
    failures = []
    for (args, names, codes), r in zip(todo, results, strict=True):
        problems = [f"exit {r.returncode}, expected {codes}"] if r.returncode not in codes else []
        problems += ["a traceback"] if "Traceback" in r.stderr else []
        said = r.stdout if args[0] == "verify" else r.stderr  # verify reports on stdout
        if r.returncode == 2:
            errors = [line for line in r.stderr.splitlines() if "error:" in line]
            problems += [f"{len(errors)} error lines"] if len(errors) != 1 else []
        if r.returncode != 0 and names not in said:
            problems += [f"{names!r} not named"]
        if problems:
            failures.append(f"vrtherapy {' '.join(args)}: {'; '.join(problems)}\n{r.stderr}")
    assert not failures, "\n\n".join(failures)
