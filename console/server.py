"""Running the console: where it binds, TLS, and serving until a stop signal.

Loopback (``127.0.0.1``, ``::1``, ``localhost``) is the default and the only address served
without TLS: any other needs ``--tls-cert/--tls-key`` or ``--tls-self-signed``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import signal
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from console.errors import ConsoleError

__all__ = ["Bind", "is_loopback", "parse_bind", "require_tls", "serve"]


@dataclass(frozen=True)
class Bind:
    """A host and port to listen on (port 0: any free port)."""

    host: str
    port: int

    @property
    def loopback(self) -> bool:
        """Whether only this machine can reach it."""
        return is_loopback(self.host)


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_bind(text: str, option: str = "--bind") -> Bind:
    """``HOST:PORT``, ``[v6]:PORT`` or ``PORT`` (host 127.0.0.1).

    Raises
    ------
    ConsoleError
        Not one of those, or the port is not 0..65535.
    """
    host, _, port_text = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
        if not 0 <= port <= 65535:
            raise ValueError
    except ValueError:
        raise ConsoleError(
            f"{option} {text!r}: expected [HOST:]PORT, e.g. 127.0.0.1:8765 or 8765 (port 0..65535)"
        ) from None
    return Bind(host, port)


def require_tls(bind: Bind, tls: bool, option: str = "--bind") -> None:
    """Refuse a non-loopback address without TLS.

    Raises
    ------
    ConsoleError
        Saying what to add.
    """
    if not bind.loopback and not tls:
        raise ConsoleError(
            f"{option} {bind.host}:{bind.port}: other machines could reach the console, so it "
            f"needs TLS: add --tls-self-signed (its fingerprint is printed for the tablet to "
            f"confirm) or --tls-cert FILE --tls-key FILE; or bind 127.0.0.1 and use SSH port "
            f"forwarding (README, 'Therapist console')"
        )


async def serve(
    app: web.Application,
    bind: Bind,
    ssl_context: ssl.SSLContext | None,
    on_ready: Callable[[list[str]], None],
    stop: asyncio.Event | None = None,
) -> None:
    """Serve ``app`` until ``stop`` is set, SIGINT or SIGTERM.

    ``on_ready`` gets the URLs served (with the real port when ``bind.port`` is 0).

    Raises
    ------
    ConsoleError
        The address cannot be bound (in use, not this machine's).
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, bind.host, bind.port, ssl_context=ssl_context)
        try:
            await site.start()
        except OSError as exc:
            raise ConsoleError(f"cannot listen on {bind.host}:{bind.port}: {exc}") from exc
        scheme = "https" if ssl_context is not None else "http"
        urls = []
        for address in runner.addresses:
            host, port = address[0], address[1]
            if host in ("0.0.0.0", "::"):  # every interface: name the machine instead
                host = socket.gethostname()
            urls.append(f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}/")
        on_ready(urls)
        await stop.wait()
    finally:
        await runner.cleanup()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
