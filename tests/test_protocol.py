"""Protocol YAML: typed loading, units, and errors that name file:line:field."""

from __future__ import annotations

from pathlib import Path

import pytest

from biosignals.units import format_duration, parse_duration
from engine.errors import ProtocolError
from engine.protocol import load_protocol, resolve_seed, seed_protocols

GOOD = """\
protocol: test-proto
scene: heights
duration: 3min
streams:
  heart: {type: ECG}
  eda: {type: EDA, channel: EDA}
baseline: 30s
controller:
  kind: exposure
  tick: 500ms
  arousal_window: [0.3, 0.7]
  hierarchy:
    - {intensity: 0.2, label: low}
    - {intensity: 0.5, label: mid}
safety:
  max_heart_rate: 140
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "protocol.yaml"
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ProtocolError) as info:
        load_protocol(write(tmp_path, text))
    return str(info.value)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("3min", 180.0), ("500ms", 0.5), ("30s", 30.0), ("1.5h", 5400.0), (12, 12.0), ("2 sec", 2.0)],
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["3 minutes", "-1s", "", True, None, "1e999s"])
def test_parse_duration_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(bad)


def test_format_duration() -> None:
    assert format_duration(90) == "1min 30s"
    assert format_duration(0.25) == "250ms"
    assert format_duration(120) == "2min"


def test_good_protocol_is_typed_and_frozen(tmp_path: Path) -> None:
    p = load_protocol(write(tmp_path, GOOD))
    assert p.duration == 180.0 and p.baseline == 30.0 and p.controller.tick == 0.5
    assert p.controller.levels() == (0.2, 0.5)
    assert p.streams["eda"].channel == "EDA"
    assert p.safety.max_heart_rate == 140 and p.safety.on_signal_loss == "lower"
    with pytest.raises(ValueError):
        p.duration = 1.0  # type: ignore[misc]


def test_every_seed_protocol_validates() -> None:
    paths = seed_protocols()
    assert {p.stem for p in paths} >= {"heights-demo", "heights-graded"}
    for path in paths:
        assert load_protocol(path).protocol == path.stem


def test_unknown_controller_kind_names_line_and_allowed(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD.replace("kind: exposure", "kind: expo"))
    allowed = "exposure, distraction, breathing"
    assert msg == f"{tmp_path / 'protocol.yaml'}:9: controller.kind: 'expo' is not one of {allowed}"


def test_unknown_scene_lists_scenes(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD.replace("scene: heights", "scene: moon"))
    assert (
        ":2: scene: 'moon' is not one of breathing, flying, heights, public_speaking, snow, spiders"
        in msg
    )


def test_unknown_field_lists_allowed_fields(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD.replace("  max_heart_rate: 140", "  max_heart_rat: 140"))
    assert ":16: safety.max_heart_rat: unknown field; allowed here:" in msg
    assert "max_heart_rate" in msg and "on_signal_loss" in msg


def test_wrong_type_and_range(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD.replace("max_heart_rate: 140", "max_heart_rate: 400"))
    assert ":16: safety.max_heart_rate: must be at most 220, got 400" in msg
    msg = error_of(tmp_path, GOOD.replace("duration: 3min", "duration: three"))
    assert ":3: duration: 'three' is not a duration" in msg


def test_hierarchy_must_increase(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD.replace("intensity: 0.5", "intensity: 0.1"))
    assert ":12: controller.hierarchy: intensities must strictly increase" in msg


def test_signal_loss_policy_allowed_values(tmp_path: Path) -> None:
    text = GOOD + "  on_signal_loss: panic\n"
    msg = error_of(tmp_path, text)
    assert ":17: safety.on_signal_loss: 'panic' is not one of lower, hold, stop" in msg


def test_several_errors_one_message(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD.replace("scene: heights", "scene: moon").replace("3min", "x"))
    assert len(msg.splitlines()) == 2


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD.replace("  heart: {type: ECG}", "  heart: {type: ECG"))
    assert msg.startswith(f"{tmp_path / 'protocol.yaml'}:6: YAML syntax error")


def test_missing_file_and_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ProtocolError, match="file not found"):
        load_protocol(tmp_path / "nope.yaml")
    msg = error_of(tmp_path, "- just\n- a list\n")
    assert "must be a YAML mapping" in msg


def test_missing_required_field(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD.replace("scene: heights\n", ""))
    assert "scene: required field is missing" in msg


def test_baseline_must_fit_duration(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD.replace("baseline: 30s", "baseline: 5min"))
    assert "baseline (300 s) must be shorter than duration (180 s)" in msg


def test_resolve_seed_by_name() -> None:
    assert resolve_seed("protocols", "heights-demo").name == "heights-demo.yaml"
    with pytest.raises(ProtocolError, match="no shipped protocol of that name"):
        resolve_seed("protocols", "nonexistent")


def test_stream_signal_settings(tmp_path: Path) -> None:
    text = GOOD.replace(
        "eda: {type: EDA, channel: EDA}", "eda: {type: GSR, signal: {unit: kOhm, clock: unix}}"
    )
    p = load_protocol(write(tmp_path, text))
    assert p.streams["eda"].signal.unit == "kOhm" and p.streams["eda"].signal.clock == "unix"
    assert p.streams["heart"].signal.unit == "auto"
    msg = error_of(tmp_path, text.replace("unit: kOhm", "unit: furlongs"))
    assert ":6: streams.eda.signal.unit: 'furlongs' is not one of" in msg and "kOhm" in msg
