"""From ``vrtherapy serve`` options to a serving review app: everything that can be wrong
(the sessions folder, the address, TLS, the index file) is found before anything
listens; the index is brought up to date first, with progress on standard error."""

from __future__ import annotations

import argparse
import ssl
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from biosignals.errors import VrTherapyError
from console.launch import _tls
from console.review.app import make_review_app
from console.review.state import Review
from console.server import Bind, parse_bind, require_tls, serve
from console.state import ConsoleConfig
from console.users import USERS_FILE, UserStore
from engine.privacy.cli import audit_for
from engine.privacy.keys import SiteKey
from engine.privacy.site import operator_name, site_dir
from engine.review.folder import find_sessions
from engine.review.index import INDEX_NAME, SessionIndex

__all__ = ["ReviewLaunch"]


def _say(text: str) -> None:
    print(text, flush=True)


@dataclass
class ReviewLaunch:
    """A checked ``vrtherapy serve`` (see the module docstring)."""

    config: ConsoleConfig
    review: Review
    bind: Bind
    ssl_context: ssl.SSLContext | None
    fingerprint: str | None
    workers: int = 1

    @classmethod
    def from_args(cls, args: argparse.Namespace, key: SiteKey | None) -> ReviewLaunch:
        """Check the options and open the index; nothing listens yet.

        Raises
        ------
        VrTherapyError
            Not a sessions folder, a bad address, TLS missing for a non-loopback address,
            TLS files that cannot be used, an index that cannot be opened.
        """
        sessions: Path = args.sessions
        find_sessions(sessions)  # a folder, or one sentence
        twins: Path | None = getattr(args, "twins", None)
        if twins is not None and not twins.is_dir():
            raise VrTherapyError(f"--twins {twins}: not a folder of fitted twins")
        operator = operator_name(args.operator)
        bind = parse_bind(args.bind)
        context, fp = _tls(args, bind)
        require_tls(bind, context is not None)
        index = SessionIndex(args.index or sessions / INDEX_NAME, sessions, key)
        users = UserStore(site_dir() / USERS_FILE)
        if not any(u.role == "clinician" for u in users.users()):
            print(
                f"vrtherapy serve: no clinician account in {users.path} yet: add one with "
                f"`vrtherapy user add NAME --role clinician`",
                file=sys.stderr,
            )
        config = ConsoleConfig(
            users=users,
            audit=audit_for(sessions, operator),
            operator=operator,
            tls=context is not None,
            loopback=bind.loopback,
        )
        review = Review(sessions, key, index, twins=twins)
        return cls(config, review, bind, context, fp, int(getattr(args, "workers", 1)))

    async def run(self) -> None:
        """Refresh the index, then serve until SIGINT or SIGTERM."""
        start = time.perf_counter()
        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.perf_counter()
            if done == total or now - last[0] > 2.0:
                last[0] = now
                print(f"serve: indexing {done}/{total} sessions", file=sys.stderr, flush=True)

        done = self.review.index.refresh(workers=self.workers, progress=progress)
        _say(
            f"index: {self.review.index.path} ({done.added} added, {done.rebuilt} rebuilt, "
            f"{done.removed} removed, {done.unchanged} unchanged; "
            f"{time.perf_counter() - start:.1f} s)"
        )
        app = make_review_app(self.config, self.review)

        def ready(urls: list[str]) -> None:
            for url in urls:
                _say(f"review: {url}")
            if self.fingerprint:
                _say(f"TLS certificate SHA-256 fingerprint: {self.fingerprint}")

        await serve(app, self.bind, self.ssl_context, ready)
        self.review.index.close()
        _say("review stopped")
