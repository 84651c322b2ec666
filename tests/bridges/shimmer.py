"""Shimmer3 GSR+ (GSR and optical pulse on one stream) through a Shimmer-API LSL app.

Shimmer ships no LSL app of its own (ShimmerEngineering/liblsl-Csharp ``shimmer_dev``
``examples/SendData/SendData.cs`` only streams the accelerometer, as a feasibility test);
labs write one on the Shimmer Java/C# API that pushes each received data packet's
calibrated channels. Written from:

* [src] ShimmerEngineering Shimmer Java API ``com/shimmerresearch/sensors/SensorGSR.java``:
  ObjectCluster channels ``GSR_Skin_Conductance`` (CAL unit ``uS``),
  ``GSR_Skin_Resistance`` (``kOhms``), ``GSR_Range`` (``no_units``); the 12-bit GSR ADC
  is turned into resistance by the amplifier equation ``R = Rf / (V / 0.5 - 1)`` with
  ``Rf`` = 40.2, 287, 1000, 3300 kOhm for ranges 0-3 (auto-ranging), conductance
  ``1000 / R``. Both resistance and conductance are there: pick one.
* [seen] Consensys exports of Shimmer3 GSR+ sessions: ``Timestamp`` (ms),
  ``GSR_Range`` (no_units), ``GSR_Skin_Conductance`` (uS), ``GSR_Skin_Resistance``
  (kOhms), ``PPG_A13`` (mV).
* [src] ``SendData.cs``: ``outlet.push_sample(dataArray)`` per data packet, no
  timestamp: stamped when the Bluetooth serial read hands the packet over.

[assumed] Stream name/source_id ``Shimmer_D1A5`` (Shimmer's default device name),
type ``Shimmer3``, ``float32``, 128 Hz, channels ``Timestamp``, ``GSR_Range``,
``GSR_Skin_Conductance``, ``GSR_Skin_Resistance``, ``PPG_A13`` with the CAL units above;
serial reads every 25-55 ms; PPG ~1500 mV with a ~25 mV pulse (12-bit, 3 V range), blood
volume upward.
"""

from __future__ import annotations

import numpy as np

from bridges.base import Bridge, Channel, Packet, StreamDef
from bridges.truth import Truth

RATE = 128.0
NAME = "Shimmer_D1A5"
REF_KOHM = (40.2, 287.0, 1000.0, 3300.0)
RANGE_KOHM = ((8.0, 63.0), (63.0, 220.0), (220.0, 680.0), (680.0, 4700.0))
CHANNELS = (
    ("Timestamp", "ms"),
    ("GSR_Range", "no_units"),
    ("GSR_Skin_Conductance", "uS"),
    ("GSR_Skin_Resistance", "kOhms"),
    ("PPG_A13", "mV"),
)


def gsr_quantised(conductance_us: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Auto-ranged 12-bit GSR: the range used and the resistance (kOhm) read back."""
    r = 1000.0 / np.asarray(conductance_us, dtype=np.float64)
    rng = np.searchsorted([hi for _, hi in RANGE_KOHM[:-1]], r)
    rf = np.asarray(REF_KOHM)[rng]
    adc = np.clip(np.round(((rf / r) + 1.0) * 0.5 / 3.0 * 4095.0), 0, 4095)
    volts = adc * 3.0 / 4095.0
    return rng.astype(np.float64), rf / (volts / 0.5 - 1.0)


class ShimmerLsl(Bridge):
    """A Shimmer3 GSR+ streamed by an LSL app on the Shimmer API (GSR + PPG_A13)."""

    name = "shimmer"

    def __init__(self, truth: Truth, seed: int = 0, unix_offset: float = 0.0) -> None:
        super().__init__(truth, seed, unix_offset)
        self._sent = 0
        self._read = self.start + 0.04

    def streams(self) -> tuple[StreamDef, ...]:
        """One 5-channel stream."""
        channels = tuple(Channel(lab, unit, order=("label", "unit")) for lab, unit in CHANNELS)
        return (StreamDef("shimmer", NAME, "Shimmer3", RATE, "float32", NAME, channels),)

    def next_due(self) -> float:
        """The next serial read."""
        return self._read

    def packets(self, until: float) -> list[Packet]:
        """Every serial read: the data packets received since the last, pushed unstamped."""
        out = []
        while self._read <= until:
            upto = int(np.floor((self._read - 0.008 - self.start) * RATE))
            k = np.arange(self._sent, upto)
            self._sent = upto
            if k.size:
                t = self.start + k / RATE
                rng, kohm = gsr_quantised(self.truth.eda(t) + self.noise(t.size, 0.003))
                ppg_mv = 1500.0 + 25.0 * self.truth.ppg(t) + self.noise(t.size, 0.3)
                ppg = np.round(ppg_mv / 3000 * 4095)
                stamp_ms = np.round(k * 1000.0 / RATE, 1)
                values = np.column_stack([stamp_ms, rng, 1000.0 / kohm, kohm, ppg * 3000 / 4095])
                out.append(Packet("shimmer", self._read, values))
            self._read += float(self.rng.uniform(0.025, 0.055))
        return out
