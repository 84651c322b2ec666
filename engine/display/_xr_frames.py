"""What the openxr display keeps of each frame: timing and head pose, as plain data.

:class:`XrFrameInfo` is one frame (:attr:`engine.display.openxr.OpenXRDisplay.last_frame`),
:class:`XrFrameStats` the running totals (``OpenXRDisplay.stats``), both for the session
recording and ``vrtherapy bench xr``; :class:`FramePose` is the head pose located at a
frame's predicted display time. No OpenXR import: pyopenxr objects are read by attribute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["NO_POSE", "FramePose", "XrFrameInfo", "XrFrameStats", "frame_pose"]


@dataclass(frozen=True)
class XrFrameInfo:
    """What happened in one OpenXR frame (one :meth:`OpenXRDisplay.present`).

    Parameters
    ----------
    index
        Frame index, as :attr:`FrameTiming.frame_index`.
    predicted_display_time_ns
        ``XrTime`` (ns, the runtime's clock) at which this frame is expected on the display.
    predicted_display_period_ns
        The runtime's frame period in ns (e.g. 50 ms at 20 Hz, 11.1 ms at 90 Hz).
    display_time_monotonic_s
        The predicted display time on ``CLOCK_MONOTONIC`` in seconds: the clock
        ``pylsl.local_clock()`` reads on Linux, so it can be recorded beside LSL samples.
        None without ``XR_KHR_convert_timespec_time``.
    should_render
        The runtime asked for pixels; if False no layer was submitted.
    submitted
        A projection layer was submitted (should_render and a valid head pose).
    head_pose_valid
        Position and orientation were both tracked at the predicted display time (located
        every frame, also when nothing is rendered).
    head_position
        Head (view space origin, between the eyes) in the reference space, metres.
    head_orientation
        Head orientation quaternion ``(x, y, z, w)`` in the reference space.
    wait_ms
        Wall time blocked in ``xrWaitFrame`` (the pacing).
    margin_ms
        Predicted display time minus the time ``xrEndFrame`` returned, ms; negative means
        the frame was submitted after it should already have been on the display. None when
        the runtime lacks ``XR_KHR_convert_timespec_time``.
    late
        ``margin_ms < 0``.
    skipped_periods
        Display periods the runtime skipped between the previous frame and this one (its
        predicted display times jumped by more than one period): frames the runtime dropped.
    """

    index: int
    predicted_display_time_ns: int
    predicted_display_period_ns: int
    display_time_monotonic_s: float | None
    should_render: bool
    submitted: bool
    head_pose_valid: bool
    head_position: tuple[float, float, float]
    head_orientation: tuple[float, float, float, float]
    wait_ms: float
    margin_ms: float | None
    late: bool
    skipped_periods: int


@dataclass(frozen=True)
class XrFrameStats:
    """Totals since the display opened.

    Parameters
    ----------
    frames
        ``xrWaitFrame``/``xrEndFrame`` pairs completed.
    submitted
        Frames that submitted a projection layer.
    late
        Frames whose ``xrEndFrame`` returned after their predicted display time.
    skipped_periods
        Display periods the runtime skipped (dropped frames).
    """

    frames: int = 0
    submitted: int = 0
    late: int = 0
    skipped_periods: int = 0


@dataclass(frozen=True)
class FramePose:
    valid: bool
    position: tuple[float, float, float]
    orientation: tuple[float, float, float, float]


NO_POSE = FramePose(False, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0))


def frame_pose(pose: Any, valid: bool) -> FramePose:
    p, q = pose.position, pose.orientation
    return FramePose(valid, (float(p.x), float(p.y), float(p.z)),
                 (float(q.x), float(q.y), float(q.z), float(q.w)))  # fmt: skip
