"""Pairing files: how a console on the same machine finds a live session and its secret.

A live session (``run``, ``demo``) writes ``<runtime>/sessions/<SID>.json`` before it
starts and removes it when it ends, however it ends (normal end, stop signal, exception).
``<runtime>`` is ``$VRTHERAPY_RUNTIME_DIR``, else ``$XDG_RUNTIME_DIR/vrtherapy``, else the
site folder's ``run/`` (:func:`engine.privacy.site.site_dir`). The ``sessions`` folder is
mode 0700 and each file 0600, so only processes of the same user on the same machine can
read the secret: that is the pairing. A process killed with SIGKILL cannot remove its
file: :attr:`Pairing.alive` (the ``pid`` still runs) tells a console which files are live.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.console_wire import check_session_id
from engine.errors import VrTherapyError
from engine.privacy.site import site_dir

__all__ = [
    "RUNTIME_DIR_ENV",
    "ConsolePairingError",
    "Pairing",
    "list_pairings",
    "paired_session",
    "read_pairing",
    "runtime_dir",
    "sessions_dir",
    "write_pairing",
]

RUNTIME_DIR_ENV = "VRTHERAPY_RUNTIME_DIR"


class ConsolePairingError(VrTherapyError):
    """A pairing file or its folder cannot be written or read safely."""


def runtime_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$VRTHERAPY_RUNTIME_DIR``, else ``$XDG_RUNTIME_DIR/vrtherapy``, else
    ``<site folder>/run``."""
    env = os.environ if env is None else env
    if env.get(RUNTIME_DIR_ENV):
        return Path(env[RUNTIME_DIR_ENV]).expanduser()
    if env.get("XDG_RUNTIME_DIR"):
        return Path(env["XDG_RUNTIME_DIR"]) / "vrtherapy"
    return site_dir(env) / "run"


def sessions_dir(env: Mapping[str, str] | None = None) -> Path:
    """``<runtime>/sessions``: one pairing file per live session."""
    return runtime_dir(env) / "sessions"


@dataclass(frozen=True)
class Pairing:
    """What a pairing file holds.

    Attributes
    ----------
    sid
        The session id (8 hex digits).
    secret
        The pairing secret (32 bytes; hex in the file).
    protocol, participant
        The protocol id and the participant's pseudonym.
    started
        ISO 8601 UTC.
    pid
        The session's process.
    streams
        LSL source ids by stream kind (:data:`engine.console_wire.STREAMS`).
    """

    sid: str
    secret: bytes
    protocol: str
    participant: str
    started: str
    pid: int
    streams: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        """The file's text."""
        data = asdict(self)
        data["secret"] = self.secret.hex()
        return json.dumps(data, sort_keys=True, indent=1)

    @property
    def alive(self) -> bool:
        """Whether the session's process still runs (a SIGKILL leaves a stale file)."""
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # someone else's process took the pid
            return False
        return True


def _private_folder(folder: Path) -> None:
    """Make ``folder`` (mode 0700, ours) or refuse one that is not private."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = folder.stat()
        if info.st_uid != os.getuid():
            raise ConsolePairingError(f"{folder} belongs to another user; pairing refused")
        if info.st_mode & 0o077:
            os.chmod(folder, 0o700)
    except OSError as exc:
        raise ConsolePairingError(
            f"cannot prepare the pairing folder {folder}: {exc.strerror or exc} "
            f"(set {RUNTIME_DIR_ENV} to a private folder)"
        ) from None


def write_pairing(pairing: Pairing, env: Mapping[str, str] | None = None) -> Path:
    """Write ``pairing`` to ``<runtime>/sessions/<sid>.json`` (0600, folder 0700)."""
    folder = sessions_dir(env)
    _private_folder(folder)
    path = folder / f"{check_session_id(pairing.sid)}.json"
    tmp = folder / f".{pairing.sid}.json.tmp"
    try:
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(pairing.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise ConsolePairingError(
            f"cannot write the pairing file {path}: {exc.strerror or exc}"
        ) from None
    return path


def read_pairing(path: Path) -> Pairing:
    """The pairing in ``path``; :class:`ConsolePairingError` naming what is wrong."""
    try:
        data: Any = json.loads(Path(path).read_text(encoding="utf-8"))
        return Pairing(
            sid=check_session_id(data["sid"]),
            secret=bytes.fromhex(data["secret"]),
            protocol=str(data["protocol"]),
            participant=str(data["participant"]),
            started=str(data["started"]),
            pid=int(data["pid"]),
            streams={str(k): str(v) for k, v in dict(data.get("streams", {})).items()},
        )
    except OSError as exc:
        raise ConsolePairingError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ConsolePairingError(f"{path}: not a pairing file ({exc})") from None


def list_pairings(env: Mapping[str, str] | None = None) -> list[Pairing]:
    """Every readable pairing file of live sessions (stale ones skipped), oldest first."""
    folder = sessions_dir(env)
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            pairing = read_pairing(path)
        except ConsolePairingError:
            continue
        if pairing.alive:
            found.append(pairing)
    return sorted(found, key=lambda p: p.started)


@contextmanager
def paired_session(pairing: Pairing, env: Mapping[str, str] | None = None) -> Iterator[Path]:
    """Write the pairing file for the block; remove it however the block ends."""
    path = write_pairing(pairing, env)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
