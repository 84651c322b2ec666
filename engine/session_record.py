"""The streams a session writes into its recording, on top of the raw physiology.

- raw physiology, one stream per role, with the original LSL stream info;
- ``vrtherapy-intensity`` (float32, irregular): the intensity shown, every frame;
- ``vrtherapy-markers`` (string, irregular): JSON events (start/stop, every intensity
  decision with its reason, quality flags, notes);
- ``vrtherapy-features`` (float32 x 4, irregular): HR, SCL, SCR rate, arousal at each tick
  (NaN where unknown or invalid);
- ``vrtherapy-frames`` (float32 x 6, irregular): CPU ms per frame, frame index and the
  headset's frame timing;
- ``vrtherapy-head-pose`` (float32 x 7, irregular, headsets only): position + quaternion.

Per-frame rows (raw physiology as pulled, intensity, frame timing, head pose) are staged
in Python lists and handed to the recorder as one chunk per stream every
``batch_seconds`` (0.25 s) of session time: one ``push`` per stream per batch instead of
one per frame keeps recording under 1 % of a core (``vrtherapy bench record``). Markers
and feature rows go straight to the recorder, after whatever is staged, so a kill still
loses at most ``batch_seconds`` plus the recorder's flush interval (under one second).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from biosignals.features import FeatureSnapshot
from engine.record import ChannelSpec, StreamSpec, XdfRecorder

INTENSITY = StreamSpec(
    name="vrtherapy-intensity",
    type="Intensity",
    channel_count=1,
    nominal_srate=0.0,
    channel_format="float32",
    source_id="vrtherapy-intensity",
    channels=(ChannelSpec("intensity", "normalized", "intensity"),),
)
MARKERS = StreamSpec(
    name="vrtherapy-markers",
    type="Markers",
    channel_count=1,
    nominal_srate=0.0,
    channel_format="string",
    source_id="vrtherapy-markers",
)
FEATURES = StreamSpec(
    name="vrtherapy-features",
    type="Features",
    channel_count=4,
    nominal_srate=0.0,
    channel_format="float32",
    source_id="vrtherapy-features",
    channels=(
        ChannelSpec("heart_rate", "bpm", "HR"),
        ChannelSpec("scl", "microsiemens", "EDA"),
        ChannelSpec("scr_rate", "per_minute", "EDA"),
        ChannelSpec("arousal", "normalized", "arousal"),
    ),
)
FRAMES = StreamSpec(
    name="vrtherapy-frames",
    type="FrameTiming",
    channel_count=6,
    nominal_srate=0.0,
    channel_format="float32",
    source_id="vrtherapy-frames",
    channels=(
        ChannelSpec("cpu_ms", "ms", "timing"),
        ChannelSpec("frame_index", "", "index"),
        ChannelSpec("display_period_ms", "ms", "timing"),
        ChannelSpec("late", "bool", "flag"),
        ChannelSpec("should_render", "bool", "flag"),
        ChannelSpec("skipped_periods", "count", "count"),
    ),
)
HEAD_POSE = StreamSpec(
    name="vrtherapy-head-pose",
    type="MoCap",
    channel_count=7,
    nominal_srate=0.0,
    channel_format="float32",
    source_id="vrtherapy-head-pose",
    channels=tuple(
        ChannelSpec(label, unit, "head")
        for label, unit in (
            ("x", "m"),
            ("y", "m"),
            ("z", "m"),
            ("qx", ""),
            ("qy", ""),
            ("qz", ""),
            ("qw", ""),
        )
    ),
)


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


class _Staged:
    """Rows of one stream waiting for the next batch push.

    ``arrays``: the rows are sample arrays (raw chunks, concatenated when pushed), not
    per-frame values/lists (stacked into one float32 array).
    """

    __slots__ = ("arrays", "rows", "stamps")

    def __init__(self, arrays: bool = False) -> None:
        self.rows: list[Any] = []
        self.stamps: list[Any] = []
        self.arrays = arrays

    def add(self, row: Any, stamp: Any) -> None:
        self.rows.append(row)
        self.stamps.append(stamp)


class SessionRecording:
    """Adds the session's streams to a recorder and converts session data into samples.

    Parameters
    ----------
    recorder
        Where the streams go.
    head_pose
        Add the head-pose stream (headset sessions).
    batch_seconds
        Session time between batch pushes of the per-frame rows (see the module
        docstring); ``0`` pushes every row at once.
    """

    def __init__(
        self, recorder: XdfRecorder, *, head_pose: bool = False, batch_seconds: float = 0.25
    ) -> None:
        self.recorder = recorder
        self.batch_seconds = float(batch_seconds)
        self._head = recorder.add_stream(HEAD_POSE) if head_pose else None
        self._raw: dict[str, int] = {}
        self._intensity = recorder.add_stream(INTENSITY)
        self._markers = recorder.add_stream(MARKERS)
        self._features = recorder.add_stream(FEATURES)
        self._frames = recorder.add_stream(FRAMES)
        batched = (self._intensity, self._frames) + (() if self._head is None else (self._head,))
        self._staged: dict[int, _Staged] = {stream_id: _Staged() for stream_id in batched}
        self._due: float | None = None

    def add_source(self, role: str, spec: StreamSpec) -> None:
        """Record raw samples of ``role`` under ``spec`` (original stream info)."""
        self._raw[role] = stream_id = self.recorder.add_stream(spec)
        self._staged[stream_id] = _Staged(arrays=True)

    def raw(self, role: str, samples: np.ndarray, timestamps: np.ndarray) -> None:
        """Raw physiology exactly as received (staged; pushed with the next batch)."""
        if samples.size:
            self._staged[self._raw[role]].add(samples, timestamps)

    def intensity(self, value: float, timestamp: float) -> None:
        """Intensity shown at ``timestamp`` (staged)."""
        self._staged[self._intensity].add(value, timestamp)

    def marker(self, event: dict[str, Any], timestamp: float) -> None:
        """A JSON event marker (pushes what is staged first)."""
        self.flush()
        self.recorder.push_marker(self._markers, json.dumps(event, sort_keys=True), timestamp)

    def features(self, snap: FeatureSnapshot) -> None:
        """Features at a controller tick."""
        row = [_nan(snap.hr_bpm), _nan(snap.scl_us), _nan(snap.scr_rate), _nan(snap.arousal)]
        self.recorder.push(self._features, np.array([row], np.float32), np.array([snap.time]))

    def flush(self) -> None:
        """Push every staged row to the recorder now (call before closing the recorder)."""
        self._due = None
        for stream_id, staged in self._staged.items():
            if not staged.rows:
                continue
            if staged.arrays:
                samples = np.concatenate(staged.rows)
                stamps = np.concatenate(staged.stamps)
            else:
                samples = np.array(staged.rows, np.float32)
                stamps = np.array(staged.stamps, np.float64)
            staged.rows, staged.stamps = [], []
            self.recorder.push(stream_id, samples, stamps)

    def _maybe_flush(self, now: float) -> None:
        if self._due is None:
            self._due = now + self.batch_seconds
        if now >= self._due:
            self.flush()

    def frame(self, cpu_ms: float, index: int, timestamp: float, xr: Any = None) -> None:
        """Per-frame timing; ``xr`` is an OpenXR display's ``last_frame`` (or None).

        Staged; the frame closes a batch once ``batch_seconds`` have passed since it began.
        """
        row = [cpu_ms, index, math.nan, 0.0, 1.0, 0.0]
        if xr is not None:
            row[2:] = [
                xr.predicted_display_period_ns / 1e6,
                float(bool(xr.late)),
                float(bool(xr.should_render)),
                float(xr.skipped_periods),
            ]
            if self._head is not None and xr.head_pose_valid:
                self._staged[self._head].add(
                    [*xr.head_position, *xr.head_orientation],
                    xr.display_time_monotonic_s or timestamp,
                )
        self._staged[self._frames].add(row, timestamp)
        self._maybe_flush(timestamp)
