"""Bad input on every command path, and every benchmark's own arguments.

Each case runs the real ``vrtherapy`` in a subprocess (several at once) and asserts exit 2,
no traceback, and a message naming the bad value. Every case is refused while the
arguments are parsed or checked, before any session, benchmark or output starts; ``--help``
of every benchmark prints its usage and runs nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import ROOT

from engine.bench import BENCHES

Case = tuple[tuple[str, ...], tuple[str, ...]]


def vrtherapy_all(
    todo: Sequence[tuple[str, ...]], cwd: Path
) -> list[subprocess.CompletedProcess[str]]:
    """Run each argument list as ``vrtherapy ARGS`` (four at a time), stdin closed."""

    def one(args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "engine.cli", *args],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=cwd,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=subprocess.DEVNULL,
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, todo))


def assert_refused(todo: Sequence[Case], cwd: Path) -> None:
    """Every case exits 2 with its texts in stderr, no traceback, nothing on stdout."""
    results = vrtherapy_all([args for args, _ in todo], cwd)
    failures = []
    for (args, needles), r in zip(todo, results, strict=True):
        problems = [f"exit {r.returncode}"] if r.returncode != 2 else []
        problems += ["traceback"] if "Traceback" in r.stderr else []
        problems += [f"{n!r} not in stderr" for n in needles if n not in r.stderr]
        problems += [f"stdout {r.stdout[:200]!r}"] if r.stdout.strip() else []
        if problems:
            failures.append(f"vrtherapy {' '.join(args)}: {'; '.join(problems)}\n{r.stderr}")
    assert not failures, "\n\n".join(failures)


@pytest.mark.slow
def test_every_benchmark_help_prints_usage_and_runs_nothing(tmp_path: Path) -> None:
    names = list(BENCHES)
    results = vrtherapy_all([("bench", name, "--help") for name in names], tmp_path)
    for name, r in zip(names, results, strict=True):
        assert r.returncode == 0, f"bench {name} --help: exit {r.returncode}\n{r.stderr}"
        assert r.stdout.startswith(f"usage: vrtherapy bench {name} "), (name, r.stdout[:200])
        assert "Traceback" not in r.stderr, (name, r.stderr)
    assert list(tmp_path.iterdir()) == []  # nothing built, nothing written


def bench_cases(tmp: Path) -> list[Case]:
    """(arguments, texts the message must contain) of ``vrtherapy bench NAME ...``."""
    a_file = tmp / "file.txt"
    a_file.write_text("x")
    (tmp / "empty").mkdir()
    unknown = [  # the benchmarks that read their arguments by hand or from sys.argv
        (("bench", name, "--no-such-option"), ("unrecognized arguments: --no-such-option",))
        for name in ("biosignals", "mitbih", "render", "crypto", "xr")
    ]
    return [
        *unknown,
        (("bench", "biosignals", "extra"), ("unrecognized arguments: extra",)),
        (("bench", "mitbih", "--help-me"), ("unrecognized arguments: --help-me",)),
        (("bench", "mitbih", str(tmp / "nosuch")), ("DATA_DIR", "nosuch", "is not a folder")),
        (("bench", "mitbih", str(a_file)), ("file.txt", "is not a folder")),
        (("bench", "mitbih", str(tmp / "empty")), ("holds no records.json",)),
        (("bench", "mitbih", ""), ("'' is not a folder",)),
        (("bench", "render", "--objects", "-1"), ("--objects", "'-1'", "1..100000")),
        (("bench", "render", "--frames", "0"), ("--frames", "'0'")),
        (("bench", "record", "--seconds", "nan"), ("--seconds", "'nan'", "above 0")),
        (("bench", "report", "--minutes", "0"), ("--minutes", "'0'")),
        (("bench", "report", "--minutes", "1e308"), ("--minutes", "at most 1440")),
        (("bench", "record", "--seconds", "-5"), ("--seconds", "'-5'")),
        (("bench", "simulate", "--frame-rate", "1e9"), ("--frame-rate", "'1e9'")),
        (("bench", "crypto", "--repeat", "0"), ("--repeat", "'0'")),
        (("bench", "crypto", "--seconds=-inf"), ("--seconds", "'-inf'")),
        (("bench", "xr", "--eye-size", "0", "0"), ("--eye-size", "'0'")),
        (("bench", "gc", "--every", "0"), ("--every", "'0'")),
        (("bench", "review", "--keep", str(a_file)), ("--keep", "file.txt", "is not a folder")),
        (("bench", "review", "--sessions", "2.5"), ("--sessions", "'2.5'")),
        (("bench", "console", "--browsers", "0"), ("--browsers", "'0'")),
        (("bench", "twin-fit", "--jobs", "0"), ("--jobs", "'0'")),
        (("bench", "twin-fit", "--forecast-runs", "-1"), ("--forecast-runs", "'-1'")),
    ]


@pytest.mark.slow
def test_every_benchmark_refuses_bad_arguments_before_running(tmp_path: Path) -> None:
    assert_refused(bench_cases(tmp_path), tmp_path)
    assert not (tmp_path / "file.txt").is_dir()


def command_cases(tmp: Path) -> list[Case]:
    """(arguments, texts) of the other commands: paths, numbers, empty strings."""
    a_file, folder = tmp / "file.txt", tmp / "folder"
    a_file.write_text("x")
    folder.mkdir()
    garbage = tmp / "garbage.xdf"
    garbage.write_bytes(bytes(range(256)) * 8)
    out = ("--out", str(tmp / "sessions"))
    sim = ("simulate", "heights-demo", *out)
    return [
        (("simulate", "heights-demo", "--out", str(a_file)), ("--out", "is a file, not a folder")),
        (
            ("simulate", "heights-demo", "--out", str(a_file / "deeper")),
            ("--out", "file.txt is a file, not a folder"),
        ),
        (("simulate", "heights-demo", "--out", ""), ("--out", "an empty name")),
        (("demo", "--display", "null", "--out", str(a_file)), ("--out", "is a file")),
        (("run", "heights-demo", "--out", str(a_file)), ("--out", "is a file")),
        (("simulate", "", *out), ("protocol", "an empty name")),
        ((*sim, "--patient", ""), ("--patient", "an empty name")),
        (("demo", "--protocol", "", *out), ("--protocol", "an empty name")),
        ((*sim, "--runs", "2", "--forecast", str(folder)), ("--forecast", "is a folder")),
        ((*sim, "--runs", "2", "--forecast", ""), ("--forecast", "an empty name")),
        ((*sim, "--screenshot", ""), ("--screenshot", "an empty name")),
        (("demo", "--display", "offscreen", "--screenshot", str(folder)), ("is a folder",)),
        ((*sim, "--duration", "nan"), ("--duration", "'nan'")),
        ((*sim, "--duration", "inf"), ("--duration", "'inf'")),
        ((*sim, "--duration", "1e400s"), ("--duration", "'1e400s'")),
        ((*sim, "--runs", "nan"), ("--runs", "'nan'")),
        (("twin", "--duration", "0s"), ("--duration", "'0s' is not a duration above 0")),
        (("twin", "--patient", ""), ("--patient", "an empty name")),
        (("validate", ""), ("PROTOCOL", "an empty name")),
        (("scenes", "--out", str(a_file)), ("--out", "is a file")),
        (("report", ""), ("recording", "an empty name")),
        (("report", str(garbage), "-o", ""), ("-o/--output", "an empty name")),
        (("report", str(garbage), "-o", str(a_file / "r.html")), ("file.txt is a file",)),
        (("export", str(garbage), "-o", str(a_file / "r.edf")), ("file.txt is a file",)),
        (("outcomes", str(folder), "-o", str(a_file / "o.csv")), ("file.txt is a file",)),
        (("twin", "fit", str(folder), "-o", str(a_file / "p.yaml")), ("file.txt is a file",)),
        (("export", ""), ("recording", "an empty name")),
        (("export", str(garbage), "--format", ""), ("--format", "invalid choice")),
        (("replay", str(garbage), "--speed", "nan"), ("--speed", "'nan' is not a speed")),
        (("replay", str(garbage), "--speed", "inf"), ("--speed", "'inf'")),
        (("replay", str(garbage), "--speed", "-1"), ("--speed", "'-1'")),
        (("replay", str(garbage), "--wait-for-consumer", "nan"), ("--wait-for-consumer",)),
        (("replay", str(garbage), "--wait-for-consumer", "-1"), ("--wait-for-consumer", "'-1'")),
        (("verify", ""), ("SESSION_DIR", "an empty name")),
        (("keygen", ""), ("FILE", "an empty name")),
        (("purge", "--out", "", "--expired"), ("--out", "an empty name")),
        (("console", "--out", str(a_file)), ("--out", "is a file")),
        (("outcomes", "", "-o", str(tmp / "o.csv")), ("SESSIONS_DIR", "an empty name")),
        (("serve", ""), ("SESSIONS_DIR", "an empty name")),
        (("twin", "fit", str(folder), "-o", ""), ("-o/--output", "an empty name")),
        (("--lsl-config", "", "validate", "x.yaml"), ("--lsl-config", "an empty name")),
    ]


@pytest.mark.slow
def test_every_command_refuses_bad_paths_and_numbers(tmp_path: Path) -> None:
    assert_refused(command_cases(tmp_path), tmp_path)
    assert not (tmp_path / "sessions").exists()  # no bad input got as far as a session
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "folder", "garbage.xdf"]
