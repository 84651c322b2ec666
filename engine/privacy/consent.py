"""Consent: which physiological streams may be recorded, for what, and for how long.

Session streams the engine makes itself (intensity, markers/events, frame timing, SUDS
answers, features derived from consented streams) are part of the therapy and always
recorded; the physiological **roles** a protocol resolves on LSL (``heart``, ``eda``,
``ppg``, ``hr``, ``resp``) are recorded only when consented. No consent at all is a
refusal (:class:`~engine.privacy.errors.ConsentError`, exit code 2 from the CLI).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from biosignals.roles import ROLE_NAMES
from engine.privacy.audit import AuditLog, canonical_json
from engine.privacy.errors import ConsentError
from engine.yamlconfig import describe_validation_error, field_name

if TYPE_CHECKING:
    from engine.privacy.keys import SiteKey

__all__ = [
    "PHYSIOLOGICAL_ROLES",
    "Consent",
    "consent_from_mapping",
    "filter_streams",
    "record_consent",
    "simulation_consent",
]

PHYSIOLOGICAL_ROLES = ROLE_NAMES
"""What consent is given for: the stream roles (:data:`biosignals.roles.ROLES`)."""
CONSENT_FILE = "consent.json"


def _utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


class Consent(BaseModel):
    """A participant's consent for one session (frozen).

    Attributes
    ----------
    streams
        Physiological roles that may be recorded (subset of :data:`PHYSIOLOGICAL_ROLES`).
    purpose
        What the data is for (e.g. ``"treatment"``, ``"study XYZ-12"``).
    retention_days
        How long the session may be kept (1-36500).
    given_by
        Who gave it: ``participant``, ``guardian`` or ``legal_representative`` (a role,
        never a name).
    recorded_at
        When it was recorded (UTC, timezone-aware).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    streams: tuple[str, ...]
    purpose: str = Field(min_length=1, max_length=200)
    retention_days: int = Field(ge=1, le=36500)
    given_by: Literal["participant", "guardian", "legal_representative"] = "participant"
    recorded_at: _dt.datetime = Field(default_factory=_utc_now)

    @field_validator("streams")
    @classmethod
    def _known_roles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [r for r in value if r not in PHYSIOLOGICAL_ROLES]
        if bad:
            raise ValueError(f"{bad} not among {', '.join(PHYSIOLOGICAL_ROLES)}")
        return tuple(sorted(set(value)))

    @field_validator("recorded_at")
    @classmethod
    def _aware(cls, value: _dt.datetime) -> _dt.datetime:
        if value.tzinfo is None:
            raise ValueError("must include a timezone (UTC)")
        return value.astimezone(_dt.UTC)

    def to_bytes(self) -> bytes:
        """Canonical JSON bytes (what is stored and hashed)."""
        return canonical_json(self.model_dump(mode="json"))

    def sha256(self) -> str:
        """SHA-256 hex of :meth:`to_bytes`."""
        return hashlib.sha256(self.to_bytes()).hexdigest()


def consent_from_mapping(
    data: Mapping[str, Any] | None, where: str, *, flag_prefix: str | None = None
) -> Consent:
    """Build a :class:`Consent` from a protocol's ``consent:`` mapping or CLI values.

    Parameters
    ----------
    data
        ``streams`` (list or comma-separated string), ``purpose``, ``retention_days``,
        optional ``given_by`` / ``recorded_at``; ``None`` means no consent was given.
    where
        Names the source in errors (e.g. ``protocol.yaml: consent``).
    flag_prefix
        When the values may come from command-line flags (``--consent-``), errors name
        the flag too (``--consent-purpose``).

    Raises
    ------
    ConsentError
        No consent, or a field is missing/invalid (message names the field).
    """
    if data is None:
        raise ConsentError(
            f"{where}: no consent given: recording needs the participant's consent "
            f"(streams, purpose, retention_days)"
        )
    values = dict(data)
    if isinstance(values.get("streams"), str):
        values["streams"] = [s.strip() for s in values["streams"].split(",") if s.strip()]
    try:
        return Consent.model_validate(values)
    except ValidationError as exc:

        def name(loc: tuple[str | int, ...]) -> str:
            field = field_name(loc[:1]) if loc else "consent"
            if flag_prefix is not None and field in Consent.model_fields:
                return f"{flag_prefix}{field.replace('_', '-')} (or {where}.{field})"
            return f"{where}.{field}"

        raise ConsentError(describe_validation_error(exc, Consent, name=name)) from None


def simulation_consent(roles: Iterable[str]) -> Consent:
    """Consent for a dry-run or demo against the simulated patient twin (no person's data):
    the given roles, purpose ``simulation``, kept 30 days."""
    return Consent(
        streams=tuple(roles),
        purpose="simulation (simulated patient, no participant)",
        retention_days=30,
    )


def filter_streams(
    roles: Iterable[str], consent: Consent | None, *, strict: bool = False
) -> tuple[str, ...]:
    """The roles of ``roles`` that ``consent`` allows (in order).

    Parameters
    ----------
    strict
        Raise instead of dropping roles that are not consented.

    Raises
    ------
    ConsentError
        ``consent`` is ``None``; or ``strict`` and some role is not consented (named).
    """
    if consent is None:
        raise ConsentError("no consent given: refusing to record physiological streams")
    wanted = tuple(roles)
    allowed = tuple(r for r in wanted if r in consent.streams)
    if strict and len(allowed) != len(wanted):
        missing = [r for r in wanted if r not in consent.streams]
        raise ConsentError(
            f"streams {missing} are not covered by consent (consented: "
            f"{', '.join(consent.streams) or 'none'})"
        )
    return allowed


def record_consent(
    folder: str | os.PathLike[str],
    consent: Consent,
    audit: AuditLog,
    *,
    session: str,
    key: SiteKey | None = None,
) -> Path:
    """Write the consent into the session folder (sealed when ``key`` is given) and log it.

    Writes ``consent.json`` (or ``consent.json.sealed``) and appends a ``consent`` entry with
    its SHA-256, streams, purpose and retention to the audit log. Returns the file.
    """
    root = Path(folder)
    data = consent.to_bytes()
    if key is None:
        path = root / CONSENT_FILE
        tmp = root / (CONSENT_FILE + ".tmp")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError as exc:
            raise ConsentError(f"cannot write {path}: {exc}") from exc
    else:
        from engine.privacy.sealed import write_sealed_bytes

        path = root / (CONSENT_FILE + ".sealed")
        write_sealed_bytes(path, data, key)
    audit.append(
        "consent",
        session=session,
        consent_sha256=consent.sha256(),
        streams=list(consent.streams),
        purpose=consent.purpose,
        retention_days=consent.retention_days,
        given_by=consent.given_by,
        sealed=key is not None,
    )
    return path
