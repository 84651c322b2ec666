"""The streams a session writes into its recording, on top of the raw physiology.

- raw physiology, one stream per LSL stream read (however many roles read it): every
  channel as received, the original LSL stream info plus the role map
  (:mod:`engine.record.rolemap`, docs/recording.md);
- ``vrtherapy-intensity`` (float32, irregular): the intensity shown, every frame;
- ``vrtherapy-markers`` (string, irregular): JSON events (start/stop, every intensity
  decision with its reason, quality flags, notes);
- ``vrtherapy-features`` (float32 x 4, irregular): HR, SCL, SCR rate, arousal at each tick
  (NaN where unknown or invalid);
- ``vrtherapy-beats-<role>`` (double64 x 2, irregular): RR (s) and heart rate (bpm) of every
  beat the live extractor detected on a waveform heart role (``heart``, ``ppg``);
- ``vrtherapy-scr`` (double64 x 3, irregular): onset, amplitude (uS) and rise time of every
  completed skin conductance response, stamped at its peak;
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
from collections.abc import Sequence
from typing import Any

import numpy as np

from biosignals.ecg import HeartBeat
from biosignals.eda import SkinResponse
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
SCR = StreamSpec(
    name="vrtherapy-scr",
    type="SCR",
    channel_count=3,
    nominal_srate=0.0,
    channel_format="double64",
    source_id="vrtherapy-scr",
    channels=(
        ChannelSpec("onset", "s", "time"),
        ChannelSpec("amplitude", "uS", "EDA"),
        ChannelSpec("rise_time", "s", "time"),
    ),
)


def beats_spec(role: str) -> StreamSpec:
    """The stream of beats detected live on heart role ``role``."""
    return StreamSpec(
        name=f"vrtherapy-beats-{role}",
        type="Beats",
        channel_count=2,
        nominal_srate=0.0,
        channel_format="double64",
        source_id=f"vrtherapy-beats-{role}",
        channels=(ChannelSpec("rr", "s", "RR"), ChannelSpec("hr_bpm", "bpm", "HR")),
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
        self._withheld: dict[str, list[int]] = {}
        self._beats: dict[str, int] = {}
        self._scr: int | None = None
        self._intensity = recorder.add_stream(INTENSITY)
        self._markers = recorder.add_stream(MARKERS)
        self._features = recorder.add_stream(FEATURES)
        self._frames = recorder.add_stream(FRAMES)
        batched = (self._intensity, self._frames) + (() if self._head is None else (self._head,))
        self._staged: dict[int, _Staged] = {stream_id: _Staged() for stream_id in batched}
        self._due: float | None = None

    def add_source(self, key: str, spec: StreamSpec, withheld: Sequence[int] = ()) -> None:
        """Record raw samples of stream ``key`` under ``spec`` (original stream info).

        Two LSL streams may share a name (muselsl names every stream ``Muse``), so raw
        streams are told apart by ``key``, not by name. Channels in ``withheld`` are
        written as NaN (0 for integer formats): no consented role reads them.
        """
        self._raw[key] = stream_id = self.recorder.add_stream(spec, unique_name=False)
        self._staged[stream_id] = _Staged(arrays=True)
        if withheld:
            self._withheld[key] = list(withheld)

    def raw(self, key: str, samples: np.ndarray, timestamps: np.ndarray) -> None:
        """Raw physiology as received (staged; pushed with the next batch), withheld
        channels blanked."""
        if not samples.size:
            return
        withheld = self._withheld.get(key)
        if withheld is not None:
            samples = samples.copy()
            samples[:, withheld] = np.nan if samples.dtype.kind == "f" else 0
        self._staged[self._raw[key]].add(samples, timestamps)

    def add_beats(self, role: str) -> None:
        """Record the beats detected live on heart role ``role``."""
        self._beats[role] = self.recorder.add_stream(beats_spec(role))

    def beats(self, role: str, beats: Sequence[HeartBeat]) -> None:
        """Beats detected on ``role`` (pushed at once: a few per second)."""
        if not beats:
            return
        rows = np.array([[_nan(b.rr), _nan(b.hr_bpm)] for b in beats], np.float64)
        self.recorder.push(self._beats[role], rows, np.array([b.time for b in beats]))

    def add_scr(self) -> None:
        """Record completed skin conductance responses (sessions with an ``eda`` role)."""
        self._scr = self.recorder.add_stream(SCR)

    def scr(self, responses: Sequence[SkinResponse]) -> None:
        """Completed skin conductance responses, stamped at their peaks."""
        done = [r for r in responses if r.peak_time is not None]
        if not done or self._scr is None:
            return
        rows = np.array([[r.onset, r.amplitude_us, _nan(r.rise_time)] for r in done], np.float64)
        self.recorder.push(self._scr, rows, np.array([r.peak_time for r in done], np.float64))

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
