"""Writing a text file whole or not at all: a temporary file beside it, then a rename."""

from __future__ import annotations

import os
from pathlib import Path

from engine.errors import VrTherapyError

__all__ = ["write_text_atomic"]


def write_text_atomic(path: Path, text: str, what: str = "", mode: int | None = None) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through ``path.tmp`` and a rename, so a reader
    sees the old file or the new one, never half of it; its folder is made if missing.

    Parameters
    ----------
    what
        What the file is, for the error message (``"report"``: "cannot write report P").
    mode
        Permissions of a new file (e.g. ``0o600`` for health data); default: the umask's.

    Raises
    ------
    VrTherapyError
        The file cannot be written (the message names it and the reason).
    """
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if mode is None:
            tmp.write_text(text, encoding="utf-8")
        else:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        label = f"{what} " if what else ""
        raise VrTherapyError(f"cannot write {label}{path}: {exc.strerror}") from None
    return path
