"""Clinician review: outcome measures per session (:mod:`~engine.review.measures`), the
session folders read without changing them (:mod:`~engine.review.folder`), one table row
per session (:mod:`~engine.review.rows`), the outcome table and its parallel runners
(:mod:`~engine.review.outcomes`), the SQLite session index (:mod:`~engine.review.index`),
and the ``outcomes`` / ``serve`` commands (:mod:`~engine.review.cli`). See
``docs/outcomes.md``; the web pages are :mod:`console.review`.
"""

from __future__ import annotations
