"""Empatica E4 through the E4 streaming server and the Empatica-E4-LSL forwarder.

Written from HectorCarral/Empatica-E4-LSL ``empatica-e4-LSL.py`` (commit f4f591f, the
forwarder most E4 LSL setups copy) and Empatica's "E4 streaming server: Data Streaming
Packets" page:

* ``StreamInfo('acc','ACC',3,32,'int32','ACC-empatica_e4')``,
  ``StreamInfo('bvp','BVP',1,64,'float32','BVP-empatica_e4')``,
  ``StreamInfo('gsr','GSR',1,4,'float32','GSR-empatica_e4')``,
  ``StreamInfo('tmp','Temp',1,4,'float32','Temp-empatica_e4')``; no ``<desc>`` at all
  (no channel labels or units). There is **no IBI or HR stream** (the forwarder does not
  subscribe to ``ibi``).
* Each server line ``E4_Bvp <timestamp> <value>`` is pushed with
  ``outlet.push_sample([value], timestamp=timestamp)``: the server's timestamp passed
  through.
* [vendor] The server's timestamps are Unix time: the system time at the first packet it
  received plus ``k / rate`` for every later sample ("calculated from the reference
  timestamp and the sample frequency"). GSR is in µS; BVP is unitless (derived from the
  light absorption); temperature in °C; acceleration in 1/64 g.

[assumed] Samples reach the forwarder in bursts (BVP 16 samples, GSR 4, ACC 8, temperature
4) 60-160 ms after the last one was measured; BVP scaled to about +-60 with blood volume
upward; GSR printed with 6 decimals.
"""

from __future__ import annotations

import numpy as np

from bridges.base import Bridge, Packet, PacketClock, StreamDef, collect
from bridges.truth import Truth

RATES = {"acc": 32.0, "bvp": 64.0, "gsr": 4.0, "tmp": 4.0}
BURSTS = {"acc": 8, "bvp": 16, "gsr": 4, "tmp": 4}


class EmpaticaE4Lsl(Bridge):
    """``empatica-e4-LSL.py`` with acc, bvp, gsr and tmp on (its defaults)."""

    name = "e4"

    def __init__(self, truth: Truth, seed: int = 0, unix_offset: float = 0.0) -> None:
        super().__init__(truth, seed, unix_offset)
        self.clocks = {
            key: PacketClock(self.start, rate, BURSTS[key], (0.06, 0.16),
                             np.random.default_rng(seed + i))
            for i, (key, rate) in enumerate(RATES.items())
        }  # fmt: skip
        # the server's reference: system (Unix) time when its first packet arrived
        self.reference = min(c.next_due for c in self.clocks.values()) + self.unix_offset

    def streams(self) -> tuple[StreamDef, ...]:
        """acc, bvp, gsr, tmp: no ``<desc>``."""
        return (
            StreamDef("acc", "acc", "ACC", 32.0, "int32", "ACC-empatica_e4", 3),
            StreamDef("bvp", "bvp", "BVP", 64.0, "float32", "BVP-empatica_e4", 1),
            StreamDef("gsr", "gsr", "GSR", 4.0, "float32", "GSR-empatica_e4", 1),
            StreamDef("tmp", "tmp", "Temp", 4.0, "float32", "Temp-empatica_e4", 1),
        )

    def next_due(self) -> float:
        """The next burst of any stream."""
        return min(c.next_due for c in self.clocks.values())

    def _values(self, key: str, t: np.ndarray) -> np.ndarray:
        if key == "bvp":
            pulse = self.truth.ppg(t)
            return (120.0 * (pulse - 0.3) + self.noise(t.size, 0.5)).reshape(-1, 1)
        if key == "gsr":
            return np.round(self.truth.eda(t) + self.noise(t.size, 0.002), 6).reshape(-1, 1)
        if key == "tmp":
            return np.round(33.5 + self.noise(t.size, 0.01), 2).reshape(-1, 1)
        return np.round(self.noise(t.size * 3, 1.0).reshape(-1, 3) + np.array([0.0, 0.0, 64.0]))

    def packets(self, until: float) -> list[Packet]:
        """Bursts of server lines, each sample pushed with its server (Unix) timestamp."""
        groups = []
        for key, clock in self.clocks.items():
            packets = []
            for t, arrival in clock.due(until):
                k = np.round((t - self.start) * RATES[key])
                stamps = self.reference + k / RATES[key]
                packets.append(Packet(key, arrival, self._values(key, t), stamps=stamps))
            groups.append(packets)
        return collect(groups)
