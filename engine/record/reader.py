"""Read recordings back: pyxdf wrapper, forward chunk scan, and torn-tail repair.

:func:`load_recording` opens a file with ``pyxdf.load_xdf`` and returns streams by name.
:func:`scan_chunks` walks the chunk structure forward without trusting anything after the
first chunk that is incomplete or does not parse (a process killed mid-write leaves such a
torn tail). :func:`repair` keeps a byte-exact backup (never an empty or partial one), rewrites the
file up to its last whole chunk with the StreamFooters the crashed writer never wrote, so
any XDF reader opens it with every whole chunk's samples, and renames it into place.
"""

from __future__ import annotations

import io
import os
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

import numpy as np

from engine.errors import RecordingError
from engine.record import xdf
from engine.record.rewrite import rewrite_prefix

if TYPE_CHECKING:
    from engine.privacy.keys import SiteKey

__all__ = [
    "ChunkScan",
    "RecordedStream",
    "Recording",
    "StreamScan",
    "load_recording",
    "repair",
    "scan_chunks",
]

_READ_DTYPES: dict[str, np.dtype[Any] | None] = {
    "int8": np.dtype("<i1"),
    "int16": np.dtype("<i2"),
    "int32": np.dtype("<i4"),
    "int64": np.dtype("<i8"),
    "float32": np.dtype("<f4"),
    "double64": np.dtype("<f8"),
    "string": None,
}


class RecordedStream(NamedTuple):
    """One stream as pyxdf reads it.

    ``time_series`` is ``(n, channels)`` numeric or ``n`` lists of strings;
    ``time_stamps`` is ``(n,)`` seconds; ``info`` is pyxdf's header dict (values are lists
    of strings, ``info["desc"]`` holds channel metadata).
    """

    time_series: Any
    time_stamps: np.ndarray
    info: dict[str, Any]


@dataclass(frozen=True)
class Recording:
    """A loaded recording.

    Attributes
    ----------
    path
        The file.
    streams
        Stream name -> :class:`RecordedStream`; a repeated name gets ``"#<stream id>"``
        appended from its second occurrence on.
    file_header
        pyxdf's FileHeader dict (``{"info": {...}}``), ``None`` when the file has none.
    raw
        pyxdf's list of stream dicts, for anything else (footers, clock offsets).
    """

    path: Path
    streams: dict[str, RecordedStream]
    file_header: dict[str, Any] | None
    raw: list[dict[str, Any]]


_SEALED_MAGIC = b"\x89VRTSEAL"  # engine.privacy.sealed.MAGIC (imported lazily there)


def _check_magic(path: Path, *, sealed_ok: bool = False) -> bool:
    """Check the file starts like XDF; return whether it is a sealed (encrypted) one."""
    if not path.is_file():
        raise RecordingError(f"{path}: no such recording file")
    with open(path, "rb") as f:
        magic = f.read(len(_SEALED_MAGIC))
    if not magic:
        raise RecordingError(f"{path} is empty (0 bytes): not an XDF recording")
    if magic == _SEALED_MAGIC:
        if sealed_ok:
            return True
        raise RecordingError(
            f"{path} is an encrypted recording: decrypt it with engine.privacy "
            f"(load_recording(path, key=...)); it needs no repair"
        )
    if magic[:4] != xdf.MAGIC:
        raise RecordingError(
            f"{path} is not an XDF file: it starts with {magic[:4]!r}, expected {xdf.MAGIC!r}"
        )
    return False


def _decrypted(path: Path, key: SiteKey | None) -> io.BytesIO:
    """The plaintext XDF of a sealed recording, in memory (never on disk)."""
    if key is None:
        raise RecordingError(f"{path}: encrypted recording: give the site key (--key FILE)")
    from engine.privacy.sealed import SealedReader

    data = SealedReader(path, key).read_all()
    if data[:4] != xdf.MAGIC:
        raise RecordingError(f"{path}: decrypted, but the content is not XDF")
    return io.BytesIO(data)


