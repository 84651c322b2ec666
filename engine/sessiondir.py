"""Where a session's files go: one folder per session, named without identifying data."""

from __future__ import annotations

import re
import time
from pathlib import Path

from engine.errors import VrTherapyError

PSEUDONYM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


def check_participant(participant: str) -> str:
    """Return ``participant`` if it is a valid pseudonymous ID, else raise.

    IDs are 1-32 characters of letters, digits, ``-`` and ``_`` (e.g. ``P-0042``); a real
    name must never be used (it would appear in folder and file names).
    """
    if not PSEUDONYM.match(participant):
        raise VrTherapyError(
            f"participant {participant!r} is not a valid pseudonymous ID: use 1-32 letters, "
            "digits, '-' or '_' (e.g. P-0042), never a real name"
        )
    return participant


def new_session_dir(
    out: Path, protocol: str, participant: str, wall_time: float | None = None
) -> Path:
    """Create ``out/<participant>/<YYYYmmdd-HHMMSS>-<protocol>/`` (never reusing a folder)."""
    check_participant(participant)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(wall_time))
    base = out / participant / f"{stamp}-{protocol}"
    candidate, n = base, 1
    while True:
        try:
            candidate.mkdir(parents=True, exist_ok=False)
            return candidate
        except FileExistsError:
            n += 1
            candidate = base.with_name(f"{base.name}-{n}")
        except OSError as exc:
            raise VrTherapyError(f"cannot create session folder {candidate}: {exc}") from None
