"""XDF 1.0 byte layout: build chunks (vectorised) and parse them back.

Specification: https://github.com/sccn/xdf/wiki/Specifications; the layout here was checked
against pyxdf's reader (``pyxdf/pyxdf.py``, ``load_xdf``), which must open every file we
write. A file is the magic ``b"XDF:"`` followed by chunks::

    [NumLengthBytes: u8 in {1, 4, 8}] [Length: u8|u32|u64 LE] [Tag: u16 LE] [Content]

``Length`` counts the tag and the content. Tags: 1 FileHeader (XML), 2 StreamHeader
(u32 stream id + ``<info>`` XML), 3 Samples (u32 stream id, varlen sample count, then per
sample ``[TimeStampBytes: 0|8] [f64 timestamp] [values]``; numeric values little-endian,
strings as varlen length + UTF-8 bytes), 4 ClockOffset (u32 stream id, f64 collection time,
f64 offset), 5 Boundary (a fixed 16-byte UUID), 6 StreamFooter (u32 stream id + XML).

This module is pure: bytes in, bytes out, no file IO.
"""

from __future__ import annotations

import enum
import struct
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence

import numpy as np

from engine.errors import RecordingError

__all__ = [
    "BOUNDARY_UUID",
    "MAGIC",
    "ChunkTag",
    "boundary_chunk",
    "chunk",
    "clock_offset_chunk",
    "decode_varlen",
    "encode_varlen",
    "file_header_chunk",
    "numeric_samples_chunk",
    "parse_sample_timestamps",
    "sample_dtype",
    "stream_footer_chunk",
    "stream_header_chunk",
    "string_samples_chunk",
]

MAGIC = b"XDF:"
BOUNDARY_UUID = bytes.fromhex("43A546DCCBF5410FB30ED5467383CBE4")
_XML_DECL = '<?xml version="1.0"?>\n'
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_OFFSET = struct.Struct("<Idd")


class ChunkTag(enum.IntEnum):
    """XDF 1.0 chunk tags."""

    FILE_HEADER = 1
    STREAM_HEADER = 2
    SAMPLES = 3
    CLOCK_OFFSET = 4
    BOUNDARY = 5
    STREAM_FOOTER = 6


def encode_varlen(n: int) -> bytes:
    """Encode a non-negative integer as an XDF variable-length integer (1, 4 or 8 bytes)."""
    if n < 0:
        raise RecordingError(f"XDF varlen integer must be >= 0, got {n}")
    if n < 0x100:
        return bytes((1, n))
    if n < 0x1_0000_0000:
        return b"\x04" + _U32.pack(n)
    return b"\x08" + struct.pack("<Q", n)


