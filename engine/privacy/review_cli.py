"""Command-line glue shared by ``report``, ``export`` and ``replay``: the site key found by
itself, the session's integrity checked before anything is read, outputs kept off the
session's record, and one audit entry per command naming the operator.

::

    review = open_review(args, "export")       # IntegrityError on a changed file
    register = review.check_output(target)     # IntegrityError: would replace a session file
    with review.decrypting():                  # failed decryptions are audited
        paths = export_edf(review.recording, target, key=review.key)
    review.audit("export", output=str(target))
    review.register(register, paths)           # the session's manifest lists the export
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.privacy.audit import AuditLog
from engine.privacy.errors import DecryptionError, IntegrityError
from engine.privacy.integrity import add_files_to_integrity, session_ref
from engine.privacy.keys import SiteKey
from engine.privacy.review import (
    EXPORTS,
    ReadCheck,
    check_before_reading,
    check_output,
    recording_of,
)
from engine.privacy.sealed import is_sealed

__all__ = ["Review", "add_review_options", "open_review"]

_MAX_LISTED = 5


def add_review_options(p: argparse.ArgumentParser) -> None:
    """``--key``, ``--key-passphrase-env``, ``--operator`` and ``--unverified``."""
    from engine.privacy.cli import add_key_options, add_operator_option

    add_key_options(p)
    add_operator_option(p)
    p.add_argument(
        "--unverified",
        action="store_true",
        help="read a session whose files do not match its integrity.json (forensic use: "
        "logged in the audit trail with the operator)",
    )


@dataclass
class Review:
    """One review command's view of its input (see :func:`open_review`)."""

    command: str
    recording: Path
    operator: str
    key: SiteKey | None
    sealed: bool
    check: ReadCheck
    unverified: bool

    @property
    def folder(self) -> Path | None:
        """The input's session folder, ``None`` outside any session."""
        return self.check.folder

    def audit(self, event: str, **details: Any) -> bool:
        """Append ``event`` to the session's site audit log; False when there is none."""
        if self.check.audit is None or self.folder is None:
            return False
        if self.unverified:
            details["unverified"] = True
        log = AuditLog(self.check.audit, actor=self.operator)
        log.append(event, session=session_ref(self.folder, log.path), **details)
        return True

    def default_output(self, name: str) -> Path:
        """Where an export goes without ``-o``: ``exports/NAME`` in a session folder,
        ``NAME`` beside a recording outside any session.

        Raises
        ------
        IntegrityError
            The session is encrypted: a readable copy is written only where asked (``-o``).
        """
        if self.folder is None:
            return self.recording.parent / name
        if self.sealed:
            raise IntegrityError(
                f"{self.recording} is encrypted and its {self.command} would be a readable "
                f"copy: give -o PATH outside the sessions folder (the {self.command} is "
                f"logged in the audit trail)"
            )
        return self.folder / EXPORTS / name

    def check_output(
        self,
        output: Path,
        *,
        folder: bool = False,
        allowed_names: Iterable[str] = (),
        plaintext: bool | None = None,
    ) -> Path | None:
        """:func:`~engine.privacy.review.check_output` for this input; ``plaintext``
        defaults to "the input is encrypted" (exports are always readable)."""
        return check_output(
            output,
            self.recording,
            folder=folder,
            allowed_names=allowed_names,
            plaintext_of_sealed=self.sealed if plaintext is None else plaintext and self.sealed,
            verified=self.check.ok and self.check.audit is not None,
        )

    def register(self, session: Path | None, files: list[Path]) -> None:
        """List ``files`` (just written into ``session``) in its ``integrity.json``."""
        if session is None or self.check.audit is None:
            return
        add_files_to_integrity(session, AuditLog(self.check.audit, actor=self.operator), files)

    @contextmanager
    def decrypting(self) -> Iterator[None]:
        """Audit a failed decryption (wrong key, changed file) and explain it, then raise."""
        try:
            yield
        except DecryptionError as exc:
            self.audit("failed_decryption", error=str(exc)[:200], command=self.command)
            raise DecryptionError(
                f"{exc}; the encrypted file was changed or damaged after it was written, or "
                f"sealed under another site key: nothing was written (`vrtherapy verify` "
                f"checks every record)"
            ) from None


def _integrity(review: Review) -> None:
    """Refuse a changed session (unless ``--unverified``); warn outside any session."""
    check = review.check
    if check.folder is None:
        checked = (
            "only its records' authentication is checked"
            if review.sealed
            else "its contents cannot be checked"
        )
        print(
            f"warning: {review.recording} is not in a session folder (no integrity.json "
            f"beside it): {checked}",
            file=sys.stderr,
        )
        return
    for warning in check.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not check.problems:
        return
    listed = list(check.problems[:_MAX_LISTED])
    if not review.unverified:
        review.audit("verify", command=review.command, ok=False, refused=True, problems=listed)
        more = f" (and {len(check.problems) - 1} more problems)" if len(check.problems) > 1 else ""
        raise IntegrityError(
            f"{check.problems[0]}{more}; nothing was read: run `vrtherapy verify "
            f"{check.folder}` to see every problem, or add --unverified to read it anyway "
            f"(forensic use, logged in the audit trail)"
        )
    for problem in check.problems:
        print(f"warning: --unverified: {problem}", file=sys.stderr)
    review.audit("verify", command=review.command, ok=False, overridden=True, problems=listed)


def open_review(args: argparse.Namespace, command: str) -> Review:
    """Resolve the input (a recording or its session folder), the operator, the key, and
    check the session's integrity before anything is read.

    Raises
    ------
    IntegrityError
        A file to be read changed since the session ended (without ``--unverified``).
    KeyFileError
        The recording is encrypted and no key is found.
    """
    from engine.privacy.cli import operator_from_args, reader_key

    recording = recording_of(Path(args.recording))
    operator = operator_from_args(args)
    try:
        sealed = recording.is_file() and is_sealed(recording)
    except OSError:  # unreadable: the reader names the file and the cause
        sealed = False
    check = check_before_reading(recording)
    unverified = bool(getattr(args, "unverified", False)) and bool(check.problems)
    review = Review(command, recording, operator, None, sealed, check, unverified)
    _integrity(review)
    review.key = reader_key(args, recording if sealed else None)
    return review
