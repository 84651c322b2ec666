"""Every command's bad-input paths, as a user meets them: exit 2 and one clear sentence.

Each case runs the real ``vrtherapy`` in a subprocess and asserts exit code 2, a message
naming the option or field, and no pydantic dump, pydantic link or traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from biosignals.roles import ROLE_NAMES
from engine.live import RunOptions, run_simulated, with_duration
from engine.protocol import load_protocol, resolve_seed
from engine.twin_profiles import load_patient

DEMO = resolve_seed("protocols", "heights-demo").read_text(encoding="utf-8")
CONSENT = ("--consent-streams", "heart,eda", "--consent-purpose", "treatment")


def cases(tmp: Path, recording: Path) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(arguments, texts the message must contain)."""
    out = ("--out", str(tmp / "sessions"))
    sim = ("simulate", "heights-demo", *out)
    bad_protocol = tmp / "bad-protocol.yaml"
    bad_protocol.write_text(DEMO.replace("baseline: 20s ", "baseline: 0s "))
    no_consent = tmp / "no-consent.yaml"
    no_consent.write_text(DEMO + "consent: {streams: [], purpose: t, retention_days: 9}\n")
    bad_patient = tmp / "bad-patient.yaml"
    bad_patient.write_text("name: p\nresting_hr: 60\nresting_hr: 90\n")
    (tmp / "exists.key").write_text("x")
    (tmp / "notxdf.xdf").write_text("x")
    rec = str(recording)
    return [
        ((*sim, "--duration", "5s"), ("--duration 5s", "baseline (20 s) must be shorter")),
        (("demo", "--display", "null", *out, "--duration", "20s"), ("--duration 20s",)),
        (("run", "heights-demo", "--display", "null", *out, "--duration", "1s"), ("--duration",)),
        ((*sim, "--duration", "5h"), ("--duration", "must be at most 14400 s")),
        ((*sim, "--duration", "abc"), ("--duration", "'abc' is not a duration")),
        ((*sim, "--participant", "Jane Doe"), ("participant 'Jane Doe'",)),
        ((*sim, *CONSENT, "--consent-retention-days", "0"), ("--consent-retention-days", "0")),
        ((*sim, *CONSENT, "--consent-retention-days", "x"), ("--consent-retention-days",)),
        (
            (*sim, *CONSENT[:2], "--consent-purpose", "", "--consent-retention-days", "9"),
            ("--consent-purpose", "must not be empty"),
        ),
        (
            (*sim, "--consent-streams", "bogus", *CONSENT[2:], "--consent-retention-days", "9"),
            ("--consent-streams", "'bogus'", ", ".join(ROLE_NAMES)),
        ),
        ((*sim, "--consent-given-by", "nobody"), ("--consent-given-by", "'nobody'")),
        (("run", "heights-demo", "--display", "null", *out), ("consent",)),
        (("simulate", "nosuch", *out), ("nosuch: no such file",)),
        ((*sim, "--patient", "nosuch"), ("nosuch: no such file",)),
        (("simulate", str(bad_protocol), *out), (f"{bad_protocol}:17: baseline:",)),
        (("simulate", str(no_consent), *out), (f"{no_consent}:38: consent.streams:",)),
        (("validate", str(bad_protocol), str(tmp / "missing.yaml")), ("missing.yaml: file not",)),
        ((*sim, "--patient", str(bad_patient)), (f"{bad_patient}:3: resting_hr: duplicate",)),
        (("demo", "--display", "null", "--volume", "2"), ("--volume", "'2'", "0..1")),
        (("demo", "--display", "null", "--volume", "nan"), ("--volume", "'nan'")),
        (("demo", "--display", "null", "--mirror"), ("--mirror needs --display openxr",)),
        ((*sim, "--screenshot", str(tmp / "a.png")), ("--screenshot",)),
        ((*sim, "--key", str(tmp / "nosuch.key")), ("nosuch.key",)),
        (("twin", "--seed", "-1"), ("--seed", "'-1'")),
        (("twin", "--duration", "abc"), ("--duration", "'abc'")),
        (("twin", "--patient", "nosuch"), ("nosuch: no such file",)),
        (("scenes", "--out", str(tmp / "s"), "--intensity", "5"), ("--intensity", "'5'")),
        (("scenes", "--out", str(tmp / "s"), "--scene", "moon"), ("'moon'",)),
        (("scenes", "--out", "/proc/no/such", "--scene", "heights"), ("/proc/no/such",)),
        (("bench", "nosuch"), ("'nosuch'",)),
        (("report", str(tmp / "missing.xdf")), ("missing.xdf",)),
        (("export", str(tmp / "notxdf.xdf")), ("notxdf.xdf: not an XDF file",)),
        (("export", rec, "--format", "xls"), ("--format", "'xls'")),
        (("replay", rec, "--speed", "0"), ("--speed", "'0' is not a speed", "above 0")),
        (("verify", str(tmp / "nosuch")), ("nosuch",)),
        (("purge", *out, "--older-than", "9" * 20), ("--older-than", "0..36500")),
        (("purge", "--out", str(tmp / "nosuch"), "--expired"), ("nosuch",)),
        (("keygen", str(tmp / "exists.key")), ("exists.key",)),
        (("pseudonym", "--map", str(tmp / "m.map"), "--key", str(tmp / "no.key")), ("no.key",)),
        (("--lsl-config", str(tmp / "no.cfg"), "validate", "x.yaml"), ("no.cfg",)),
    ]


def vrtherapy(args: tuple[str, ...], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.slow
def test_every_error_path_is_one_clear_sentence(tmp_path: Path) -> None:
    protocol = with_duration(load_protocol(resolve_seed("protocols", "heights-demo")), 40.0)
    opts = RunOptions(out=tmp_path / "made", display="null", frame_rate=2.0, report=False)
    recording = run_simulated(protocol, opts, load_patient("typical")).recording
    todo = cases(tmp_path, recording)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda case: vrtherapy(case[0], tmp_path), todo))
    failures = []
    for (args, needles), r in zip(todo, results, strict=True):
        problems = [f"exit {r.returncode}"] if r.returncode != 2 else []
        problems += [f"{bad!r} in stderr" for bad in ("Traceback", "pydantic") if bad in r.stderr]
        problems += [f"{n!r} not in stderr" for n in needles if n not in r.stderr]
        if problems:
            failures.append(f"vrtherapy {' '.join(args)}: {'; '.join(problems)}\n{r.stderr}")
    assert not failures, "\n\n".join(failures)
    assert not (tmp_path / "sessions").exists()  # no bad input got as far as a session
