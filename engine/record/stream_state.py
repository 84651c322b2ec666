"""Per-stream bookkeeping of the recorder: input checks (caller side) and chunk building
(writer-thread side). Internal to :mod:`engine.record`."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.errors import RecordingError
from engine.record import xdf
from engine.record.spec import StreamSpec

__all__ = ["StreamWriteState", "as_numeric", "as_strings"]


def as_numeric(samples: Any, spec: StreamSpec, n: int) -> np.ndarray:
    """Copy numeric ``samples`` to an array of the stream's dtype.

    Accepts ``(n, channel_count)``, ``(n,)`` for one channel, or ``(channel_count,)`` for
    one sample; the copy keeps that shape (the writer reshapes to ``(n, channel_count)``).

    Raises
    ------
    RecordingError
        On a shape mismatch, non-numeric data, float data for an integer stream, or int
        values outside the stream's integer range.
    """
    dtype = spec.dtype
    assert dtype is not None
    arr = samples if type(samples) is np.ndarray else np.asarray(samples)
    kind = arr.dtype.kind
    if kind not in "biuf":
        raise RecordingError(f"samples of dtype {arr.dtype} are not numeric")
    ch = spec.channel_count
    shape = arr.shape
    if shape != (n, ch) and shape != ((n,) if ch == 1 else (ch,) if n == 1 else None):
        raise RecordingError(
            f"samples of shape {np.shape(samples)} do not match {n} timestamps x {ch} channels"
        )
    if kind in "fiu" and dtype.kind == "i":
        if kind == "f":
            raise RecordingError(f"float samples pushed to an {spec.channel_format} stream")
        if not np.can_cast(arr.dtype, dtype) and arr.size:
            limits = np.iinfo(dtype.str)
            if int(arr.min()) < limits.min or int(arr.max()) > limits.max:
                raise RecordingError(
                    f"samples outside the {spec.channel_format} range [{limits.min}, {limits.max}]"
                )
    return arr.astype(dtype)


def as_strings(samples: Any, spec: StreamSpec, n: int) -> list[list[str]]:
    """Copy string ``samples`` to ``n`` lists of ``channel_count`` strings.

    Raises
    ------
    RecordingError
        When the count or shape does not match or a value is not a ``str``.
    """
    if isinstance(samples, str | bytes):
        raise RecordingError("pass a list of strings (or use push_marker), not a bare string")
    rows = [[s] if isinstance(s, str) else list(s) for s in samples]
    if len(rows) != n:
        raise RecordingError(f"{len(rows)} string samples for {n} timestamps")
    for row in rows:
        if len(row) != spec.channel_count or not all(isinstance(v, str) for v in row):
            raise RecordingError(
                f"each sample must be {spec.channel_count} str value(s), got {row!r}"
            )
    return rows


class StreamWriteState:
    """What the writer thread knows about one stream: pending data, counts, offsets."""

    def __init__(self, stream_id: int, spec: StreamSpec) -> None:
        self.stream_id = stream_id
        self.spec = spec
        self._record = (
            None if spec.dtype is None else xdf.sample_dtype(spec.dtype, spec.channel_count)
        )
        self._values: list[Any] = []
        self._stamps: list[Any] = []
        self._explicit: list[tuple[float, float]] = []
        self._has_explicit = False
        self._last_auto: float | None = None
        self.sample_count = 0
        self.first_timestamp: float | None = None
        self.last_timestamp: float | None = None
        self.offsets: list[tuple[float, float]] = []

    def queue_samples(self, values: Any, stamps: Any) -> None:
        """Hold samples (values array or string rows, timestamps list or array)."""
        self._values.append(values)
        self._stamps.append(stamps)

    def queue_offset(self, collection_time: float, offset: float) -> None:
        """Hold an explicit clock offset; automatic offsets stop for this stream."""
        self._explicit.append((collection_time, offset))
        self._has_explicit = True

    def drain_chunks(self, *, auto_offset: bool) -> list[bytes]:
        """Chunks for everything pending: one Samples chunk, then ClockOffset chunks."""
        chunks: list[bytes] = []
        if self._stamps:
            stamps = np.concatenate(self._stamps).astype(np.float64, copy=False)
            if self._record is None:
                rows = [row for block in self._values for row in block]
                chunks.append(xdf.string_samples_chunk(self.stream_id, rows, stamps))
            else:
                blocks = [v.reshape(-1, self.spec.channel_count) for v in self._values]
                values = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
                chunks.append(
                    xdf.numeric_samples_chunk(self.stream_id, values, stamps, self._record)
                )
            self._values.clear()
            self._stamps.clear()
            if self.first_timestamp is None:
                self.first_timestamp = float(stamps[0])
            self.last_timestamp = float(stamps[-1])
            self.sample_count += len(stamps)
        pending = self._explicit
        self._explicit = []
        if (
            auto_offset
            and not self._has_explicit
            and self.last_timestamp is not None
            and self.last_timestamp != self._last_auto
        ):
            self._last_auto = self.last_timestamp
            pending.append((self.last_timestamp, 0.0))
        for t, value in pending:
            chunks.append(xdf.clock_offset_chunk(self.stream_id, t, value))
            self.offsets.append((t, value))
        return chunks

    def footer_chunk(self) -> bytes:
        """StreamFooter with first/last timestamp, sample count and every offset written."""
        return xdf.stream_footer_chunk(
            self.stream_id,
            self.first_timestamp,
            self.last_timestamp,
            self.sample_count,
            self.offsets,
        )
