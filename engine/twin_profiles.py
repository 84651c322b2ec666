"""Loading patient-twin profiles (YAML) with file:line errors."""

from __future__ import annotations

from biosignals.twin import TwinProfile
from engine.protocol import resolve_seed
from engine.yamlconfig import load_model


def load_patient(name_or_path: str) -> TwinProfile:
    """A profile file, or a shipped profile by name (``typical``)."""
    return load_model(resolve_seed("patients", name_or_path), TwinProfile, what="patient profile")
