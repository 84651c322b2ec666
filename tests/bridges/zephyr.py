"""Zephyr BioHarness 3 through App-Zephyr (LSL's own app), all streams on (its default).

Written from labstreaminglayer/App-Zephyr (commit 4eba3d0) ``main.py`` and
``core/protocol.py``:

* Names are ``--streamprefix`` (default ``Zephyr``) + kind; source_ids are the device
  serial + ``-`` + kind; formats ``float32`` (StreamInfo's default); ``<desc>``
  ``acquisition``: ``manufacturer`` ``Medtronic``, ``model`` ``Zephyr BioHarness``.
* ``ZephyrECG``: type ``ECG``, 250 Hz, channel ``label ECG1``, ``type ECG``, ``unit
  millivolts``. ``ECGWaveformMessage``: 63 10-bit samples per packet (252 ms), ``v - 512``
  (a raw 0 is NaN) times 0.025 mV. ``on_ecg``: ``outlet.push_chunk([[v] for v in
  msg.waveform])`` without a timestamp: liblsl stamps the last sample "now" and back-dates
  the others at 250 Hz, so Bluetooth latency jitter makes stamps step back at packet
  joins.
* ``ZephyrResp`` ``Respiration`` 1000/56 Hz (18 samples per packet); ``ZephyrAccel100mg``
  and ``ZephyrAccel`` ``Mocap`` 3 channels X/Y/Z 50 Hz (20 per packet; ``g`` resp.
  ``unnormalized``); ``ZephyrRtoR`` ``Misc`` 1000/56 Hz (18 per packet; the last RR in ms,
  held until the next beat, its sign alternating at each new beat); ``ZephyrMarkers``
  ``Markers``, irregular, ``string``: ``'{event}/{data}@{time}'``.
* ``ZephyrSummary`` and ``ZephyrGeneral``: type ``Misc``, 1 Hz, created only when the
  first packet arrives, one channel per field of the message (``as_dict()``: 53 for a
  summary packet version 2, 29 for a general packet) with ``label`` and, where
  ``get_unit`` knows it, ``unit`` (``heart_rate``: ``BPM``); ``push_sample`` without a
  timestamp. ``heart_rate`` is the device's own estimate.

[assumed] Serial ``BHT012345``; 0-36 ms Bluetooth latency jitter; summary version 2; the
device's heart rate = 60 / mean of its last 4 RRs, rounded.
"""

from __future__ import annotations

import time

import numpy as np

from bridges.base import Bridge, Channel, Packet, PacketClock, StreamDef, collect
from bridges.truth import Truth

