"""One session's privacy wiring, for :mod:`engine.live`: consent, encrypted recording,
audit entries and the integrity manifest, in the order a session needs them.

::

    guard = SessionPrivacy(opts.out, folder, consent=opts.consent, key=opts.key,
                           actor=opts.operator)
    guard.check_streams(sources)               # ConsentError before anything is recorded
    recorder = XdfRecorder(folder / guard.recording_name, sink_factory=guard.sink_factory)
    guard.start(protocol.protocol, model_sha256(protocol), version)
    ...                                        # the session runs; guard.override(...)
    guard.finish(state, reason, duration_s)    # session_stop + integrity.json
    guard.write_report(recording_path)         # report.html(.sealed), listed in the manifest
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from engine.privacy.audit import AuditLog
from engine.privacy.consent import Consent, filter_streams, record_consent
from engine.privacy.errors import ConsentError
from engine.privacy.integrity import MANIFEST, add_to_integrity, session_ref, write_integrity
from engine.privacy.keys import SiteKey
from engine.privacy.sealed import SealedWriter, sealed_sink

__all__ = ["AUDIT_FILE", "SessionPrivacy"]

AUDIT_FILE = "audit.log"


class SessionPrivacy:
    """Privacy duties of one session folder ``<out>/<pseudonym>/<session>/``.

    Parameters
    ----------
    out
        The sessions folder; the site audit log is ``<out>/audit.log``.
    folder
        This session's folder (from ``new_session_dir``).
    consent
        The participant's consent; ``None`` raises :class:`ConsentError` at once.
    key
        Site key: the recording and the consent record are sealed with it.
    actor
        Who runs the session (the operator), named in every audit entry of the session.
    encryption_opt_out
        The operator chose to record in plaintext (``--no-encryption``): logged in
        ``session_start``.
    """

    def __init__(
        self,
        out: str | os.PathLike[str],
        folder: str | os.PathLike[str],
        *,
        consent: Consent | None,
        key: SiteKey | None = None,
        actor: str = "vrtherapy",
        encryption_opt_out: bool = False,
    ) -> None:
        if consent is None:
            raise ConsentError(
                "no consent given: give --consent-streams/--consent-purpose/"
                "--consent-retention-days or a consent: block in the protocol"
            )
        self.consent = consent
        self.key = key
        self.encryption_opt_out = encryption_opt_out and key is None
        self.folder = Path(folder)
        self.audit = AuditLog(Path(out) / AUDIT_FILE, actor=actor)
        self.session = session_ref(self.folder, self.audit.path)

    @property
    def recording_name(self) -> str:
        """``recording.xdf.sealed`` when encrypting, else ``recording.xdf``."""
        return "recording.xdf.sealed" if self.key is not None else "recording.xdf"

    @property
    def sink_factory(self) -> Callable[[Path], SealedWriter] | None:
        """For ``XdfRecorder(sink_factory=...)``: sealed records, or ``None`` (plain)."""
        return sealed_sink(self.key) if self.key is not None else None

    def check_streams(self, roles: Iterable[str]) -> tuple[str, ...]:
        """All ``roles`` if consented, else :class:`ConsentError` naming those that are not."""
        return filter_streams(roles, self.consent, strict=True)

    def start(self, protocol: str, protocol_sha256: str, software: str) -> None:
        """Write the consent record; log ``session_start``, ``consent``, ``protocol``."""
        self.audit.append(
            "session_start",
            session=self.session,
            encrypted=self.key is not None,
            key_id=self.key.key_id if self.key is not None else None,
            **({"encryption": "off: --no-encryption"} if self.encryption_opt_out else {}),
        )
        if self.key is not None:
            self.audit.append(
                "key_use", session=self.session, key_id=self.key.key_id, purpose="seal recording"
            )
        record_consent(self.folder, self.consent, self.audit, session=self.session, key=self.key)
        self.audit.append(
            "protocol",
            session=self.session,
            protocol=protocol,
            sha256=protocol_sha256,
            software=software,
        )

    def override(self, **details: Any) -> None:
        """Log a therapist override (intensity, stop...); details are JSON values."""
        self.audit.append("override", session=self.session, **details)

    def finish(
        self, state: str, reason: str, duration_s: float, *, ended_at: _dt.datetime | None = None
    ) -> dict[str, Any]:
        """Log ``session_stop`` and write ``integrity.json`` (call after every file is
        written: recording closed, summary, report). Returns the manifest."""
        self.audit.append(
            "session_stop",
            session=self.session,
            state=state,
            reason=reason,
            duration_s=round(duration_s, 3),
        )
        return write_integrity(self.folder, self.audit, ended_at=ended_at)

    @property
    def report_name(self) -> str:
        """``report.html.sealed`` when encrypting (health data stays sealed), else
        ``report.html``."""
        return "report.html.sealed" if self.key is not None else "report.html"

    def write_report(self, recording: Path, *, summary: Path | None = None) -> Path:
        """Write the session's clinician report into its folder and return its path.

        Sealed with the site key when the session is (open it with ``vrtherapy report
        SESSION --plaintext -o FILE``); ``summary`` defaults to the summary beside the
        recording, sealed or not. Written after :meth:`finish`, the report is added to
        ``integrity.json`` (an ``integrity`` audit entry; if that fails the report is
        removed); before, the manifest lists it.

        Raises
        ------
        VrTherapyError
            The report cannot be built or written (the session itself is complete).
        """
        from engine.report import build_report

        out = self.folder / self.report_name
        sealed = self.key is not None  # the summary is found beside (sealed with the key)
        path = build_report(recording, out, summary=summary, key=self.key, seal=sealed)
        if (self.folder / MANIFEST).is_file():
            try:
                add_to_integrity(self.folder, self.audit, path)
            except BaseException:  # unlisted, it would fail verify: leave no report at all
                path.unlink(missing_ok=True)
                raise
        return path
