"""Polar H10 ECG through PolarBand2lsl.

Written from markspan/PolarBand2lsl ``Polar2LSL.py`` (commit b41077c, 2023-11-07):

* ``StreamInfo(STREAMNAME, 'ECG', 1, 130, 'float32', 'myuid2424')``; ``STREAMNAME``
  defaults to ``PolarBand`` (``-s`` sets it); the source_id is hard-coded, the same for
  every band. ``<desc>``: ``manufacturer`` = ``Polar``, one channel with ``<name>ECG``
  (a ``name`` tag, not ``label``), ``<unit>microvolts``, ``<type>ECG``.
* ``StreamOutlet(info, 74, 360)`` (chunk size 74, 360 s buffer).
* ``data_conv``: each BLE notification of the PMD data characteristic carries 3-byte
  signed little-endian samples after a 10-byte header; each is pushed with
  ``OUTLET.push_sample([ecg])``, without a timestamp, as the notification arrives, so all
  samples of one notification get (nearly) the same stamp. Values are the raw integers
  (the Polar PMD ECG unit is µV).
* ``ECG_SAMPLING_FREQ = 130``.

[assumed] 73 samples per notification (the PMD frame size at Polar's usual MTU,
(232 - 10) / 3 rounded down; it varies with the negotiated MTU) and 10-40 ms radio latency.
"""

from __future__ import annotations

import numpy as np

from bridges.base import Bridge, Channel, Packet, PacketClock, StreamDef
from bridges.truth import Truth

RATE = 130.0
PER_NOTIFICATION = 73


class PolarBand2lsl(Bridge):
    """``python Polar2LSL.py -a <MAC>`` (default stream name ``PolarBand``)."""

    name = "polar"

    def __init__(self, truth: Truth, seed: int = 0, unix_offset: float = 0.0) -> None:
        super().__init__(truth, seed, unix_offset)
        self.clock = PacketClock(self.start, RATE, PER_NOTIFICATION, (0.010, 0.040), self.rng)

    def streams(self) -> tuple[StreamDef, ...]:
        """The one ECG stream."""
        return (
            StreamDef(
                "ecg",
                "PolarBand",
                "ECG",
                RATE,
                "float32",
                "myuid2424",
                (Channel("ECG", "microvolts", "ECG", tag="name", order=("label", "unit", "type")),),
                desc=(("manufacturer", "Polar"),),
                chunk_size=74,
            ),
        )

    def next_due(self) -> float:
        """Arrival of the next notification."""
        return self.clock.next_due

    def packets(self, until: float) -> list[Packet]:
        """One packet per BLE notification: integer µV, pushed sample by sample, unstamped."""
        out = []
        for t, arrival in self.clock.due(until):
            uv = np.round((self.truth.ecg(t) + self.noise(t.size, 0.01)) * 1000.0)
            out.append(Packet("ecg", arrival, uv.reshape(-1, 1)))
        return out
