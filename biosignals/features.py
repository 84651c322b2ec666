"""Feature snapshots: what the controller sees at each tick.

A :class:`FeatureSnapshot` bundles the heart rate (with the source it came from), HRV,
skin-conductance level, SCR rate and normalised arousal with their validity and the
quality flags behind it, so no feature computed from bad data is ever used silently.
"""

from __future__ import annotations

from dataclasses import dataclass

from biosignals.arousal import ArousalSample


@dataclass(frozen=True, slots=True)
class FeatureSnapshot:
    """Physiological features at one moment (LSL clock seconds).

    Attributes
    ----------
    time
        When the snapshot was taken.
    hr_bpm, scl_us, scr_rate
        Smoothed heart rate (bpm), tonic skin conductance (uS), SCRs per minute; ``None``
        until known or while their source is flagged.
    arousal
        Normalised arousal 0..1 relative to the baseline; ``None`` during the baseline or
        while invalid.
    valid
        False when a feature group the protocol streams (heart, skin) has no unflagged
        source with a value.
    flags
        Active quality flags of every stream as ``"role:flag"`` (e.g. ``"heart:dropout"``),
        including a flagged source that a better-quality one replaced.
    rmssd_ms, sdnn_ms
        HRV over the last 60 s of beats (ms) from the ECG or PPG source of ``hr_bpm``.
    rmssd_10s_ms, sdnn_10s_ms
        The same over the last 10 s.
    hr_source
        Role the heart rate came from (``"heart"``, ``"ppg"`` or ``"hr"``).
    arousal_detail
        The arousal index with its inputs, parts and validity.
    """

    time: float
    hr_bpm: float | None
    scl_us: float | None
    scr_rate: float | None
    arousal: float | None
    valid: bool
    flags: tuple[str, ...] = ()
    rmssd_ms: float | None = None
    sdnn_ms: float | None = None
    rmssd_10s_ms: float | None = None
    sdnn_10s_ms: float | None = None
    hr_source: str | None = None
    arousal_detail: ArousalSample | None = None

    def describe(self) -> str:
        """Short human-readable summary for logs and progress lines."""
        parts = [
            f"HR {self.hr_bpm:.0f} bpm" if self.hr_bpm is not None else "HR --",
            f"RMSSD {self.rmssd_ms:.0f} ms" if self.rmssd_ms is not None else "RMSSD --",
            f"SCL {self.scl_us:.2f} uS" if self.scl_us is not None else "SCL --",
            f"arousal {self.arousal:.2f}" if self.arousal is not None else "arousal --",
        ]
        if self.flags:
            parts.append("flags " + ",".join(self.flags))
        return "  ".join(parts)
