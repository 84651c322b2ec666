"""Stream roles in protocols: one vocabulary (heart, ppg, hr, eda), content that fits the
role, one channel per role; errors name the file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import ProtocolError
from engine.protocol import load_protocol

HEAD = """\
protocol: roles
scene: heights
duration: 2min
baseline: 30s
controller:
  kind: exposure
  hierarchy:
    - {intensity: 0.2, label: low}
streams:
"""


def load(tmp_path: Path, streams: str) -> object:
    path = tmp_path / "p.yaml"
    path.write_text(HEAD + streams)
    return load_protocol(path)


def error(tmp_path: Path, streams: str) -> str:
    with pytest.raises(ProtocolError) as info:
        load(tmp_path, streams)
    return str(info.value)


@pytest.mark.parametrize("content", ["rr_ms", "rr_s", "hr_bpm"])
def test_heart_rate_content_under_heart_names_the_hr_role(tmp_path: Path, content: str) -> None:
    text = error(tmp_path, f"  heart:\n    type: RR\n    signal: {{content: {content}}}\n")
    assert text.startswith(f"{tmp_path / 'p.yaml'}:12: streams.heart.signal.content: ")
    assert f"'{content}' is not a waveform" in text and "under the role hr" in text


def test_heart_rate_content_under_hr_loads(tmp_path: Path) -> None:
    p = load(tmp_path, "  hr:\n    type: RR\n    signal: {content: rr_ms}\n  eda: {type: EDA}\n")
    assert p.streams["hr"].signal.content == "rr_ms"  # type: ignore[attr-defined]


def test_ppg_and_eda_refuse_heart_rate_content(tmp_path: Path) -> None:
    assert "ppg reads a waveform" in error(
        tmp_path, "  ppg:\n    type: PPG\n    signal: {content: hr_bpm}\n"
    )
    assert "eda reads a skin-conductance waveform" in error(
        tmp_path, "  eda:\n    type: EDA\n    signal: {content: rr_s}\n"
    )


def test_two_roles_may_read_two_channels_of_one_stream(tmp_path: Path) -> None:
    p = load(
        tmp_path,
        "  heart: {name: OpenSignals, channel: ECGBIT1}\n"
        "  eda: {name: OpenSignals, channel: EDABITREV2}\n",
    )
    assert set(p.streams) == {"heart", "eda"}  # type: ignore[attr-defined]


def test_two_roles_on_one_channel_are_refused_with_the_line(tmp_path: Path) -> None:
    text = error(
        tmp_path,
        "  heart: {name: OpenSignals, channel: 1}\n  ppg: {name: OpenSignals, channel: 1}\n",
    )
    assert text.startswith(f"{tmp_path / 'p.yaml'}:11: streams.ppg.channel: roles heart and ppg")


def test_an_unknown_role_lists_the_roles(tmp_path: Path) -> None:
    text = error(tmp_path, "  resp: {type: RESP}\n")
    assert "streams.resp" in text and "heart, ppg, hr, eda" in text


def test_a_declared_range_reaches_the_quality_monitor(tmp_path: Path) -> None:
    from session_helpers import make_session

    p = load(
        tmp_path,
        "  heart: {type: ECG}\n  eda:\n    type: EDA\n    signal: {range: [0, 24.976]}\n",
    )
    session, _, recorder = make_session(tmp_path, p)  # type: ignore[arg-type]
    recorder.close()
    assert session.pipeline.monitors["eda"].device_range == (0.0, 24.976)
    assert session.pipeline.monitors["heart"].device_range is None


def test_a_range_is_refused_on_hr_and_when_reversed(tmp_path: Path) -> None:
    text = error(tmp_path, "  hr:\n    type: RR\n    signal: {content: rr_ms, range: [0, 2]}\n")
    assert "streams.hr.signal.range" in text and "no clipping check" in text
    text = error(tmp_path, "  eda:\n    type: EDA\n    signal: {range: [5, 1]}\n")
    assert "streams.eda.signal.range" in text and "low < high" in text
