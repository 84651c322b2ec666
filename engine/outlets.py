"""The session's own LSL outlets: intensity and markers, so LabRecorder sees the session."""

from __future__ import annotations

from biosignals.lsl import import_pylsl

INTENSITY_TYPE = "Intensity"
MARKER_TYPE = "Markers"


class SessionOutlets:
    """Publishes the shown intensity (1 ch float32, irregular) and event markers (string).

    Parameters
    ----------
    session_id
        Unique id, used in the streams' ``source_id``.
    """

    def __init__(self, session_id: str) -> None:
        pylsl = import_pylsl()
        self.intensity_source_id = f"vrtherapy-intensity-{session_id}"
        info = pylsl.StreamInfo(
            "vrtherapy-intensity",
            INTENSITY_TYPE,
            1,
            pylsl.IRREGULAR_RATE,
            "float32",
            self.intensity_source_id,
        )
        channel = info.desc().append_child("channels").append_child("channel")
        channel.append_child_value("label", "intensity")
        channel.append_child_value("unit", "normalized")
        self._intensity = pylsl.StreamOutlet(info)
        markers = pylsl.StreamInfo(
            "vrtherapy-markers",
            MARKER_TYPE,
            1,
            pylsl.IRREGULAR_RATE,
            "string",
            f"vrtherapy-markers-{session_id}",
        )
        self._markers = pylsl.StreamOutlet(markers)

    def push_intensity(self, value: float, timestamp: float) -> None:
        """Publish the intensity shown now (every frame, so a late inlet gets it at once)."""
        self._intensity.push_sample([value], timestamp)

    def push_marker(self, text: str, timestamp: float) -> None:
        """Publish an event marker."""
        self._markers.push_sample([text], timestamp)

    def close(self) -> None:
        """Withdraw both outlets."""
        del self._intensity
        del self._markers
