"""Polar H10 heart rate and RR intervals through the Excite-O-Meter device app.

Written from luisqtr/exciteometer-devices-android
``app/src/main/java/com/ExciteOMeter/polarH10android/HRActivity.java`` (commit 19b7c80),
checked against luisqtr/exciteometer-devices-UWP ``cs/Devices/PolarH10/LSL_PolarH10.cs``
(commit 421e67e, same names and types):

* ``HeartRate``: type ``ExciteOMeter``, 1 channel, ``IRREGULAR_RATE``, ``int16``,
  source_id = the Polar device id (``DEVICE_ID``); no ``<desc>``.
* ``RRinterval``: type ``ExciteOMeter``, 1 channel, ``IRREGULAR_RATE``, ``float32``, same
  source_id; no ``<desc>``.
* ``hrNotificationReceived``: ``outlet_HR.push_sample(hr)``, then one
  ``outlet_RR.push_sample(rr)`` per RR of the notification (``polarHrData.rrsMs``, integer
  milliseconds), all without timestamps: stamped when the notification arrives, not at
  the beat.
* The UWP app also has ``RawECG`` and ``RawACC`` streams (``int32``, irregular) for the
  ECG/ACC measurement modes; not emulated (the HR activity does not open them).

[assumed] One HR notification about every second (+-30 ms) with the RRs of the beats up to
20 ms before it (Polar's BLE heart rate service behaviour); the device's HR value is
60000 / mean of its last three RRs, rounded; device id ``A1B2C3D4`` (8 hex digits, as
Polar prints it).
"""

from __future__ import annotations

import numpy as np

from bridges.base import Bridge, Packet, StreamDef
from bridges.truth import Truth

DEVICE_ID = "A1B2C3D4"


class ExciteOMeter(Bridge):
    """The Excite-O-Meter Android app connected to a Polar H10 (HR mode)."""

    name = "exciteometer"

    def __init__(self, truth: Truth, seed: int = 0, unix_offset: float = 0.0) -> None:
        super().__init__(truth, seed, unix_offset)
        self._next = self.start + 1.0
        self._last_beat = self.start

    def streams(self) -> tuple[StreamDef, ...]:
        """``HeartRate`` and ``RRinterval``."""
        return (
            StreamDef("hr", "HeartRate", "ExciteOMeter", 0.0, "int16", DEVICE_ID, 1),
            StreamDef("rr", "RRinterval", "ExciteOMeter", 0.0, "float32", DEVICE_ID, 1),
        )

    def next_due(self) -> float:
        """The next notification."""
        return self._next

    def packets(self, until: float) -> list[Packet]:
        """Per notification: the HR sample, then the RR samples (integer ms), unstamped."""
        out = []
        while self._next <= until:
            at = self._next
            beats = self.truth.beats_between(self._last_beat, at - 0.02)
            if beats.size:
                self._last_beat = float(beats[-1])
            recent = self.truth.beats_between(self._last_beat - 4.0, self._last_beat)
            rr_recent = np.diff(recent)[-3:]
            hr = round(60.0 / float(rr_recent.mean())) if rr_recent.size else 0
            out.append(Packet("hr", at, np.array([[hr]], dtype=np.float64)))
            rr = np.round(self.truth.rr_ms(beats))
            rr = rr[np.isfinite(rr)]  # the very first beat has no RR yet
            if rr.size:
                out.append(Packet("rr", at, rr.reshape(-1, 1)))
            self._next += 1.0 + float(self.rng.uniform(0.02, 0.08)) - 0.05
        return out
