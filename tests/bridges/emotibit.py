"""EmotiBit through the EmotiBit Oscilloscope's LSL output.

Written from EmotiBit/ofxEmotiBit (commit 45ba6ac), EmotiBit/ofxLSL (0fffda3) and
EmotiBit/EmotiBit_FeatherWing (47f981c):

* ``EmotiBitOscilloscope/bin/data/lslOutputSettings.json``: one LSL stream **per
  channel**, name = the channel name, type as listed: ``PPG_RED``/``PPGRed``,
  ``PPG_IR``/``PPGInfrared``, ``PPG_GRN``/``PPGGreen`` (25 Hz), ``HR``/``HeartRate``
  (irregular), ``EDA``/``EDA`` (15 Hz), ``SCR_AMP``/``SCRAmplitude``,
  ``SCR_RIS``/``SCRRiseTime``, ``SCR_FREQ``/``SCRFrequency`` (irregular),
  ``TEMP1``/``Temperature``, ``THERM``/``Thermopile`` (7.5 Hz), ``ACC_X..Z``,
  ``GYRO_X..Z``, ``MAG_X..Z`` (``Accelerometer X`` etc., 25 Hz).
* ``src/EmotiBitLsl.cpp`` ``addDataStreamOutputs``: ``addStream(name, type, 1,
  nominal_srate, cf_float32, sourceId)``, sourceId = the connected EmotiBit's identifier;
  no ``<desc>``.
* ``src/ofApp.cpp``: every value of a received packet is handed to
  ``emotibitLsl.addSample`` on its own; ``ofxLSLSender::addSample`` calls
  ``outlet->push_sample(values)`` without a timestamp: stamped on arrival at the PC.
* FeatherWing ``EmotiBit.h``: ``DATA_SEND_INTERVAL = 100`` ms (the device sends what it
  buffered every ~100 ms over Wi-Fi), so 2-3 PPG and 1-2 EDA samples share a stamp.
* [vendor] EDA in µS; PPG raw counts of the MAX30101.

[assumed] Identifier ``MD-V5-0000123``; 100-110 ms send cycle with 5-40 ms Wi-Fi latency;
PPG levels (IR ~80 000 with a ~600-count pulse, blood volume upward); the on-board
``HR`` stream gives one value per beat.
"""

from __future__ import annotations

import numpy as np

from bridges.base import Bridge, Packet, StreamDef
from bridges.truth import Truth

SOURCE = "MD-V5-0000123"
CHANNELS = (
    ("ppg_red", "PPG_RED", "PPGRed", 25.0),
    ("ppg_ir", "PPG_IR", "PPGInfrared", 25.0),
    ("ppg_grn", "PPG_GRN", "PPGGreen", 25.0),
    ("hr", "HR", "HeartRate", 0.0),
    ("eda", "EDA", "EDA", 15.0),
    ("scr_amp", "SCR_AMP", "SCRAmplitude", 0.0),
    ("scr_ris", "SCR_RIS", "SCRRiseTime", 0.0),
    ("scr_freq", "SCR_FREQ", "SCRFrequency", 0.0),
    ("temp1", "TEMP1", "Temperature", 7.5),
    ("therm", "THERM", "Thermopile", 7.5),
    *((f"{k.lower()}_{a.lower()}", f"{k}_{a}", f"{t}{a}", 25.0)
      for k, t in (("ACC", "Accelerometer"), ("GYRO", "Gyroscope"), ("MAG", "Magnetometer"))
      for a in "XYZ"),
)  # fmt: skip


class EmotiBitOscilloscope(Bridge):
    """The EmotiBit Oscilloscope with "LSL" ticked in its output list."""

    name = "emotibit"

    def __init__(self, truth: Truth, seed: int = 0, unix_offset: float = 0.0) -> None:
        super().__init__(truth, seed, unix_offset)
        self._cycle_end = self.start + 0.1
        self._arrival = self._cycle_end + 0.02
        self._sent = {key: 0 for key, *_ in CHANNELS}
        self._last_beat = self.start
        self._last_scr = self.start

    def streams(self) -> tuple[StreamDef, ...]:
        """19 one-channel streams, no ``<desc>``."""
        return tuple(
            StreamDef(key, name, kind, rate, "float32", SOURCE, 1)
            for key, name, kind, rate in CHANNELS
        )

    def next_due(self) -> float:
        """Arrival of the next send cycle."""
        return self._arrival

    def _regular(self, key: str, rate: float, t: np.ndarray) -> np.ndarray:
        if key == "eda":
            return np.round(self.truth.eda(t) + self.noise(t.size, 0.002), 4)
        if key.startswith("ppg"):
            gain = {"ppg_ir": 600.0, "ppg_red": 350.0, "ppg_grn": 150.0}[key]
            return np.round(80000.0 + gain * self.truth.ppg(t) + self.noise(t.size, 8.0))
        if key in ("temp1", "therm"):
            return 31.0 + self.noise(t.size, 0.02)
        return self.noise(t.size, 0.01)

    def _cycle(self, end: float, at: float) -> list[Packet]:
        out = []
        for key, _, _, rate in CHANNELS:
            if rate <= 0:
                continue
            upto = int(np.floor((end - self.start) * rate))
            k = np.arange(self._sent[key], upto)
            self._sent[key] = upto
            if k.size:
                values = self._regular(key, rate, self.start + k / rate)
                out.append(Packet(key, at, values.reshape(-1, 1)))
        beats = self.truth.beats_between(self._last_beat, end)
        if beats.size:
            self._last_beat = float(beats[-1])
            hr = np.round(60000.0 / self.truth.rr_ms(beats), 1)
            out.append(Packet("hr", at, hr.reshape(-1, 1)))
        lo, hi = np.searchsorted(self.truth.scr_onsets, [self._last_scr, end], side="right")
        if hi > lo:
            self._last_scr = float(self.truth.scr_onsets[hi - 1])
            amp = self.truth.scr_amplitudes[lo:hi].reshape(-1, 1)
            out += [Packet("scr_amp", at, amp), Packet("scr_ris", at, np.full(amp.shape, 1.0))]
        return out

    def packets(self, until: float) -> list[Packet]:
        """Every ~100 ms: all samples buffered since the last cycle, pushed unstamped."""
        out = []
        while self._arrival <= until:
            out += self._cycle(self._cycle_end, self._arrival)
            self._cycle_end += 0.1 + float(self.rng.uniform(0.0, 0.01))
            wifi = float(self.rng.uniform(0.005, 0.04))
            self._arrival = max(self._arrival, self._cycle_end + wifi)
        return out
