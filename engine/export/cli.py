"""``vrtherapy export`` and ``vrtherapy replay``: parsers and commands (wired into engine.cli).

Both check the session's integrity before reading (:func:`engine.privacy.review_cli.open_review`);
an export never replaces a file of a session's record, goes into the session's ``exports/``
sub-folder by default (listed in its ``integrity.json``), and is logged with the operator.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from engine import cli_types
from engine.privacy.review_cli import add_review_options, open_review

__all__ = ["add_export_parser", "add_replay_parser", "cmd_export", "cmd_replay"]

FORMATS = ("edf", "csv", "bids")


def add_export_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``export`` subcommand to ``sub`` (from ``add_subparsers``)."""
    p: argparse.ArgumentParser = sub.add_parser(
        "export",
        help="export a recording as EDF+, CSV or BIDS",
        description="edf: one EDF+ file (physiology at its own rates, intensity at 10 Hz, "
        "events as annotations). csv: one CSV per stream plus events.csv. bids: a BIDS "
        "dataset (physio and events per session) of one session or of every session in a "
        "sessions folder, into a new folder given with --out (docs/bids.md). The session's "
        "integrity is checked first; the export is logged in the audit trail.",
    )
    p.add_argument(
        "recording",
        type=cli_types.path,
        help="recording of a session, or its folder; for bids also a sessions folder",
    )
    p.add_argument("--format", choices=FORMATS, default="edf", help="edf (default), csv or bids")
    p.add_argument(
        "-o",
        "--output",
        "--out",
        type=cli_types.out_path,
        default=None,
        help="EDF file, or folder for CSV (default: the session's exports/recording.edf or "
        "exports/csv/, listed in its integrity.json; an encrypted session needs -o outside "
        "the sessions folder); for bids a new or empty folder outside every session folder "
        "(required)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace existing output files (never the input or a file of a session)",
    )
    add_review_options(p)
    return p


def add_replay_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``replay`` subcommand to ``sub``."""
    p: argparse.ArgumentParser = sub.add_parser(
        "replay",
        help="re-publish a recording's physiology on LSL",
        description="Re-creates the recorded physiology streams (same name, type, rate, "
        "channel metadata) and pushes the samples in real time x --speed, time-stamped "
        "from now. Ctrl-C stops.",
    )
    p.add_argument("recording", type=cli_types.path, help="recording of a session, or its folder")
    p.add_argument(
        "--speed",
        type=cli_types.real("a speed", 0.0, 1000.0, above=True),
        default=1.0,
        help="playback speed (default 1.0)",
    )
    p.add_argument(
        "--wait-for-consumer",
        type=cli_types.real("a number of seconds", 0.0, 3600.0),
        default=0.0,
        metavar="SECONDS",
        help="publish the streams, then start playback only once every stream has a "
        "consumer (e.g. `vrtherapy run` recording it), waiting at most SECONDS; exit 1 "
        "if none connects (default 0: start at once)",
    )
    add_review_options(p)
    return p


def cmd_export(args: argparse.Namespace) -> int:
    """Run ``vrtherapy export``; prints one line; errors propagate as VrTherapyError."""
    if args.format == "bids":
        from engine.export.bids_cli import cmd_export_bids

        return cmd_export_bids(args)
    review = open_review(args, "export")
    recording, key = review.recording, review.key
    force = bool(getattr(args, "force", False))
    stem = recording.name.split(".")[0]
    csv = args.format == "csv"
    target = args.output or review.default_output("csv" if csv else f"{stem}.edf")
    session = review.check_output(target, folder=csv)
    if csv:
        from engine.export.csv import export_csv

        with review.decrypting():
            paths = export_csv(recording, target, force=force, key=key)
        out = paths[0].parent
        print(f"export: {len(paths)} CSV files in {out}")
    else:
        from engine.export.edf import export_edf

        with review.decrypting():
            out = export_edf(recording, target, force=force, key=key)
        paths = [out]
        print(f"export: {out}")
    review.audit("export", format=args.format, output=str(out), key_used=key is not None)
    review.register(session, paths)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Run ``vrtherapy replay`` until the recording ends or Ctrl-C; returns 0."""
    from biosignals.replay import Replayer
    from engine.export.recording import load_physiology

    review = open_review(args, "replay")
    with review.decrypting():
        streams = load_physiology(review.recording, review.key)
    if review.key is not None:
        review.audit("key_use", key_id=review.key.key_id, purpose="replay")
    review.audit("replay", key_used=review.key is not None)
    replayer = Replayer(streams, speed=args.speed)
    names = ", ".join(f"{s.name} ({s.type}, {s.nominal_srate:g} Hz)" for s in streams)
    print(f"replay: {names} for {replayer.duration:.0f} s; Ctrl-C stops", file=sys.stderr)
    wait = float(args.wait_for_consumer)  # 0..3600, checked while parsing
    if wait > 0:
        print(f"replay: waiting up to {wait:g} s for a consumer of every stream", file=sys.stderr)
        try:
            connected = replayer.wait_for_consumers(wait)
        except KeyboardInterrupt:
            replayer.stop()
            print(f"replay: stopped before playback ({len(streams)} streams)")
            return 0
        if not connected:
            replayer.stop()
            print(
                f"replay: no consumer connected to every stream within {wait:g} s; "
                "nothing was played (is the recorder on the same LSL config?)",
                file=sys.stderr,
            )
            return 1
    replayer.start()
    try:
        while not replayer.wait(0.5) and replayer.error is None:
            pass
    except KeyboardInterrupt:
        pass
    finally:
        replayer.stop()
    print(f"replay: {'done' if replayer.done else 'stopped'} ({len(streams)} streams)")
    return 0
