"""Which pages watch which session: attached links, their WebSocket connections, fan-out.

The hub attaches to a session the first time a page asks for it (off the event loop: LSL
resolves block), polls every link each :data:`POLL_PERIOD` seconds on the event loop (a
poll never blocks) and hands each message to every page watching that session — a
``command_result`` or a command's ``error`` only to the page that sent the command. Each
page has a bounded outgoing queue and its own writer, so a slow browser never holds up the
others or the session link; one that falls :data:`QUEUE_LIMIT` messages behind is closed
(it reconnects and resyncs from ``history``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from console.auth import LoginSession
from console.link import SessionLink
from console.runtime import find_session

__all__ = ["CLOSE_LOST", "POLL_PERIOD", "QUEUE_LIMIT", "Hub", "Page"]

POLL_PERIOD = 0.02
QUEUE_LIMIT = 2000
CLOSE_LOST = 4410
"""WebSocket close code after ``session_lost``."""
_ROUTED = ("command_result", "error")


@dataclass(eq=False)
class Page:
    """One browser's WebSocket on one session."""

    sid: str
    login: LoginSession
    address: str
    queue: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    refused: int = 0
    closing: tuple[int, str] | None = None

    def put(self, message: dict[str, Any] | str) -> bool:
        """Queue a message for this page; ``False`` when it is too far behind."""
        text = message if isinstance(message, str) else json.dumps(message, allow_nan=False)
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True

    def end(self, code: int, reason: str, flush: bool = False) -> None:
        """Close this page's WebSocket with ``code`` after what is queued (all of it
        dropped first with ``flush``, or when the queue is full)."""
        self.closing = (code, reason)
        if flush or self.queue.full():
            while not self.queue.empty():
                self.queue.get_nowait()
        self.queue.put_nowait(None)


class Hub:
    """Links and pages of one console.

    Parameters
    ----------
    env
        Environment for the runtime folder (pairing files); ``None``: ``os.environ``.
    attach
        How a link is made (default :meth:`SessionLink.attach`); called in a worker thread.
    """

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        attach: Callable[..., SessionLink] = SessionLink.attach,
    ) -> None:
        self._env = env
        self._attach = attach
        self.links: dict[str, SessionLink] = {}
        self.pages: dict[str, set[Page]] = {}
        self.seen_ids: dict[str, set[str]] = {}
        self._owners: dict[str, Page] = {}
        self._attaching: dict[str, asyncio.Future[SessionLink]] = {}
        self._timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------------- links
    async def link(self, sid: str) -> SessionLink:
        """The link to session ``sid``, attaching to it first if needed.

        Raises
        ------
        LinkError
            No such running session, or its streams cannot be opened.
        """
        if sid in self.links:
            return self.links[sid]
        if sid not in self._attaching:
            loop = asyncio.get_running_loop()
            entry = find_session(sid, self._env)
            self._attaching[sid] = loop.run_in_executor(None, self._attach, entry)
        future = self._attaching[sid]
        try:
            link = await asyncio.shield(future)
        finally:
            if future.done():
                self._attaching.pop(sid, None)
        if sid not in self.links:
            self.links[sid] = link
            self.seen_ids.setdefault(sid, set())
        self._start()
        return self.links[sid]

    def _start(self) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(POLL_PERIOD, self._tick)

    def _tick(self) -> None:
        self._timer = None
        for sid, link in list(self.links.items()):
            events = link.poll()
            if events:
                self.dispatch(sid, events)
            if link.lost is not None:
                link.close()
                del self.links[sid]
                for page in list(self.pages.get(sid, ())):
                    page.end(CLOSE_LOST, link.lost)
        if self.links:
            self._start()

    # ------------------------------------------------------------------------- pages
    def join(self, page: Page) -> None:
        """``page`` now receives its session's messages."""
        self.pages.setdefault(page.sid, set()).add(page)

    def leave(self, page: Page) -> None:
        """``page`` is gone."""
        self.pages.get(page.sid, set()).discard(page)
        for cid in [cid for cid, p in self._owners.items() if p is page]:
            del self._owners[cid]

    def sent(self, page: Page, command_id: str) -> None:
        """``page`` sent command ``command_id``: its result goes back to it."""
        self._owners[command_id] = page

    def dispatch(self, sid: str, events: list[dict[str, Any]]) -> None:
        """Hand ``events`` of session ``sid`` to its pages (results to their sender)."""
        pages = self.pages.get(sid, set())
        for event in events:
            if event["type"] in _ROUTED and "id" in event:
                owner = self._owners.pop(event["id"], None)
                targets = {owner} if owner is not None and owner in pages else set()
            else:
                targets = pages
            text = json.dumps(event, allow_nan=False)
            for page in list(targets):
                if not page.put(text):
                    page.end(1013, "too slow: reconnect and resync", flush=True)

    async def close(self) -> None:
        """Stop polling and close every link (console shutdown)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for link in self.links.values():
            link.close()
        self.links.clear()
        for future in self._attaching.values():
            future.cancel()
