"""SessionRecording batches per-frame rows without losing, reordering or delaying them much."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyxdf

from engine.record import ChannelSpec, StreamSpec, XdfRecorder
from engine.session_record import SessionRecording

ECG = StreamSpec("dev-ecg", "ECG", 1, 500.0, "float32", channels=(ChannelSpec("II", "mV"),))


class _CountingRecorder(XdfRecorder):
    """A real recorder that also remembers which stream every push went to."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.pushed: list[int] = []

    def push(self, stream_id: int, samples: Any, timestamps: Any) -> None:
        self.pushed.append(stream_id)
        super().push(stream_id, samples, timestamps)


def _streams(path: Path) -> dict[str, Any]:
    streams, _ = pyxdf.load_xdf(str(path), synchronize_clocks=False, dejitter_timestamps=False)
    return {s["info"]["name"][0]: s for s in streams}


def test_rows_are_batched_every_quarter_second_and_recorded_exactly(tmp_path: Path) -> None:
    recorder = _CountingRecorder(tmp_path / "rec.xdf")
    rec = SessionRecording(recorder, batch_seconds=0.25)
    rec.add_source("heart", ECG)
    recorder.start()
    rng = np.random.default_rng(5)
    ecg = rng.standard_normal(900).astype(np.float32)
    frames = 90  # one second at 90 Hz
    for k in range(frames):
        t = 10.0 + k / 90.0
        rec.raw("heart", ecg[k * 10 : (k + 1) * 10], 10.0 + np.arange(k * 10, (k + 1) * 10) / 900)
        rec.intensity(k / 100.0, t)
        rec.frame(1.5, k, t)
        if k == 0:
            assert recorder.pushed == []  # staged, not pushed per frame
    pushes_before_marker = len(recorder.pushed)
    rec.marker({"event": "note", "text": "end"}, 11.0)  # pushes what is staged first
    recorder.close()

    # 3 streams per batch, a batch every 0.25 s: 4 batches in a second, not 270 pushes
    assert 9 <= pushes_before_marker <= 12
    s = _streams(tmp_path / "rec.xdf")
    np.testing.assert_array_equal(s["dev-ecg"]["time_series"][:, 0], ecg)
    np.testing.assert_allclose(s["dev-ecg"]["time_stamps"], 10.0 + np.arange(900) / 900)
    np.testing.assert_allclose(
        s["vrtherapy-intensity"]["time_series"][:, 0], np.arange(frames, dtype=np.float32) / 100
    )
    np.testing.assert_allclose(
        s["vrtherapy-frames"]["time_stamps"], 10.0 + np.arange(frames) / 90.0
    )
    assert s["vrtherapy-frames"]["time_series"][:, 1].tolist() == list(range(frames))
    assert json.loads(s["vrtherapy-markers"]["time_series"][0][0])["text"] == "end"


def test_flush_pushes_a_partial_batch_and_zero_batch_pushes_every_frame(tmp_path: Path) -> None:
    recorder = _CountingRecorder(tmp_path / "rec.xdf")
    rec = SessionRecording(recorder, batch_seconds=0.25)
    recorder.start()
    rec.intensity(0.3, 1.0)
    rec.frame(1.0, 0, 1.0)
    assert recorder.pushed == []
    rec.flush()
    assert len(recorder.pushed) == 2
    rec.flush()  # nothing staged: nothing pushed
    assert len(recorder.pushed) == 2
    recorder.close()
    assert _streams(tmp_path / "rec.xdf")["vrtherapy-intensity"]["time_series"][0, 0] == (
        np.float32(0.3)
    )

    unbatched = _CountingRecorder(tmp_path / "now.xdf")
    now = SessionRecording(unbatched, batch_seconds=0.0)
    unbatched.start()
    now.intensity(0.4, 2.0)
    now.frame(1.0, 0, 2.0)
    assert len(unbatched.pushed) == 2
    unbatched.close()
