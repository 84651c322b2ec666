"""The site: where this clinic's key lives, and who the operator at the keyboard is.

Every session is sealed with the **site key** unless the operator opts out. The key lives
in the **site folder**, apart from the sessions, so that a copied sessions folder cannot be
read without it:

* ``$VRTHERAPY_SITE_DIR`` when set, else ``${XDG_CONFIG_HOME:-~/.config}/vrtherapy/``;
* the key file is ``<site folder>/site.key`` (mode 0600, the folder 0700), created on the
  first session that needs it (:func:`ensure_site_key`).

The **operator** is the person a command's audit entries name: ``--operator NAME``, else
``$VRTHERAPY_OPERATOR`` (a clinic can set it per login), else the OS login name.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from pathlib import Path

from engine.privacy.errors import KeyFileError, PrivacyError
from engine.privacy.keys import SiteKey, create_site_key

__all__ = [
    "KEY_FILE",
    "OPERATOR_ENV",
    "SITE_DIR_ENV",
    "ensure_site_key",
    "operator_name",
    "site_dir",
    "site_key_path",
]

SITE_DIR_ENV = "VRTHERAPY_SITE_DIR"
OPERATOR_ENV = "VRTHERAPY_OPERATOR"
KEY_FILE = "site.key"
MAX_OPERATOR = 64


def site_dir(env: Mapping[str, str] | None = None) -> Path:
    """The site folder: ``$VRTHERAPY_SITE_DIR``, else
    ``${XDG_CONFIG_HOME:-~/.config}/vrtherapy``."""
    env = os.environ if env is None else env
    if env.get(SITE_DIR_ENV):
        return Path(env[SITE_DIR_ENV]).expanduser()
    config = env.get("XDG_CONFIG_HOME") or str(Path("~/.config").expanduser())
    return Path(config) / "vrtherapy"


def site_key_path(env: Mapping[str, str] | None = None) -> Path:
    """``<site folder>/site.key`` (it may not exist yet)."""
    return site_dir(env) / KEY_FILE


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def ensure_site_key(path: Path, sessions: Path | None = None) -> SiteKey | None:
    """Create the site key at ``path`` (mode 0600, its folder 0700) when there is none.

    Returns the new key, or ``None`` when a key file is there already (load it with
    :func:`~engine.privacy.keys.load_site_key`; it may be passphrase-protected).

    Parameters
    ----------
    sessions
        The sessions folder; a key inside it is refused (a copy of the folder would carry
        its own key).

    Raises
    ------
    KeyFileError
        The key lies inside ``sessions``, or the folder or file cannot be made.
    """
    if sessions is not None and _inside(path, sessions):
        raise KeyFileError(
            f"site key {path} lies inside the sessions folder {sessions}: a copy of that "
            f"folder would carry its key; set {SITE_DIR_ENV} to a folder outside it"
        )
    if path.exists():
        return None
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise KeyFileError(f"cannot create the site folder {path.parent}: {exc}") from exc
    try:
        return create_site_key(path)
    except KeyFileError:
        if path.exists():  # another process created it at the same moment: use theirs
            return None
        raise


def operator_name(given: str | None, env: Mapping[str, str] | None = None) -> str:
    """Who runs the command, for the audit trail.

    ``given`` (``--operator``), else ``$VRTHERAPY_OPERATOR``, else the OS login name.

    Raises
    ------
    PrivacyError
        The name is empty, longer than 64 characters, holds control characters or
        surrounding spaces, or no login name can be found.
    """
    env = os.environ if env is None else env
    where, name = "--operator", given
    if name is None and env.get(OPERATOR_ENV) is not None:
        where, name = OPERATOR_ENV, env[OPERATOR_ENV]
    if name is None:
        try:
            where, name = "the OS login name", getpass.getuser()
        except (KeyError, OSError):
            raise PrivacyError(
                f"no operator: the OS login name is unknown; give --operator NAME or set "
                f"{OPERATOR_ENV}"
            ) from None
    if not 0 < len(name) <= MAX_OPERATOR or not name.isprintable() or name != name.strip():
        raise PrivacyError(
            f"{where}: {name!r} is not an operator name (1 to {MAX_OPERATOR} printable "
            f"characters, no surrounding spaces)"
        )
    return name