SERIAL = "BHT012345"
BREATH_RATE = 1000.0 / 56.0
_UNITS = {
    "activity": "g", "battery_percent": "percent", "battery_voltage": "Volts",
    "breathing_rate_confidence": "percent", "breathing_wave_amplitude": "unnormalized",
    "breathing_wave_noise": "unnormalized", "device_internal_temp": "degrees C",
    "device_worn_confidence": "normalized", "ecg_amplitude": "Volts", "ecg_noise": "Volts",
    "estimated_core_temperature": "degrees C", "gsr": "nanosiemens", "heart_rate": "BPM",
    "heart_rate_confidence": "percent", "heart_rate_variability": "ms",
    "lateral_accel_min": "g", "lateral_accel_peak": "g", "link_quality": "percent",
    "peak_acceleration": "g", "posture": "degrees", "respiration_rate": "BPM", "rssi": "dB",
    "sagittal_accel_min": "g", "sagittal_accel_peak": "g", "skin_temperature": "degrees C",
    "system_confidence": "percent", "tx_power": "dBm", "vertical_accel_min": "g",
    "vertical_accel_peak": "g",
}  # fmt: skip
_BINARY = (
    "button_pressed",
    "not_fitted_to_garment",
    "heart_rate_unreliable",
    "respiration_rate_unreliable",
    "skin_temperature_unreliable",
    "posture_unreliable",
    "activity_unreliable",
    "hrv_unreliable",
    "estimated_core_temp_unreliable",
    "usb_power_connected",
    "resting_state_detected",
    "external_sensors_connected",
    "resp_rate_low",
    "resp_rate_high",
    "br_amplitude_low",
    "br_amplitude_high",
    "br_amplitude_variance_high",
    "ui_button_pressed",
    "physio_monitor_worn",
    "heart_rate_is_low_quality",
)
SUMMARY_FIELDS = (
    "seq_no",
    "stamp",
    "heart_rate",
    "respiration_rate",
    "skin_temperature",
    "posture",
    "activity",
    "peak_acceleration",
    "battery_voltage",
    "battery_percent",
    "breathing_wave_amplitude",
    "breathing_wave_noise",
    "breathing_rate_confidence",
    "ecg_amplitude",
    "ecg_noise",
    "heart_rate_confidence",
    "heart_rate_variability",
    "system_confidence",
    "gsr",
    "rog",
    "vertical_accel_min",
    "vertical_accel_peak",
    "lateral_accel_min",
    "lateral_accel_peak",
    "sagittal_accel_min",
    "sagittal_accel_peak",
    "device_internal_temp",
    "device_worn_confidence",
    "button_pressed",
    "not_fitted_to_garment",
    "heart_rate_unreliable",
    "respiration_rate_unreliable",
    "skin_temperature_unreliable",
    "posture_unreliable",
    "activity_unreliable",
    "hrv_unreliable",
    "estimated_core_temp_unreliable",
    "usb_power_connected",
    "resting_state_detected",
    "external_sensors_connected",
    "link_quality",
    "rssi",
    "tx_power",
    "estimated_core_temperature",
    "aux_adc_chan1",
    "aux_adc_chan2",
    "aux_adc_chan3",
    "resp_rate_low",
    "resp_rate_high",
    "br_amplitude_low",
    "br_amplitude_high",
    "br_amplitude_variance_high",
    "br_signal_eval_state",
)
GENERAL_FIELDS = (
    "seq_no",
    "stamp",
    "heart_rate",
    "respiration_rate",
    "skin_temperature",
    "posture",
    "vmu_activity",
    "peak_acceleration",
    "battery_voltage",
    "breathing_wave_amplitude",
    "ecg_amplitude",
    "ecg_noise",
    "vertical_accel_min",
    "vertical_accel_peak",
    "lateral_accel_min",
    "lateral_accel_peak",
    "sagittal_accel_min",
    "sagittal_accel_peak",
    "system_channel",
    "gsr",
    "unused1",
    "unused2",
    "rog",
    "alarm",
    "physio_monitor_worn",
    "ui_button_pressed",
    "heart_rate_is_low_quality",
    "external_sensors_connected",
    "battery_percent",
)
_TYPICAL = {
    "respiration_rate": 14.0, "skin_temperature": 33.0, "posture": 5.0, "activity": 0.02,
    "vmu_activity": 0.02, "battery_voltage": 4.0, "battery_percent": 80.0,
    "breathing_wave_amplitude": 120.0, "breathing_wave_noise": 5.0,
    "breathing_rate_confidence": 90.0, "ecg_amplitude": 0.0012, "ecg_noise": 0.00002,
    "heart_rate_confidence": 100.0, "heart_rate_variability": 40.0, "system_confidence": 100.0,
    "device_worn_confidence": 1.0, "link_quality": 95.0, "rssi": -50.0, "tx_power": 0.0,
    "estimated_core_temperature": 37.0, "device_internal_temp": 30.0, "physio_monitor_worn": 1.0,
    "vertical_accel_min": -1.02, "vertical_accel_peak": -0.98, "gsr": float("nan"),
}  # fmt: skip
_ACQ = (("acquisition", (("manufacturer", "Medtronic"), ("model", "Zephyr BioHarness"))),)


def _fields(keys: list[str]) -> tuple[Channel, ...]:
    return tuple(Channel(k, _UNITS.get(k), order=("label", "unit")) for k in keys)


