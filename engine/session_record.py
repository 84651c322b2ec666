"""The streams a session writes into its recording, on top of the raw physiology.

- raw physiology, one stream per role, with the original LSL stream info;
- ``vrtherapy-intensity`` (float32, irregular): the intensity shown, every frame;
- ``vrtherapy-markers`` (string, irregular): JSON events (start/stop, every intensity
  decision with its reason, quality flags, notes);
- ``vrtherapy-features`` (float32 x 4, irregular): HR, SCL, SCR rate, arousal at each tick
  (NaN where unknown or invalid);
- ``vrtherapy-frames`` (float32 x 2, irregular): CPU ms per frame and frame index.
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


class SessionRecording:
    """Adds the session's streams to a recorder and converts session data into samples."""

    def __init__(self, recorder: XdfRecorder, *, head_pose: bool = False) -> None:
        self.recorder = recorder
        self._head = recorder.add_stream(HEAD_POSE) if head_pose else None
        self._raw: dict[str, int] = {}
        self._intensity = recorder.add_stream(INTENSITY)
        self._markers = recorder.add_stream(MARKERS)
        self._features = recorder.add_stream(FEATURES)
        self._frames = recorder.add_stream(FRAMES)

    def add_source(self, role: str, spec: StreamSpec) -> None:
        """Record raw samples of ``role`` under ``spec`` (original stream info)."""
        self._raw[role] = self.recorder.add_stream(spec)

    def raw(self, role: str, samples: np.ndarray, timestamps: np.ndarray) -> None:
        """Raw physiology exactly as received."""
        if samples.size:
            self.recorder.push(self._raw[role], samples, timestamps)

    def intensity(self, value: float, timestamp: float) -> None:
        """Intensity shown at ``timestamp``."""
        self.recorder.push(self._intensity, np.array([value], np.float32), np.array([timestamp]))

    def marker(self, event: dict[str, Any], timestamp: float) -> None:
        """A JSON event marker."""
        self.recorder.push_marker(self._markers, json.dumps(event, sort_keys=True), timestamp)

    def features(self, snap: FeatureSnapshot) -> None:
        """Features at a controller tick."""
        row = [_nan(snap.hr_bpm), _nan(snap.scl_us), _nan(snap.scr_rate), _nan(snap.arousal)]
        self.recorder.push(self._features, np.array([row], np.float32), np.array([snap.time]))

    def frame(self, cpu_ms: float, index: int, timestamp: float, xr: Any = None) -> None:
        """Per-frame timing; ``xr`` is an OpenXR display's ``last_frame`` (or None)."""
        row = [cpu_ms, index, math.nan, 0.0, 1.0, 0.0]
        if xr is not None:
            row[2:] = [
                xr.predicted_display_period_ns / 1e6,
                float(bool(xr.late)),
                float(bool(xr.should_render)),
                float(xr.skipped_periods),
            ]
            if self._head is not None and xr.head_pose_valid:
                pose = [*xr.head_position, *xr.head_orientation]
                when = xr.display_time_monotonic_s or timestamp
                self.recorder.push(self._head, np.array([pose], np.float32), np.array([when]))
        self.recorder.push(self._frames, np.array([row], np.float32), np.array([timestamp]))
