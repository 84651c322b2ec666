"""Key and operator options of ``vrtherapy`` and how a command finds its key.

* A session (``run``, ``demo``, ``simulate``) is sealed with ``--key FILE``, else with the
  site key, created on first use (see :mod:`engine.privacy.site`), unless
  ``--no-encryption`` (:func:`session_key`).
* A reader uses ``--key FILE``, else the site key, and only when it reads an encrypted
  file (:func:`reader_key`), so a clinician's commands on their own site need no ``--key``.
* The operator (``--operator``, ``$VRTHERAPY_OPERATOR``, the login name) is the ``actor``
  of every audit entry a command writes (:func:`operator_from_args`).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from engine import cli_types
from engine.privacy.audit import AuditLog
from engine.privacy.errors import KeyFileError
from engine.privacy.keys import SiteKey, key_kind, load_site_key
from engine.privacy.site import (
    OPERATOR_ENV,
    SITE_DIR_ENV,
    ensure_site_key,
    operator_name,
    site_key_path,
)

__all__ = [
    "add_key_options",
    "add_operator_option",
    "add_session_privacy_options",
    "key_from_args",
    "operator_from_args",
    "passphrase_from_args",
    "reader_key",
    "session_key",
]


def add_key_options(p: argparse.ArgumentParser) -> None:
    """``--key FILE`` and ``--key-passphrase-env VAR`` (for passphrase key files)."""
    p.add_argument(
        "--key",
        type=cli_types.path,
        metavar="FILE",
        help="site key file (mode 0600): encrypt the session / decrypt sealed files",
    )
    p.add_argument(
        "--key-passphrase-env",
        metavar="VAR",
        help="environment variable holding the passphrase of a passphrase key file "
        "(default: ask on the terminal)",
    )


def passphrase_from_args(args: argparse.Namespace, prompt: str) -> str:
    """The passphrase from ``--key-passphrase-env VAR``, else asked on the terminal."""
    var = getattr(args, "key_passphrase_env", None)
    if var:
        if var not in os.environ:
            raise KeyFileError(f"--key-passphrase-env: variable {var} is not set")
        return os.environ[var]
    if not sys.stdin.isatty():
        raise KeyFileError(f"{prompt}: no terminal to ask on; use --key-passphrase-env VAR")
    return getpass.getpass(f"{prompt}: ")


def _load(path: Path, args: argparse.Namespace) -> SiteKey:
    passphrase = None
    if key_kind(path) == "scrypt":
        passphrase = passphrase_from_args(args, f"passphrase for {path}")
    return load_site_key(path, passphrase)


def key_from_args(args: argparse.Namespace) -> SiteKey | None:
    """The site key named by ``--key`` (asking for a passphrase if needed), or ``None``."""
    path: Path | None = getattr(args, "key", None)
    return None if path is None else _load(path, args)


def reader_key(
    args: argparse.Namespace, needed_for: Path | None, what: str = "encrypted recording"
) -> SiteKey | None:
    """The key for reading: ``--key FILE``, else the site key when ``needed_for`` (an
    encrypted file) is given; ``None`` when nothing encrypted is read.

    Raises
    ------
    KeyFileError
        ``needed_for`` is given and there is neither ``--key`` nor a site key.
    """
    explicit = key_from_args(args)
    if explicit is not None or needed_for is None:
        return explicit
    path = site_key_path()
    if not path.exists():
        raise KeyFileError(
            f"{needed_for}: {what}: give the site key (--key FILE); there is "
            f"none in the site folder {path.parent} (${SITE_DIR_ENV})"
        )
    return _load(path, args)


def add_operator_option(p: argparse.ArgumentParser) -> None:
    """``--operator NAME`` (default ``$VRTHERAPY_OPERATOR``, else the login name)."""
    p.add_argument(
        "--operator",
        metavar="NAME",
        help=f"who runs this command, named in its audit entries (default: ${OPERATOR_ENV}, "
        "else the login name)",
    )


def operator_from_args(args: argparse.Namespace) -> str:
    """``--operator``, else ``$VRTHERAPY_OPERATOR``, else the OS login name (validated)."""
    return operator_name(getattr(args, "operator", None))


def add_session_privacy_options(p: argparse.ArgumentParser) -> None:
    """Key options, ``--operator`` and ``--no-encryption``, for ``run``/``demo``/``simulate``."""
    add_key_options(p)
    add_operator_option(p)
    p.add_argument(
        "--no-encryption",
        action="store_true",
        help="record this session in plaintext (not recommended: health data readable by "
        "anyone with the files; logged in the audit trail)",
    )


def session_key(args: argparse.Namespace, out: Path, operator: str) -> SiteKey | None:
    """The key that seals a new session in ``out``: ``--key``, else the site key (created
    on first use, announced on stderr and logged as ``key_created``); ``None`` with
    ``--no-encryption`` (announced with a warning).

    Raises
    ------
    KeyFileError
        ``--key`` with ``--no-encryption``, or a key that cannot be made or read.
    """
    if getattr(args, "no_encryption", False):
        if getattr(args, "key", None) is not None:
            raise KeyFileError("--no-encryption and --key exclude each other: give one")
        print(
            "warning: --no-encryption: this session's recording, summary, consent and report "
            "are stored in plaintext, readable by anyone with the files (logged in the audit "
            "trail)",
            file=sys.stderr,
        )
        return None
    explicit = key_from_args(args)
    if explicit is not None:
        return explicit
    path = site_key_path()
    created = ensure_site_key(path, sessions=out)
    if created is None:
        return _load(path, args)
    print(
        f"site key created: {path} (mode 0600), fingerprint {created.key_id}\n"
        f"BACK IT UP NOW: copy {path} to offline storage kept locked away; without it the "
        f"sessions in {out} cannot be read, and anyone holding it can read them",
        file=sys.stderr,
    )
    Path(out).mkdir(parents=True, exist_ok=True)
    AuditLog(Path(out) / "audit.log", actor=operator).append(
        "key_created", key_id=created.key_id, path=str(path)
    )
    return created
