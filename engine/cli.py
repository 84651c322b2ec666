"""The ``vrtherapy`` command.

Exit codes: 0 ok, 1 session aborted (safety, stop key, interrupted), 2 bad input (the
message says what and where). Library code raises; only this module and the command
modules it dispatches to (``demo``/``run``/``simulate`` in :mod:`engine.session_cli`,
others beside their packages) print, and only :func:`main` turns errors into exit codes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from biosignals.errors import VrTherapyError
from biosignals.units import format_duration
from engine import cli_types
from engine.cli_types import EXIT_ABORTED, EXIT_BAD_INPUT, EXIT_OK
from engine.privacy import cli as privacy_cli
from engine.session_cli import add_session_parsers, cmd_session
from engine.signals import InterruptedBySignal

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    from engine import __version__

    parser = argparse.ArgumentParser(
        prog="vrtherapy",
        description="VR exposure therapy and pain distraction with closed-loop biofeedback "
        "over Lab Streaming Layer.",
        epilog="LSL discovery stays on this machine unless --lsl-config names another liblsl "
        "config (see README, 'Privacy').",
    )
    parser.add_argument("--version", action="version", version=f"vrtherapy {__version__}")
    parser.add_argument(
        "--lsl-config",
        type=cli_types.path,
        metavar="CFG",
        help="liblsl config file to use instead of the machine-local default",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    add_session_parsers(sub)  # demo, run, simulate

    val = sub.add_parser("validate", help="check protocol files; errors name file:line:field")
    val.add_argument("files", nargs="+", type=cli_types.path, metavar="PROTOCOL")

    _add_twin_parser(sub)
    _add_scenes_parser(sub)
    _add_bench_parser(sub)

    from engine.export.cli import add_export_parser, add_replay_parser
    from engine.report.cli import add_report_parser

    add_report_parser(sub)
    add_export_parser(sub)
    add_replay_parser(sub)
    from engine.streams_cli import add_streams_parser

    add_streams_parser(sub)
    privacy_cli.add_verify_parser(sub)
    privacy_cli.add_purge_parser(sub)
    privacy_cli.add_keygen_parser(sub)
    privacy_cli.add_pseudonym_parser(sub)
    from console.cli import add_parsers  # the console is a layer above; parsers only
    from engine.review.cli import add_parsers as add_review_parsers

    add_parsers(sub)
    add_review_parsers(sub)
    return parser


def _add_twin_parser(sub: Any) -> None:
    twin = sub.add_parser(
        "twin",
        help="publish a simulated patient's ECG and EDA on LSL",
        description="Publishes until Ctrl-C (or --duration) so another LSL "
        "tool or engine can use it; follows a 'Intensity' stream.",
    )
    twin.add_argument(
        "--patient",
        type=cli_types.name_or_file,
        default="typical",
        help="patient-twin profile (file or name)",
    )
    twin.add_argument(
        "--duration", type=cli_types.positive_duration, metavar="TIME", help="stop after this long"
    )
    twin.add_argument("--seed", type=cli_types.seed, default=0, help="random seed, 0..2**63-1")
    from engine.twinfit.cli import add_fit_parser

    add_fit_parser(twin)  # `vrtherapy twin fit SESSION... -o patient.yaml`


def _add_scenes_parser(sub: Any) -> None:
    scenes = sub.add_parser(
        "scenes",
        help="render a PNG of every scene at two intensities",
        description="Opens the offscreen display and saves <scene>-<intensity>.png for each "
        "scene, so a therapist can see what intensity means in each.",
    )
    scenes.add_argument(
        "--out", type=cli_types.out_folder, default=Path("scene-shots"), help="folder for PNGs"
    )
    scenes.add_argument(
        "--scene",
        action="append",
        dest="scene_names",
        metavar="NAME",
        help="only this scene (repeatable; default: all)",
    )
    scenes.add_argument(
        "--intensity",
        action="append",
        type=cli_types.unit_interval("an intensity"),
        dest="intensities",
        metavar="X",
        help="intensity 0..1 (repeatable; default: 0.2 and 0.8)",
    )


def _add_bench_parser(sub: Any) -> None:
    from engine.bench import describe

    bench = sub.add_parser(
        "bench",
        help="run a benchmark (prints figures)",
        description="Benchmarks print figures as ratios (x real time, % of the frame budget).",
        epilog="benchmarks:\n" + describe() + "\n\nArguments after NAME go to the benchmark "
        "(e.g. vrtherapy bench render --objects 200 --frames 600 --display offscreen).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench.add_argument("name", metavar="NAME", help="which benchmark (see below)")
    bench.add_argument("bench_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def _cmd_scenes(args: argparse.Namespace) -> int:
    from engine.scene_shots import render_scene_pngs

    try:
        paths = render_scene_pngs(args.out, args.scene_names, tuple(args.intensities or (0.2, 0.8)))
    except ValueError as exc:
        raise VrTherapyError(str(exc)) from None
    for path in paths:
        print(path)
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    from engine.report.cli import cmd_report

    return cmd_report(args)


def _cmd_export(args: argparse.Namespace) -> int:
    from engine.export.cli import cmd_export

    return cmd_export(args)


def _cmd_replay(args: argparse.Namespace) -> int:
    from engine.export.cli import cmd_replay

    return cmd_replay(args)


def _cmd_bench(args: argparse.Namespace) -> int:
    from engine.bench import run_bench

    return run_bench(args.name, args.bench_args)


def _cmd_streams(args: argparse.Namespace) -> int:
    from engine.streams_cli import cmd_streams

    return cmd_streams(args)


def _cmd_validate(args: argparse.Namespace) -> int:
    from engine.protocol import load_protocol

    bad = 0
    for path in args.files:
        try:
            p = load_protocol(path)
        except VrTherapyError as exc:
            print(exc, file=sys.stderr)
            bad += 1
        else:
            print(
                f"{path}: ok ({p.protocol}: {p.scene}, {format_duration(p.duration)}, "
                f"{len(p.controller.levels())} steps)"
            )
    return EXIT_BAD_INPUT if bad else EXIT_OK


def _cmd_twin(args: argparse.Namespace) -> int:
    if getattr(args, "twin_command", None) == "fit":
        from engine.twinfit.cli import cmd_twin_fit

        return cmd_twin_fit(args)
    from biosignals.twin import TwinOutlets, TwinPhysiology, TwinRunner
    from engine.clock import LslClock
    from engine.twin_profiles import load_patient

    profile = load_patient(args.patient)
    clock = LslClock()
    start = clock.now()
    outlets = TwinOutlets(TwinPhysiology(profile, start_time=start, seed=args.seed))
    runner = TwinRunner(outlets)
    runner.start()
    print(
        f"twin '{profile.name}' publishing ECG (500 Hz) and EDA (32 Hz) on LSL; Ctrl-C stops",
        file=sys.stderr,
    )
    try:
        while args.duration is None or clock.now() - start < args.duration:
            clock.wait_until(clock.now() + 5.0)
            phys = outlets.physiology
            print(
                f"[{format_duration(clock.now() - start):>9}] "
                f"true HR {phys.true_heart_rate:.0f} bpm"
                f"  SCL {phys.true_scl:.2f} uS  arousal {phys.arousal:.2f}",
                file=sys.stderr,
            )
    except KeyboardInterrupt:
        pass
    finally:
        runner.stop()
        outlets.close()
    return EXIT_OK


def _cmd_console(args: argparse.Namespace) -> int:
    from console.cli import cmd_console, cmd_user

    return (cmd_console if args.command == "console" else cmd_user)(args)


def _cmd_review(args: argparse.Namespace) -> int:
    from engine.review.cli import cmd_outcomes, review_key

    if args.command == "outcomes":
        return cmd_outcomes(args)
    import asyncio

    from console.review.launch import ReviewLaunch

    asyncio.run(ReviewLaunch.from_args(args, review_key(args)).run())
    return EXIT_OK


COMMANDS: dict[str, Command] = {
    "demo": cmd_session,
    "run": cmd_session,
    "simulate": cmd_session,
    "validate": _cmd_validate,
    "twin": _cmd_twin,
    "scenes": _cmd_scenes,
    "bench": _cmd_bench,
    "streams": _cmd_streams,
    "report": _cmd_report,
    "export": _cmd_export,
    "replay": _cmd_replay,
    "verify": privacy_cli.cmd_verify,
    "purge": privacy_cli.cmd_purge,
    "keygen": privacy_cli.cmd_keygen,
    "pseudonym": privacy_cli.cmd_pseudonym,
    "console": _cmd_console,
    "user": _cmd_console,
    "outcomes": _cmd_review,
    "serve": _cmd_review,
}
"""Subcommand -> what runs it (every subcommand of :func:`build_parser`)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vrtherapy`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from biosignals import lsl

        lsl.configure(args.lsl_config)
        return COMMANDS[args.command](args)
    except InterruptedBySignal as exc:
        print(f"vrtherapy {args.command}: {exc}", file=sys.stderr)
        return EXIT_ABORTED
    except VrTherapyError as exc:
        print(f"vrtherapy {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValidationError as exc:  # a model validated outside the paths that explain it
        from engine.yamlconfig import describe_validation_error

        print(f"vrtherapy {args.command}: error: {describe_validation_error(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"vrtherapy {args.command}: interrupted", file=sys.stderr)
        return EXIT_ABORTED


if __name__ == "__main__":
    sys.exit(main())
