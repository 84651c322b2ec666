"""Session recording: one crash-safe XDF 1.0 file per session, and reading it back.

Write with :class:`XdfRecorder` (queue + writer thread, never blocks on disk); read with
:func:`load_recording` (pyxdf); check and fix a cut-off file with :func:`scan_chunks` and
:func:`repair`.
"""

from __future__ import annotations

from engine.record.reader import (
    ChunkScan,
    RecordedStream,
    Recording,
    StreamScan,
    load_recording,
    repair,
    scan_chunks,
)
from engine.record.spec import CHANNEL_FORMATS, ChannelSpec, StreamSpec
from engine.record.writer import RecorderState, XdfRecorder

__all__ = [
    "CHANNEL_FORMATS",
    "ChannelSpec",
    "ChunkScan",
    "RecordedStream",
    "RecorderState",
    "Recording",
    "StreamScan",
    "StreamSpec",
    "XdfRecorder",
    "load_recording",
    "repair",
    "scan_chunks",
]
