"""Privacy, consent and audit: encryption at rest, hash-chained audit log, consent,
retention purge, pseudonymity helpers.

* :mod:`~engine.privacy.keys` -- site keys (key file or passphrase/scrypt), data-key wrap.
* :mod:`~engine.privacy.sealed` -- AES-256-GCM sealed append-only files; ``sealed_sink``
  plugs into :class:`engine.record.XdfRecorder`.
* :mod:`~engine.privacy.audit` -- ``<out>/audit.log``, SHA-256 hash chain.
* :mod:`~engine.privacy.integrity` -- per-session ``integrity.json`` anchored in the log.
* :mod:`~engine.privacy.consent` -- frozen :class:`Consent`, stream filter.
* :mod:`~engine.privacy.purge` -- retention.
* :mod:`~engine.privacy.pseudonym` -- sealed identity map, identifier scan.
* :mod:`~engine.privacy.session_guard` -- :class:`SessionPrivacy`, one session's wiring.
* :mod:`~engine.privacy.site` -- the site folder and its key; the operator.
* :mod:`~engine.privacy.review` -- integrity before reading; outputs kept off a session's
  record.
* :mod:`~engine.privacy.cli`, :mod:`~engine.privacy.cli_keys`,
  :mod:`~engine.privacy.review_cli` -- argparse pieces for ``vrtherapy``.
"""

from __future__ import annotations

from engine.privacy.audit import AuditLog, VerifyResult, model_sha256, read_entries, verify_chain
from engine.privacy.consent import (
    Consent,
    consent_from_mapping,
    filter_streams,
    record_consent,
    simulation_consent,
)
from engine.privacy.errors import (
    AuditError,
    ConsentError,
    DecryptionError,
    IntegrityError,
    KeyFileError,
    PrivacyError,
    PurgeError,
    SealedFileError,
)
from engine.privacy.integrity import SessionCheck, verify_session, write_integrity
from engine.privacy.keys import SiteKey, create_passphrase_key, create_site_key, load_site_key
from engine.privacy.pseudonym import IdentifierHit, IdentityMap, scan_for_identifiers
from engine.privacy.purge import Purged, purge_expired, purge_older_than
from engine.privacy.sealed import (
    SealedCheck,
    SealedReader,
    SealedWriter,
    read_sealed_bytes,
    sealed_sink,
    verify_sealed,
    write_sealed_bytes,
)
from engine.privacy.session_guard import SessionPrivacy

__all__ = [
    "AuditError",
    "AuditLog",
    "Consent",
    "ConsentError",
    "DecryptionError",
    "IdentifierHit",
    "IdentityMap",
    "IntegrityError",
    "KeyFileError",
    "PrivacyError",
    "PurgeError",
    "Purged",
    "SealedCheck",
    "SealedFileError",
    "SealedReader",
    "SealedWriter",
    "SessionCheck",
    "SessionPrivacy",
    "SiteKey",
    "VerifyResult",
    "consent_from_mapping",
    "create_passphrase_key",
    "create_site_key",
    "filter_streams",
    "load_site_key",
    "model_sha256",
    "purge_expired",
    "purge_older_than",
    "read_entries",
    "read_sealed_bytes",
    "record_consent",
    "scan_for_identifiers",
    "sealed_sink",
    "simulation_consent",
    "verify_chain",
    "verify_sealed",
    "verify_session",
    "write_integrity",
    "write_sealed_bytes",
]
