"""BITalino (r)evolution through OpenSignals (r)evolution's LSL output.

OpenSignals is closed source. Written from:

* [src] pluxbiosignals/opensignals-samples ``LSL/Python/lsl_sample.py`` (commit
  1ac408d): the stream is found by ``name`` ``OpenSignals`` or by ``type`` = the device's
  MAC address; each ``<channel>`` has ``label`` (the sensor) and ``unit``.
* [seen] Code reading real OpenSignals streams (third-party repositories found by the
  labels they handle): 7 channels for a BITalino, ``nSeq`` first, then one per analog port
  A1-A6 labelled ``<SENSOR><port index from 0>`` (``ECGBIT1``, ``EDABITREV2``,
  ``EEGBITREV0``; ``RAW<i>`` where no sensor is configured), values converted by
  OpenSignals with the sensor's transfer function for configured ports (ECG ``mV``, EDA
  ``µS``, EEG ``µV``) and raw ADC counts for ``RAW`` ports.
* [vendor] PLUX datasheets: A1-A4 10 bits, A5-A6 6 bits, VCC 3.3 V;
  ``ECG[mV] = (ADC / 2^n - 1/2) * VCC / 1100 * 1000``, (r)evolution EDA
  ``EDA[µS] = (ADC / 2^n) * VCC / 0.132``; ``nSeq`` counts 0-15.

[assumed] ECG sensor on A2 and EDA on A3 (the board kit's ports), the other ports raw;
units spelled ``mV`` and ``µS`` (U+00B5), none for ``nSeq`` and raw ports; source_id =
type = the MAC ``98:D3:41:FD:4F:D9``; 1000 Hz; ``float32``; OpenSignals pushes 100-sample
blocks with ``push_chunk`` (liblsl back-dates them) 20-60 ms after the last sample.
"""

from __future__ import annotations

import numpy as np

from bridges.base import Bridge, Channel, Packet, PacketClock, StreamDef
from bridges.truth import Truth

MAC = "98:D3:41:FD:4F:D9"
RATE = 1000.0
VCC = 3.3
LABELS = ("nSeq", "RAW0", "ECGBIT1", "EDABITREV2", "RAW3", "RAW4", "RAW5")
UNITS = ("", "", "mV", "\u00b5S", "", "", "")


def ecg_mv(adc: np.ndarray, bits: int = 10) -> np.ndarray:
    """PLUX ECG transfer function: ADC counts -> mV."""
    return (adc / 2**bits - 0.5) * VCC / 1100.0 * 1000.0


def eda_us(adc: np.ndarray, bits: int = 10) -> np.ndarray:
    """PLUX (r)evolution EDA transfer function: ADC counts -> µS."""
    return adc / 2**bits * VCC / 0.132


class OpenSignals(Bridge):
    """OpenSignals (r)evolution streaming one BITalino over LSL, ECG on A2, EDA on A3."""

    name = "bitalino"

    def __init__(self, truth: Truth, seed: int = 0, unix_offset: float = 0.0) -> None:
        super().__init__(truth, seed, unix_offset)
        self.clock = PacketClock(self.start, RATE, 100, (0.02, 0.06), self.rng)

    def streams(self) -> tuple[StreamDef, ...]:
        """The one 7-channel stream."""
        channels = tuple(Channel(lab, unit, order=("label", "unit"))
                         for lab, unit in zip(LABELS, UNITS, strict=True))  # fmt: skip
        return (StreamDef("opensignals", "OpenSignals", MAC, RATE, "float32", MAC, channels),)

    def next_due(self) -> float:
        """The next block."""
        return self.clock.next_due

    def _adc(self, t: np.ndarray) -> np.ndarray:
        n = t.size
        ecg = np.clip(np.round((self.truth.ecg(t) + self.noise(n, 0.005)) / 1000 * 1100 / VCC
                               * 1024 + 512), 0, 1023)  # fmt: skip
        eda = np.clip(np.round((self.truth.eda(t) + self.noise(n, 0.002)) * 0.132 / VCC * 1024),
                      0, 1023)  # fmt: skip
        raw10 = np.clip(np.round(512 + self.noise(n * 2, 2.0)), 0, 1023).reshape(n, 2)
        raw6 = np.clip(np.round(32 + self.noise(n * 2, 0.5)), 0, 63).reshape(n, 2)
        return np.column_stack([ecg, eda, raw10, raw6])

    def packets(self, until: float) -> list[Packet]:
        """100-sample blocks: nSeq, raw A1, ECG (mV), EDA (µS), raw A4-A6; back-dated chunks."""
        out = []
        for t, arrival in self.clock.due(until):
            adc = self._adc(t)
            k = np.round((t - self.start) * RATE)
            values = np.column_stack(
                [k % 16, adc[:, 2], ecg_mv(adc[:, 0]), eda_us(adc[:, 1]), adc[:, 3:]]
            )
            out.append(Packet("opensignals", arrival, values, how="chunk"))
        return out
