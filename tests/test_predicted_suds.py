"""The predicted SUDS: asked once as an exposure session starts, recorded as a prompt marker
of kind ``predicted_suds``, never given to the controller; protocol option and seeds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import pyxdf
from pydantic import ValidationError
from session_helpers import FPS, make_session
from test_session import ScriptedDisplay

from biosignals.twin import TwinProfile
from engine.errors import ProtocolError
from engine.live import RunOptions, run_simulated, with_duration
from engine.protocol import load_protocol, resolve_seed, seed_protocols
from engine.session import SessionState
from engine.twinfeed import predicted_suds
from therapies.prompts import (
    PREDICTED_SUDS,
    PromptConfig,
    PromptEvent,
    PromptScheduler,
    PromptsConfig,
)

EXPOSURE = """\
protocol: test-proto
scene: heights
duration: 3min
streams:
  heart: {type: ECG}
  eda: {type: EDA}
baseline: 20s
controller:
  kind: exposure
  tick: 1s
  arousal_window: [0.3, 0.7]
  suds_step_down: 50
  hierarchy:
    - {intensity: 0.2, label: low}
    - {intensity: 0.6, label: high}
prompts:
  suds: {timeout: 20s}
  predicted_suds: {timeout: 1min}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "protocol.yaml"
    path.write_text(text)
    return path


def _markers(path: Path) -> list[tuple[float, dict[str, object]]]:
    streams, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    (markers,) = [s for s in streams if s["info"]["name"][0] == "vrtherapy-markers"]
    pairs = zip(markers["time_stamps"], markers["time_series"], strict=True)
    return [(float(t), json.loads(m[0])) for t, m in pairs]


def test_begin_asks_the_prediction_once_and_it_is_answered_like_any_prompt() -> None:
    config = PromptsConfig.model_validate({"suds": {}, "predicted_suds": {}})
    prompts = PromptScheduler(config)
    asked = prompts.begin(10.0)
    assert asked == [PromptEvent(10.0, "predicted_suds", "asked", source="start")]
    assert prompts.open is not None and prompts.open.deadline == 70.0  # 1 min by default
    assert prompts.open.scale.question == "How anxious do you expect to be at the hardest step?"
    assert (prompts.open.scale.low, prompts.open.scale.high) == (0, 100)
    answered = prompts.update(12.0, ("7", "0", "return"))
    assert [(e.kind, e.event, e.value) for e in answered] == [("predicted_suds", "answered", 70)]
    marker = answered[0].marker()
    assert marker["event"] == "predicted_suds" and marker["kind"] == "answered"
    assert marker["value"] == 70 and marker["source"] == "keys"
    assert marker["text"] == "predicted SUDS answered 70 after 2.0 s (keys)"
    # the on-demand key asks the configured SUDS/NRS, never the prediction again
    assert [(e.kind, e.event) for e in prompts.update(13.0, ("s",))] == [("suds", "asked")]
    assert PREDICTED_SUDS not in prompts.kinds


def test_without_the_option_begin_asks_nothing_and_a_timeout_is_recorded_as_such() -> None:
    assert PromptScheduler(PromptsConfig(suds=PromptConfig())).begin(0.0) == []
    prompts = PromptScheduler(PromptsConfig.model_validate({"predicted_suds": {"timeout": "5s"}}))
    prompts.begin(0.0)
    assert [(e.kind, e.event, e.time) for e in prompts.update(6.0)] == [
        ("predicted_suds", "timeout", 5.0)
    ]
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        PromptsConfig.model_validate({"predicted_suds": {"timeout": "0.5s"}})
    with pytest.raises(ValidationError, match="every"):
        PromptsConfig.model_validate({"predicted_suds": {"every": "1min"}})


