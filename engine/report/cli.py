"""``vrtherapy report``: argument parser and command (wired into :mod:`engine.cli`)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from engine.privacy.cli import (
    add_key_options,
    audit_review,
    audited_decryption,
    key_from_args,
    register_output,
)

__all__ = ["add_report_parser", "cmd_report"]


def add_report_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``report`` subcommand to ``sub`` (from ``add_subparsers``)."""
    p: argparse.ArgumentParser = sub.add_parser(
        "report",
        help="write the clinician HTML report of a recording",
        description="One self-contained HTML file (inline figures, no scripts, no network): "
        "header, timeline, intensity decisions, habituation per step, arousal window, "
        "signal quality and frame timing. Reads summary.json beside the recording if present.",
    )
    p.add_argument("recording", type=Path, help="recording.xdf of a session")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="HTML file to write (default: report.html beside the recording)",
    )
    p.add_argument("--force", action="store_true", help="replace the output if it exists")
    p.add_argument(
        "--plaintext",
        action="store_true",
        help="with --key: write readable HTML instead of a sealed report (logged in the audit)",
    )
    add_key_options(p)
    return p


def cmd_report(args: argparse.Namespace) -> int:
    """Run ``vrtherapy report``; prints one line; errors propagate as VrTherapyError."""
    from engine.report import build_report

    recording: Path = args.recording
    key = key_from_args(args)
    seal = key is not None and not args.plaintext
    default = "report.html.sealed" if seal else "report.html"
    out: Path = args.output or recording.with_name(default)
    start = time.perf_counter()
    with audited_decryption(recording):
        path = build_report(recording, out, force=bool(args.force), key=key, seal=seal)
    audit_review(recording, "report", output=str(path), sealed=seal, key_used=key is not None)
    register_output(recording, path)
    print(f"report: {path} ({time.perf_counter() - start:.1f} s)")
    return 0
