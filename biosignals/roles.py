"""The stream roles: the one list of what a protocol's ``streams:`` block may name.

Every other list of roles (protocol validation, consent, the feature pipeline, readers,
the ``streams`` command, docs) is derived from :data:`ROLES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = [
    "BEAT_ROLES",
    "HEART_ROLES",
    "ROLES",
    "ROLE_NAMES",
    "ROLE_UNITS",
    "WAVEFORM_ROLES",
    "RoleSpec",
    "check_role",
]


@dataclass(frozen=True)
class RoleSpec:
    """One stream role.

    Parameters
    ----------
    unit
        The canonical unit its values are converted to (``""``: no physical unit).
    waveform
        Whether it reads a waveform (``signal.content: waveform``); ``hr`` reads numbers.
    beats
        Whether its extractor detects heart beats (recorded as ``vrtherapy-beats-<role>``).
    heart_rank
        Preference as the heart-rate source (0 best); ``None`` for non-heart roles.
    description
        What it is, for messages and docs.
    """

    unit: str
    waveform: bool
    beats: bool
    heart_rank: int | None
    description: str


ROLES: Final = MappingProxyType(
    {
        "heart": RoleSpec("mV", True, True, 0, "ECG waveform"),
        "ppg": RoleSpec("", True, True, 1, "pulse (photoplethysmogram) waveform"),
        "hr": RoleSpec("bpm", False, False, 2, "heart rate or RR intervals from a device"),
        "eda": RoleSpec("uS", True, False, None, "skin conductance (EDA/GSR)"),
    }
)
"""Role name -> :class:`RoleSpec`, in protocol order. Read-only."""

ROLE_NAMES: Final = tuple(ROLES)
ROLE_UNITS: Final = MappingProxyType({name: spec.unit for name, spec in ROLES.items()})
WAVEFORM_ROLES: Final = tuple(name for name, spec in ROLES.items() if spec.waveform)
BEAT_ROLES: Final = tuple(name for name, spec in ROLES.items() if spec.beats)
HEART_ROLES: Final = tuple(
    sorted(
        (name for name, spec in ROLES.items() if spec.heart_rank is not None),
        key=lambda name: ROLES[name].heart_rank or 0,
    )
)
"""Roles that give a heart rate, best first (ECG > PPG > device HR)."""


def check_role(value: str) -> str:
    """``value`` if it is a role, else ValueError naming the roles (a pydantic validator)."""
    if value not in ROLES:
        raise ValueError(f"{value!r} is not one of {', '.join(ROLE_NAMES)}")
    return value
