"""Adding things through the registries only (docs/extending.md): a toy display backend
and a toy scene, registered here in the test, run a whole session; and every list the
engine shows (CLI choices, messages) comes from a registry."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from numpy.typing import NDArray

from biosignals.roles import ROLE_NAMES
from engine.cli import COMMANDS, build_parser
from engine.display import (
    Backend,
    DisplayCapabilities,
    capabilities,
    display_names,
    open_display,
    register_backend,
    unregister_backend,
)
from engine.display.base import FrameTiming, HeadsetFrame, InputEvents
from engine.live import RunOptions, run_simulated, with_duration
from engine.protocol import load_protocol, resolve_seed
from engine.twin_profiles import load_patient
from therapies.controllers import CONTROLLERS
from therapies.prompt_gaze import PanelLayout
from therapies.scenes import register_scene, scene_names, unregister_scene
from therapies.scenes.base import DrawList, Overlay, SmoothedLevel, Soundscape

TOY_CAPS = DisplayCapabilities(
    paces_itself=False,
    draws=True,
    head_pose=False,
    audio=False,
    mirror=False,
    needs_desktop=False,
    default_size=(64, 48),
    default_rate=30.0,
    description="a toy backend for this test",
)


class ToyDisplay:
    """Counts frames and the draw lists it was given; nothing else."""

    name = "toy"
    capabilities = TOY_CAPS
    paced = False
    last_frame: HeadsetFrame | None = None
    opened: ClassVar[list[ToyDisplay]] = []

    def __init__(self, size: tuple[int, int], stereo: bool, title: str) -> None:
        self._size = size
        self.frames: list[DrawList] = []
        ToyDisplay.opened.append(self)

    @property
    def size(self) -> tuple[int, int]:
        return self._size

    def poll(self) -> InputEvents:
        return InputEvents()

    def present(self, draw_list: DrawList) -> FrameTiming:
        self.frames.append(draw_list)
        return FrameTiming(0.0, len(self.frames) - 1)

    def screenshot(self, path: object) -> None:
        raise NotImplementedError

    def read_pixels(self) -> NDArray[np.uint8]:
        return np.zeros((self._size[1], self._size[0], 3), np.uint8)

    def close(self) -> None:
        pass

    def panel_layout(self, overlay: Overlay) -> PanelLayout | None:
        return None

    def set_prompt_key(self, key: str) -> None:
        pass


class ToyScene(SmoothedLevel):
    """A scene whose fog density is its intensity; one event, ``flash``."""

    name = "toy"
    events = ("flash",)

    def __init__(self, seed: int = 0) -> None:
        self.flashes = 0

    def update(self, intensity: float, dt: float) -> None:
        self._follow(intensity, dt)

    def draw_list(self) -> DrawList:
        return DrawList((), (0.5, 0.6, 0.7), (0.5, 0.5, 0.5), 0.01 + 0.1 * self.level)

    def describe(self, intensity: float) -> str:
        return f"toy at {intensity:.2f}"

    def soundscape(self) -> Soundscape:
        return Soundscape()

    def set_parameters(self, values: Mapping[str, float]) -> None:
        pass

    def _fire(self, event: str) -> None:
        self.flashes += 1


@pytest.fixture
def toys() -> Iterator[None]:
    register_backend("toy", Backend(f"{__name__}:ToyDisplay", TOY_CAPS))
    register_scene("toy", ToyScene)
    try:
        yield
    finally:
        unregister_backend("toy")
        unregister_scene("toy")


def test_a_toy_backend_and_scene_run_a_session_through_the_registries(
    tmp_path: Path, toys: None
) -> None:
    assert "toy" in display_names() and "toy" in scene_names()
    assert capabilities("toy") is TOY_CAPS
    text = (Path(str(resolve_seed("protocols", "heights-demo")))).read_text()
    proto_file = tmp_path / "toy.yaml"
    proto_file.write_text(text.replace("scene: heights", "scene: toy"))
    protocol = with_duration(load_protocol(proto_file), 60.0)
    assert protocol.scene == "toy"
    opts = RunOptions(out=tmp_path / "sessions", display="toy", frame_rate=2.0, report=False)
    result = run_simulated(protocol, opts, load_patient("typical"))
    (display,) = ToyDisplay.opened[-1:]
    assert result.summary.frames == len(display.frames) > 100
    fogs = [d.fog_density for d in display.frames]
    assert max(fogs) > min(fogs)  # the scene followed the controller's intensity
    assert result.recording.is_file()


def test_toy_backend_opens_by_name_and_cannot_mirror(toys: None) -> None:
    display = open_display("toy", size=(64, 48))
    assert isinstance(display, ToyDisplay)
    with pytest.raises(Exception, match="cannot"):
        open_display("toy", mirror=True)


def test_a_scene_event_is_refused_unless_the_scene_declares_it(toys: None) -> None:
    scene = ToyScene()
    scene.trigger("flash")
    assert scene.flashes == 1
    with pytest.raises(ValueError, match="no event 'thunder' \\(events: flash\\)"):
        scene.trigger("thunder")


def test_lists_the_cli_shows_come_from_the_registries(toys: None) -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")  # argparse's subparsers
    assert set(sub.choices) == set(COMMANDS)  # type: ignore[arg-type]
    run = sub.choices["run"]  # type: ignore[index]
    display = next(a for a in run._actions if a.dest == "display")
    assert tuple(display.choices) == display_names()  # the toy backend included
    assert "toy" in display.choices
    consent = next(a for a in run._actions if a.dest == "consent_streams")
    assert all(role in (consent.help or "") for role in ROLE_NAMES)


def test_controller_kinds_in_messages_come_from_the_registry(tmp_path: Path) -> None:
    text = (Path(str(resolve_seed("protocols", "heights-demo")))).read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("kind: exposure", "kind: expo"))
    with pytest.raises(Exception, match=", ".join(CONTROLLERS)):
        load_protocol(bad)
