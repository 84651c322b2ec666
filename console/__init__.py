"""The therapist console: a separate process that watches and steers a live session.

``vrtherapy console`` is an LSL client of a session on the same machine (it reads the
session's status, features, markers, intensity and thumbnail streams and publishes signed
commands back) and serves a small web app to browsers: login, the live page, one WebSocket
per session. The engine never listens on the network; this package is a layer above it
(it imports ``engine``, ``biosignals`` and ``therapies``, and none of them imports it, but
for the ``vrtherapy`` command's lazy entry point). The wire formats are ``docs/console.md``.
"""

from __future__ import annotations
