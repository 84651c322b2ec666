"""A session's recording as a download, made in memory (no file is written).

The review web app hands these bytes to the browser as an explicit, audited export:
``xdf`` the recording as recorded (decrypted when sealed), ``edf`` EDF+ (the same layout
as ``vrtherapy export --format edf``), ``csv`` a ZIP of the CSV files of ``vrtherapy
export --format csv`` (one per stream and ``events.csv``).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from engine.export.csv import _events_text, _table_text, stream_tables
from engine.export.edf import _build
from engine.export.recording import load_session
from engine.privacy.keys import SiteKey
from engine.privacy.sealed import recording_bytes

__all__ = ["FORMATS", "Download", "download"]

FORMATS = ("xdf", "edf", "csv")


@dataclass(frozen=True)
class Download:
    """A file for the browser: its name, content type and bytes."""

    filename: str
    content_type: str
    body: bytes


def download(recording: Path, key: SiteKey | None, fmt: str, stem: str) -> Download:
    """The recording as ``fmt`` (one of :data:`FORMATS`), named ``stem`` + its suffix.

    Raises
    ------
    RecordingError
        The recording cannot be read.
    DecryptionError
        It is sealed under another key, or damaged.
    ValueError
        ``fmt`` is not one of :data:`FORMATS`.
    """
    if fmt == "xdf":
        body = recording_bytes(recording, key)
        return Download(f"{stem}.xdf", "application/octet-stream", body)
    if fmt == "edf":
        data = load_session(recording, key)
        buf = io.BytesIO()
        _build(data, 1.0, 10.0).write(buf)
        return Download(f"{stem}.edf", "application/octet-stream", buf.getvalue())
    if fmt == "csv":
        data = load_session(recording, key)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, headers, t, v in stream_tables(data):
                z.writestr(f"{stem}/{name}", _table_text(headers, t, v, data.t0))
            z.writestr(f"{stem}/events.csv", _events_text(data, data.t0))
        return Download(f"{stem}-csv.zip", "application/zip", buf.getvalue())
    raise ValueError(f"download format {fmt!r} is not one of {', '.join(FORMATS)}")
