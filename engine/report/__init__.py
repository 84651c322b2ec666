"""Clinician HTML report of a session recording (see :func:`build_report`)."""

from __future__ import annotations

from engine.report.html import build_report

__all__ = ["build_report"]
