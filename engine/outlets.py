"""The session's own LSL outlets, so LabRecorder and a therapist console see the session
(docs/console.md, part 1): the intensity shown, every marker as its JSON, the status
object, the features at each tick, and (when the protocol allows it) a thumbnail of the
patient's view.

Every outlet's ``source_id`` ends in the session id and its description holds
``<vrtherapy_session>SID</vrtherapy_session>``; the status stream's description also
holds the session's static facts as ``<vrtherapy_session_info>{JSON}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from biosignals.lsl import import_pylsl
from engine.console_wire import FEATURE_CHANNELS, STREAMS, source_id

INTENSITY_TYPE = STREAMS["intensity"][1]
MARKER_TYPE = STREAMS["markers"][1]


class SessionOutlets:
    """Publishes what a session shows and decides (an intensity sink and a status sink).

    Parameters
    ----------
    session_id
        The session's id (8 hex digits), in every stream's ``source_id``.
    info
        The session's static facts (:func:`engine.session_status.session_info`), put in
        the status stream's description; ``None``: an empty object.
    thumbnail
        Also publish ``vrtherapy-thumbnail`` (the patient's view: off unless the
        protocol's ``console.thumbnail`` is on).
    """

    def __init__(
        self, session_id: str, info: Mapping[str, Any] | None = None, *, thumbnail: bool = False
    ) -> None:
        self._pylsl = pylsl = import_pylsl()
        self.session_id = session_id
        self.thumbnail = thumbnail
        kinds = ["intensity", "markers", "status", "features", *(["thumbnail"] * thumbnail)]
        self.source_ids = {kind: source_id(kind, session_id) for kind in kinds}
        self.intensity_source_id = self.source_ids["intensity"]
        self._outlets: dict[str, Any] = {}
        intensity = self._info("intensity", 1, "float32")
        channel = intensity.desc().append_child("channels").append_child("channel")
        channel.append_child_value("label", "intensity")
        channel.append_child_value("unit", "normalized")
        features = self._info("features", len(FEATURE_CHANNELS), "float32")
        channels = features.desc().append_child("channels")
        for label, unit in FEATURE_CHANNELS:
            node = channels.append_child("channel")
            node.append_child_value("label", label)
            node.append_child_value("unit", unit)
        status = self._info("status", 1, "string")
        status.desc().append_child_value(
            "vrtherapy_session_info", json.dumps(dict(info or {}), sort_keys=True)
        )
        infos = {
            "intensity": intensity,
            "markers": self._info("markers", 1, "string"),
            "status": status,
            "features": features,
        }
        if thumbnail:
            infos["thumbnail"] = self._info("thumbnail", 1, "string")
        for kind, stream_info in infos.items():
            self._outlets[kind] = pylsl.StreamOutlet(stream_info)

    def _info(self, kind: str, channels: int, fmt: str) -> Any:
        name, stream_type = STREAMS[kind]
        info = self._pylsl.StreamInfo(
            name, stream_type, channels, self._pylsl.IRREGULAR_RATE, fmt, self.source_ids[kind]
        )
        info.desc().append_child_value("vrtherapy_session", self.session_id)
        return info

    def push_intensity(self, value: float, timestamp: float) -> None:
        """Publish the intensity shown now (every frame, so a late inlet gets it at once)."""
        self._outlets["intensity"].push_sample([value], timestamp)

    def push_marker(self, event: Mapping[str, Any], timestamp: float) -> None:
        """Publish a marker as its JSON (the same text as in the recording)."""
        self._outlets["markers"].push_sample([json.dumps(event, sort_keys=True)], timestamp)

    def push_status(self, status: Mapping[str, Any], timestamp: float) -> None:
        """Publish the status object (docs/console.md)."""
        self._outlets["status"].push_sample([json.dumps(status, sort_keys=True)], timestamp)

    def push_features(self, row: Sequence[float], timestamp: float) -> None:
        """Publish one row of :data:`~engine.console_wire.FEATURE_CHANNELS` (NaN: unknown)."""
        self._outlets["features"].push_sample([float(v) for v in row], timestamp)

    def push_thumbnail(self, data_url: str, timestamp: float) -> None:
        """Publish a thumbnail of the patient's view (a ``data:`` URL); ignored when off."""
        outlet = self._outlets.get("thumbnail")
        if outlet is not None:
            outlet.push_sample([data_url], timestamp)

    def close(self) -> None:
        """Withdraw every outlet."""
        self._outlets.clear()
