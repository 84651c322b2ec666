"""SIGTERM, SIGINT and SIGHUP end a session cleanly, like the stop key.

A service manager stopping the engine, a closing terminal, a logout or Ctrl-C must never
leave a session without its summary, integrity manifest and audit entry. While a
:class:`SignalStop` is active, these signals are turned into a request: a running session
stops at its next step as ``aborted`` with the reason ``signal SIGTERM`` (and then writes
everything a stopped session writes); before a session runs, the signal raises
:class:`InterruptedBySignal` so that set-up is unwound (nothing recorded yet); once the
session has ended, the ending is not interrupted.

Handlers can only be installed from the main thread; elsewhere :class:`SignalStop` does
nothing (a library caller keeps its own handling).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Protocol

from engine.errors import VrTherapyError

__all__ = ["HANDLED", "InterruptedBySignal", "SignalStop", "StopTarget"]

HANDLED = ("SIGTERM", "SIGINT", "SIGHUP")
"""Signals that end a session cleanly (those that exist on this platform)."""


class InterruptedBySignal(VrTherapyError):
    """A stop signal arrived before a session was running."""

    def __init__(self, name: str) -> None:
        super().__init__(f"interrupted by {name} before the session started; nothing recorded")
        self.signal_name = name


class StopTarget(Protocol):
    """What a signal stops: a running session."""

    @property
    def done(self) -> bool:
        """Whether it has ended."""
        ...

    def request_stop(self, reason: str) -> None:
        """Stop at the next step with ``reason``."""
        ...


class SignalStop:
    """Context manager that routes stop signals to the attached session (module docs)."""

    def __init__(self) -> None:
        self.target: StopTarget | None = None
        self.received: str | None = None
        self._previous: dict[signal.Signals, object] = {}

    def attach(self, target: StopTarget | None) -> None:
        """Stop ``target`` on the next signal (``None``: raise instead, as before a run)."""
        self.target = target

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        self.received = name
        target = self.target
        if target is None:
            raise InterruptedBySignal(name)
        if not target.done:
            target.request_stop(f"signal {name}")

    def __enter__(self) -> SignalStop:
        if threading.current_thread() is not threading.main_thread():
            return self
        for name in HANDLED:
            sig = getattr(signal, name, None)
            if sig is not None:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)  # type: ignore[arg-type]
        self._previous.clear()
