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
import stat
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
    "find_pairing",
    "list_pairings",
    "paired_session",
    "pairing_path",
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


def pairing_path(sid: str, env: Mapping[str, str] | None = None) -> Path:
    """``<runtime>/sessions/<sid>.json`` (it may not exist); ValueError for a bad ``sid``."""
    return sessions_dir(env) / f"{check_session_id(sid)}.json"


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
    path
        The file it was read from (``None`` before it is written).
    """

    sid: str
    secret: bytes = field(repr=False)
    protocol: str
    participant: str
    started: str
    pid: int
    streams: dict[str, str] = field(default_factory=dict)
    path: Path | None = field(default=None, compare=False)

    def to_json(self) -> str:
        """The file's text."""
        data = asdict(self)
        data.pop("path")
        data["secret"] = self.secret.hex()
        return json.dumps(data, sort_keys=True, indent=1)

    def describe(self) -> str:
        """``a1b2c3d4 (heights-demo, P-0042, started ...)``, for messages."""
        return f"{self.sid} ({self.protocol}, {self.participant}, started {self.started})"

    def public(self) -> dict[str, Any]:
        """What may be shown of it (never the secret)."""
        return {
            "sid": self.sid,
            "protocol": self.protocol,
            "participant": self.participant,
            "started": self.started,
        }

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


def _check_private(path: Path) -> None:
    """Refuse a file of another user, or one others may read (the secret would leak)."""
    info = path.stat()
    if info.st_uid != os.getuid():
        raise ConsolePairingError(f"{path}: belongs to another user; pairing refused")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise ConsolePairingError(
            f"{path}: readable by others (mode {mode:o}); a pairing file must be 0600"
        )


def read_pairing(path: Path) -> Pairing:
    """The pairing in ``path``; :class:`ConsolePairingError` naming what is wrong (not
    readable, not this user's or not 0600, not JSON, a field missing or malformed, a
    name that is not its ``sid``)."""
    path = Path(path)
    try:
        _check_private(path)
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        if path.stem != data["sid"]:
            raise ValueError(f"sid {data['sid']!r} is not the file's name")
        secret = bytes.fromhex(data["secret"])
        if len(secret) != 32:
            raise ValueError(f"secret of {len(secret)} bytes, not 32")
        return Pairing(
            sid=check_session_id(data["sid"]),
            secret=secret,
            protocol=str(data["protocol"]),
            participant=str(data["participant"]),
            started=str(data["started"]),
            pid=int(data["pid"]),
            streams={str(k): str(v) for k, v in dict(data.get("streams", {})).items()},
            path=path,
        )
    except OSError as exc:
        raise ConsolePairingError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except KeyError as exc:
        raise ConsolePairingError(f"{path}: not a pairing file (no {exc.args[0]})") from None
    except (ValueError, TypeError, AttributeError, RecursionError) as exc:
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


def find_pairing(sid: str | None, env: Mapping[str, str] | None = None) -> Pairing:
    """The live session ``sid``, or the only one live when ``sid`` is ``None``.

    Raises
    ------
    ConsolePairingError
        A malformed ``sid``, no such live session, none or several live (the message lists
        them and where it looked).
    """
    live = list_pairings(env)
    listing = "; ".join(p.describe() for p in live) or "none"
    where = sessions_dir(env)
    if sid is not None:
        try:
            path = pairing_path(sid, env)
        except ValueError:
            raise ConsolePairingError(
                f"session id {sid!r}: 8 lowercase hex digits, e.g. a1b2c3d4"
            ) from None
        pairing = read_pairing(path) if path.exists() else None
        if pairing is None or not pairing.alive:
            raise ConsolePairingError(f"no running session {sid} in {where} (running: {listing})")
        return pairing
    if len(live) != 1:
        what = "no session is running" if not live else "several sessions are running"
        raise ConsolePairingError(f"{what} in {where} (running: {listing}); name one by its id")
    return live[0]


@contextmanager
def paired_session(pairing: Pairing, env: Mapping[str, str] | None = None) -> Iterator[Path]:
    """Write the pairing file for the block; remove it however the block ends."""
    path = write_pairing(pairing, env)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
