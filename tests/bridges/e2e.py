"""End-to-end runs of a ``docs/devices/<snippet>.yaml`` against its emulator: the parts.

* :func:`lsl_config`: a liblsl config of its own (machine-local, unused ports), so the
  emulator and the ``vrtherapy`` under test see only each other: the snippets use the
  bridges' real stream names, which parallel runs must not share.
* :class:`EmulatorProcess`: ``python -m bridges SNIPPET`` in its own process, like the real
  app, and the truth it publishes (rebuilt from its start time and seed).
* :func:`read_plain` / :func:`read_exported`: the recording, read directly, or (sealed)
  through ``vrtherapy export --format csv`` with the site key the CLI finds.
* :func:`measure`: what the session recorded against that truth: the live heart rate and
  skin conductance level after the baseline, the quality flags raised, and whether the
  raw streams were recorded whole on the session clock (``docs/recording.md``).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from waiting import wait_for

from bridges import make_bridge
from bridges.base import StreamDef
from bridges.truth import Truth

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent

_CONFIG = """; one test's own liblsl configuration: machine-local, its own ports
[ports]
IPv6 = disable
MulticastPort = {multicast}
BasePort = {base}
PortRange = 32

[multicast]
ResolveScope = machine
KnownPeers = {{127.0.0.1}}

[log]
level = -2
"""


def lsl_config(folder: Path, slot: int) -> Path:
    """Write an ``lsl_api.cfg`` with ports of its own (``slot`` spreads parallel runs)."""
    base = 20000 + ((os.getpid() * 7 + slot * 131) % 600) * 64
    path = folder / "lsl_api.cfg"
    path.write_text(_CONFIG.format(multicast=base, base=base + 1), encoding="utf-8")
    return path


class EmulatorProcess:
    """One emulated bridge publishing in a process of its own.

    Parameters
    ----------
    snippet
        Which ``docs/devices`` snippet's emulator.
    config
        The liblsl config both sides use.
    folder
        Where its ready file and log go.
    seed
        Seeds its truth and device noise.
    """

    def __init__(self, snippet: str, config: Path, folder: Path, seed: int) -> None:
        self.snippet, self.seed = snippet, seed
        self.ready = folder / f"{snippet}-ready.json"
        self.log = folder / f"{snippet}-emulator.log"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), str(ROOT)]))
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bridges", snippet, "--lsl-config", str(config),
                 "--ready", str(self.ready), "--seed", str(seed), "--duration", "600"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_for(
            lambda: self.ready.exists() or self.proc.poll() is not None,
            60,
            interval=0.05,
            what="the emulator",
        )
        if not self.ready.exists():
            raise AssertionError(f"emulator {snippet} died: {self.log.read_text()[-2000:]}")
        info = json.loads(self.ready.read_text())
        self.truth = Truth(info["t0"], info["seed"])
        self.bridge = make_bridge(snippet, self.truth, seed)

    def stop(self) -> int:
        """SIGTERM, wait; its exit code (1: it failed while publishing; see :attr:`log`)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)


@dataclass
class Measured:
    """What one session recorded, against the truth."""

    hr_error: float | None = None  # max |live HR - true HR| after the baseline, bpm
    hr_mean_error: float | None = None
    hr_coverage: float = 0.0  # share of ticks after the baseline with a heart rate
    scl_error: float | None = None  # max |live SCL - true SCL| / true SCL after the baseline
    scl_coverage: float = 0.0
    flags: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)


@dataclass
class Recorded:
    """One stream as a session recorded it (from the XDF file or its CSV export)."""

    name: str
    source_id: str | None  # None when read back from CSV (the export drops it)
    labels: tuple[str, ...]
    timestamps: np.ndarray
    values: Any  # (n, channels) floats, or for markers a list of [json text] rows


def read_plain(recording: Path) -> list[Recorded]:
    """Every stream of a plaintext ``recording.xdf``, read directly."""
    from engine.export.xdfread import read_xdf

    out = []
    for s in read_xdf(recording).streams:
        channels = s.info.findall("desc/channels/channel")
        labels = tuple((c.findtext("label") or c.findtext("name") or "") for c in channels)
        count = int(s.text("channel_count") or 0)
        out.append(Recorded(s.text("name"), s.text("source_id"),
                            labels if len(labels) == count else ("",) * count,
                            np.asarray(s.timestamps, dtype=np.float64), s.values))  # fmt: skip
    return out


