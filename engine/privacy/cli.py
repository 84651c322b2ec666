"""Command-line pieces for ``vrtherapy``: key and consent options, ``keygen``, ``verify``,
``purge`` and ``pseudonym`` subcommands.

Each ``add_*`` function extends an argparse parser; each ``cmd_*(args) -> int`` runs a
subcommand, prints its results, and returns an exit code: 0 ok, 1 verification found a
problem, 2 bad input. They raise :class:`~engine.errors.VrTherapyError` for bad input
(``engine.cli.main`` turns it into a message and exit code 2).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine.privacy.audit import AuditLog, verify_chain
from engine.privacy.consent import PHYSIOLOGICAL_ROLES, Consent, consent_from_mapping
from engine.privacy.errors import DecryptionError, KeyFileError, PrivacyError
from engine.privacy.integrity import add_to_integrity, session_ref, verify_session
from engine.privacy.keys import (
    SiteKey,
    create_passphrase_key,
    create_site_key,
    key_kind,
    load_site_key,
)
from engine.privacy.sealed import is_sealed, verify_sealed

__all__ = [
    "CONSENT_FLAGS",
    "EXIT_CHECK_FAILED",
    "add_consent_options",
    "add_key_options",
    "add_keygen_parser",
    "add_pseudonym_parser",
    "add_purge_parser",
    "add_verify_parser",
    "audit_for",
    "cmd_keygen",
    "cmd_pseudonym",
    "cmd_purge",
    "cmd_verify",
    "consent_from_args",
    "key_from_args",
]

EXIT_CHECK_FAILED = 1
ACTOR = "vrtherapy-cli"
CONSENT_FLAGS = ("streams", "purpose", "retention_days", "given_by")
MAX_DAYS = 36500
"""Longest ``--older-than`` (the longest consented retention, 100 years)."""


# ---------------------------------------------------------------------- options


def add_key_options(p: argparse.ArgumentParser) -> None:
    """``--key FILE`` and ``--key-passphrase-env VAR`` (for passphrase key files)."""
    p.add_argument(
        "--key",
        type=Path,
        metavar="FILE",
        help="site key file (mode 0600): encrypt the session / decrypt sealed files",
    )
    p.add_argument(
        "--key-passphrase-env",
        metavar="VAR",
        help="environment variable holding the passphrase of a passphrase key file "
        "(default: ask on the terminal)",
    )


def _passphrase(args: argparse.Namespace, prompt: str) -> str:
    var = getattr(args, "key_passphrase_env", None)
    if var:
        if var not in os.environ:
            raise KeyFileError(f"--key-passphrase-env: variable {var} is not set")
        return os.environ[var]
    if not sys.stdin.isatty():
        raise KeyFileError(f"{prompt}: no terminal to ask on; use --key-passphrase-env VAR")
    return getpass.getpass(f"{prompt}: ")


def key_from_args(args: argparse.Namespace) -> SiteKey | None:
    """The site key named by ``--key`` (asking for a passphrase if needed), or ``None``."""
    path: Path | None = getattr(args, "key", None)
    if path is None:
        return None
    passphrase = None
    if key_kind(path) == "scrypt":
        passphrase = _passphrase(args, f"passphrase for {path}")
    return load_site_key(path, passphrase)


def add_consent_options(p: argparse.ArgumentParser) -> None:
    """``--consent-streams/-purpose/-retention-days/-given-by`` (complete or override the
    protocol's ``consent:``)."""
    g = p.add_argument_group("consent (required unless the protocol has a consent: block)")
    g.add_argument(
        "--consent-streams",
        metavar="ROLES",
        help=f"comma-separated consented roles among {', '.join(PHYSIOLOGICAL_ROLES)}",
    )
    g.add_argument("--consent-purpose", metavar="TEXT", help="purpose, e.g. treatment")
    g.add_argument("--consent-retention-days", type=int, metavar="DAYS", help="keep for DAYS")
    g.add_argument(
        "--consent-given-by",
        choices=("participant", "guardian", "legal_representative"),
        help="who consented (default participant)",
    )


def consent_from_args(
    args: argparse.Namespace, protocol_consent: Mapping[str, Any] | None, where: str
) -> Consent:
    """Consent from the protocol's ``consent:`` mapping, with ``--consent-*`` overriding.

    Raises
    ------
    ConsentError
        Neither gives consent, or a field is invalid (``where`` names the protocol).
    """
    given = {
        "streams": getattr(args, "consent_streams", None),
        "purpose": getattr(args, "consent_purpose", None),
        "retention_days": getattr(args, "consent_retention_days", None),
        "given_by": getattr(args, "consent_given_by", None),
    }
    flags = {k: v for k, v in given.items() if v is not None}
    if protocol_consent is None and not flags:
        return consent_from_mapping(None, f"{where} (or --consent-*)")
    merged = {**(protocol_consent or {}), **flags}
    return consent_from_mapping(merged, f"{where}: consent", flag_prefix="--consent-")


def audit_for(out: Path) -> AuditLog:
    """The site's audit log: ``<out>/audit.log``."""
    return AuditLog(Path(out) / "audit.log", actor=ACTOR)


def register_output(recording: Path, output: Path) -> None:
    """A file written into a closed session folder (a later report) joins its manifest."""
    folder = Path(recording).resolve().parent
    if Path(output).resolve().parent != folder or not (folder / "integrity.json").exists():
        return
    for site in (folder.parent.parent, folder.parent):
        if (site / "audit.log").is_file():
            add_to_integrity(folder, audit_for(site), output)
            return


@contextmanager
def audited_decryption(recording: Path) -> Iterator[None]:
    """Log a failed decryption of ``recording`` (wrong key, tampered file), then re-raise."""
    try:
        yield
    except DecryptionError as exc:
        audit_review(recording, "failed_decryption", error=str(exc)[:200])
        raise


def audit_review(recording: Path, event: str, **details: Any) -> bool:
    """Log a report/export/replay of ``recording`` in its site's audit trail.

    The site is the folder holding ``audit.log`` above the session folder
    (``<out>/<participant>/<session>/recording.xdf``); a recording outside any site (copied
    elsewhere, or made without the privacy layer) has no trail, and False is returned.
    """
    folder = Path(recording).resolve().parent
    for site in (folder.parent.parent, folder.parent, folder):
        if (site / "audit.log").is_file():
            audit_for(site).append(event, session=f"{folder.parent.name}/{folder.name}", **details)
            return True
    return False


# ---------------------------------------------------------------------- keygen


def add_keygen_parser(sub: Any) -> argparse.ArgumentParser:
    """``vrtherapy keygen FILE [--passphrase]``."""
    p: argparse.ArgumentParser = sub.add_parser(
        "keygen",
        help="create a site key file (mode 0600) for encrypting sessions",
        description="Creates a random 256-bit site key, or with --passphrase a key derived "
        "from a passphrase (scrypt). Keep a copy offline: without it, encrypted sessions "
        "cannot be read.",
    )
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--passphrase", action="store_true", help="derive the key from a passphrase")
    p.add_argument("--key-passphrase-env", metavar="VAR", help="read the passphrase from VAR")
    return p


def cmd_keygen(args: argparse.Namespace) -> int:
    """Create the key file; print its id."""
    if args.passphrase or args.key_passphrase_env:
        phrase = _passphrase(args, f"new passphrase for {args.file}")
        key = create_passphrase_key(args.file, phrase)
    else:
        key = create_site_key(args.file)
    print(f"site key {key.key_id} written to {args.file} (mode 0600)")
    return 0


# ---------------------------------------------------------------------- verify


def add_verify_parser(sub: Any) -> argparse.ArgumentParser:
    """``vrtherapy verify SESSION_DIR [--audit FILE] [--key FILE]``."""
    p: argparse.ArgumentParser = sub.add_parser(
        "verify",
        help="check a session's integrity manifest, the audit chain and sealed files",
        description="Checks the site audit log's hash chain, the session's integrity.json "
        "against the log and every file; with --key also every record of each sealed file. "
        "Exit 0 all good, 1 a problem was found (printed), 2 bad input.",
    )
    p.add_argument("session", type=Path, metavar="SESSION_DIR")
    p.add_argument(
        "--audit",
        type=Path,
        metavar="FILE",
        help="audit log (default: audit.log two folders up: <out>/<participant>/<session>)",
    )
    p.add_argument(
        "--repair",
        action="store_true",
        help="cut a torn recording (after a crash or kill) back to its last whole chunk, add "
        "stream footers, keep the original as <name>.orig, and seal the folder's manifest",
    )
    add_key_options(p)
    return p


def _repair(folder: Path, log_path: Path) -> None:
    """Repair torn plain recordings in ``folder``; write a manifest for a crashed session."""
    from engine.privacy.integrity import MANIFEST, write_integrity
    from engine.record.reader import repair, scan_chunks

    audit = AuditLog(log_path, actor=ACTOR)
    ref = session_ref(folder, log_path)
    for path in sorted(folder.glob("*.xdf")):
        scan = scan_chunks(path)
        if not scan.needs_repair:
            print(f"recording {path.name}: whole, nothing to repair")
            continue
        backup = repair(path)
        print(
            f"repaired {path.name}: cut to {scan.valid_end} of {scan.file_size} bytes, "
            f"footers added; original kept as {backup.name}"
        )
        audit.append(
            "integrity",
            session=ref,
            repaired=path.name,
            backup=backup.name,
            kept_bytes=scan.valid_end,
            file_bytes=scan.file_size,
        )
    if not (folder / MANIFEST).exists():  # the session never closed: seal what is there now
        write_integrity(folder, audit)
        print(f"integrity {folder}: manifest written for a session that did not close")


def _check_sealed(folder: Path, key: SiteKey, audit: AuditLog, ref: str) -> list[str]:
    problems = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and is_sealed(p)):
        check = verify_sealed(path, key)
        if check.ok:
            print(f"sealed {path.name}: ok ({check.records} records)")
            continue
        problems.append(f"sealed {path}: {check.reason}")
        if check.first_bad == -1:
            audit.append("failed_decryption", session=ref, file=path.name, key_id=key.key_id)
    audit.append("key_use", session=ref, key_id=key.key_id, purpose="verify")
    return problems


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify a session folder; print each check; 0 ok, 1 a problem was found."""
    folder: Path = args.session
    if not folder.is_dir():
        raise PrivacyError(f"verify: {folder} is not a session folder")
    log_path: Path = args.audit or folder.resolve().parent.parent / "audit.log"
    if not log_path.is_file():
        raise PrivacyError(f"verify: audit log {log_path} not found (give --audit FILE)")
    if getattr(args, "repair", False):
        _repair(folder, log_path)
    chain = verify_chain(log_path)
    problems = [] if chain.ok else [f"audit log: entry {chain.first_broken}: {chain.reason}"]
    if chain.ok:
        print(f"audit log {log_path}: ok ({chain.entries} entries, head {chain.head[:16]})")
        check = verify_session(folder, log_path)
        problems += check.problems
        if check.ok:
            print(f"integrity {folder}: ok ({check.files} files)")
    key = key_from_args(args)
    if key is not None:
        audit = AuditLog(log_path, actor=ACTOR)
        problems += _check_sealed(folder, key, audit, session_ref(folder, log_path))
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return EXIT_CHECK_FAILED if problems else 0


# ---------------------------------------------------------------------- purge


def _days(text: str) -> int:
    """``"90"`` or ``"90d"`` -> 90 (whole days, >= 0)."""
    digits = text[:-1] if text.lower().endswith("d") else text
    if not (digits.isascii() and digits.isdigit()) or int(digits) > MAX_DAYS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of days 0..{MAX_DAYS} (e.g. 90 or 90d)"
        )
    return int(digits)


def add_purge_parser(sub: Any) -> argparse.ArgumentParser:
    """``vrtherapy purge [--out DIR] (--older-than DAYS | --expired) [--dry-run]``."""
    p: argparse.ArgumentParser = sub.add_parser(
        "purge",
        help="delete sessions older than a retention period (logged in the audit trail)",
        description="Removes <out>/<participant>/<session>/ folders whose session ended more "
        "than DAYS days ago; each removal is an audit entry in <out>/audit.log.",
    )
    p.add_argument("--out", type=Path, default=Path("sessions"), help="sessions folder")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--older-than", type=_days, metavar="DAYS", help="ended more than DAYS ago (90 or 90d)"
    )
    which.add_argument(
        "--expired",
        action="store_true",
        help="sessions past the retention their consent gave (from the audit log)",
    )
    p.add_argument("--dry-run", action="store_true", help="list, remove nothing")
    return p


def cmd_purge(args: argparse.Namespace) -> int:
    """Purge; print each session removed (and, with ``--expired``, those without consent)."""
    from engine.privacy.purge import purge_expired, purge_older_than

    if not args.out.is_dir():
        raise PrivacyError(f"purge: {args.out} is not a folder")
    audit = audit_for(args.out)
    if args.expired:
        removed, unknown = purge_expired(args.out, audit, dry_run=args.dry_run)
        for folder in unknown:
            print(f"kept {folder}: no consent entry in {audit.path} (use --older-than)")
    else:
        removed = purge_older_than(args.out, args.older_than, audit, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for item in removed:
        print(f"{verb} {item.session} (ended {item.ended_at:%Y-%m-%d}, {item.files} files)")
    summary = "would be removed (dry run)" if args.dry_run else "removed"
    print(f"{len(removed)} session(s) {summary}")
    return 0


# ---------------------------------------------------------------------- pseudonym


def add_pseudonym_parser(sub: Any) -> argparse.ArgumentParser:
    """``vrtherapy pseudonym --map FILE --key FILE`` (the real name is read from stdin)."""
    p: argparse.ArgumentParser = sub.add_parser(
        "pseudonym",
        help="get or create a participant's pseudonym in the sealed identity map",
        description="Reads the real name from standard input (never from the command line, "
        "which shells keep in their history) and prints the pseudonym (P-XXXX).",
    )
    p.add_argument("--map", type=Path, required=True, metavar="FILE", help="sealed map file")
    add_key_options(p)
    return p


def cmd_pseudonym(args: argparse.Namespace) -> int:
    """Print the pseudonym for the name on stdin."""
    from engine.privacy.pseudonym import IdentityMap

    key = key_from_args(args)
    if key is None:
        raise KeyFileError("pseudonym: the identity map needs --key FILE")
    name = sys.stdin.readline().strip()
    if not name:
        raise PrivacyError("pseudonym: no name on standard input")
    try:
        print(IdentityMap(args.map, key).add(name))
    except DecryptionError as exc:
        raise DecryptionError(f"pseudonym: {exc}") from None
    return 0