def test_protocol_option_errors_name_file_line_and_field(tmp_path: Path) -> None:
    assert load_protocol(_write(tmp_path, EXPOSURE)).prompts.predicted_suds is not None
    bad = EXPOSURE.replace("predicted_suds: {timeout: 1min}", "predicted_suds: {timeout: 11min}")
    with pytest.raises(ProtocolError) as info:
        load_protocol(_write(tmp_path, bad))
    line = 1 + bad.splitlines().index("  predicted_suds: {timeout: 11min}")
    where = f"{tmp_path / 'protocol.yaml'}:{line}: prompts.predicted_suds.timeout: "
    assert str(info.value) == where + "must be at most 600 s, got 660 s"
    distraction = (resolve_seed("protocols", "snow-distraction")).read_text()
    distraction = distraction.replace(
        "prompts: {nrs:", "prompts: {predicted_suds: {timeout: 30s}, nrs:"
    )
    with pytest.raises(ProtocolError) as info:
        load_protocol(_write(tmp_path, distraction))
    line = 1 + distraction.splitlines().index(
        next(x for x in distraction.splitlines() if x.startswith("prompts:"))
    )
    message = str(info.value)
    assert f"protocol.yaml:{line}: prompts.predicted_suds: " in message
    assert "controller is distraction" in message


def test_exposure_seeds_ask_it_and_the_others_do_not() -> None:
    asked = {}
    for path in seed_protocols():
        protocol = load_protocol(path)
        asked[path.stem] = (protocol.controller.kind, protocol.prompts.predicted_suds)
    for name in ("heights-graded", "spiders-graded", "flying-graded", "public-speaking-graded"):
        kind, config = asked[name]
        assert kind == "exposure" and config is not None and config.timeout == 60.0, name
    assert asked["snow-distraction"][1] is None and asked["breathing-biofeedback"][1] is None


def test_a_dry_run_records_the_twins_prediction_at_the_start(tmp_path: Path) -> None:
    protocol = with_duration(load_protocol(resolve_seed("protocols", "spiders-graded")), 200.0)
    profile = TwinProfile(reactivity=0.6, suds_scale=0.9)
    opts = RunOptions(out=tmp_path, display="null", frame_rate=2.0, report=False)
    result = run_simulated(protocol, opts, profile)
    expected = round(100 * 0.9 * 0.6 * max(protocol.controller.levels()))
    assert predicted_suds(profile, protocol.controller) == expected
    markers = _markers(result.recording)
    start = next(t for t, m in markers if m["event"] == "start")
    predicted = [(t, m) for t, m in markers if m["event"] == "predicted_suds"]
    assert [(t, m["kind"], m["value"], m["source"]) for t, m in predicted] == [
        (start, "asked", None, "start"),
        (start, "answered", expected, "twin"),
    ]
    assert (start, "predicted_suds", expected) in result.summary.answers


def test_a_prediction_answered_during_exposure_never_reaches_the_controller(
    tmp_path: Path,
) -> None:
    protocol = load_protocol(_write(tmp_path, EXPOSURE))
    f = int(30 * FPS)  # active phase (baseline 20 s); the prediction is still open (1 min)
    keys = {f: ("9",), f + 1: ("0",), f + 2: ("return",)}
    session, _, recorder = make_session(tmp_path, protocol, display=ScriptedDisplay(keys))
    while session.clock.now() < 100.0 + 40:
        session.step(session.clock.now())
        session.clock.advance(1 / FPS)
    recorder.close()
    assert session.state is SessionState.ACTIVE
    assert [(k, v) for _, k, v in session.summary.answers] == [("predicted_suds", 90)]
    # 90 >= suds_step_down (50): a SUDS answer would have stepped down; the prediction does not
    assert not [d for d in session.summary.decisions if "SUDS" in d.reason]
    markers = _markers(tmp_path / "rec.xdf")
    kinds = [(m["kind"], m["source"]) for _, m in markers if m["event"] == "predicted_suds"]
    assert kinds == [("asked", "start"), ("answered", "keys")]
