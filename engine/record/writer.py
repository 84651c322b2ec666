"""The session recorder: one crash-safe XDF 1.0 file, written on its own thread.

The caller (render/session thread) only validates and copies data into a queue; a writer
thread drains the queue, serialises one Samples chunk per stream per flush with numpy, and
writes everything due in one ``write`` to an unbuffered file at least every
``flush_interval`` seconds. The data is then in the kernel's page cache, so killing the
process (even ``SIGKILL``) loses at most the last ~``flush_interval`` seconds; every
``boundary_interval`` seconds a Boundary chunk is written and the file is ``fsync``-ed, which
bounds what a power cut loses. ``close()`` writes StreamFooters and ``fsync``-s.

Lifecycle (:class:`RecorderState`)::

    CREATED --start()--> RECORDING --close()--> CLOSED
       |                     |
       +--close()--> CLOSED  +--(writer error)--> FAILED

* ``add_stream`` / ``push`` / ``push_marker`` / ``clock_offset`` are allowed in CREATED
  (queued, written once started) and RECORDING; after ``close()`` they raise
  :class:`~engine.errors.IllegalTransitionError`; in FAILED they raise
  :class:`~engine.errors.RecordingError` carrying the writer's error.
* Call ``close()`` after the last ``push()``: a push racing ``close()`` from another thread
  may be dropped.
* ``start()`` only from CREATED. ``close()`` from CREATED creates no file and discards
  anything queued; ``close()`` on a CLOSED recorder is a harmless no-op; ``close()`` in
  FAILED raises the writer's error (every time).
"""

from __future__ import annotations

import datetime as _dt
import enum
import math
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike

from engine.errors import IllegalTransitionError, RecordingError
from engine.record import xdf
from engine.record.spec import StreamSpec
from engine.record.stream_state import StreamWriteState, as_numeric, as_strings

__all__ = ["RecordSink", "RecorderState", "XdfRecorder"]


class RecordSink(Protocol):
    """What a ``sink_factory`` returns: an unbuffered binary file-like object.

    ``write`` takes each flush's bytes (one call per flush unless it reports a partial
    write) and returns how many it took; ``fileno`` is ``fsync``-ed at boundaries and on
    close; ``close`` finalises it. ``name`` is used in error messages. E.g.
    :class:`engine.privacy.sealed.SealedWriter` (each flush becomes one sealed record).
    """

    @property
    def name(self) -> Any: ...

    def write(self, data: memoryview, /) -> int | None: ...

    def fileno(self) -> int: ...

    def close(self) -> None: ...


class RecorderState(enum.Enum):
    """Lifecycle of an :class:`XdfRecorder`."""

    CREATED = "created"
    RECORDING = "recording"
    CLOSED = "closed"
    FAILED = "failed"


