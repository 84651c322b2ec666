"""Simulated patient on LSL: publishes the twin's ECG and EDA, listens to the intensity.

The physiology itself lives in :mod:`biosignals.twin_model` (pure, usable with a
ManualClock for dry runs); this module only puts it on the network:

* :class:`TwinOutlets` owns two outlets, ``vrtherapy-twin-ECG`` (type ``ECG``, 500 Hz) and
  ``vrtherapy-twin-EDA`` (type ``EDA``, 32 Hz), with full channel metadata.
  :meth:`TwinOutlets.step` advances the physiology to ``now`` and pushes the new samples
  with their own timestamps. If asked, it also follows the engine's intensity stream (type
  :data:`INTENSITY_STREAM_TYPE`): a background ``ContinuousResolver`` is polled every
  ``resolve_interval`` seconds (never blocking) until a stream appears; then its newest
  value is applied at each step, from the previous step's time on (values that are not
  finite are ignored, others clipped to 0..1). Once open, liblsl's ``recover`` re-connects
  the inlet when an outlet with the same source_id reappears.
* :class:`TwinRunner` calls ``step(local_clock())`` on its own thread every ``period``
  seconds, waiting on a ``threading.Event`` so :meth:`TwinRunner.stop` returns at once.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from biosignals.errors import StreamError
from biosignals.lsl import described, import_pylsl
from biosignals.streams import StreamPredicate, pick_stream
from biosignals.twin_model import TwinChunk, TwinPhysiology, TwinProfile

__all__ = [
    "INTENSITY_STREAM_NAME",
    "INTENSITY_STREAM_TYPE",
    "TwinChunk",
    "TwinOutlets",
    "TwinPhysiology",
    "TwinProfile",
    "TwinRunner",
]

#: LSL type of the engine's intensity stream (1 channel float32, irregular rate).
INTENSITY_STREAM_TYPE = "Intensity"
#: LSL name of the engine's intensity stream.
INTENSITY_STREAM_NAME = "vrtherapy-intensity"


def _make_info(pylsl: Any, kind: str, rate: float, source_id: str, unit: str) -> Any:
    """StreamInfo for one twin channel, with channel and acquisition metadata."""
    info = pylsl.StreamInfo(f"vrtherapy-twin-{kind}", kind, 1, rate, "float32", source_id)
    channel = info.desc().append_child("channels").append_child("channel")
    channel.append_child_value("label", kind)
    channel.append_child_value("unit", unit)
    channel.append_child_value("type", kind)
    acquisition = info.desc().append_child("acquisition")
    acquisition.append_child_value("manufacturer", "vrtherapy")
    acquisition.append_child_value("model", "twin")
    return info


class TwinOutlets:
    """The twin's ECG and EDA LSL outlets, fed by :meth:`step`.

    Parameters
    ----------
    physiology
        The model to publish; its ``start_time`` should be on the LSL clock.
    source_prefix
        Prefix of the outlets' source ids (``{prefix}-ecg``, ``{prefix}-eda``).
    listen_intensity
        Follow the engine's intensity stream.
    intensity_predicate
        Which intensity stream to follow (default: any of type ``"Intensity"``; when
        several match, the one with the smallest source_id).
    resolve_interval
        Seconds between non-blocking looks for the intensity stream while none is open.

    Notes
    -----
    Not thread-safe: one thread steps (usually a :class:`TwinRunner`); stop that runner
    before :meth:`close`. Reading the physiology's properties from another thread is fine.
    """

    def __init__(
        self,
        physiology: TwinPhysiology,
        *,
        source_prefix: str = "vrtherapy-twin",
        listen_intensity: bool = True,
        intensity_predicate: StreamPredicate | None = None,
        resolve_interval: float = 2.0,
    ) -> None:
        pylsl = import_pylsl()
        self.physiology = physiology
        self._ecg = pylsl.StreamOutlet(
            _make_info(pylsl, "ECG", physiology.ecg_rate, f"{source_prefix}-ecg", "millivolts")
        )
        self._eda = pylsl.StreamOutlet(
            _make_info(pylsl, "EDA", physiology.eda_rate, f"{source_prefix}-eda", "microsiemens")
        )
        self._predicate = intensity_predicate or StreamPredicate(type=INTENSITY_STREAM_TYPE)
        self._resolver: Any = None
        if listen_intensity:
            self._resolver = pylsl.ContinuousResolver(pred=self._predicate.to_xpath())
        self._resolve_interval = float(resolve_interval)
        self._next_resolve = -math.inf
        self._intensity_inlet: Any = None
        self._intensity_source: str | None = None
        self._closed = False

    @property
    def intensity_source(self) -> str | None:
        """source_id of the intensity stream being followed, or None."""
        return self._intensity_source

    def step(self, now: float) -> None:
        """Apply the newest intensity, advance the physiology to ``now``, push the samples."""
        if self._closed:
            raise StreamError("TwinOutlets.step called after close()")
        if self._resolver is not None:
            self._follow_intensity(now)
        if now <= self.physiology.now:
            return
        chunk = self.physiology.advance(now)
        if chunk.ecg.size:
            self._ecg.push_chunk(chunk.ecg.reshape(-1, 1), timestamp=chunk.ecg_t.tolist())
        if chunk.eda.size:
            self._eda.push_chunk(chunk.eda.reshape(-1, 1), timestamp=chunk.eda_t.tolist())

    def _follow_intensity(self, now: float) -> None:
        if self._intensity_inlet is None:
            if now < self._next_resolve:
                return
            self._next_resolve = now + self._resolve_interval
            info = pick_stream(self._resolver.results(), self._predicate)
            if info is None:
                return
            if info.channel_format() == import_pylsl().cf_string:
                raise StreamError(
                    f"intensity stream {info.name()!r} (source_id {info.source_id()!r}) "
                    f"carries strings; the twin needs numbers in 0..1"
                )
            # A plain inlet: only the newest value matters, not its timestamp, so no clock
            # sync (which would stall the first pull); it connects in the background.
            self._intensity_inlet = import_pylsl().StreamInlet(info, max_buflen=10)
            self._intensity_source = info.source_id()
        if not described(self._intensity_inlet):
            return  # a pull now could wait for good on an outlet that just vanished
        values, _ = self._intensity_inlet.pull_chunk(timeout=0.0, max_samples=1024, as_numpy=True)
        finite = [float(v) for v in np.asarray(values, dtype=np.float64)[:, 0] if math.isfinite(v)]
        if finite:
            self.physiology.set_intensity(min(1.0, max(0.0, finite[-1])))

    def close(self) -> None:
        """Release the outlets and the intensity inlet (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._intensity_inlet is not None:
            self._intensity_inlet.close_stream()
            self._intensity_inlet = None
            self._intensity_source = None
        self._resolver = None
        self._ecg = None
        self._eda = None


class TwinRunner:
    """Publishes a twin in real time on a background thread.

    Parameters
    ----------
    outlets
        What to step.
    period
        Seconds between steps.
    time_function
        Clock in seconds (default ``pylsl.local_clock``; the twin's timestamps use it).

    Notes
    -----
    If a step raises (e.g. a string-typed intensity stream), the thread ends,
    :attr:`running` turns False and :meth:`stop` re-raises the error as StreamError.
    """

    def __init__(
        self,
        outlets: TwinOutlets,
        *,
        period: float = 0.02,
        time_function: Callable[[], float] | None = None,
    ) -> None:
        if period <= 0:
            raise StreamError(f"TwinRunner period must be > 0, got {period}")
        self.outlets = outlets
        self.period = float(period)
        self._clock = time_function or import_pylsl().local_clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: Exception | None = None

    @property
    def running(self) -> bool:
        """Whether the publishing thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start publishing; raises StreamError if already started."""
        if self._thread is not None:
            raise StreamError("TwinRunner already started (a runner starts once)")
        self._thread = threading.Thread(target=self._loop, name="vrtherapy-twin", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                self.outlets.step(self._clock())
                self._stop.wait(self.period)
        except Exception as err:  # handed to the caller by stop()
            self._error = err

    def stop(self) -> None:
        """Stop and join the thread; re-raises (as StreamError) what ended it early."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise StreamError(f"twin publishing thread failed: {error}") from error
