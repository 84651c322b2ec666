"""Feature snapshots: what the controller sees at each tick.

A :class:`FeatureSnapshot` bundles the heart rate, skin-conductance level, SCR rate and
normalised arousal with their validity and the quality flags behind it, so no feature
computed from bad data is ever used silently.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FeatureSnapshot:
    """Physiological features at one moment (LSL clock seconds).

    Attributes
    ----------
    time
        When the snapshot was taken.
    hr_bpm, scl_us, scr_rate
        Smoothed heart rate (bpm), tonic skin conductance (uS), SCRs per minute; ``None``
        until known.
    arousal
        Normalised arousal 0..1 relative to the baseline; ``None`` during the baseline.
    valid
        False when any input the arousal depends on is flagged.
    flags
        Active quality flags as ``"role:flag"`` (e.g. ``"heart:dropout"``).
    """

    time: float
    hr_bpm: float | None
    scl_us: float | None
    scr_rate: float | None
    arousal: float | None
    valid: bool
    flags: tuple[str, ...] = ()

    def describe(self) -> str:
        """Short human-readable summary for logs and progress lines."""
        parts = [
            f"HR {self.hr_bpm:.0f} bpm" if self.hr_bpm is not None else "HR --",
            f"SCL {self.scl_us:.2f} uS" if self.scl_us is not None else "SCL --",
            f"arousal {self.arousal:.2f}" if self.arousal is not None else "arousal --",
        ]
        if self.flags:
            parts.append("flags " + ",".join(self.flags))
        return "  ".join(parts)