def load_recording(
    path: str | os.PathLike[str],
    *,
    synchronize_clocks: bool = True,
    dejitter_timestamps: bool = False,
    key: SiteKey | None = None,
) -> Recording:
    """Load an XDF recording with ``pyxdf.load_xdf``.

    Parameters
    ----------
    path
        The ``.xdf`` file.
    synchronize_clocks
        Apply ClockOffset chunks (pyxdf's default). Offsets written by
        :class:`~engine.record.XdfRecorder` are 0, which leaves timestamps exact.
    dejitter_timestamps
        pyxdf's linear dejittering of regular streams; off by default so recorded
        timestamps come back exactly as pushed.
    key
        The site key (:class:`engine.privacy.keys.SiteKey`) for an encrypted recording
        (one written through ``engine.privacy.sealed.sealed_sink``): its whole sealed
        records are decrypted into memory (a killed session's file reads up to its last
        whole record) and handed to pyxdf as a file object. Ignored for plain files.

    Raises
    ------
    RecordingError
        When the file is missing, empty, not XDF, pyxdf cannot parse it, or it is
        encrypted and no ``key`` is given.
    engine.privacy.errors.DecryptionError
        Wrong key, or a sealed record was changed (the message names the record).
    """
    p = Path(path)
    source: str | io.BytesIO = _decrypted(p, key) if _check_magic(p, sealed_ok=True) else str(p)
    import pyxdf

    try:
        raw, header = pyxdf.load_xdf(
            source,
            synchronize_clocks=synchronize_clocks,
            dejitter_timestamps=dejitter_timestamps,
        )
    except Exception as exc:
        raise RecordingError(
            f"{p}: pyxdf could not read it ({exc!r}); if the recording was cut off, "
            f"`vrtherapy verify --repair` can recover its whole chunks"
        ) from exc
    streams: dict[str, RecordedStream] = {}
    for s in raw:
        name = str(s["info"]["name"][0])
        if name in streams:
            name = f"{name}#{s['info']['stream_id']}"
        streams[name] = RecordedStream(s["time_series"], s["time_stamps"], s["info"])
    return Recording(path=p, streams=streams, file_header=header, raw=raw)


@dataclass
class StreamScan:
    """What a forward scan found about one stream."""

    stream_id: int
    name: str
    channel_format: str
    channel_count: int
    nominal_srate: float
    sample_count: int = 0
    first_timestamp: float | None = None
    last_timestamp: float | None = None
    clock_offsets: list[tuple[float, float]] = field(default_factory=list)
    has_footer: bool = False


@dataclass(frozen=True)
class ChunkScan:
    """Result of :func:`scan_chunks`.

    Attributes
    ----------
    path, file_size
        The file and its size in bytes.
    valid_end
        Byte offset just past the last whole, well-formed chunk.
    chunk_count
        Number of whole chunks before ``valid_end``.
    streams
        Stream id -> :class:`StreamScan` (samples counted in whole chunks only).
    problem
        Why scanning stopped before the end of the file, ``None`` if it did not.
    """

    path: Path
    file_size: int
    valid_end: int
    chunk_count: int
    streams: dict[int, StreamScan]
    problem: str | None

    @property
    def torn(self) -> bool:
        """Whether bytes follow the last whole chunk (a torn or corrupt tail)."""
        return self.valid_end < self.file_size

    @property
    def missing_footers(self) -> list[str]:
        """Names of streams without a StreamFooter (the writer did not close)."""
        return [s.name for s in self.streams.values() if not s.has_footer]

    @property
    def needs_repair(self) -> bool:
        """Torn tail or missing footers."""
        return self.torn or bool(self.missing_footers)


def _xml_root(content: bytes, what: str) -> ET.Element:
    try:
        return ET.fromstring(content)
    except ET.ParseError as exc:
        raise RecordingError(f"{what} XML does not parse ({exc})") from exc


def _stream_id(content: bytes, streams: dict[int, StreamScan], known: bool) -> int:
    if len(content) < 4:
        raise RecordingError("chunk too short for a stream id")
    (sid,) = struct.unpack_from("<I", content)
    if known and sid not in streams:
        raise RecordingError(f"stream id {sid} has no StreamHeader before it")
    return int(sid)


def _header_scan(content: bytes, streams: dict[int, StreamScan]) -> None:
    sid = _stream_id(content, streams, known=False)
    root = _xml_root(content[4:], "StreamHeader")
    fmt = (root.findtext("channel_format") or "").strip()
    if fmt not in _READ_DTYPES:
        raise RecordingError(f"stream {sid}: unknown channel_format {fmt!r}")
    try:
        count = int(root.findtext("channel_count") or "")
        srate = float(root.findtext("nominal_srate") or "")
    except ValueError as exc:
        raise RecordingError(f"stream {sid}: bad channel_count/nominal_srate ({exc})") from exc
    streams[sid] = StreamScan(sid, root.findtext("name") or "", fmt, count, srate)


