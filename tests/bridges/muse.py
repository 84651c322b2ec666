"""Muse 2 / Muse S PPG through muselsl (``muselsl stream --ppg``).

Written from alexandrebarachant/muse-lsl (commit 797d01c):

* ``muselsl/lsl_outlet.py`` ``build_outlet``: ``StreamInfo('Muse', descriptor.stype,
  n_channels, rate, 'float32', 'Muse%s' % address)`` -- every stream is named ``Muse``
  with the same source_id; ``<desc>``: ``manufacturer`` = ``Muse``, per channel
  ``label``, ``unit``, ``type`` (``EEG``, ``PPG``); ``StreamOutlet(info, chunk)``.
* ``muselsl/muse.py`` ``stream_descriptors``: EEG = 5 channels ``TP9 AF7 AF8 TP10
  Right AUX``, 256 Hz, chunk 12, ``microvolts``; PPG = ``PPG1 PPG2 PPG3``, 64 Hz, chunk 6,
  unit ``mmHg`` (wrong: the values are raw optical counts). ``constants.py``: the PPG
  characteristics are commented ambient (PPG1), infrared (PPG2), red (PPG3).
* ``muse.py`` ``_handle_ppg``: one notification per PPG channel with 6 unsigned 24-bit
  samples; after the third, ``timestamps = reg_ppg_sample_rate[1] * idxs +
  reg_ppg_sample_rate[0]``, i.e. ``t0 + k / 64`` where ``t0 = time_func()`` when the first
  EEG packet arrived (``_init_timestamp_correction``; the PPG fit is never updated).
  ``time_func`` is ``time.time`` unless ``--lsltime``: **Unix stamps**.
* ``stream.py`` ``push``: ``outlet.push_sample(data[:, ii], timestamps[ii])`` per sample.
* EEG timestamps come from a recursive least-squares fit of arrival times; emulated here
  as ``t0 + k / 256`` (what the fit converges to).

[assumed] Optical levels (ambient ~60 000, infrared ~200 000 with a ~2 000-count pulse, red
~150 000) and pulse polarity (blood volume upward); 15-45 ms BLE latency; address
``00:55:DA:B0:12:34``.
"""

from __future__ import annotations

import numpy as np

from bridges.base import Bridge, Channel, Packet, PacketClock, StreamDef, collect
from bridges.truth import Truth

ADDRESS = "00:55:DA:B0:12:34"
EEG_RATE, PPG_RATE = 256.0, 64.0


class Muselsl(Bridge):
    """``muselsl stream --ppg --address 00:55:DA:B0:12:34`` (EEG is on by default)."""

    name = "muse"

    def __init__(self, truth: Truth, seed: int = 0, unix_offset: float = 0.0) -> None:
        super().__init__(truth, seed, unix_offset)
        lat = (0.015, 0.045)
        self.eeg = PacketClock(self.start, EEG_RATE, 12, lat, np.random.default_rng(seed + 1))
        self.ppg = PacketClock(self.start, PPG_RATE, 6, lat, np.random.default_rng(seed + 2))
        first_eeg = self.eeg.next_due  # muselsl's t0: time.time() at the first EEG packet
        self.t0_unix = first_eeg + self.unix_offset

    def streams(self) -> tuple[StreamDef, ...]:
        """EEG and PPG, both named ``Muse`` with one source_id."""
        source = f"Muse{ADDRESS}"
        desc = (("manufacturer", "Muse"),)
        eeg = tuple(Channel(x, "microvolts", "EEG", order=("label", "unit", "type"))
                    for x in ("TP9", "AF7", "AF8", "TP10", "Right AUX"))  # fmt: skip
        ppg = tuple(Channel(x, "mmHg", "PPG", order=("label", "unit", "type"))
                    for x in ("PPG1", "PPG2", "PPG3"))  # fmt: skip
        return (
            StreamDef("eeg", "Muse", "EEG", EEG_RATE, "float32", source, eeg, desc, 12),
            StreamDef("ppg", "Muse", "PPG", PPG_RATE, "float32", source, ppg, desc, 6),
        )

    def next_due(self) -> float:
        """The next EEG or PPG packet."""
        return min(self.eeg.next_due, self.ppg.next_due)

    def packets(self, until: float) -> list[Packet]:
        """EEG (12 samples) and PPG (6 samples x 3 channels) packets, Unix-stamped."""
        eeg = []
        for t, arrival in self.eeg.due(until):
            k = np.round((t - self.start) * EEG_RATE)
            values = self.noise(t.size * 5, 8.0).reshape(-1, 5) + 800.0
            eeg.append(Packet("eeg", arrival, values, stamps=self.t0_unix + k / EEG_RATE))
        ppg = []
        for t, arrival in self.ppg.due(until):
            k = np.round((t - self.start) * PPG_RATE)
            pulse = self.truth.ppg(t)
            ambient = 60000.0 + self.noise(t.size, 30.0)
            infrared = 200000.0 + 2000.0 * pulse + self.noise(t.size, 20.0)
            red = 150000.0 + 1200.0 * pulse + self.noise(t.size, 20.0)
            values = np.round(np.column_stack([ambient, infrared, red]))
            ppg.append(Packet("ppg", arrival, values, stamps=self.t0_unix + k / PPG_RATE))
        return collect([eeg, ppg])
