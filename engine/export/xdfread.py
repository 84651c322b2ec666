"""Read an XDF 1.0 file into arrays, fast: numeric Samples chunks are parsed with numpy.

pyxdf's reader loops in Python over every sample, which takes many seconds for an hour of
500 Hz ECG; this reader parses each numeric chunk whose samples all carry a full timestamp
(what :mod:`engine.record` and LabRecorder write) with one structured-dtype view and falls
back to a per-sample walk otherwise. String streams are walked sample by sample (markers are
few). ClockOffset chunks are applied like pyxdf's default clock synchronisation (a linear fit
of offset against collection time per stream), so files from other recorders read right too;
the engine's own files carry identity offsets and keep their timestamps unchanged.

A torn tail (a chunk cut short by a crash) ends the read quietly: everything before it is
returned, and :attr:`XdfContents.truncated` says so.
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import RecordingError
from engine.privacy.errors import DecryptionError, SealedFileError
from engine.privacy.keys import SiteKey
from engine.privacy.sealed import recording_bytes
from engine.record.spec import CHANNEL_FORMATS
from engine.record.xdf import MAGIC, ChunkTag, decode_varlen, sample_dtype

__all__ = ["XdfContents", "XdfStream", "read_xdf"]

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_OFFSET = struct.Struct("<dd")


@dataclass
class XdfStream:
    """One stream as read: its header XML, timestamps and values.

    ``values`` is a ``(n, channel_count)`` array for numeric streams and a list of ``n``
    lists of strings for string streams.
    """

    stream_id: int
    info_xml: str
    info: ET.Element
    timestamps: np.ndarray
    values: np.ndarray | list[list[str]]

    def text(self, tag: str) -> str:
        """Stripped text of a top-level ``<info>`` element (``""`` when absent)."""
        return (self.info.findtext(tag) or "").strip()


@dataclass
class XdfContents:
    """Everything read from one file."""

    header: dict[str, str]
    streams: list[XdfStream]
    truncated: bool = False


@dataclass
class _Acc:
    info_xml: str
    info: ET.Element
    dtype: np.dtype[np.generic] | None
    nchan: int
    tdiff: float
    last: float = 0.0
    stamps: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)
    strings: list[list[str]] = field(default_factory=list)
    offsets: list[tuple[float, float]] = field(default_factory=list)


def _xml(raw: bytes, where: str) -> ET.Element:
    try:
        return ET.fromstring(raw.decode("utf-8", errors="replace"))
    except ET.ParseError as exc:
        raise RecordingError(f"{where}: unreadable XML ({exc})") from None


def _new_stream(content: memoryview, where: str) -> tuple[int, _Acc]:
    sid = _U32.unpack_from(content, 0)[0]
    xml = bytes(content[4:]).decode("utf-8", errors="replace")
    info = _xml(bytes(content[4:]), f"{where}: stream header {sid}")
    fmt = (info.findtext("channel_format") or "").strip()
    if fmt not in CHANNEL_FORMATS:
        allowed = ", ".join(CHANNEL_FORMATS)
        raise RecordingError(
            f"{where}: stream {sid} has unknown channel_format {fmt!r} (allowed: {allowed})"
        )
    dtype = CHANNEL_FORMATS[fmt]
    try:
        nchan = int((info.findtext("channel_count") or "").strip())
        srate = float((info.findtext("nominal_srate") or "0").strip())
    except ValueError:
        raise RecordingError(
            f"{where}: stream {sid} header has a bad channel_count/srate"
        ) from None
    if nchan < 1:
        raise RecordingError(f"{where}: stream {sid} has channel_count {nchan}")
    return sid, _Acc(xml, info, dtype, nchan, 1.0 / srate if srate > 0 else 0.0)


def _walk_samples(body: memoryview, n: int, acc: _Acc) -> None:
    """Per-sample parse (strings, or numeric chunks with omitted timestamps)."""
    pos = 0
    stamps = np.empty(n, dtype=np.float64)
    size = 0 if acc.dtype is None else acc.dtype.itemsize * acc.nchan
    rows: list[bytes] = []
    for k in range(n):
        tsbytes = body[pos]
        pos += 1
        if tsbytes == 8:
            acc.last = struct.unpack_from("<d", body, pos)[0]
            pos += 8
        elif tsbytes == 0:
            acc.last += acc.tdiff
        else:
            raise RecordingError(f"invalid TimeStampBytes {tsbytes} in sample {k}")
        stamps[k] = acc.last
        if acc.dtype is None:
            sample = []
            for _ in range(acc.nchan):
                length, pos = decode_varlen(body, pos)
                sample.append(bytes(body[pos : pos + length]).decode("utf-8", errors="replace"))
                pos += length
            acc.strings.append(sample)
        else:
            rows.append(bytes(body[pos : pos + size]))
            pos += size
    acc.stamps.append(stamps)
    if acc.dtype is not None:
        flat = np.frombuffer(b"".join(rows), dtype=acc.dtype.newbyteorder("<"))
        acc.values.append(flat.reshape(n, acc.nchan))


def _add_samples(content: memoryview, acc: _Acc) -> None:
    n, pos = decode_varlen(content, 4)
    body = content[pos:]
    if acc.dtype is not None and n:
        record = sample_dtype(acc.dtype, acc.nchan)
        if len(body) == n * record.itemsize:
            recs = np.frombuffer(body, dtype=record, count=n)
            if bool(np.all(recs["tsbytes"] == 8)):
                acc.stamps.append(recs["ts"].astype(np.float64))
                acc.values.append(np.array(recs["values"]).reshape(n, acc.nchan))
                acc.last = float(recs["ts"][-1])
                return
    _walk_samples(body, n, acc)


def _sync(stamps: np.ndarray, offsets: list[tuple[float, float]]) -> np.ndarray:
    """Apply clock offsets (linear fit of offset on collection time), as pyxdf does."""
    if not offsets or stamps.size == 0:
        return stamps
    arr = np.asarray(offsets, dtype=np.float64)
    if not np.any(arr[:, 1]):
        return stamps
    if arr.shape[0] == 1 or np.ptp(arr[:, 0]) == 0:
        return np.asarray(stamps + arr[:, 1].mean())
    slope, intercept = np.polyfit(arr[:, 0], arr[:, 1], 1)
    return np.asarray(stamps + (intercept + slope * stamps))


def _finish(sid: int, acc: _Acc) -> XdfStream:
    stamps = np.concatenate(acc.stamps) if acc.stamps else np.zeros(0)
    stamps = _sync(stamps, acc.offsets)
    values: np.ndarray | list[list[str]]
    if acc.dtype is None:
        values = acc.strings
    elif acc.values:
        values = np.concatenate(acc.values)
    else:
        values = np.zeros((0, acc.nchan), dtype=acc.dtype)
    return XdfStream(sid, acc.info_xml, acc.info, stamps, values)


def _chunks(data: memoryview, where: str) -> tuple[list[tuple[int, memoryview]], bool]:
    out: list[tuple[int, memoryview]] = []
    pos = len(MAGIC)
    while pos < len(data):
        try:
            length, start = decode_varlen(data, pos)
        except RecordingError:
            return out, True
        if length < 2 or start + length > len(data):
            return out, True
        tag = _U16.unpack_from(data, start)[0]
        out.append((tag, data[start + 2 : start + length]))
        pos = start + length
    return out, False


def read_xdf(path: Path, key: SiteKey | None = None) -> XdfContents:
    """Read every stream of an XDF 1.0 file (decrypted in memory when sealed and ``key`` given).

    Raises
    ------
    RecordingError
        When the file is missing, empty, not XDF, or a chunk is malformed; or it is an
        encrypted recording and no key was given.
    """
    where = str(path)
    try:
        raw = recording_bytes(path, key)
    except DecryptionError:  # wrong key or tampered: the caller audits it
        raise
    except SealedFileError as exc:  # unreadable file, or a sealed one without a key
        raise RecordingError(str(exc)) from None
    if not raw:
        raise RecordingError(f"{where}: the file is empty, not an XDF recording")
    if raw[: len(MAGIC)] != MAGIC:
        raise RecordingError(f"{where}: not an XDF file (it does not start with 'XDF:')")
    chunks, truncated = _chunks(memoryview(raw), where)
    header: dict[str, str] = {}
    accs: dict[int, _Acc] = {}
    for tag, content in chunks:
        if tag == ChunkTag.FILE_HEADER:
            root = _xml(bytes(content), f"{where}: file header")
            header = {child.tag: (child.text or "").strip() for child in root}
        elif tag == ChunkTag.STREAM_HEADER:
            sid, acc = _new_stream(content, where)
            accs[sid] = acc
        elif tag in (ChunkTag.SAMPLES, ChunkTag.CLOCK_OFFSET):
            sid = _U32.unpack_from(content, 0)[0]
            if sid not in accs:
                raise RecordingError(f"{where}: data for stream {sid} before its header")
            if tag == ChunkTag.SAMPLES:
                try:
                    _add_samples(content, accs[sid])
                except (RecordingError, IndexError, ValueError, struct.error) as exc:
                    raise RecordingError(
                        f"{where}: stream {sid}: bad samples chunk: {exc}"
                    ) from None
            else:
                accs[sid].offsets.append(_OFFSET.unpack_from(content, 4))
    streams = [_finish(sid, acc) for sid, acc in accs.items()]
    return XdfContents(header, streams, truncated)
