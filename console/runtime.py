"""Running sessions, found through their pairing files (``docs/console.md`` section 2).

A live session writes ``<runtime>/sessions/SID.json`` (mode 0600, folder 0700) holding its
id, the 32-byte pairing secret in hex, protocol, participant, start time, process id and
stream source ids, and removes it when it ends. ``<runtime>`` is
``$VRTHERAPY_RUNTIME_DIR``, else ``$XDG_RUNTIME_DIR/vrtherapy``, else the site folder's
``run/``. Only a process of the same user can read a file: that is the pairing.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.errors import LinkError
from engine.privacy.site import site_dir

__all__ = [
    "RUNTIME_DIR_ENV",
    "SID_PATTERN",
    "SessionFile",
    "find_session",
    "pairing_path",
    "read_session_file",
    "running_sessions",
    "runtime_dir",
]

RUNTIME_DIR_ENV = "VRTHERAPY_RUNTIME_DIR"
SID_PATTERN = re.compile(r"^[0-9a-f]{8}$")
_SECRET_BYTES = 32


def runtime_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$VRTHERAPY_RUNTIME_DIR``, else ``$XDG_RUNTIME_DIR/vrtherapy``, else ``<site>/run``."""
    env = os.environ if env is None else env
    if env.get(RUNTIME_DIR_ENV):
        return Path(env[RUNTIME_DIR_ENV]).expanduser()
    if env.get("XDG_RUNTIME_DIR"):
        return Path(env["XDG_RUNTIME_DIR"]) / "vrtherapy"
    return site_dir(env) / "run"


def pairing_path(sid: str, env: Mapping[str, str] | None = None) -> Path:
    """``<runtime>/sessions/SID.json`` (it may not exist)."""
    return runtime_dir(env) / "sessions" / f"{sid}.json"


@dataclass(frozen=True)
class SessionFile:
    """One running session's pairing file.

    Attributes
    ----------
    sid
        The session id (8 hex digits), in every one of its streams' ``source_id``.
    secret
        The 32-byte pairing secret: the HMAC-SHA256 key of its commands.
    protocol, participant, started
        What runs, for whom (a pseudonym), since when (ISO 8601 UTC).
    pid
        The session's process id (a file whose process is gone is stale).
    streams
        Stream name -> source id, as the session wrote them.
    path
        Where the file lies.
    """

    sid: str
    secret: bytes = field(repr=False)
    protocol: str
    participant: str
    started: str
    pid: int
    streams: dict[str, str]
    path: Path

    def describe(self) -> str:
        """``a1b2c3d4 (heights-demo, P-0042, started ...)`` for messages."""
        return f"{self.sid} ({self.protocol}, {self.participant}, started {self.started})"

    def public(self) -> dict[str, Any]:
        """What a browser may see of it (never the secret)."""
        return {
            "sid": self.sid,
            "protocol": self.protocol,
            "participant": self.participant,
            "started": self.started,
        }


def _check_private(path: Path) -> None:
    st = path.stat()
    if st.st_uid != os.getuid():
        raise LinkError(f"{path}: belongs to another user; a console pairs only with its own")
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise LinkError(
            f"{path}: readable by others (mode {stat.S_IMODE(st.st_mode):o}); a pairing "
            f"file must be 0600"
        )


def read_session_file(path: Path) -> SessionFile:
    """Read and check one pairing file.

    Raises
    ------
    LinkError
        Not readable, not the user's own or not 0600, not JSON, or a field is missing or
        malformed (the message names the file and the field).
    """
    try:
        _check_private(path)
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LinkError(f"cannot read the pairing file {path}: {exc}") from exc
    except ValueError as exc:
        raise LinkError(f"{path}: not a pairing file (not JSON: {exc})") from exc
    if not isinstance(raw, dict):
        raise LinkError(f"{path}: not a pairing file (not a JSON object)")
    try:
        sid, secret = str(raw["sid"]), bytes.fromhex(str(raw["secret"]))
        if not SID_PATTERN.match(sid) or len(secret) != _SECRET_BYTES or path.stem != sid:
            raise ValueError("sid must be 8 hex digits (the file's name) and secret 32 bytes")
        return SessionFile(
            sid=sid,
            secret=secret,
            protocol=str(raw["protocol"]),
            participant=str(raw["participant"]),
            started=str(raw["started"]),
            pid=int(raw["pid"]),
            streams={str(k): str(v) for k, v in dict(raw.get("streams") or {}).items()},
            path=path,
        )
    except KeyError as exc:
        raise LinkError(f"{path}: field {exc.args[0]} is missing") from None
    except (TypeError, ValueError) as exc:
        raise LinkError(f"{path}: malformed field ({exc})") from None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user holds the pid: not our session
        return False
    return True


def running_sessions(env: Mapping[str, str] | None = None) -> list[SessionFile]:
    """Every readable pairing file whose process is alive, oldest first.

    Files that cannot be read or belong to a process that is gone (a killed session) are
    left out; :func:`read_session_file` says why for a single one.
    """
    folder = runtime_dir(env) / "sessions"
    found: list[SessionFile] = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            entry = read_session_file(path)
        except LinkError:
            continue
        if _alive(entry.pid):
            found.append(entry)
    return sorted(found, key=lambda s: s.started)


def find_session(sid: str | None, env: Mapping[str, str] | None = None) -> SessionFile:
    """The running session ``sid``, or the only one running when ``sid`` is ``None``.

    Raises
    ------
    LinkError
        No such session, none running, or several (the message lists them).
    """
    running = running_sessions(env)
    listing = "; ".join(s.describe() for s in running) or "none"
    where = runtime_dir(env) / "sessions"
    if sid is not None:
        if not SID_PATTERN.match(sid):
            raise LinkError(f"--attach {sid!r}: a session id is 8 hex digits, e.g. a1b2c3d4")
        path = where / f"{sid}.json"
        if path.exists():
            entry = read_session_file(path)
            if _alive(entry.pid):
                return entry
        raise LinkError(f"no running session {sid} in {where} (running: {listing})")
    if len(running) != 1:
        what = "no session is running" if not running else "several sessions are running"
        raise LinkError(f"--attach: {what} in {where} (running: {listing}); give --attach SID")
    return running[0]
