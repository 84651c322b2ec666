"""From ``vrtherapy console`` options to a serving console, with what it prints.

Everything that can be wrong with the options (address, TLS files, the session to attach)
is found before anything listens. Once serving it prints, on standard output, the URL
(``console: URL``), the TLS fingerprint when self-signed, and a one-time pairing code for
a tablet; with ``--attach`` it attaches at once, so the first page opens without waiting.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
from dataclasses import dataclass

from aiohttp import web

from console.app import make_app
from console.auth import CODE_LIFETIME
from console.errors import LinkError, TlsError
from console.runtime import SessionFile, find_session
from console.server import Bind, parse_bind, require_tls, serve
from console.state import CONSOLE, ConsoleConfig
from console.tls import certificate_hosts, fingerprint, load_context, self_signed
from console.users import USERS_FILE, UserStore
from engine.privacy.cli import audit_for
from engine.privacy.site import operator_name, site_dir

__all__ = ["Launch"]


def _say(text: str) -> None:
    print(text, flush=True)


def _tls(args: argparse.Namespace, bind: Bind) -> tuple[ssl.SSLContext | None, str | None]:
    if args.tls_self_signed and (args.tls_cert or args.tls_key):
        raise TlsError("--tls-self-signed or --tls-cert/--tls-key, not both")
    if args.tls_self_signed:
        cert, key, made = self_signed(site_dir(), certificate_hosts(bind.host))
        if made:
            _say(f"made a self-signed certificate: {cert}")
        return load_context(cert, key), fingerprint(cert)
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            raise TlsError("--tls-cert and --tls-key go together")
        return load_context(args.tls_cert, args.tls_key), None
    return None, None


@dataclass
class Launch:
    """A checked console launch (see the module docstring)."""

    config: ConsoleConfig
    bind: Bind
    ssl_context: ssl.SSLContext | None
    fingerprint: str | None
    attach: SessionFile | None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Launch:
        """Check the options; nothing listens yet.

        Raises
        ------
        ConsoleError
            A bad address, TLS missing for a non-loopback address, TLS files that cannot
            be used, or no such session to attach.
        """
        operator = operator_name(args.operator)
        bind = parse_bind(args.bind)
        context, print_fp = _tls(args, bind)
        require_tls(bind, context is not None)
        attach = find_session(args.attach or None) if args.attach is not None else None
        args.out.mkdir(parents=True, exist_ok=True)
        users = UserStore(site_dir() / USERS_FILE)
        if not users.users():
            print(
                f"vrtherapy console: no accounts in {users.path} yet: add one with "
                f"`vrtherapy user add NAME --role therapist`; until then only the pairing "
                f"code logs in",
                file=sys.stderr,
            )
        config = ConsoleConfig(
            users=users,
            audit=audit_for(args.out, operator),
            operator=operator,
            tls=context is not None,
            loopback=bind.loopback,
            default_sid=attach.sid if attach else None,
        )
        return cls(config, bind, context, print_fp, attach)

    async def run(self) -> None:
        """Serve until SIGINT or SIGTERM."""
        minutes = f"{CODE_LIFETIME / 60:g} min"
        app = make_app(
            self.config,
            on_code=lambda code: _say(f"pairing code: {code} (one use, {minutes})"),
        )
        tasks: list[asyncio.Task[object]] = []

        def ready(urls: list[str]) -> None:
            for url in urls:
                _say(f"console: {url}")
            if self.fingerprint:
                _say(f"TLS certificate SHA-256 fingerprint: {self.fingerprint}")
            code = app[CONSOLE].codes.issue(self.config.operator)
            _say(
                f"pairing code: {code.display()} (one use, {minutes}; log in as "
                f"{self.config.operator})"
            )
            if self.attach is not None:
                tasks.append(asyncio.create_task(self._attach(app)))

        await serve(app, self.bind, self.ssl_context, ready)
        _say("console stopped")

    async def _attach(self, app: web.Application) -> None:
        assert self.attach is not None
        try:
            link = await app[CONSOLE].hub.link(self.attach.sid)
        except LinkError as exc:
            print(f"vrtherapy console: warning: {exc}", file=sys.stderr, flush=True)
            return
        _say(f"attached to session {link.entry.describe()}")
