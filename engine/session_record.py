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
    channel_count=2,
    nominal_srate=0.0,
    channel_format="float32",
    source_id="vrtherapy-frames",
    channels=(ChannelSpec("cpu_ms", "ms", "timing"), ChannelSpec("frame_index", "", "index")),
)


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


class SessionRecording:
    """Adds the session's streams to a recorder and converts session data into samples."""

    def __init__(self, recorder: XdfRecorder) -> None:
        self.recorder = recorder
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

    def frame(self, cpu_ms: float, index: int, timestamp: float) -> None:
        """Per-frame timing."""
        self.recorder.push(
            self._frames, np.array([[cpu_ms, index]], np.float32), np.array([timestamp])
        )
