"""The whole session on a ManualClock: in-process twin, null display, real XDF recording."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import pyxdf
from session_helpers import FPS, make_session

from biosignals.twin import TwinProfile
from engine.display.base import InputEvents
from engine.display.null import NullDisplay
from engine.errors import IllegalTransitionError
from engine.live import RunOptions, run_simulated, with_duration
from engine.protocol import load_protocol, resolve_seed
from engine.session import SessionState
from engine.twinfeed import TwinFeed


def demo_protocol(**update: object):
    p = load_protocol(resolve_seed("protocols", "heights-demo"))
    return p.model_copy(update=update) if update else p


class ScriptedDisplay(NullDisplay):
    """A null display that reports given keys at given frames (a patient/therapist)."""

    def __init__(self, keys_at: dict[int, tuple[str, ...]]) -> None:
        super().__init__()
        self.keys_at = keys_at

    def poll(self) -> InputEvents:
        return InputEvents(keys=self.keys_at.get(self.frames, ()))


class DroppingFeed(TwinFeed):
    """A twin whose ECG electrode comes off at ``drop_at`` seconds."""

    drop_at = float("inf")

    def pump(self) -> None:
        super().pump()
        if self.clock.now() >= self.drop_at:
            self._ecg.pull()  # discard: nothing reaches the session


def test_dry_run_climbs_hierarchy_and_records_reasons(tmp_path: Path) -> None:
    session, _feed, recorder = make_session(tmp_path, demo_protocol())
    summary = session.run()
    recorder.close()
    assert summary.state is SessionState.FINISHED
    assert summary.duration == pytest.approx(120.0, abs=0.1)
    climbs = [d for d in summary.decisions if d.source == "controller" and d.target > d.previous]
    assert len(climbs) >= 3, [d.explain() for d in summary.decisions]
    assert all(d.reason for d in summary.decisions)
    # heart rate estimate follows the twin's true rate
    assert summary.max_hr is not None and 60 < summary.max_hr < 150
    streams, _ = pyxdf.load_xdf(str(tmp_path / "rec.xdf"), dejitter_timestamps=False)
    by_name = {s["info"]["name"][0]: s for s in streams}
    markers = [json.loads(m[0]) for m in by_name["vrtherapy-markers"]["time_series"]]
    reasons = [m["reason"] for m in markers if m["event"] == "intensity"]
    assert len(reasons) == len(summary.decisions)
    assert any(r.startswith("settled: arousal") for r in reasons)
    intensity = np.asarray(by_name["vrtherapy-intensity"]["time_series"]).ravel()
    assert intensity.max() > 0.3 and len(intensity) == summary.frames
    ecg = by_name["vrtherapy-twin-ECG"]
    assert len(ecg["time_stamps"]) == pytest.approx(120 * 500, rel=0.01)
    feats = np.asarray(by_name["vrtherapy-features"]["time_series"])
    assert np.nanmax(feats[:, 0]) > 60  # heart rate column


def test_emergency_stop_key_aborts_and_keeps_recording(tmp_path: Path) -> None:
    display = ScriptedDisplay({int(40 * FPS): ("escape",)})
    session, _, recorder = make_session(tmp_path, demo_protocol(), display=display)
    summary = session.run()
    recorder.close()
    assert summary.state is SessionState.ABORTED
    assert "emergency stop" in summary.reason and summary.duration == pytest.approx(40, abs=0.1)
    streams, _ = pyxdf.load_xdf(str(tmp_path / "rec.xdf"))
    names = {s["info"]["name"][0] for s in streams}
    assert {"vrtherapy-twin-ECG", "vrtherapy-markers"} <= names


def test_therapist_override_beats_controller(tmp_path: Path) -> None:
    display = ScriptedDisplay({int(25 * FPS): ("up",), int(26 * FPS): ("up",)})
    session, _, recorder = make_session(tmp_path, demo_protocol(), display=display)
    session.clock.advance(0)
    while session.clock.now() < 100.0 + 27:
        session.step(session.clock.now())
        session.clock.advance(1 / FPS)
    recorder.close()
    therapist = [d for d in session.summary.decisions if d.source == "therapist"]
    assert [d.step for d in therapist] == [1, 2]
    assert session.safety.controller.step == 2


def test_signal_loss_lowers_within_one_second(tmp_path: Path) -> None:
    protocol = demo_protocol()
    session, _, recorder = make_session(tmp_path, protocol, feed_cls=DroppingFeed, drop_at=170.0)
    while session.clock.now() < 165.0:
        session.step(session.clock.now())
        session.clock.advance(1 / FPS)
    assert session.safety.controller.step >= 1, "the demo should have climbed before the drop"
    while session.clock.now() < 171.0:
        session.step(session.clock.now())
        session.clock.advance(1 / FPS)
    recorder.close()
    lowered = [d for d in session.summary.decisions if d.source == "safety"]
    assert lowered and "signal lost (heart:dropout)" in lowered[0].reason
    assert lowered[0].time - 170.0 <= 1.0
    assert session.safety.controller.step == 0


def test_heart_rate_ceiling_lowers_intensity(tmp_path: Path) -> None:
    anxious = TwinProfile(resting_hr=95, max_hr_gain=80, reactivity=2.0)
    protocol = demo_protocol(
        safety=demo_protocol().safety.model_copy(update={"max_heart_rate": 120})
    )
    session, _, recorder = make_session(tmp_path, protocol, profile=anxious)
    summary = session.run()
    recorder.close()
    ceiling = [d for d in summary.decisions if d.source == "safety"]
    assert ceiling and "above ceiling 120" in ceiling[0].reason


def test_lifecycle_is_explicit(tmp_path: Path) -> None:
    session, _, recorder = make_session(tmp_path, demo_protocol())
    assert session.state is SessionState.CREATED
    session.step(100.0)
    assert session.state is SessionState.BASELINE
    with pytest.raises(IllegalTransitionError):
        session._transition(SessionState.FINISHED, 100.0, "skip ahead")
    session.stop(101.0, "test")
    assert session.state is SessionState.ABORTED and session.step(102.0) is False
    recorder.close()


def test_run_simulated_writes_folder(tmp_path: Path) -> None:
    protocol = with_duration(demo_protocol(), 40.0)
    result = run_simulated(protocol, RunOptions(out=tmp_path, display="null"), TwinProfile())
    assert result.recording.exists() and result.folder.parent.name == "demo"
    summary = json.loads((result.folder / "summary.json").read_text())
    assert summary["state"] == "finished" and summary["duration_s"] == pytest.approx(40, abs=0.1)
    assert result.extra["true_beats"] > 40


def test_prompt_answered_by_keys_is_recorded_and_keys_do_not_override(tmp_path: Path) -> None:
    from therapies.prompts import PromptsConfig

    f = int(30 * FPS)  # active phase (baseline is 20 s)
    keys = {f: ("s",), f + 2: ("up",), f + 3: ("4",), f + 4: ("0",), f + 5: ("return",)}
    protocol = demo_protocol(prompts=PromptsConfig.model_validate({"suds": {}}))
    session, _, recorder = make_session(tmp_path, protocol, display=ScriptedDisplay(keys))
    while session.clock.now() < 100.0 + 32:
        session.step(session.clock.now())
        session.clock.advance(1 / FPS)
    recorder.close()
    assert [(kind, value) for _, kind, value in session.summary.answers] == [("suds", 40)]
    # "up" while the prompt was open is still the therapist's key (escape/up/down pass)
    assert [d.source for d in session.summary.decisions].count("therapist") == 1
    streams, _ = pyxdf.load_xdf(str(tmp_path / "rec.xdf"))
    markers = [
        json.loads(m[0])
        for s in streams
        if s["info"]["name"][0] == "vrtherapy-markers"
        for m in s["time_series"]
    ]
    suds = [m for m in markers if m["event"] == "suds"]
    assert [m["kind"] for m in suds] == ["asked", "answered"] and suds[1]["value"] == 40


def test_dry_run_twin_answers_scheduled_prompts(tmp_path: Path) -> None:
    from therapies.prompts import PromptsConfig

    prompts = PromptsConfig.model_validate({"suds": {"every": "30s", "timeout": "10s"}})
    protocol = with_duration(demo_protocol(prompts=prompts), 120.0)
    result = run_simulated(
        protocol, RunOptions(out=tmp_path, display="null", report=False), TwinProfile()
    )
    answers = result.summary.answers
    assert len(answers) >= 3 and all(kind == "suds" and 0 <= v <= 100 for _, kind, v in answers)


def test_window_close_stops_cleanly_with_recording(tmp_path: Path) -> None:
    class ClosingDisplay(NullDisplay):
        def poll(self) -> InputEvents:
            return InputEvents(quit=self.frames >= int(25 * FPS))

    session, _, recorder = make_session(tmp_path, demo_protocol(), display=ClosingDisplay())
    summary = session.run()
    recorder.close()
    assert summary.state is SessionState.ABORTED and summary.reason == "display closed"
    streams, _ = pyxdf.load_xdf(str(tmp_path / "rec.xdf"))
    stop = [
        json.loads(m[0])
        for s in streams
        if s["info"]["name"][0] == "vrtherapy-markers"
        for m in s["time_series"]
    ][-1]
    assert stop["event"] == "stop" and stop["state"] == "aborted"


def test_baseline_at_or_above_ceiling_never_starts_exposure(tmp_path: Path) -> None:
    protocol = demo_protocol(
        safety=demo_protocol().safety.model_copy(update={"max_heart_rate": 75})
    )
    session, _, recorder = make_session(tmp_path, protocol, profile=TwinProfile(resting_hr=80))
    summary = session.run()
    recorder.close()
    assert summary.state is SessionState.ABORTED
    assert "at or above the ceiling 75" in summary.reason and summary.decisions == []


def test_dry_run_refuses_ceiling_below_patient_rest(tmp_path: Path) -> None:
    from engine.errors import ProtocolError

    protocol = demo_protocol(
        safety=demo_protocol().safety.model_copy(update={"max_heart_rate": 70})
    )
    with pytest.raises(ProtocolError, match="not above patient typical's resting heart rate"):
        run_simulated(protocol, RunOptions(out=tmp_path, display="null"), TwinProfile())
    assert not any(tmp_path.iterdir())