def read_exported(recording: Path, folder: Path) -> list[Recorded]:
    """Every stream of a sealed recording, through ``vrtherapy export --format csv``."""
    from conftest import run_cli

    done = run_cli("export", str(recording), "--format", "csv", "-o", str(folder))
    if done.returncode != 0:
        raise AssertionError(f"vrtherapy export exit {done.returncode}: {done.stderr[-500:]}")
    out = []
    for path in sorted(folder.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        head, body = rows[0], rows[1:]
        stamps = np.array([float(r[0]) for r in body])
        if path.name == "events.csv":
            texts = [[r[head.index("json")]] for r in body]
            out.append(Recorded("vrtherapy-markers", None, ("",), stamps, texts))
            continue
        labels = tuple(h.split(" [")[0] for h in head[2:])
        values = np.array([[float(x or "nan") for x in r[2:]] for r in body], dtype=np.float64)
        out.append(Recorded(path.stem, None, labels, stamps, values.reshape(-1, len(labels))))
    return out


def _stream(streams: list[Recorded], name: str) -> Recorded | None:
    return next((s for s in streams if s.name == name), None)


def _after_baseline(
    streams: list[Recorded], baseline: float
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    feats = _stream(streams, "vrtherapy-features")
    if feats is None or not len(feats.timestamps):
        return np.zeros(0), np.zeros((0, 0)), ()
    start = float(feats.timestamps[0]) + baseline
    markers = _stream(streams, "vrtherapy-markers")
    for stamp, (text,) in zip(markers.timestamps, markers.values, strict=True) if markers else ():
        if '"baseline"' in text and json.loads(text).get("event") == "baseline":
            start = float(stamp)
    keep = feats.timestamps > start + 1.0
    values = np.asarray(feats.values, dtype=np.float64)[keep]
    return feats.timestamps[keep], values, feats.labels


def _quality_flags(streams: list[Recorded]) -> Counter[str]:
    flags: Counter[str] = Counter()
    markers = _stream(streams, "vrtherapy-markers")
    for (text,) in markers.values if markers is not None else []:
        event = json.loads(text)
        if event.get("event") == "quality" and event.get("end") is None:
            flags[f"{event.get('role')}:{event.get('flag')}"] += 1
    return flags


def _raw_streams(
    recorded: list[Recorded], streams: list[StreamDef], session: tuple[float, float]
) -> list[str]:
    """Each stream a role read: recorded once, whole, stamped on the session clock."""
    problems = []
    for sd in streams:
        found = [s for s in recorded
                 if s.name == sd.name and s.source_id in (None, sd.source_id)]  # fmt: skip
        if len(found) != 1:
            problems.append(f"raw stream {sd.name!r}: recorded {len(found)} times, expected once")
            continue
        rec = found[0]
        wrong_labels = any(sd.labels) and rec.labels != sd.labels
        if len(rec.labels) != sd.channel_count or wrong_labels:
            problems.append(
                f"raw stream {sd.name!r}: recorded {len(rec.labels)} channels "
                f"{rec.labels}, the bridge sends {sd.channel_count} {sd.labels}"
            )
        stamps = rec.timestamps
        if stamps.size and not (session[0] - 60 < stamps[0] and stamps[-1] < session[1] + 10):
            problems.append(
                f"raw stream {sd.name!r}: stamps {stamps[0]:.6g}..{stamps[-1]:.6g} "
                f"are not on the session clock ({session[0]:.6g}..{session[1]:.6g})"
            )
    return problems


def measure(
    recorded: list[Recorded], truth: Truth, protocol: Any, streams: list[StreamDef]
) -> Measured:
    """Compare what a session recorded with the truth its emulator published."""
    out = Measured()
    t, values, labels = _after_baseline(recorded, protocol.baseline)
    if not t.size:
        out.problems.append("no feature rows after the baseline")
        return out
    roles = set(protocol.streams)
    if roles & {"heart", "ppg", "hr"}:
        hr = values[:, labels.index("heart_rate")]
        ok = np.isfinite(hr)
        out.hr_coverage = float(ok.mean())
        if ok.any():
            err = np.abs(hr[ok] - truth.hr(t[ok]))
            out.hr_error, out.hr_mean_error = float(err.max()), float(err.mean())
    if "eda" in roles:
        scl = values[:, labels.index("scl")]
        ok = np.isfinite(scl)
        out.scl_coverage = float(ok.mean())
        if ok.any():
            out.scl_error = float((np.abs(scl[ok] - truth.scl(t[ok])) / truth.scl(t[ok])).max())
    out.flags = _quality_flags(recorded)
    span = _stream(recorded, "vrtherapy-features")
    assert span is not None
    session = (float(span.timestamps[0]), float(span.timestamps[-1]))
    out.problems += _raw_streams(recorded, streams, session)
    return out
