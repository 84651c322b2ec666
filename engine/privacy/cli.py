"""Command-line pieces for ``vrtherapy``: key, operator and consent options, ``keygen``,
``verify``, ``purge`` and ``pseudonym`` subcommands.

Keys: a session (``run``, ``demo``, ``simulate``) is sealed with ``--key FILE``, else with
the site key (created on first use, see :mod:`engine.privacy.site`), unless
``--no-encryption``; every reader uses ``--key FILE``, else the site key when it needs one.
The operator (``--operator``, ``$VRTHERAPY_OPERATOR``, the login name) is the ``actor`` of
every audit entry a command writes.

Each ``add_*`` function extends an argparse parser; each ``cmd_*(args) -> int`` runs a
subcommand, prints its results, and returns an exit code: 0 ok, 1 verification found a
problem, 2 bad input. They raise :class:`~engine.errors.VrTherapyError` for bad input
(``engine.cli.main`` turns it into a message and exit code 2).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine import cli_types
from engine.privacy.audit import AuditLog, verify_chain
from engine.privacy.cli_keys import (
    add_key_options,
    add_operator_option,
    add_session_privacy_options,
    key_from_args,
    operator_from_args,
    passphrase_from_args,
    reader_key,
    session_key,
)
from engine.privacy.consent import PHYSIOLOGICAL_ROLES, Consent, consent_from_mapping
from engine.privacy.errors import DecryptionError, PrivacyError
from engine.privacy.integrity import session_ref, verify_session
from engine.privacy.keys import (
    SiteKey,
    create_passphrase_key,
    create_site_key,
)
from engine.privacy.sealed import is_sealed, verify_sealed
from engine.privacy.site import site_key_path

__all__ = [
    "CONSENT_FLAGS",
    "EXIT_CHECK_FAILED",
    "add_consent_options",
    "add_key_options",
    "add_keygen_parser",
    "add_operator_option",
    "add_pseudonym_parser",
    "add_purge_parser",
    "add_session_privacy_options",
    "add_verify_parser",
    "audit_for",
    "cmd_keygen",
    "cmd_pseudonym",
    "cmd_purge",
    "cmd_verify",
    "consent_from_args",
    "key_from_args",
    "operator_from_args",
    "reader_key",
    "session_key",
]

EXIT_CHECK_FAILED = 1
CONSENT_FLAGS = ("streams", "purpose", "retention_days", "given_by")
MAX_DAYS = 36500
"""Longest ``--older-than`` (the longest consented retention, 100 years)."""


# ---------------------------------------------------------------------- options


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


def audit_for(out: Path, operator: str = "vrtherapy") -> AuditLog:
    """The site's audit log ``<out>/audit.log``, its entries naming ``operator``."""
    return AuditLog(Path(out) / "audit.log", actor=operator)


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
    p.add_argument("file", type=cli_types.path, metavar="FILE")
    p.add_argument("--passphrase", action="store_true", help="derive the key from a passphrase")
    p.add_argument("--key-passphrase-env", metavar="VAR", help="read the passphrase from VAR")
    return p


def cmd_keygen(args: argparse.Namespace) -> int:
    """Create the key file; print its id."""
    if args.passphrase or args.key_passphrase_env:
        phrase = passphrase_from_args(args, f"new passphrase for {args.file}")
        key = create_passphrase_key(args.file, phrase)
    else:
        key = create_site_key(args.file)
    print(f"site key {key.key_id} written to {args.file} (mode 0600)")
    return 0


# ---------------------------------------------------------------------- verify


