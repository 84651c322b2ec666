"""``vrtherapy export`` and ``vrtherapy replay``: parsers and commands (wired into engine.cli)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from engine.privacy.cli import add_key_options, audit_review, audited_decryption, key_from_args

__all__ = ["add_export_parser", "add_replay_parser", "cmd_export", "cmd_replay"]

FORMATS = ("edf", "csv")


def add_export_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``export`` subcommand to ``sub`` (from ``add_subparsers``)."""
    p: argparse.ArgumentParser = sub.add_parser(
        "export",
        help="export a recording as EDF+ or CSV",
        description="edf: one EDF+ file (physiology at its own rates, intensity at 10 Hz, "
        "events as annotations). csv: one CSV per stream plus events.csv.",
    )
    p.add_argument("recording", type=Path, help="recording.xdf of a session")
    p.add_argument("--format", choices=FORMATS, default="edf", help="edf (default) or csv")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="EDF file, or folder for CSV (default: recording.edf / csv/ beside the recording)",
    )
    p.add_argument("--force", action="store_true", help="replace existing output files")
    add_key_options(p)
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
    p.add_argument("recording", type=Path, help="recording.xdf of a session")
    p.add_argument("--speed", type=float, default=1.0, help="playback speed (default 1.0)")
    add_key_options(p)
    return p


def cmd_export(args: argparse.Namespace) -> int:
    """Run ``vrtherapy export``; prints one line; errors propagate as VrTherapyError."""
    recording: Path = args.recording
    force = bool(getattr(args, "force", False))
    key = key_from_args(args)
    if args.format == "edf":
        from engine.export.edf import export_edf

        default = recording.parent / (recording.name.split(".")[0] + ".edf")
        with audited_decryption(recording):
            out = export_edf(recording, args.output or default, force=force, key=key)
        print(f"export: {out}")
    else:
        from engine.export.csv import export_csv

        with audited_decryption(recording):
            paths = export_csv(
                recording, args.output or recording.parent / "csv", force=force, key=key
            )
        out = paths[0].parent
        print(f"export: {len(paths)} CSV files in {out}")
    audit_review(recording, "export", format=args.format, output=str(out), key_used=key is not None)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Run ``vrtherapy replay`` until the recording ends or Ctrl-C; returns 0."""
    from biosignals.replay import Replayer
    from engine.export.recording import load_physiology

    key = key_from_args(args)
    with audited_decryption(args.recording):
        streams = load_physiology(args.recording, key)
    audit_review(args.recording, "key_use" if key is not None else "replay", command="replay")
    replayer = Replayer(streams, speed=args.speed)
    names = ", ".join(f"{s.name} ({s.type}, {s.nominal_srate:g} Hz)" for s in streams)
    print(f"replay: {names} for {replayer.duration:.0f} s; Ctrl-C stops", file=sys.stderr)
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