class XdfRecorder:
    """Record LSL-clocked streams into one XDF 1.0 file, never blocking the caller on disk.

    Parameters
    ----------
    path
        The file to create. It must not exist: a recording is never overwritten.
    flush_interval
        Seconds between writes of the queued samples (one Samples chunk per stream).
    clock_offset_interval
        Seconds between ClockOffset chunks per stream. Everything pushed here is already on
        the local LSL clock (inlet timestamps corrected with ``time_correction()``), so the
        automatic offsets are ``0.0`` with collection time = the stream's last timestamp;
        they exist so XDF readers that expect offsets (pyxdf's clock sync) find a valid,
        identity mapping and keep timestamps exact. A stream that got no new samples since
        its last offset gets none (collection times strictly increase). Once
        :meth:`clock_offset` is called for a stream, only explicit offsets are written for it.
    file_header
        Extra FileHeader fields (element name -> text).
    boundary_interval
        Seconds between Boundary chunks (resynchronisation points for readers); the file is
        ``fsync``-ed at each.
    sink_factory
        ``None`` (default): write ``path`` as a plain file. Otherwise called once by
        :meth:`start` with ``path`` to create the :class:`RecordSink` the XDF bytes go to
        (it must create the file exclusively), e.g.
        ``engine.privacy.sealed.sealed_sink(site_key)`` for an encrypted recording.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        flush_interval: float = 0.5,
        clock_offset_interval: float = 5.0,
        file_header: dict[str, str] | None = None,
        boundary_interval: float = 10.0,
        sink_factory: Callable[[Path], RecordSink] | None = None,
    ) -> None:
        for name, value in (
            ("flush_interval", flush_interval),
            ("clock_offset_interval", clock_offset_interval),
            ("boundary_interval", boundary_interval),
        ):
            if not value > 0:
                raise RecordingError(f"XdfRecorder({path}): {name} must be > 0, got {value}")
        self._path = Path(path)
        self._flush_interval = float(flush_interval)
        self._offset_interval = float(clock_offset_interval)
        self._boundary_interval = float(boundary_interval)
        self._sink_factory = sink_factory
        self._header_fields = {
            "datetime": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "recorder": "vrtherapy engine.record.XdfRecorder",
            **(file_header or {}),
        }
        xdf.file_header_chunk(self._header_fields)  # validate field names now
        self._lock = threading.Lock()
        self._state = RecorderState.CREATED
        self._closing = False
        self._error: Exception | None = None
        self._specs: dict[int, StreamSpec] = {}
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._file: Any = None
        self._stats: dict[str, int] = {"bytes": 0, "chunks": 0, "streams": 0}

    # ------------------------------------------------------------------ caller side

    @property
    def state(self) -> RecorderState:
        """Current lifecycle state."""
        return self._state

    @property
    def path(self) -> Path:
        """The recording file."""
        return self._path

    @property
    def error(self) -> Exception | None:
        """The writer thread's error once the state is FAILED, else ``None``."""
        return self._error

    def start(self) -> None:
        """Create the file (exclusively), write the FileHeader and start the writer thread.

        Raises
        ------
        IllegalTransitionError
            When not in CREATED.
        RecordingError
            When the file exists already (it is left untouched) or cannot be created.
        """
        with self._lock:
            if self._state is not RecorderState.CREATED or self._closing:
                raise IllegalTransitionError(
                    f"XdfRecorder({self._path}): start() in state {self._state.name}; "
                    f"only CREATED -> RECORDING is allowed"
                )
            try:
                if self._sink_factory is None:
                    handle: Any = open(self._path, "xb", buffering=0)  # noqa: SIM115
                else:
                    handle = self._sink_factory(self._path)
            except FileExistsError as exc:
                raise RecordingError(
                    f"recording {self._path} already exists; refusing to overwrite it"
                ) from exc
            except OSError as exc:
                raise RecordingError(f"cannot create recording {self._path}: {exc}") from exc
            head = xdf.MAGIC + xdf.file_header_chunk(self._header_fields)
            try:
                _write_all(handle, head)
            except OSError as exc:
                handle.close()
                raise RecordingError(f"cannot write recording {self._path}: {exc}") from exc
            self._file = handle
            self._stats["bytes"] += len(head)
            self._stats["chunks"] += 1
            self._thread = threading.Thread(
                target=self._run, name=f"xdf-writer:{self._path.name}", daemon=True
            )
            self._state = RecorderState.RECORDING
            self._thread.start()

    def add_stream(self, spec: StreamSpec, *, unique_name: bool = True) -> int:
        """Register a stream; its StreamHeader is queued. Returns its XDF stream id (1, 2...).

        ``unique_name=False`` allows a name already used (raw LSL streams of one device
        often share a name; XDF tells streams apart by id).

        Raises
        ------
        RecordingError
            When a stream of that name exists already (unless allowed), or the writer
            has failed.
        IllegalTransitionError
            After ``close()``.
        """
        with self._lock:
            self._check_open("add_stream")
            if unique_name and any(s.name == spec.name for s in self._specs.values()):
                raise RecordingError(
                    f"recording {self._path}: a stream named {spec.name!r} exists already"
                )
            stream_id = len(self._specs) + 1
            self._specs[stream_id] = spec
            self._stats[f"samples.{spec.name}"] = 0
            self._stats["streams"] += 1
            self._queue.put(("header", stream_id, spec))
            return stream_id

    def push(
        self,
        stream_id: int,
        samples: ArrayLike | Sequence[Sequence[str]] | Sequence[str],
        timestamps: ArrayLike,
    ) -> None:
        """Queue samples for writing; copies the data and returns without touching disk.

        Parameters
        ----------
        stream_id
            From :meth:`add_stream`.
        samples
            Numeric streams: array-like ``(n,)`` (one channel) or ``(n, channel_count)``
            (a single ``(channel_count,)`` sample is also accepted). String streams: a list
            of ``n`` strings (one channel) or ``n`` lists of ``channel_count`` strings.
        timestamps
            ``n`` finite LSL-clock timestamps in seconds.

        Raises
        ------
        RecordingError
            On shape/format mismatch, non-finite timestamps, unknown stream, or a failed
            writer.
        IllegalTransitionError
            After ``close()``.
        """
        if self._error is not None or self._closing or self._state is RecorderState.CLOSED:
            self._check_open("push")
        spec = self._specs.get(stream_id) or self._spec(stream_id)
        try:
            ts = _copy_timestamps(timestamps)
            n = len(ts)
            values: np.ndarray | list[list[str]]
            if spec.channel_format == "string":
                values = as_strings(samples, spec, n)
            else:
                values = as_numeric(samples, spec, n)
        except (RecordingError, TypeError, ValueError) as exc:
            raise RecordingError(f"recording {self._path}, stream {spec.name!r}: {exc}") from exc
        if n:
            self._queue.put(("samples", stream_id, values, ts))

    def push_marker(self, stream_id: int, text: str, timestamp: float) -> None:
        """Queue one string sample (an event marker) on a one-channel string stream."""
        self.push(stream_id, [text], [timestamp])

    def clock_offset(self, stream_id: int, collection_time: float, offset: float) -> None:
        """Queue an explicit ClockOffset (``remote clock + offset = local clock``).

        After the first explicit offset for a stream, automatic ``0.0`` offsets stop for it.
        """
        self._check_open("clock_offset")
        spec = self._spec(stream_id)
        if not (np.isfinite(collection_time) and np.isfinite(offset)):
            raise RecordingError(
                f"recording {self._path}, stream {spec.name!r}: clock offset must be finite"
            )
        self._queue.put(("offset", stream_id, float(collection_time), float(offset)))

    def close(self) -> None:
        """Drain the queue, write footers, ``fsync`` and close the file; join the writer.

        Raises
        ------
        RecordingError
            When the writer failed (now or earlier); the file is closed either way.
        """
        with self._lock:
            if self._state is RecorderState.CLOSED:
                return
            if self._state is RecorderState.CREATED:
                self._state = RecorderState.CLOSED
                return
            self._closing = True
        if self._thread is not None:
            self._wake.set()
            self._thread.join()
        with self._lock:
            if self._error is None:
                self._state = RecorderState.CLOSED
                return
        raise self._failure()

    def stats(self) -> dict[str, int]:
        """Bytes and chunks written, ``streams``, and ``samples.<name>`` per stream."""
        with self._lock:
            return dict(self._stats)

    def _check_open(self, what: str) -> None:
        if self._error is not None:
            raise self._failure()
        if self._closing or self._state is RecorderState.CLOSED:
            raise IllegalTransitionError(
                f"XdfRecorder({self._path}): {what}() after close() is not allowed"
            )

    def _failure(self) -> RecordingError:
        err = RecordingError(f"recording {self._path} failed while writing: {self._error!r}")
        err.__cause__ = self._error
        return err

    def _spec(self, stream_id: int) -> StreamSpec:
        try:
            return self._specs[stream_id]
        except KeyError:
            raise RecordingError(
                f"recording {self._path}: unknown stream id {stream_id} "
                f"(known: {sorted(self._specs)})"
            ) from None

    def _add_stats(self, nbytes: int, chunks: int, name: str | None, samples: int) -> None:
        with self._lock:
            self._stats["bytes"] += nbytes
            self._stats["chunks"] += chunks
            if name is not None:
                self._stats[f"samples.{name}"] += samples

    # ------------------------------------------------------------------ writer thread

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:
            with self._lock:
                self._error = exc
                self._state = RecorderState.FAILED
        finally:
            try:
                self._file.close()
            except OSError as exc:
                with self._lock:
                    if self._error is None:
                        self._error = exc
                        self._state = RecorderState.FAILED
                    else:
                        self._error.add_note(f"closing the file also failed: {exc!r}")

    def _loop(self) -> None:
        """Wake at each flush deadline (or on close), drain the queue, write what is due.

        The thread blocks on ``Event.wait(timeout)``, not on ``queue.get``: waking on
        every pushed item (hundreds per second) costs more CPU than the writing itself.
        """
        streams: dict[int, StreamWriteState] = {}
        out: list[bytes] = []
        now = time.monotonic()
        next_flush = now + self._flush_interval
        next_offsets = now + self._offset_interval
        next_boundary = now + self._boundary_interval
        while True:
            stopping = self._wake.wait(max(0.0, next_flush - time.monotonic()))
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                self._take(item, streams, out)
            if stopping:
                self._flush(streams, out, offsets=True, boundary=False, final=True)
                return
            now = time.monotonic()
            if now < next_flush:
                continue
            offsets = now >= next_offsets
            boundary = now >= next_boundary
            self._flush(streams, out, offsets=offsets, boundary=boundary, final=False)
            next_flush = now + self._flush_interval
            if offsets:
                next_offsets = now + self._offset_interval
            if boundary:
                next_boundary = now + self._boundary_interval

    @staticmethod
    def _take(
        item: tuple[Any, ...], streams: dict[int, StreamWriteState], out: list[bytes]
    ) -> None:
        kind, stream_id = item[0], item[1]
        if kind == "header":
            streams[stream_id] = StreamWriteState(stream_id, item[2])
            out.append(xdf.stream_header_chunk(stream_id, item[2].to_xml()))
        elif kind == "samples":
            streams[stream_id].queue_samples(item[2], item[3])
        else:
            streams[stream_id].queue_offset(item[2], item[3])

    def _flush(
        self,
        streams: dict[int, StreamWriteState],
        out: list[bytes],
        *,
        offsets: bool,
        boundary: bool,
        final: bool,
    ) -> None:
        chunks = list(out)
        out.clear()
        counts: list[tuple[str, int]] = []
        for st in streams.values():
            n_before = st.sample_count
            chunks.extend(st.drain_chunks(auto_offset=offsets or final))
            counts.append((st.spec.name, st.sample_count - n_before))
        if boundary:
            chunks.append(xdf.boundary_chunk())
        if final:
            chunks.extend(st.footer_chunk() for st in streams.values())
        data = b"".join(chunks)
        if data:
            _write_all(self._file, data)
        if boundary or final:
            os.fsync(self._file.fileno())
        self._add_stats(len(data), len(chunks), None, 0)
        for name, n in counts:
            if n:
                self._add_stats(0, 0, name, n)


