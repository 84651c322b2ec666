"""BrainAmp (Brain Products) with an ECG lead, through the BrainAmpSeries LSL connector.

Written from brain-products/App-BrainAmpSeries ``mainwindow.cpp``, ``read_thread``:

* v1.17+ (commit f4f6dc5, v1.18): ``stream_info("BrainAmpSeries", "EEG", channelCount,
  sampling_rate, cf_float32, "BrainAmpSeries_SR-" + std::to_string(sampling_rate))`` (so
  ``BrainAmpSeries_SR-500.000000``); per channel ``label`` (as typed in the app),
  ``type`` (``EEG``, ``ExG`` for ExG aux channels), ``unit`` ``microvolts``,
  ``scalingfactor`` (``0.100000`` at 100 nV resolution); ``<desc>`` ``amplifier/settings``
  (``low_impedance_mode``, ``dc_coupling``), ``acquisition`` (``manufacturer`` ``Brain
  Products``, ``serial_number``, ``compensated_lag``), ``versions``. Values are counts x
  0.1 µV. ``data_outlet.push_chunk(send_buffer_vec, now)`` per block of ``chunkSize``
  (default 32) samples with ``now = local_clock() - compensated lag``: liblsl back-dates
  the block from ``now``. Release notes 1.17: "remove raw streaming data option".
* v1.16 (commit b818927) with "send raw stream": name ``BrainAmpSeries-Dev_1``,
  source_id ``BrainAmpSeries-Dev_1_SR-500.000000``, ``cf_int16`` counts, every channel
  still declared ``unit`` ``microvolts``, with ``scaling_factor`` ``0.100000``.

[assumed] 32 channels at 500 Hz with the ECG lead on the last one, labelled ``ECG`` (a
32-channel cap's layout; labels are whatever the user typed); serial number 0;
compensated lag 0; USB blocks delivered 2-8 ms after the last sample.
"""

from __future__ import annotations

import numpy as np

from bridges.base import Bridge, Channel, Packet, PacketClock, StreamDef
from bridges.truth import Truth

RATE = 500.0
CHUNK = 32
LABELS = (
    "Fp1",
    "Fp2",
    "F3",
    "F4",
    "C3",
    "C4",
    "P3",
    "P4",
    "O1",
    "O2",
    "F7",
    "F8",
    "T7",
    "T8",
    "P7",
    "P8",
    "Fz",
    "Cz",
    "Pz",
    "Oz",
    "FC1",
    "FC2",
    "CP1",
    "CP2",
    "FC5",
    "FC6",
    "CP5",
    "CP6",
    "TP9",
    "TP10",
    "POz",
    "ECG",
)


class BrainAmpSeries(Bridge):
    """The BrainAmpSeries connector v1.18 (``raw=False``) or v1.16 with "send raw stream"."""

    name = "brainamp"

    def __init__(
        self, truth: Truth, seed: int = 0, unix_offset: float = 0.0, raw: bool = False
    ) -> None:
        super().__init__(truth, seed, unix_offset)
        self.raw = raw
        self.clock = PacketClock(self.start, RATE, CHUNK, (0.002, 0.008), self.rng)

    def streams(self) -> tuple[StreamDef, ...]:
        """The one EEG-typed stream."""
        sr = f"_SR-{RATE:.6f}"
        if self.raw:
            channels = tuple(
                Channel(lab, "microvolts", "EEG", extra=(("scaling_factor", "0.100000"),))
                for lab in LABELS
            )
            desc = (("amplifier", (("settings", (("low_impedance_mode", "false"),
                                                 ("resolution", "100 nV"),
                                                 ("resolutionfactor", "0.100000"),
                                                 ("dc_coupling", "AC"))),)),
                    ("acquisition", (("manufacturer", "Brain Products"),
                                     ("serial_number", "0"))))  # fmt: skip
            name = "BrainAmpSeries-Dev_1"
            return (StreamDef("eeg", name, "EEG", RATE, "int16", name + sr, channels, desc),)
        channels = tuple(
            Channel(lab, "microvolts", "EEG", extra=(("scalingfactor", "0.100000"),))
            for lab in LABELS
        )
        desc = (("amplifier", (("settings", (("low_impedance_mode", "false"),
                                             ("dc_coupling", "AC"))),)),
                ("acquisition", (("manufacturer", "Brain Products"), ("serial_number", "0"),
                                 ("compensated_lag", "0.000000"))),
                ("versions", (("lsl_protocol", "1.10"), ("liblsl", "1.16"),
                              ("App", "1.18.0"))))  # fmt: skip
        name = "BrainAmpSeries"
        return (StreamDef("eeg", name, "EEG", RATE, "float32", name + sr, channels, desc),)

    def next_due(self) -> float:
        """The next USB block."""
        return self.clock.next_due

    def packets(self, until: float) -> list[Packet]:
        """Blocks of 32 samples x 32 channels (0.1 µV counts), pushed back-dated from now."""
        out = []
        for t, arrival in self.clock.due(until):
            eeg = self.noise(t.size * 31, 10.0).reshape(-1, 31)
            ecg_uv = self.truth.ecg(t) * 1000.0 + self.noise(t.size, 5.0)
            counts = np.clip(np.round(np.column_stack([eeg, ecg_uv]) / 0.1), -32768, 32767)
            values = counts if self.raw else counts * 0.1
            out.append(Packet("eeg", arrival, values, how="chunk"))
        return out
