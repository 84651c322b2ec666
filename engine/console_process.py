"""``run``/``demo --console [HOST:]PORT``: the therapist console as a process beside the session.

The session never listens on the network: it starts ``vrtherapy console --attach SID`` as a
child process once its pairing file is written (docs/console.md, part 3), and the console
reaches the session over LSL like any other console. Nothing here runs in the frame loop:
the child's output (its URL, TLS fingerprint and pairing code) is read on a daemon thread
and handed line by line to ``on_line``; a console that crashes or is killed is announced
the same way and the session goes on. When the session ends the console is stopped
(SIGTERM, then SIGKILL after :data:`STOP_TIMEOUT_S`).
"""

from __future__ import annotations

import ipaddress
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Final

from engine.errors import VrTherapyError

__all__ = ["STOP_TIMEOUT_S", "ConsoleProcess", "is_loopback", "split_bind"]

STOP_TIMEOUT_S: Final = 10.0
"""How long a stopping console may take before it is killed."""


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (only this machine can reach it)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def split_bind(text: str, option: str = "--console") -> tuple[str, int]:
    """``HOST:PORT``, ``[v6]:PORT`` or ``PORT`` -> ``(host, port)``; host 127.0.0.1 by default.

    Raises
    ------
    VrTherapyError
        Not one of those, or the port is not 0..65535 (the message names ``option``).
    """
    host, _, port_text = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
        if not 0 <= port <= 65535:
            raise ValueError
    except ValueError:
        raise VrTherapyError(
            f"{option} {text!r}: expected [HOST:]PORT, e.g. 127.0.0.1:8765 or 8765 "
            f"(port 0..65535; 0 picks a free one)"
        ) from None
    return host, port


class ConsoleProcess:
    """The console child of one session (see the module docstring).

    Parameters
    ----------
    bind
        ``[HOST:]PORT`` as given to ``--console``. Any address other than loopback is served
        with the console's self-signed certificate (``--tls-self-signed``; its fingerprint is
        printed for the tablet to confirm).
    out
        The sessions folder (its ``audit.log`` records the console too).
    operator
        Who runs the session: the console's operator (a pairing code logs a tablet in as
        this person).
    on_line
        Gets each line the console prints, and a last one when it exits; called from a
        reading thread, never from the frame loop.
    """

    def __init__(self, bind: str, out: Path, operator: str, on_line: Callable[[str], None]) -> None:
        host, port = split_bind(bind)
        self.bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.tls = not is_loopback(host)
        self.out = out
        self.operator = operator
        self._on_line = on_line
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._stopping = False

    def command(self, sid: str) -> list[str]:
        """The child's command line for session ``sid``."""
        cmd = [sys.executable, "-m", "engine.cli", "console", "--attach", sid]
        cmd += ["--bind", self.bind, "--operator", self.operator, "--out", str(self.out)]
        return [*cmd, "--tls-self-signed"] if self.tls else cmd

    @property
    def pid(self) -> int | None:
        """The console's process id once started."""
        return None if self._proc is None else self._proc.pid

    def start(self, sid: str) -> None:
        """Start the console attached to session ``sid`` (its pairing file must exist)."""
        try:
            self._proc = subprocess.Popen(
                self.command(sid),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
            )
        except OSError as exc:
            raise VrTherapyError(f"--console: cannot start the console: {exc}") from None
        assert self._proc.stdout is not None
        self._on_line(f"console starting (pid {self._proc.pid}) on {self.bind}")
        self._reader = threading.Thread(
            target=self._read, args=(self._proc.stdout,), name="console-output", daemon=True
        )
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            text = line.rstrip()
            if text:
                self._on_line(text)
        assert self._proc is not None
        code = self._proc.wait()
        if not self._stopping:
            self._on_line(f"console exited (code {code}); the session goes on without it")

    def stop(self) -> None:
        """Stop the console (idempotent; nothing happens when it never started)."""
        proc, self._stopping = self._proc, True
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=STOP_TIMEOUT_S)