def _samples_scan(content: bytes, streams: dict[int, StreamScan]) -> None:
    s = streams[_stream_id(content, streams, known=True)]
    tdiff = 1.0 / s.nominal_srate if s.nominal_srate > 0 else 0.0
    last = s.last_timestamp if s.last_timestamp is not None else 0.0
    stamps = xdf.parse_sample_timestamps(
        content[4:], _READ_DTYPES[s.channel_format], s.channel_count, tdiff, last
    )
    if len(stamps):
        if s.first_timestamp is None:
            s.first_timestamp = float(stamps[0])
        s.last_timestamp = float(stamps[-1])
        s.sample_count += len(stamps)


def _apply_chunk(tag: int, content: bytes, streams: dict[int, StreamScan]) -> None:
    if tag == xdf.ChunkTag.FILE_HEADER:
        _xml_root(content, "FileHeader")
    elif tag == xdf.ChunkTag.STREAM_HEADER:
        _header_scan(content, streams)
    elif tag == xdf.ChunkTag.SAMPLES:
        _samples_scan(content, streams)
    elif tag == xdf.ChunkTag.CLOCK_OFFSET:
        if len(content) != 20:
            raise RecordingError(f"ClockOffset chunk has {len(content)} bytes, expected 20")
        sid = _stream_id(content, streams, known=True)
        _, t, value = struct.unpack("<Idd", content)
        streams[sid].clock_offsets.append((t, value))
    elif tag == xdf.ChunkTag.BOUNDARY:
        if content != xdf.BOUNDARY_UUID:
            raise RecordingError("Boundary chunk does not hold the XDF boundary UUID")
    elif tag == xdf.ChunkTag.STREAM_FOOTER:
        sid = _stream_id(content, streams, known=True)
        _xml_root(content[4:], "StreamFooter")
        streams[sid].has_footer = True
    else:
        raise RecordingError(f"unknown chunk tag {tag}")


def _next_chunk(f: BinaryIO, pos: int, size: int) -> tuple[int, bytes]:
    """Read the chunk at ``pos``: return ``(tag, content)`` or raise RecordingError."""
    f.seek(pos)
    head = f.read(9)
    length, body = xdf.decode_varlen(head, 0)
    if length < 2:
        raise RecordingError(f"declares length {length} (< 2)")
    if pos + body + length > size:
        raise RecordingError(
            f"declares {length} bytes but only {size - pos - body} remain (torn tail)"
        )
    f.seek(pos + body)
    data = f.read(length)
    return struct.unpack_from("<H", data)[0], data[2:]


def scan_chunks(path: str | os.PathLike[str]) -> ChunkScan:
    """Walk an XDF file's chunks forward, stopping at the first incomplete/malformed one.

    Raises
    ------
    RecordingError
        When the file is missing, empty or not XDF.
    """
    p = Path(path)
    _check_magic(p)
    size = p.stat().st_size
    streams: dict[int, StreamScan] = {}
    pos, count, problem = len(xdf.MAGIC), 0, None
    with open(p, "rb") as f:
        while pos < size:
            try:
                tag, content = _next_chunk(f, pos, size)
                _apply_chunk(tag, content, streams)
            except (RecordingError, struct.error, ValueError) as exc:
                problem = f"chunk {count} at byte {pos}: {exc}"
                break
            pos = f.tell()
            count += 1
    return ChunkScan(p, size, pos, count, streams, problem)


def repair(path: str | os.PathLike[str], *, hardlink: bool = True) -> Path:
    """Make a torn or unclosed recording readable; return the path of the backup.

    The original is first kept as ``<path>.orig`` (:func:`~engine.record.rewrite.keep_backup`:
    a hard link to the original bytes, or with ``hardlink=False`` a copy renamed into place
    once whole; never an empty or partial backup). The repaired file (every whole chunk, see
    :func:`scan_chunks`, then StreamFooters computed from the scanned samples for the streams
    that lack one) is written beside and renamed over ``path``. When anything fails (a full
    disk), the recording is unchanged, the temporary file and a backup made by this call
    are removed, and the repair can simply be run again.

    Raises
    ------
    RecordingError
        When the file is intact (nothing to repair), a different backup exists, or IO fails.
    """
    p = Path(path)
    scan = scan_chunks(p)
    if not scan.needs_repair:
        raise RecordingError(f"{p} is intact (all chunks whole, all footers present)")
    footers = b"".join(
        xdf.stream_footer_chunk(
            s.stream_id, s.first_timestamp, s.last_timestamp, s.sample_count, s.clock_offsets
        )
        for s in scan.streams.values()
        if not s.has_footer
    )
    return rewrite_prefix(p, scan.valid_end, footers, hardlink=hardlink)
