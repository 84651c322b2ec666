"""Console commands inside a session (no LSL needed: the session's own command queue is a
command source like the console's link): ignoring and watching a sensor, scene events and
the protocol's ``console`` block."""

from __future__ import annotations

from pathlib import Path

import pytest
from console_helpers import START, Rig, short_protocol

from engine.errors import ProtocolError
from engine.protocol import load_protocol, resolve_seed
from engine.session_status import stream_states
from engine.session_types import SessionState
from engine.twinfeed import TwinFeed
from therapies.commands import Command, CommandKind

ROOT = Path(__file__).resolve().parents[1]


class EdaOffFeed(TwinFeed):
    """A twin whose skin-conductance electrode comes off at ``drop_at`` seconds."""

    drop_at = float("inf")

    def pump(self) -> None:
        super().pump()
        if self.clock.now() >= self.drop_at:
            self._eda.pull()  # discard: nothing reaches the session


def _command(rig: Rig, kind: CommandKind, **fields: str) -> dict[str, object]:
    rig.session.requests.push(Command(kind, "console", operator="dr.lee", **fields))
    before = len(rig.session.summary.commands)
    rig.step()
    assert len(rig.session.summary.commands) == before + 1
    return rig.session.summary.commands[-1]


def test_an_ignored_sensor_raises_no_false_alarm_and_can_be_watched_again(tmp_path: Path) -> None:
    rig = Rig(tmp_path, feed_cls=EdaOffFeed, drop_at=START + 30.0)
    rig.run_until(29.0)
    assert rig.session.features.valid
    rig.run_until(40.0)  # the EDA electrode is off: signal loss, safety lowers
    assert not rig.session.features.valid
    assert stream_states(rig.session)["eda"] == {"status": "stale", "flags": ["dropout"]}
    lost = [d for d in rig.session.summary.decisions if "signal lost (eda:dropout)" in d.reason]
    assert lost and lost[-1].step == 0

    marker = _command(rig, CommandKind.IGNORE_STREAM, role="eda")
    assert marker["applied"] is True and marker["role"] == "eda"
    assert marker["result"] == "eda ignored: its quality flags no longer count"
    assert rig.session.features.valid and rig.session.features.scl_us is None
    assert stream_states(rig.session)["eda"]["status"] == "ignored"
    rig.run_until(60.0)  # the controller runs on the heart rate alone
    assert rig.session.state is SessionState.ACTIVE and rig.session.features.arousal is not None

    refused = _command(rig, CommandKind.IGNORE_STREAM, role="heart")
    assert refused["applied"] is False
    assert "heart is the last heart-rate source watched" in str(refused["result"])
    unknown = _command(rig, CommandKind.IGNORE_STREAM, role="ppg")
    assert unknown["applied"] is False and "not in this session" in str(unknown["result"])

    watched = _command(rig, CommandKind.WATCH_STREAM, role="eda")
    assert watched["applied"] is True and watched["result"] == "eda watched again"
    rig.step()
    assert not rig.session.features.valid  # the electrode is still off
    markers = rig.close()
    commands = [m for m in markers if m["event"] == "command"]
    assert [(m["command"], m["role"], m["applied"]) for m in commands] == [
        ("ignore_stream", "eda", True),
        ("ignore_stream", "heart", False),
        ("ignore_stream", "ppg", False),
        ("watch_stream", "eda", True),
    ]
    assert any(m["event"] == "note" and m["text"].startswith("signal restored") for m in markers)


def test_a_scene_event_command_fires_the_scenes_event(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.run_until(2.0)  # scene events work during the baseline too
    marker = _command(rig, CommandKind.SCENE_EVENT, event="gust_of_wind")
    assert marker["applied"] is True and marker["scene_event"] == "gust_of_wind"
    assert rig.session.scene.soundscape().cues == ("gust",)
    unknown = _command(rig, CommandKind.SCENE_EVENT, event="earthquake")
    assert unknown["applied"] is False and "no event 'earthquake'" in str(unknown["result"])
    rig.close()


def test_the_protocol_can_disable_scene_events(tmp_path: Path) -> None:
    rig = Rig(tmp_path, short_protocol(console={"events": False}))
    assert rig.session.scene_events == ()
    marker = _command(rig, CommandKind.SCENE_EVENT, event="gust_of_wind")
    assert marker["applied"] is False
    assert "the protocol does not allow scene event gust_of_wind (none)" in str(marker["result"])
    assert rig.session.scene.soundscape().cues == ()
    rig.close()


def test_console_events_are_checked_against_the_scene(tmp_path: Path) -> None:
    text = (ROOT / "seeds" / "protocols" / "heights-demo.yaml").read_text()
    path = tmp_path / "p.yaml"
    path.write_text(text + "console:\n  events:\n    - gust_of_wind\n    - cough\n")
    with pytest.raises(ProtocolError) as err:
        load_protocol(path)
    lines = text.count("\n")
    message = str(err.value)
    assert message.startswith(f"{path}:{lines + 4}:")
    assert "console.events.1: 'cough' is not an event of scene heights" in message
    assert "(its events: gust_of_wind)" in message
    path.write_text(text + "console: {thumbnail: true, thumbnail_fps: 9}\n")
    with pytest.raises(ProtocolError, match=r"console.thumbnail_fps"):
        load_protocol(path)
    path.write_text(text + "console: {events: [gust_of_wind], thumbnail: true}\n")
    protocol = load_protocol(path)
    assert protocol.console.enabled_events(("gust_of_wind",)) == ("gust_of_wind",)
    assert load_protocol(resolve_seed("protocols", "heights-demo")).console.thumbnail is False