def decode_varlen(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """Decode a varlen integer at ``buf[pos:]``; return ``(value, next_pos)``.

    Raises
    ------
    RecordingError
        On an invalid length byte or when ``buf`` ends inside the integer.
    """
    if pos >= len(buf):
        raise RecordingError(f"varlen integer at byte {pos} runs past the end of the data")
    nbytes = buf[pos]
    if nbytes not in (1, 4, 8):
        raise RecordingError(f"invalid varlen length byte {nbytes} at byte {pos}")
    end = pos + 1 + nbytes
    if end > len(buf):
        raise RecordingError(f"varlen integer at byte {pos} runs past the end of the data")
    return int.from_bytes(buf[pos + 1 : end], "little"), end


def chunk(tag: ChunkTag, content: bytes) -> bytes:
    """One whole chunk: varlen length (tag + content), u16 tag, content."""
    return encode_varlen(len(content) + 2) + _U16.pack(tag) + content


def _xml(root: ET.Element) -> bytes:
    return (_XML_DECL + ET.tostring(root, encoding="unicode")).encode("utf-8")


def file_header_chunk(fields: Mapping[str, str]) -> bytes:
    """FileHeader chunk: ``<info><version>1.0</version>`` plus one element per field.

    Raises
    ------
    RecordingError
        When a field name is not a usable XML element name.
    """
    info = ET.Element("info")
    ET.SubElement(info, "version").text = "1.0"
    for key, value in fields.items():
        if key == "version" or not key.replace("_", "a").replace("-", "a").isalnum():
            raise RecordingError(
                f"file header field {key!r} is not allowed (letters, digits, _ and -; "
                f"'version' is reserved)"
            )
        if not key[0].isalpha():
            raise RecordingError(f"file header field {key!r} must start with a letter")
        ET.SubElement(info, key).text = str(value)
    return chunk(ChunkTag.FILE_HEADER, _xml(info))


def stream_header_chunk(stream_id: int, info_xml: str) -> bytes:
    """StreamHeader chunk holding ``info_xml`` (written byte for byte as UTF-8)."""
    return chunk(ChunkTag.STREAM_HEADER, _U32.pack(stream_id) + info_xml.encode("utf-8"))


def sample_dtype(value_dtype: np.dtype[np.generic], channel_count: int) -> np.dtype[np.void]:
    """Packed structured dtype of one numeric sample: ``u8 8, f64 timestamp, values``."""
    return np.dtype(
        [
            ("tsbytes", "u1"),
            ("ts", "<f8"),
            ("values", value_dtype.newbyteorder("<"), (channel_count,)),
        ]
    )


def numeric_samples_chunk(
    stream_id: int,
    values: np.ndarray,
    timestamps: np.ndarray,
    record_dtype: np.dtype[np.void],
) -> bytes:
    """Samples chunk for a numeric stream, serialised without a per-sample Python loop.

    Parameters
    ----------
    stream_id
        XDF stream id.
    values
        ``(n, channel_count)`` array (cast to the stream's dtype on assignment).
    timestamps
        ``(n,)`` float64 timestamps, each written in full (TimeStampBytes = 8).
    record_dtype
        From :func:`sample_dtype` for this stream.
    """
    n = len(timestamps)
    records = np.empty(n, dtype=record_dtype)
    records["tsbytes"] = 8
    records["ts"] = timestamps
    records["values"] = values
    content = b"".join((_U32.pack(stream_id), encode_varlen(n), records.tobytes()))
    return chunk(ChunkTag.SAMPLES, content)


def string_samples_chunk(
    stream_id: int, values: Sequence[Sequence[str]], timestamps: np.ndarray
) -> bytes:
    """Samples chunk for a string stream (one Python iteration per value)."""
    parts = [_U32.pack(stream_id), encode_varlen(len(timestamps))]
    ts_bytes = timestamps.astype("<f8").tobytes()
    for k, sample in enumerate(values):
        parts.append(b"\x08")
        parts.append(ts_bytes[8 * k : 8 * k + 8])
        for text in sample:
            raw = text.encode("utf-8")
            parts.append(encode_varlen(len(raw)))
            parts.append(raw)
    return chunk(ChunkTag.SAMPLES, b"".join(parts))


def clock_offset_chunk(stream_id: int, collection_time: float, offset: float) -> bytes:
    """ClockOffset chunk: stream id, collection time and offset (both f64 seconds)."""
    return chunk(ChunkTag.CLOCK_OFFSET, _OFFSET.pack(stream_id, collection_time, offset))


def boundary_chunk() -> bytes:
    """Boundary chunk: the fixed UUID a reader scans for to resynchronise."""
    return chunk(ChunkTag.BOUNDARY, BOUNDARY_UUID)


def stream_footer_chunk(
    stream_id: int,
    first_timestamp: float | None,
    last_timestamp: float | None,
    sample_count: int,
    clock_offsets: Sequence[tuple[float, float]],
) -> bytes:
    """StreamFooter chunk (LabRecorder's layout); timestamps omitted for empty streams."""
    info = ET.Element("info")
    if first_timestamp is not None and last_timestamp is not None:
        ET.SubElement(info, "first_timestamp").text = repr(float(first_timestamp))
        ET.SubElement(info, "last_timestamp").text = repr(float(last_timestamp))
    ET.SubElement(info, "sample_count").text = str(sample_count)
    offsets = ET.SubElement(info, "clock_offsets")
    for time, value in clock_offsets:
        node = ET.SubElement(offsets, "offset")
        ET.SubElement(node, "time").text = repr(float(time))
        ET.SubElement(node, "value").text = repr(float(value))
    return chunk(ChunkTag.STREAM_FOOTER, _U32.pack(stream_id) + _xml(info))


def parse_sample_timestamps(
    content: bytes,
    value_dtype: np.dtype[np.generic] | None,
    channel_count: int,
    tdiff: float,
    last_timestamp: float,
) -> np.ndarray:
    """Timestamps of a Samples chunk's content (after the stream id), checking its layout.

    Parameters
    ----------
    content
        The chunk content after the u32 stream id.
    value_dtype
        Numeric dtype of the values, ``None`` for strings.
    channel_count
        Channels per sample.
    tdiff
        ``1 / nominal_srate`` (0 when irregular) for samples whose timestamp is omitted.
    last_timestamp
        Timestamp of the stream's previous sample (for an omitted first timestamp).

    Raises
    ------
    RecordingError
        When the content does not parse to exactly its declared size.
    """
    n, pos = decode_varlen(content, 0)
    if value_dtype is not None:
        record = sample_dtype(value_dtype, channel_count)
        body = memoryview(content)[pos:]
        if len(body) == n * record.itemsize:
            records = np.frombuffer(body, dtype=record, count=n)
            if n == 0 or bool(np.all(records["tsbytes"] == 8)):
                return records["ts"].astype(np.float64)
    stamps = np.empty(n, dtype=np.float64)
    value_size = 0 if value_dtype is None else value_dtype.itemsize * channel_count
    for k in range(n):
        if pos >= len(content):
            raise RecordingError(f"samples chunk ends inside sample {k} of {n}")
        tsbytes = content[pos]
        pos += 1
        if tsbytes == 8:
            (last_timestamp,) = struct.unpack_from("<d", content, pos)
            pos += 8
        elif tsbytes == 0:
            last_timestamp += tdiff
        else:
            raise RecordingError(f"invalid TimeStampBytes {tsbytes} in sample {k}")
        stamps[k] = last_timestamp
        if value_dtype is None:
            for _ in range(channel_count):
                length, pos = decode_varlen(content, pos)
                pos += length
        else:
            pos += value_size
    if pos != len(content):
        raise RecordingError(
            f"samples chunk declares {n} samples but its content is {len(content)} bytes, "
            f"they use {pos}"
        )
    return stamps