def add_verify_parser(sub: Any) -> argparse.ArgumentParser:
    """``vrtherapy verify SESSION_DIR [--audit FILE] [--key FILE] [--operator NAME]``."""
    p: argparse.ArgumentParser = sub.add_parser(
        "verify",
        help="check a session's integrity manifest, the audit chain and sealed files",
        description="Checks the site audit log's hash chain, the session's integrity.json "
        "against the log and every file, and every record of each sealed file with the site "
        "key (or --key). Logged in the audit trail. Exit 0 all good, 1 a problem was found "
        "(printed), 2 bad input.",
    )
    p.add_argument("session", type=cli_types.path, metavar="SESSION_DIR")
    p.add_argument(
        "--audit",
        type=cli_types.path,
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
    add_operator_option(p)
    return p


def _repair(folder: Path, audit: AuditLog, key: SiteKey | None) -> None:
    """Repair torn recordings in ``folder`` (plain; sealed with ``key``); write a manifest
    for a crashed session."""
    from engine.privacy.integrity import MANIFEST, write_integrity
    from engine.record.reader import repair, scan_chunks

    ref = session_ref(folder, audit.path)
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
    for path in _sealed_files(folder):
        _repair_sealed(path, key, audit, ref)
    if not (folder / MANIFEST).exists():  # the session never closed: seal what is there now
        write_integrity(folder, audit)
        print(f"integrity {folder}: manifest written for a session that did not close")


def _repair_sealed(path: Path, key: SiteKey | None, audit: AuditLog, ref: str) -> None:
    """Close a sealed file its writer never closed (needs the key)."""
    from engine.privacy.sealed import close_torn

    if path.name.endswith(".orig"):
        return
    if key is None:
        print(f"sealed {path.name}: not checked for repair (no site key; give --key FILE)")
        return
    check = verify_sealed(path, key)
    if check.closed:
        return
    backup = close_torn(path, key)
    print(
        f"repaired {path.name}: {check.records} whole records kept, end record added; "
        f"original kept as {backup.name}"
    )
    audit.append(
        "integrity", session=ref, repaired=path.name, backup=backup.name, records=check.records
    )


def _check_sealed(sealed: list[Path], key: SiteKey, audit: AuditLog, ref: str) -> list[str]:
    problems = []
    for path in sealed:
        check = verify_sealed(path, key)
        if check.ok:
            print(f"sealed {path.name}: ok ({check.records} records)")
            continue
        if path.name.endswith(".orig") and check.first_bad != -1:
            # the torn original a repair kept, as it was: its SHA-256 is in integrity.json
            print(f"sealed {path.name}: original kept by a repair ({check.reason})")
            continue
        problems.append(f"sealed {path}: {check.reason}")
        if check.first_bad == -1:
            audit.append("failed_decryption", session=ref, file=path.name, key_id=key.key_id)
    audit.append("key_use", session=ref, key_id=key.key_id, purpose="verify")
    return problems


def _sealed_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_sealed(p))


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify a session folder; print each check; 0 ok, 1 a problem was found.

    Sealed files are checked record by record with ``--key`` or the site key; the check is
    logged (``verify``, and ``key_use`` when a key was used) with the operator.
    """
    folder: Path = args.session
    if not folder.is_dir():
        raise PrivacyError(f"verify: {folder} is not a session folder")
    log_path: Path = args.audit or folder.resolve().parent.parent / "audit.log"
    if not log_path.is_file():
        raise PrivacyError(f"verify: audit log {log_path} not found (give --audit FILE)")
    audit = AuditLog(log_path, actor=operator_from_args(args))
    sealed = _sealed_files(folder)
    key = None
    if sealed and (getattr(args, "key", None) is not None or site_key_path().exists()):
        key = reader_key(args, sealed[0])
    if getattr(args, "repair", False):
        _repair(folder, audit, key)
        sealed = _sealed_files(folder)
    chain = verify_chain(log_path)
    problems = [] if chain.ok else [f"audit log: entry {chain.first_broken}: {chain.reason}"]
    if chain.ok:
        print(f"audit log {log_path}: ok ({chain.entries} entries, head {chain.head[:16]})")
        check = verify_session(folder, log_path)
        problems += check.problems
        if check.ok:
            print(f"integrity {folder}: ok ({check.files} files)")
    ref = session_ref(folder, log_path)
    if key is not None:
        problems += _check_sealed(sealed, key, audit, ref)
    elif sealed:
        print("sealed files not checked record by record: no site key, give --key FILE")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    if chain.ok:
        audit.append("verify", session=ref, ok=not problems, problems=len(problems))
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
    p.add_argument("--out", type=cli_types.path, default=Path("sessions"), help="sessions folder")
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
    add_operator_option(p)
    return p


def cmd_purge(args: argparse.Namespace) -> int:
    """Purge; print each session removed (and, with ``--expired``, those without consent)."""
    from engine.privacy.purge import purge_expired, purge_older_than

    if not args.out.is_dir():
        raise PrivacyError(f"purge: {args.out} is not a folder")
    audit = audit_for(args.out, operator_from_args(args))
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
    p.add_argument(
        "--map", type=cli_types.path, required=True, metavar="FILE", help="sealed map file"
    )
    add_key_options(p)
    return p


def cmd_pseudonym(args: argparse.Namespace) -> int:
    """Print the pseudonym for the name on stdin."""
    from engine.privacy.pseudonym import IdentityMap

    key = reader_key(args, args.map, "the identity map is encrypted")
    assert key is not None
    name = sys.stdin.readline().strip()
    if not name:
        raise PrivacyError("pseudonym: no name on standard input")
    try:
        print(IdentityMap(args.map, key).add(name))
    except DecryptionError as exc:
        raise DecryptionError(f"pseudonym: {exc}") from None
    return 0
