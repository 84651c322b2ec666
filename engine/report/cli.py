"""``vrtherapy report``: argument parser and command (wired into :mod:`engine.cli`).

The session's integrity is checked before reading; the report of an encrypted session is
sealed (``report.html.sealed``) unless ``--plaintext -o FILE`` asks for a readable copy
outside the sessions folder (logged). A report never replaces a file of a session.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from engine import cli_types
from engine.privacy.errors import IntegrityError
from engine.privacy.review import REPORT_NAMES
from engine.privacy.review_cli import add_review_options, open_review

__all__ = ["add_report_parser", "cmd_report"]


def add_report_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``report`` subcommand to ``sub`` (from ``add_subparsers``)."""
    p: argparse.ArgumentParser = sub.add_parser(
        "report",
        help="write the clinician HTML report of a recording",
        description="One self-contained HTML file (inline figures, no scripts, no network): "
        "header, timeline, intensity decisions, habituation per step, arousal window, "
        "signal quality and frame timing. Reads summary.json beside the recording if present. "
        "An encrypted session's report is sealed; --plaintext -o FILE writes a readable copy.",
    )
    p.add_argument("recording", type=cli_types.path, help="recording of a session, or its folder")
    p.add_argument(
        "-o",
        "--output",
        type=cli_types.out_path,
        default=None,
        help="HTML file to write (default: report.html, or report.html.sealed for an "
        "encrypted session, in the session folder when it has none)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace the output if it exists (never the input or a file of a session)",
    )
    p.add_argument(
        "--plaintext",
        action="store_true",
        help="for an encrypted session: write readable HTML to -o FILE outside the sessions "
        "folder instead of a sealed report (logged in the audit trail)",
    )
    p.add_argument(
        "--twin",
        metavar="PROFILE",
        help="draw this patient twin (e.g. a `vrtherapy twin fit` profile) over the recorded "
        "HR and SCL, with the RMSE of its fit",
    )
    add_review_options(p)
    return p


def cmd_report(args: argparse.Namespace) -> int:
    """Run ``vrtherapy report``; prints one line; errors propagate as VrTherapyError."""
    from engine.report import build_report

    review = open_review(args, "report")
    recording, key = review.recording, review.key
    seal = review.sealed and not args.plaintext
    if review.sealed and args.plaintext and args.output is None:
        raise IntegrityError(
            f"--plaintext writes a readable copy of the encrypted {recording}: give -o FILE "
            f"outside the sessions folder (the copy is logged in the audit trail)"
        )
    folder = review.folder or recording.parent
    out: Path = args.output or folder / ("report.html.sealed" if seal else "report.html")
    if args.output is None and review.folder is not None and out.exists():
        hint = "--plaintext -o FILE" if review.sealed else "-o FILE"
        raise IntegrityError(
            f"{out} exists: the session has its report, which is never replaced; to write "
            f"another{' readable copy' if review.sealed else ''} use `vrtherapy report "
            f"{review.folder} {hint}` with FILE outside the session folder"
        )
    session = review.check_output(out, allowed_names=REPORT_NAMES, plaintext=not seal)
    start = time.perf_counter()
    twin = None
    if args.twin is not None:
        from engine.report.twin_overlay import twin_overlay

        twin = twin_overlay(args.twin, recording)
    with review.decrypting():
        path = build_report(recording, out, force=bool(args.force), key=key, seal=seal, twin=twin)
    review.audit(
        "report",
        output=str(path),
        sealed=seal,
        plaintext_of_sealed=review.sealed and not seal,
        key_used=key is not None,
    )
    review.register(session, [path])
    print(f"report: {path} ({time.perf_counter() - start:.1f} s)")
    return 0
