"""What the review app holds besides the console's state: the sessions folder, the site
key, the session index; and the role check and audit every review page goes through."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from console.auth import LoginSession
from console.security import client_address, current_login
from console.state import CONSOLE
from engine.privacy.keys import SiteKey
from engine.review.folder import SessionFolder
from engine.review.index import SessionIndex

__all__ = [
    "REVIEW",
    "REVIEW_ROLES",
    "Review",
    "audit_view",
    "clinician",
    "in_thread",
]

REVIEW_ROLES = frozenset({"clinician"})
"""Roles that may open the review pages (a therapist steers sessions; a clinician reviews)."""
T = TypeVar("T")


@dataclass
class Review:
    """The sessions folder, its site key and index (one per review app)."""

    sessions: Path
    key: SiteKey | None
    index: SessionIndex
    refresh_period: float = 30.0
    twins: Path | None = None
    """Folder of fitted twins, ``PARTICIPANT.yaml`` each (``vrtherapy serve --twins``)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def folder(self, participant: str, session: str) -> SessionFolder | None:
        """The session folder ``participant/session`` when the index lists it (names
        never reach the file system unless they are indexed folders)."""
        rel = f"{participant}/{session}"
        if self.index.session(rel) is None:
            return None
        return SessionFolder(self.sessions / participant / session, rel, participant)

    def refresh(self) -> None:
        """Bring the index up to date (one refresh at a time)."""
        with self.lock:
            self.index.refresh()


REVIEW: web.AppKey[Review] = web.AppKey("review", Review)


def clinician(request: web.Request, page: str | None, **details: Any) -> LoginSession:
    """The login of a clinician, audited as a view of ``page`` (``None``: the caller
    audits what it does).

    Raises
    ------
    aiohttp.web.HTTPForbidden
        Another role (audited as refused).
    """
    login = current_login(request)
    console = request.app[CONSOLE]
    if login.role not in REVIEW_ROLES:
        console.audit_login(
            "refused",
            login,
            client_address(request),
            path=request.path,
            reason=f"the review pages need the clinician role ({login.role} may not)",
        )
        raise web.HTTPForbidden(
            text=f"Review pages are for clinicians; {login.user} is a {login.role}."
        )
    if page is not None:
        audit_view(request, login, page, **details)
    return login


def audit_view(request: web.Request, login: LoginSession, page: str, **details: Any) -> None:
    """Audit a review page view (``console_review``) naming the user."""
    request.app[CONSOLE].audit_login("review", login, client_address(request), page=page, **details)


async def in_thread(fn: Callable[[], T]) -> T:
    """Run blocking work (reading, decrypting, rendering) off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, fn)
