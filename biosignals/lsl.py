"""The one place pylsl is imported: liblsl is pointed at a config first.

liblsl reads its configuration once, when the library loads, from the file named by the
``LSLAPICFG`` environment variable (then ``./lsl_api.cfg``, ``~/lsl_api/lsl_api.cfg``,
``/etc/lsl_api/lsl_api.cfg``). By default vrtherapy sets ``LSLAPICFG`` to the shipped
``lsl_api.cfg``, which confines stream discovery to this machine (``ResolveScope =
machine``, ``KnownPeers = {127.0.0.1}``, IPv6 off). A clinic that streams between machines
sets ``LSLAPICFG`` to its own file before starting vrtherapy (or passes ``--lsl-config``);
an ``LSLAPICFG`` already in the environment is respected.
"""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

from biosignals.errors import StreamError

LOCAL_CONFIG_ENV = "LSLAPICFG"


def default_config_path() -> Path:
    """Path of the shipped machine-local liblsl configuration file."""
    return Path(str(resources.files("biosignals") / "lsl_api.cfg"))


def configure(config: str | os.PathLike[str] | None = None) -> Path:
    """Point liblsl at ``config`` (default: keep ``LSLAPICFG`` or use the shipped local one).

    Must run before pylsl is first imported; afterwards liblsl has read its config and a
    different file cannot take effect, which raises :class:`StreamError`.

    Returns
    -------
    Path
        The configuration file liblsl will use.
    """
    if config is not None:
        wanted = Path(config).resolve()
        if not wanted.is_file():
            why = "is a folder, not a file" if wanted.is_dir() else "does not exist"
            raise StreamError(f"LSL config file {wanted} {why}")
    elif os.environ.get(LOCAL_CONFIG_ENV):
        wanted = Path(os.environ[LOCAL_CONFIG_ENV]).resolve()
    else:
        wanted = default_config_path()
    current = os.environ.get(LOCAL_CONFIG_ENV)
    if "pylsl" in sys.modules and (current is None or Path(current).resolve() != wanted):
        raise StreamError(
            f"pylsl was imported before vrtherapy could point liblsl at {wanted}; "
            f"import pylsl through biosignals.lsl.import_pylsl()"
        )
    os.environ[LOCAL_CONFIG_ENV] = str(wanted)
    return wanted


def import_pylsl() -> ModuleType:
    """Import pylsl after making sure liblsl is configured (machine-local by default)."""
    if "pylsl" not in sys.modules:
        configure()
    import pylsl

    return pylsl


def described(inlet: Any) -> bool:
    """Whether liblsl already holds ``inlet``'s full stream description, asked without
    waiting (``info(timeout=0.0)``; the first call starts fetching it).

    liblsl's ``pull_chunk``/``pull_sample`` read that description first and wait for it
    with no time limit: if the outlet vanishes before it answers, the pull of an inlet
    that recovers (pylsl's default) blocks for good, and so does the thread that called
    it, Ctrl-C included. Code that must never block pulls only once this is True.

    Raises
    ------
    pylsl.util.LostError
        The stream is lost (inlets opened with ``recover=False``).
    """
    pylsl = import_pylsl()
    try:
        inlet.info(timeout=0.0)
    except pylsl.util.TimeoutError:
        return False
    return True
