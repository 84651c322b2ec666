"""What a session publishes for a console (docs/console.md, part 1), read back with real LSL
inlets: the status object at every controller tick and on changes, the six-channel
features, every marker as the recording's JSON, the session's facts in the status
stream's description, the session id on every stream."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pyxdf
from console_helpers import Rig, short_protocol
from waiting import wait_for

from biosignals.lsl import import_pylsl
from engine.console_wire import STREAMS, new_session_id, source_id
from engine.outlets import SessionOutlets
from engine.session_status import session_info
from engine.session_types import SessionState
from therapies.commands import Command, CommandKind

pytestmark = pytest.mark.lsl
pylsl = import_pylsl()

STATUS_KEYS = {
    "sid", "time", "elapsed_s", "remaining_s", "state", "step", "steps_total", "label",
    "intensity", "target", "held_by", "arousal", "window", "next", "safety", "prompt",
    "streams", "frames",
}  # fmt: skip


def _inlet(sid: str, kind: str) -> Any:
    infos = pylsl.resolve_byprop("source_id", source_id(kind, sid), 1, 10.0)
    assert infos, f"no {kind} stream for session {sid}"
    inlet = pylsl.StreamInlet(infos[0], max_buflen=360)
    inlet.open_stream(timeout=10.0)
    return inlet


def _pull_all(inlet: Any, n: int) -> list[Any]:
    got: list[Any] = []

    def enough() -> bool:
        samples, _ = inlet.pull_chunk(timeout=0.0, max_samples=4096)
        got.extend(samples)
        return len(got) >= n

    wait_for(enough, 15, what=f"{n} samples")
    return got


@pytest.fixture
def published(tmp_path: Path) -> Iterator[tuple[Rig, dict[str, Any], dict[str, Any]]]:
    sid = new_session_id()
    protocol = short_protocol(duration=40.0)
    roles = {"heart": {"name": "vrtherapy-twin-ECG", "type": "ECG"}}
    info = session_info(
        protocol, sid=sid, scene_events=("gust_of_wind",), roles=roles,
        participant="P-TEST", started="2024-01-01T00:00:00+00:00",
    )  # fmt: skip
    outlets = SessionOutlets(sid, info)
    inlets = {kind: _inlet(sid, kind) for kind in ("status", "features", "markers", "intensity")}
    rig = Rig(tmp_path, protocol, publish=outlets, sid=sid)
    yield rig, inlets, info
    outlets.close()


def test_status_features_and_markers_are_published_and_parse(
    published: tuple[Rig, dict[str, Any], dict[str, Any]],
) -> None:
    rig, inlets, info = published
    rig.run_until(41.0)  # the whole 40 s session
    assert rig.session.state is SessionState.FINISHED
    recorded = rig.close()
    ticks = 40  # one per second from the start (the baseline's first at t = 0)
    features = _pull_all(inlets["features"], ticks)
    assert len(features) in (ticks, ticks + 1)
    assert all(len(row) == 6 for row in features)
    assert all(row[5] in (0.0, 1.0) for row in features)
    assert any(math.isfinite(row[0]) and 50 < row[0] < 150 for row in features)  # heart rate
    markers = [json.loads(s[0]) for s in _pull_all(inlets["markers"], len(recorded))]
    assert markers == recorded  # the same objects as the recording's
    statuses = [json.loads(s[0]) for s in _pull_all(inlets["status"], ticks)]
    assert all(set(s) == STATUS_KEYS for s in statuses)
    assert {s["sid"] for s in statuses} == {rig.sid}
    states = [s["state"] for s in statuses]
    assert states[0] == "baseline" and states[-1] == "finished" and "active" in states
    active = [s for s in statuses if s["state"] == "active"]
    assert len(active) >= 29  # every controller tick of the 30 s active phase
    last = active[-1]
    assert last["steps_total"] == 5 and 1 <= last["step"] <= 5
    assert last["label"] == info["hierarchy"][last["step"] - 1]["label"]
    assert last["window"] == [0.25, 0.75] and last["held_by"] is None
    assert "steps down if heart rate exceeds 150 bpm" in last["safety"]
    assert last["next"] and ("climbs to step" in last["next"] or "steps down" in last["next"])
    assert last["streams"] == {
        "heart": {"status": "ok", "flags": []},
        "eda": {"status": "ok", "flags": []},
    }
    assert last["frames"]["late"] == 0 and last["frames"]["rate"] == pytest.approx(10.0, rel=0.1)
    assert abs(last["elapsed_s"] + last["remaining_s"] - 40.0) < 1e-6
    baseline = statuses[0]
    assert baseline["next"].startswith("baseline: the controller starts in")
    assert statuses[-1]["next"] is None
    shown = _pull_all(inlets["intensity"], 10)
    assert all(len(s) == 1 for s in shown)


def test_status_is_pushed_when_the_step_changes(
    published: tuple[Rig, dict[str, Any], dict[str, Any]],
) -> None:
    """A step change between ticks is published at once, not at the next tick."""
    rig, inlets, _ = published
    rig.run_until(15.0)
    tick = rig.session.safety.last_tick
    assert tick is not None
    rig.run_until(tick + 0.5 - 100.0)  # half-way to the next controller tick
    statuses = [json.loads(s[0]) for s in _pull_all(inlets["status"], 15)]
    now = rig.clock.now()
    assert statuses[-1]["time"] < now - 0.3
    rig.session.requests.push(Command(CommandKind.STEP_UP, "console", operator="dr.lee"))
    rig.step()
    changed = json.loads(_pull_all(inlets["status"], 1)[0][0])
    assert changed["time"] == now  # the frame the command came in
    assert changed["step"] == rig.session.safety.controller.step + 1
    rig.close()


def test_every_stream_names_the_session_and_the_status_holds_its_facts(
    published: tuple[Rig, dict[str, Any], dict[str, Any]],
) -> None:
    rig, inlets, info = published
    for kind, inlet in inlets.items():
        full = inlet.info(timeout=10.0)
        assert full.name() == STREAMS[kind][0] and full.type() == STREAMS[kind][1]
        assert full.source_id() == source_id(kind, rig.sid)
        assert full.desc().child_value("vrtherapy_session") == rig.sid
    status = inlets["status"].info(timeout=10.0)
    facts = json.loads(status.desc().child_value("vrtherapy_session_info"))
    assert facts == json.loads(json.dumps(info))
    assert facts["protocol"] == "heights-demo" and facts["scene"] == "heights"
    assert next(s["label"] for s in facts["hierarchy"]) == "first-floor balcony"
    assert facts["scene_events"] == ["gust_of_wind"] and facts["window"] == [0.25, 0.75]
    assert facts["participant"] == "P-TEST" and facts["thumbnail"] is False
    features = inlets["features"].info(timeout=10.0).desc().child("channels").child("channel")
    labels = []
    while not features.empty():
        labels.append(features.child_value("label"))
        features = features.next_sibling()
    assert labels == ["heart_rate", "scl", "scr_rate", "arousal", "rmssd", "valid"]
    rig.close()


def _recorded(path: Path) -> dict[str, Any]:
    streams, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    by = {s["info"]["name"][0]: s for s in streams}
    return {
        name: (np.asarray(by[name]["time_stamps"]).tolist(), by[name]["time_series"])
        for name in ("vrtherapy-markers", "vrtherapy-intensity", "vrtherapy-features")
    }


def test_publishing_changes_nothing_that_is_recorded(tmp_path: Path) -> None:
    """The same session with and without a console's outlets records the same."""
    protocol = short_protocol(duration=30.0)
    sid = new_session_id()
    outlets = SessionOutlets(sid, {})
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    published = Rig(tmp_path / "a", protocol, publish=outlets, sid=sid)
    plain = Rig(tmp_path / "b", protocol)
    for rig in (published, plain):
        rig.run_until(31.0)
        rig.close()
    outlets.close()
    a, b = _recorded(published.path), _recorded(plain.path)
    assert a["vrtherapy-markers"] == b["vrtherapy-markers"]
    for name in ("vrtherapy-intensity", "vrtherapy-features"):
        assert a[name][0] == b[name][0]
        np.testing.assert_array_equal(a[name][1], b[name][1])  # NaN where NaN
