"""Several roles on one real LSL stream, and the mistakes a protocol can make about it:
each refused before a session starts, with no session folder and no open audit entry."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from waiting import wait_for

from biosignals.conversion import SignalSettings
from biosignals.lsl import import_pylsl
from biosignals.reconnect import StreamPredicate
from biosignals.role_streams import RoleRequest, open_role_streams

pylsl = import_pylsl()
pytestmark = pytest.mark.lsl
ROOT = Path(__file__).resolve().parents[1]
LABELS = ("nSeq", "ECGBIT1", "EDABITREV2")
UNITS = ("", "mV", "uS")


@pytest.fixture
def bitalino() -> Iterator[tuple[Any, str]]:
    """An OpenSignals-like 3-channel outlet (unique name and source id)."""
    ident = uuid.uuid4().hex[:10]
    name = f"OpenSignals-{ident}"
    info = pylsl.StreamInfo(name, f"00:07:{ident}", 3, 100.0, "float32", f"00:07:{ident}")
    channels = info.desc().append_child("channels")
    for label, unit in zip(LABELS, UNITS, strict=True):
        ch = channels.append_child("channel")
        ch.append_child_value("label", label)
        ch.append_child_value("unit", unit)
    outlet = pylsl.StreamOutlet(info)
    yield outlet, name
    del outlet


def test_two_predicates_on_one_stream_open_it_once(bitalino: tuple[Any, str]) -> None:
    outlet, name = bitalino
    sid = name.replace("OpenSignals-", "00:07:")
    reqs = [
        RoleRequest("heart", StreamPredicate(name=name), "ECGBIT1", SignalSettings(), "mV"),
        RoleRequest("eda", StreamPredicate(source_id=sid), "EDABITREV2", SignalSettings(), "uS"),
    ]
    (stream,) = open_role_streams(reqs, 5.0, keep_raw=True)
    try:
        assert stream.roles == ("heart", "eda")
        sent = np.column_stack([np.arange(40.0), np.linspace(-1, 1, 40), np.full(40, 5.5)])
        outlet.push_chunk(sent.astype(np.float32))
        got: list[np.ndarray] = []

        def arrived() -> bool:
            got.append(stream.views["heart"].pull()[0])
            return sum(x.size for x in got) >= 40

        wait_for(arrived, 5.0, what="40 ECG samples through the heart view")
        ecg = np.concatenate(got)
        eda, _ = stream.views["eda"].pull()
        np.testing.assert_allclose(ecg, sent[:, 1].astype(np.float32))
        np.testing.assert_allclose(eda, 5.5)
        raw = np.concatenate([values for values, _ in stream.drain_raw()])
        assert raw.shape == (40, 3) and raw.dtype == np.float32  # as received, every channel
    finally:
        stream.close()


def protocol(tmp_path: Path, streams: str) -> Path:
    text = (ROOT / "seeds" / "protocols" / "heights-demo.yaml").read_text()
    head, rest = text.split("\nstreams:", 1)
    tail = rest[rest.index("\n", rest.index("eda")) :]  # drop the demo's two stream lines
    path = tmp_path / "p.yaml"
    path.write_text(head + "\nstreams:\n" + streams + tail)
    return path


def run(tmp_path: Path, path: Path) -> subprocess.CompletedProcess[str]:
    out = tmp_path / "sessions"
    consent = ["--consent-streams", "heart,eda", "--consent-purpose", "treatment",
               "--consent-retention-days", "30"]  # fmt: skip
    args = ["run", str(path), "--display", "null", "--out", str(out), *consent]
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env=dict(os.environ),
    )  # fmt: skip


def assert_refused_before_start(tmp_path: Path, r: subprocess.CompletedProcess[str]) -> None:
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    out = tmp_path / "sessions"
    assert not [p for p in out.glob("*/*") if p.is_dir()]  # no stub session folder
    log = out / "audit.log"
    assert not log.exists() or "session_start" not in log.read_text()


@pytest.mark.parametrize(
    ("streams", "needles"),
    [
        (
            "  heart: {name: NAME, channel: A2}\n  eda: {name: NAME, channel: EDABITREV2}\n",
            ["no channel labelled 'A2'", "'nSeq', 'ECGBIT1', 'EDABITREV2'"],
        ),
        (
            "  heart: {name: NAME, channel: ECGBIT1}\n  eda: {source_id: SID, channel: 1}\n",
            ["roles heart and eda both read channel 'ECGBIT1'"],
        ),
        (
            "  heart: {name: NAME, channel: ECGBIT1}\n"
            "  eda: {name: NAME, channel: EDABITREV2, signal: {unit: bpm}}\n",
            ["values in 'bpm' cannot be converted to 'uS'"],
        ),
    ],
    ids=["unknown-label", "same-channel", "unit"],
)
def test_a_stream_mistake_is_refused_before_the_session(
    tmp_path: Path, bitalino: tuple[Any, str], streams: str, needles: list[str]
) -> None:
    _, name = bitalino
    sid = name.replace("OpenSignals-", "00:07:")
    r = run(tmp_path, protocol(tmp_path, streams.replace("NAME", name).replace("SID", sid)))
    assert_refused_before_start(tmp_path, r)
    for needle in needles:
        assert needle in r.stderr, r.stderr
