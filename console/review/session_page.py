"""``/participants/{participant}/sessions/{session}``: one session's report, and its
downloads (``POST .../download``).

The report is the session's own ``report.html`` (``report.html.sealed`` decrypted in
memory), or, for a session without one (a crash, ``--no-report``), rendered in memory
from its recording; nothing is written anywhere. The report's one inline ``<style>`` is
allowed by its SHA-256 in this answer's Content-Security-Policy (scripts stay forbidden).
A session that cannot be read gets a page that says why.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from aiohttp import web

from console.review.listing import html, page_context
from console.review.render import render
from console.review.state import REVIEW, Review, clinician, in_thread
from console.security import CSP, client_address
from console.state import CONSOLE
from engine.errors import VrTherapyError
from engine.privacy.errors import DecryptionError, PrivacyError
from engine.privacy.sealed import read_sealed_bytes
from engine.report.html import render_html
from engine.report.model import build_model
from engine.report.plots import timeline_png
from engine.review.downloads import FORMATS, Download, download
from engine.review.folder import REPORTS, ReadSession, SessionFolder, read_session

__all__ = ["REPORT_CSP", "add_routes", "report_html"]

REPORT_CSP = "X-Review-Report-CSP"
"""Header carrying a report's CSP to :func:`console.review.app.report_headers`, which
moves it into ``Content-Security-Policy`` (it never leaves the server)."""
_NOT_SHOWN = ("wrong_key", "no_recording", "unreadable")
_STYLE = re.compile(r"<style>(.*?)</style>", re.S)


def report_html(review: Review, folder: SessionFolder) -> tuple[ReadSession, str | None]:
    """The session's report HTML, in memory (``None`` when it cannot be read)."""
    read = read_session(folder, review.key, load=False)
    if read.flags & set(_NOT_SHOWN):
        return read, None
    sealed = folder.path / REPORTS[0]
    plain = folder.path / REPORTS[1]
    trusted = not (read.flags & {"changed", "torn"})
    try:
        if trusted and sealed.is_file() and review.key is not None:
            return read, read_sealed_bytes(sealed, review.key).decode("utf-8")
        if trusted and plain.is_file():
            return read, plain.read_text(encoding="utf-8")
    except (DecryptionError, PrivacyError, OSError, UnicodeDecodeError) as exc:
        read.flag("unreadable", f"{sealed}: the stored report cannot be read ({exc})")
    full = read_session(folder, review.key)
    if full.data is None:
        return full, None
    try:
        model = build_model(full.data, full.summary)
        return full, render_html(model, timeline_png(model))
    except VrTherapyError as exc:
        full.flag("unreadable", f"{folder.path}: the report cannot be made ({exc})")
        return full, None


def _with_nav(report: str, nav: str) -> tuple[str, str]:
    """The report with the review bar after ``<body>`` and the review stylesheet, and the
    CSP that allows exactly its inline style."""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(m.encode()).digest()).decode() + "'"
        for m in _STYLE.findall(report)
    ]
    csp = CSP.replace("style-src 'self'", "style-src 'self' " + " ".join(hashes))
    head = '<link rel="icon" href="data:,">\n<link rel="stylesheet" href="/static/review.css">\n'
    head += '<script src="/static/review.js" defer></script>\n</head>'
    page = report.replace("</head>", head, 1)
    page = re.sub(r"<body([^>]*)>", lambda m: f"<body{m.group(1)}>\n{nav}", page, count=1)
    return page, csp


async def session(request: web.Request) -> web.StreamResponse:
    """``GET /participants/{participant}/sessions/{session}``."""
    participant, name = request.match_info["participant"], request.match_info["session"]
    login = clinician(request, "/session", session=f"{participant}/{name}")
    review = request.app[REVIEW]
    folder = review.folder(participant, name)
    if folder is None:
        raise web.HTTPNotFound(text=f"no session {participant}/{name} in this sessions folder")
    read, report = await in_thread(lambda: report_html(review, folder))
    context = page_context(
        login,
        f"Session {name}",
        [
            (participant, f"/participants/{participant}"),
            (name, f"/participants/{participant}/sessions/{name}"),
        ],
    )
    if report is None:
        return html(
            render(
                "problem.j2",
                session=folder.rel,
                status=read.status,
                problems=read.problems,
                **context,
            )
        )
    nav = render(
        "session_nav.j2",
        participant=participant,
        session=name,
        formats=FORMATS,
        status=read.status,
        problems=read.problems,
        **context,
    )
    page, csp = _with_nav(report, nav)
    response = html(page)
    response.headers[REPORT_CSP] = csp
    return response


async def download_file(request: web.Request) -> web.StreamResponse:
    """``POST /participants/{participant}/sessions/{session}/download`` (form: ``format``,
    ``csrf``): the recording as XDF, EDF+ or a ZIP of CSV files, made in memory; audited."""
    participant, name = request.match_info["participant"], request.match_info["session"]
    fmt = str((await request.post()).get("format", ""))
    login = clinician(request, None)
    review = request.app[REVIEW]
    folder = review.folder(participant, name)
    recording = folder.recording() if folder is not None else None
    if folder is None or recording is None:
        raise web.HTTPNotFound(text=f"no recording of {participant}/{name}")
    if fmt not in FORMATS:
        raise web.HTTPBadRequest(text=f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    try:
        made = await in_thread(lambda: _download(review, recording, fmt, name))
    except (VrTherapyError, OSError) as exc:
        raise web.HTTPConflict(text=f"{folder.rel} cannot be exported: {exc}") from None
    request.app[CONSOLE].audit_login(
        "download",
        login,
        client_address(request),
        session=folder.rel,
        format=fmt,
        bytes=len(made.body),
        file=made.filename,
    )
    return web.Response(
        body=made.body,
        content_type=made.content_type,
        headers={"Content-Disposition": f'attachment; filename="{made.filename}"'},
    )


def _download(review: Review, recording: Path, fmt: str, stem: str) -> Download:
    return download(recording, review.key, fmt, stem)


def add_routes(app: web.Application) -> None:
    """The session page and its downloads."""
    app.router.add_get("/participants/{participant}/sessions/{session}", session)
    app.router.add_post("/participants/{participant}/sessions/{session}/download", download_file)