def _copy_timestamps(timestamps: ArrayLike) -> list[float] | np.ndarray:
    """Copy timestamps, checking they are 1-D and finite.

    Per-frame pushes hold a few samples; for those a Python list is cheaper to make and to
    check than a new array (the writer thread turns it into one).
    """
    if type(timestamps) is np.ndarray and timestamps.ndim == 1 and len(timestamps) <= 64:
        stamps: list[float] = timestamps.tolist()
    elif isinstance(timestamps, list) and len(timestamps) <= 64:
        stamps = [float(t) for t in timestamps]
    else:
        arr = np.array(timestamps, dtype=np.float64, ndmin=1, copy=True)
        if arr.ndim != 1 or not np.isfinite(arr).all():
            raise RecordingError("timestamps must be a 1-D array of finite seconds")
        return arr
    if not all(map(math.isfinite, stamps)):
        raise RecordingError("timestamps must be a 1-D array of finite seconds")
    return stamps


def _write_all(handle: Any, data: bytes) -> None:
    """Write all of ``data`` to an unbuffered file (a raw write may be partial)."""
    view = memoryview(data)
    while view:
        written = handle.write(view)
        if written is None or written <= 0:
            raise OSError(f"write to {handle.name} wrote nothing ({len(view)} bytes left)")
        view = view[written:]
