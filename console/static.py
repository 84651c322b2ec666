"""The page's files, vendored in the package (``console/static/``; no CDN).

They are read once into memory when the app is made and served by name from that fixed
set, so no request path ever reaches the file system.
"""

from __future__ import annotations

from importlib import resources

from aiohttp import web

__all__ = ["TYPES", "StaticFiles"]

TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".txt": "text/plain",
}


class StaticFiles:
    """The files of ``console/static`` by name, with their content types."""

    def __init__(self) -> None:
        folder = resources.files("console") / "static"
        self.files: dict[str, tuple[bytes, str]] = {}
        for entry in folder.iterdir():
            suffix = "." + entry.name.rsplit(".", 1)[-1]
            if entry.is_file() and suffix in TYPES:
                self.files[entry.name] = (entry.read_bytes(), TYPES[suffix])

    def response(self, name: str) -> web.Response:
        """The file ``name`` (404 when it is not one of them)."""
        if name not in self.files:
            raise web.HTTPNotFound(text=f"no file {name!r}")
        body, content_type = self.files[name]
        charset = "utf-8" if content_type.startswith("text/") else None
        return web.Response(body=body, content_type=content_type, charset=charset)

    async def handle(self, request: web.Request) -> web.Response:
        """``GET /static/{name}``."""
        return self.response(request.match_info["name"])
