"""What one running console holds: its settings, logins, pairing codes, limits, hub, audit.

Handlers reach it as ``request.app[CONSOLE]``. Nothing here is module-level state: a test
makes as many consoles as it likes, each with its own clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from console.auth import LoginSession, LoginSessions, PairingCodes, RateLimiter
from console.hub import Hub
from console.users import UserStore
from engine.privacy.audit import AuditLog

__all__ = ["CONSOLE", "Console", "ConsoleConfig"]

PAIRING_ATTEMPTS = 5
LOGIN_ATTEMPTS = 10
MAX_ACTOR = 64


@dataclass(frozen=True)
class ConsoleConfig:
    """How a console runs.

    Attributes
    ----------
    users
        The accounts (``<site>/users.json``).
    audit
        The site's audit log (``<sessions>/audit.log``).
    operator
        Who started the console: a pairing code logs a tablet in as this person.
    tls
        Served over TLS (cookies are ``Secure``; origins are ``https://``).
    loopback
        Bound to a loopback address: requests must name a loopback host (no DNS
        rebinding).
    default_sid
        The session given with ``--attach`` (a page opens it without asking).
    env
        Environment for the runtime folder; ``None``: ``os.environ``.
    now
        Monotonic clock of logins, codes and limits.
    """

    users: UserStore
    audit: AuditLog
    operator: str
    tls: bool = False
    loopback: bool = True
    default_sid: str | None = None
    env: Mapping[str, str] | None = None
    now: Callable[[], float] = time.monotonic


@dataclass
class Console:
    """The state of one console (see the module docstring)."""

    config: ConsoleConfig
    hub: Hub
    logins: LoginSessions = field(init=False)
    codes: PairingCodes = field(init=False)
    pairing_limit: RateLimiter = field(init=False)
    login_limit: RateLimiter = field(init=False)
    on_code: Callable[[str], None] = print

    def __post_init__(self) -> None:
        now = self.config.now
        self.logins = LoginSessions(now=now)
        self.codes = PairingCodes(now=now)
        self.pairing_limit = RateLimiter(PAIRING_ATTEMPTS, now=now)
        self.login_limit = RateLimiter(LOGIN_ATTEMPTS, now=now)

    def audit(self, event: str, actor: str, address: str, /, **details: Any) -> None:
        """Append ``console_<event>`` to the audit chain, naming ``actor``."""
        self.config.audit.append(
            f"console_{event}", actor=actor[:MAX_ACTOR] or "?", address=address, **details
        )

    def audit_login(self, event: str, login: LoginSession, address: str, /, **details: Any) -> None:
        """Audit an event of a logged-in user."""
        self.audit(event, login.user, address, role=login.role, **details)


CONSOLE: web.AppKey[Console] = web.AppKey("console", Console)
