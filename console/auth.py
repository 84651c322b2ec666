"""Login sessions, pairing codes and attempt limits of the console (in memory).

* A **login session** is a random 32-byte token (the ``vrt_session`` cookie) mapped
  server-side to the user, role and a CSRF token; it ends on logout or after
  :data:`IDLE_LOGOFF` seconds without the user doing anything.
* A **pairing code** (8 characters of an unambiguous alphabet) logs a tablet in as the
  operator who started the console: single use, valid :data:`CODE_LIFETIME` seconds.
* A :class:`RateLimiter` allows a client address a few attempts per minute (pairing codes,
  passwords).

Every clock is injected (``now``: monotonic seconds), so tests step time instead of
waiting for it.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "CODE_ALPHABET",
    "CODE_LIFETIME",
    "IDLE_LOGOFF",
    "LoginSession",
    "LoginSessions",
    "PairingCodes",
    "RateLimiter",
    "normalise_code",
]

IDLE_LOGOFF = 15 * 60.0
CODE_LIFETIME = 5 * 60.0
CODE_LENGTH = 8
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
"""No 0/O, 1/I/L: a code read off a screen and typed on a tablet."""
Clock = Callable[[], float]


@dataclass
class LoginSession:
    """One logged-in browser.

    Attributes
    ----------
    token
        The cookie value (never logged).
    user, role
        Who, and what they may do.
    csrf
        The token every POST and WebSocket of this login must carry.
    via
        ``"password"`` or ``"pairing"``.
    last_active
        When the user last did something (monotonic seconds).
    """

    token: str = field(repr=False)
    user: str
    role: str
    csrf: str = field(repr=False)
    via: str
    last_active: float

    def csrf_ok(self, given: str | None) -> bool:
        """Whether ``given`` is this login's CSRF token (constant time)."""
        return given is not None and hmac.compare_digest(given.encode(), self.csrf.encode())


class LoginSessions:
    """The console's logins, keyed by cookie token.

    Parameters
    ----------
    idle
        Seconds without activity after which a login ends.
    now
        Monotonic clock.
    """

    def __init__(self, idle: float = IDLE_LOGOFF, now: Clock = time.monotonic) -> None:
        self.idle = idle
        self._now = now
        self._by_token: dict[str, LoginSession] = {}

    def create(self, user: str, role: str, via: str) -> LoginSession:
        """A new login for ``user``."""
        login = LoginSession(
            token=secrets.token_urlsafe(32),
            user=user,
            role=role,
            csrf=secrets.token_urlsafe(32),
            via=via,
            last_active=self._now(),
        )
        self._by_token[login.token] = login
        return login

    def get(self, token: str | None) -> LoginSession | None:
        """The live login of ``token`` (``None`` when unknown or idle too long; an idle one
        is ended here)."""
        login = self._by_token.get(token or "")
        if login is None:
            return None
        if self._now() - login.last_active > self.idle:
            del self._by_token[login.token]
            return None
        return login

    def touch(self, login: LoginSession) -> None:
        """The user did something: the idle time starts again."""
        login.last_active = self._now()

    def end(self, login: LoginSession) -> None:
        """Log out."""
        self._by_token.pop(login.token, None)

    def expired(self) -> list[LoginSession]:
        """Remove and return the logins idle for too long (for their audit entries)."""
        now = self._now()
        gone = [s for s in self._by_token.values() if now - s.last_active > self.idle]
        for login in gone:
            del self._by_token[login.token]
        return gone

    def alive(self, login: LoginSession) -> bool:
        """Whether ``login`` has neither ended nor idled out."""
        return self.get(login.token) is login


def normalise_code(text: str) -> str:
    """A typed code as stored: upper case, without spaces or dashes."""
    return "".join(c for c in text.upper() if c not in " -\t")


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


@dataclass(frozen=True)
class PairingCode:
    """An issued code: who it logs in, and when it stops working."""

    code: str
    operator: str
    expires: float

    def display(self) -> str:
        """``ABCD-EFGH``."""
        return f"{self.code[:4]}-{self.code[4:]}"


class PairingCodes:
    """One-time pairing codes (at most one valid at a time: a new one replaces the old).

    Parameters
    ----------
    lifetime
        Seconds a code stays valid.
    now
        Monotonic clock.
    """

    def __init__(self, lifetime: float = CODE_LIFETIME, now: Clock = time.monotonic) -> None:
        self.lifetime = lifetime
        self._now = now
        self._current: PairingCode | None = None

    def issue(self, operator: str) -> PairingCode:
        """A fresh code that logs its user in as ``operator``."""
        self._current = PairingCode(_new_code(), operator, self._now() + self.lifetime)
        return self._current

    def redeem(self, typed: str) -> str | None:
        """The operator of ``typed`` when it is the valid code (which is then used up),
        else ``None``."""
        current = self._current
        if current is None or self._now() > current.expires:
            self._current = None
            return None
        if not hmac.compare_digest(normalise_code(typed).encode(), current.code.encode()):
            return None
        self._current = None
        return current.operator


class RateLimiter:
    """At most ``limit`` attempts per ``window`` seconds per key (a client address).

    Parameters
    ----------
    limit
        Attempts allowed within the window.
    window
        Seconds.
    now
        Monotonic clock.
    """

    def __init__(self, limit: int, window: float = 60.0, now: Clock = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._now = now
        self._seen: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        """Count an attempt by ``key``; ``False`` when it is one too many."""
        now = self._now()
        for k in [k for k, q in self._seen.items() if q and now - q[-1] > self.window]:
            del self._seen[k]  # forget quiet clients
        times = self._seen.setdefault(key, deque())
        while times and now - times[0] > self.window:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        return True

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again (0 when it may now)."""
        times = self._seen.get(key)
        if not times or len(times) < self.limit:
            return 0.0
        return max(0.0, self.window - (self._now() - times[0]))