class AppZephyr(Bridge):
    """``python main.py --address <MAC>`` (every stream, prefix ``Zephyr``)."""

    name = "zephyr"

    def __init__(self, truth: Truth, seed: int = 0, unix_offset: float = 0.0) -> None:
        super().__init__(truth, seed, unix_offset)
        s = self.start
        jitter = (0.0, 0.036)
        self.clocks = {
            "ecg": PacketClock(s, 250.0, 63, jitter, np.random.default_rng(seed + 1)),
            "resp": PacketClock(s, BREATH_RATE, 18, jitter, np.random.default_rng(seed + 2)),
            "acc100mg": PacketClock(s, 50.0, 20, jitter, np.random.default_rng(seed + 3)),
            "acc": PacketClock(s, 50.0, 20, jitter, np.random.default_rng(seed + 4)),
            "rtor": PacketClock(s, BREATH_RATE, 18, jitter, np.random.default_rng(seed + 5)),
            "summary": PacketClock(s, 1.0, 1, jitter, np.random.default_rng(seed + 6)),
            "general": PacketClock(s + 0.5, 1.0, 1, jitter, np.random.default_rng(seed + 7)),
        }
        self._marker_at: float | None = s + 2.0
        self._seq = 0

    def streams(self) -> tuple[StreamDef, ...]:
        """ECG, Resp, Accel100mg, Accel, RtoR, Markers, Summary (lazy), General (lazy)."""
        xyz = ("X", "Y", "Z")
        return (
            StreamDef("ecg", "ZephyrECG", "ECG", 250.0, "float32", f"{SERIAL}-ECG",
                      (Channel("ECG1", "millivolts", "ECG"),), _ACQ),
            StreamDef("resp", "ZephyrResp", "Respiration", BREATH_RATE, "float32",
                      f"{SERIAL}-Resp", (Channel("Respiration", "unnormalized", "EXG"),), _ACQ),
            StreamDef("acc100mg", "ZephyrAccel100mg", "Mocap", 50.0, "float32",
                      f"{SERIAL}-Accel100mg",
                      tuple(Channel(a, "g", f"Acceleration{a}", order=("label", "unit", "type"))
                            for a in xyz), _ACQ),
            StreamDef("acc", "ZephyrAccel", "Mocap", 50.0, "float32", f"{SERIAL}-Accel",
                      tuple(Channel(a, "unnormalized", f"Acceleration{a}") for a in xyz), _ACQ),
            StreamDef("rtor", "ZephyrRtoR", "Misc", BREATH_RATE, "float32", f"{SERIAL}-RtoR",
                      (Channel("RtoR", "milliseconds", "Misc", order=("label", "unit", "type")),),
                      _ACQ),
            StreamDef("markers", "ZephyrMarkers", "Markers", 0.0, "string",
                      f"{SERIAL}-Markers", 1),
            StreamDef("summary", "ZephyrSummary", "Misc", 1.0, "float32", f"{SERIAL}-Summary",
                      _fields(SUMMARY_FIELDS), _ACQ, lazy=True),
            StreamDef("general", "ZephyrGeneral", "Misc", 1.0, "float32", f"{SERIAL}-General",
                      _fields(GENERAL_FIELDS), _ACQ, lazy=True),
        )  # fmt: skip

    def next_due(self) -> float:
        """The next packet of any stream."""
        due = min(c.next_due for c in self.clocks.values())
        return due if self._marker_at is None else min(due, self._marker_at)

    def _device_hr(self, at: float) -> float:
        beats = self.truth.beats_between(at - 6.0, at)
        return float(round(60.0 / float(np.diff(beats)[-4:].mean()))) if beats.size > 2 else 0.0

    def _message(self, fields: list[str], at: float) -> np.ndarray:
        self._seq = (self._seq + 1) % 256
        values = {"seq_no": float(self._seq), "stamp": at + self.unix_offset,
                  "heart_rate": self._device_hr(at)}  # fmt: skip
        row = [values.get(k, _TYPICAL.get(k, 0.0 if k in _BINARY else float("nan")))
               for k in fields]  # fmt: skip
        return np.array([row], dtype=np.float64)

    def _rtor(self, t: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(self.truth.beats, t, side="right") - 1
        rr = np.round(self.truth.rr_ms(self.truth.beats[np.maximum(idx, 0)]))
        return np.where(idx % 2 == 0, rr, -rr)

    def _waveform(self, key: str, t: np.ndarray) -> np.ndarray:
        if key == "ecg":
            counts = np.clip(np.round((self.truth.ecg(t) + self.noise(t.size, 0.01)) / 0.025),
                             -511, 511)  # fmt: skip
            return (counts * 0.025).reshape(-1, 1)
        if key == "resp":
            phase = 2 * np.pi * 0.25 * (t - self.start)
            return np.round(200 * np.sin(phase) + self.noise(t.size, 3.0)).reshape(-1, 1)
        if key == "rtor":
            return self._rtor(t).reshape(-1, 1)
        scale = 0.1 if key == "acc100mg" else 1.0
        still = np.array([0.0, 0.0, -10.0])
        g = np.round(self.noise(t.size * 3, 0.3).reshape(-1, 3) + still) * scale
        return g if key == "acc100mg" else g + 512.0

    def packets(self, until: float) -> list[Packet]:
        """Waveform packets as back-dated chunks; summary/general one unstamped sample each."""
        groups: list[list[Packet]] = []
        for key, clock in self.clocks.items():
            if key in ("summary", "general"):
                fields = SUMMARY_FIELDS if key == "summary" else GENERAL_FIELDS
                groups.append([Packet(key, at, self._message(fields, at))
                               for _, at in clock.due(until)])  # fmt: skip
            else:
                groups.append([Packet(key, at, self._waveform(key, t), how="chunk")
                               for t, at in clock.due(until)])  # fmt: skip
        if self._marker_at is not None and self._marker_at <= until:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S",
                                  time.localtime(self._marker_at + self.unix_offset))  # fmt: skip
            text = np.array([[f"worn status change/[1]@{stamp}"]], dtype=object)
            groups.append([Packet("markers", self._marker_at, text)])
            self._marker_at = None
        return collect(groups)
