"""Controller registry: kinds dispatched from YAML, errors at the right line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import ProtocolError
from engine.protocol import load_protocol
from therapies.controllers import (
    CONTROLLERS,
    BreathingController,
    DistractionController,
    ExposureController,
    create_controller,
)

HEAD = """\
protocol: test-proto
scene: heights
duration: 3min
streams:
  heart: {type: ECG}
baseline: 30s
controller:
"""


def load(tmp_path: Path, controller: str):
    path = tmp_path / "protocol.yaml"
    path.write_text(HEAD + controller)
    return load_protocol(path)


def error(tmp_path: Path, controller: str) -> str:
    with pytest.raises(ProtocolError) as info:
        load(tmp_path, controller)
    return str(info.value)


def test_each_kind_loads_and_builds_its_controller(tmp_path: Path) -> None:
    cases = {
        "  kind: exposure\n": ExposureController,
        "  kind: distraction\n  start: 0.5\n": DistractionController,
        "  kind: breathing\n  pacer_rate: 5.5\n  window: 90s\n": BreathingController,
        "  tick: 2s\n": ExposureController,  # kind defaults to exposure
    }
    for text, cls in cases.items():
        cfg = load(tmp_path, text).controller
        ctrl = create_controller(cfg, seed=3)
        assert isinstance(ctrl, cls)
        # what the engine's summary and session use, for every kind
        assert cfg.tick > 0 and isinstance(cfg.arousal_window, tuple)
        assert all(0.0 <= v <= 1.0 for v in cfg.levels())
        assert isinstance(cfg.label(len(cfg.levels()) - 1), str)
        assert ctrl.start(0.0).target == ctrl.target
    assert set(CONTROLLERS) == {"exposure", "distraction", "breathing"}


def test_unknown_kind_names_line_and_allowed_kinds(tmp_path: Path) -> None:
    msg = error(tmp_path, "  kind: expo\n")
    assert msg == (
        f"{tmp_path / 'protocol.yaml'}:8: controller.kind: "
        "'expo' is not one of exposure, distraction, breathing"
    )


def test_field_errors_point_at_the_field_of_that_kind(tmp_path: Path) -> None:
    msg = error(tmp_path, "  kind: distraction\n  pain_threshold: 12\n")
    assert ":9: controller.pain_threshold: must be at most 10, got" in msg
    msg = error(tmp_path, "  kind: breathing\n  settle_time: 30s\n")
    assert ":9: controller.settle_time: unknown field; allowed here:" in msg
    msg = error(tmp_path, "  habituation: {hr_drop: 2}\n")
    assert ":8: controller.habituation.hr_drop: must be less than 1, got" in msg
    msg = error(tmp_path, "  habituation: {require: most}\n")
    assert "controller.habituation.require: 'most' is not one of any, all" in msg
