"""Thumbnails of the patient's view for a console: only when the protocol allows it, only
from displays that draw, 320 px wide images as data URLs at the protocol's rate, read back
with a real LSL inlet and decoded."""

from __future__ import annotations

import base64
import io
import itertools
from pathlib import Path
from typing import Any

import pygame
import pytest
from console_helpers import Rig, short_protocol
from waiting import wait_for

from biosignals.lsl import import_pylsl
from engine.console_wire import new_session_id, source_id
from engine.outlets import SessionOutlets

pylsl = import_pylsl()
pytestmark = pytest.mark.lsl


def _inlet(sid: str) -> Any:
    (info,) = pylsl.resolve_byprop("source_id", source_id("thumbnail", sid), 1, 10.0)
    inlet = pylsl.StreamInlet(info, max_buflen=60)
    inlet.open_stream(timeout=10.0)
    return inlet


@pytest.mark.gl
def test_a_drawing_display_sends_thumbnails_at_the_protocols_rate(tmp_path: Path) -> None:
    from engine.display import HEADLESS, open_display

    sid = new_session_id()
    outlets = SessionOutlets(sid, {}, thumbnail=True)
    inlet = _inlet(sid)
    display = open_display(HEADLESS, size=(640, 360))
    try:
        protocol = short_protocol(console={"thumbnail": True, "thumbnail_fps": 4})
        rig = Rig(tmp_path, protocol, publish=outlets, sid=sid, display=display)
        rig.run_until(5.0)  # 5 s of session time: 20 thumbnails are due (4 per second)
        assert rig.session.status is not None
        worker = rig.session.status._thumbs
        assert worker is not None
        assert worker.offered in (20, 21)  # at 0 s, 0.25 s, ... (frames every 0.1 s)
        wait_for(lambda: worker.made + worker.dropped == worker.offered, 30, what="encoding")
        got: list[tuple[str, float]] = []

        def pulled() -> bool:
            samples, stamps = inlet.pull_chunk(timeout=0.0)
            got.extend((s[0], t) for s, t in zip(samples, stamps, strict=True))
            return len(got) >= worker.made

        wait_for(pulled, 15, what="the thumbnails on LSL")
        rig.close()
    finally:
        display.close()
        outlets.close()
    assert len(got) == worker.made >= 1
    stamps = [t for _, t in got]
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert all(g >= 0.2 - 1e-6 for g in gaps)  # at most one per 0.25 s slot of 0.1 s frames
    url = got[-1][0]
    head, data = url.split(",", 1)
    assert head in ("data:image/jpeg;base64", "data:image/png;base64")
    image = pygame.image.load(io.BytesIO(base64.b64decode(data)))
    assert image.get_size() == (320, 180)
    pixels = pygame.surfarray.array3d(image)
    assert pixels.std() > 15  # the scene, not a blank frame


def test_no_thumbnails_from_the_null_display_nor_when_the_protocol_says_no(
    tmp_path: Path,
) -> None:
    sid = new_session_id()
    outlets = SessionOutlets(sid, {}, thumbnail=True)
    inlet = _inlet(sid)
    protocol = short_protocol(console={"thumbnail": True})
    rig = Rig(tmp_path, protocol, publish=outlets, sid=sid)
    rig.run_until(3.0)
    assert rig.session.status is not None and rig.session.status._thumbs is None
    rig.close()
    samples, _ = inlet.pull_chunk(timeout=0.0)
    assert samples == []
    outlets.close()
    quiet = SessionOutlets(new_session_id(), {})
    assert "thumbnail" not in quiet.source_ids  # off by default: no stream at all
    quiet.close()
