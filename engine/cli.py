"""The ``vrtherapy`` command.

Exit codes: 0 ok, 1 session aborted (safety, stop key, interrupted), 2 bad input (the
message says what and where). Library code raises; only this module prints and exits.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from biosignals.errors import VrTherapyError
from biosignals.units import format_duration
from engine import cli_types
from engine.display import DRY_RUN, HEADLESS, capabilities, display_names
from engine.privacy import cli as privacy_cli
from engine.signals import InterruptedBySignal, SignalStop

if TYPE_CHECKING:
    from engine.live import RunOptions, SessionResult
    from engine.protocol import Protocol

EXIT_OK, EXIT_ABORTED, EXIT_BAD_INPUT = 0, 1, 2
Command = Callable[[argparse.Namespace], int]


_volume = cli_types.unit_interval("a volume")


def _mirror_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--mirror",
        action="store_true",
        help=f"with --display {'/'.join(n for n in display_names() if capabilities(n).mirror)}:"
        " also show the headset's view in a desktop window for the therapist (needs a "
        "desktop, $DISPLAY); its keyboard overrides like the window's",
    )


def _audio_options(p: argparse.ArgumentParser) -> None:
    from engine.audio.player import DEFAULT_VOLUME

    p.add_argument(
        "--no-audio",
        action="store_true",
        help="play no sound (by default the window and openxr displays play the scene's "
        "sound; offscreen and null are silent; without an audio device the session goes on "
        "silently)",
    )
    p.add_argument(
        "--volume",
        type=_volume,
        metavar="X",
        help=f"master volume of the scene's sound, 0..1 (default: {DEFAULT_VOLUME:g})",
    )


def _console_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--console",
        metavar="[HOST:]PORT",
        help="also start the therapist console (a web page) for this session, e.g. 8765 "
        "(127.0.0.1); it prints its URL and a one-time pairing code. Any address other "
        "than loopback is served over TLS with a self-signed certificate whose fingerprint "
        "is printed (README, 'Therapist console')",
    )


def _display_options(p: argparse.ArgumentParser, default_help: str) -> None:
    p.add_argument(
        "--display",
        choices=display_names(),
        help=f"where to show the scene (default: {default_help}): "
        + "; ".join(f"{n}: {capabilities(n).description}" for n in display_names()),
    )
    p.add_argument(
        "--out",
        type=cli_types.out_folder,
        default=Path("sessions"),
        help="folder for session recordings (default: ./sessions)",
    )
    p.add_argument(
        "--participant",
        default="demo",
        help="pseudonymous participant ID, e.g. P-0042 (never a real name)",
    )
    p.add_argument(
        "--screenshot", type=cli_types.out_file, metavar="PNG", help="save the last frame as PNG"
    )
    p.add_argument(
        "--duration",
        type=cli_types.duration,
        metavar="TIME",
        help="override the protocol's duration, e.g. 90s, 2min",
    )
    p.add_argument(
        "--no-report", action="store_true", help="do not write report.html into the session folder"
    )
    privacy_cli.add_session_privacy_options(p)
    privacy_cli.add_consent_options(p)


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

    demo = sub.add_parser(
        "demo",
        help="run a short session against a simulated patient on LSL",
        description="A simulated patient publishes ECG and EDA on LSL "
        "loopback; the heights demo protocol adapts to it; the "
        "session is recorded.",
    )
    live_default = f"a desktop window if a desktop is present, else {HEADLESS}"
    _display_options(demo, live_default)
    _audio_options(demo)
    _mirror_option(demo)
    _console_option(demo)
    demo.add_argument(
        "--protocol",
        type=cli_types.name_or_file,
        default="heights-demo",
        help="protocol file or shipped name (default: heights-demo)",
    )
    demo.add_argument(
        "--patient",
        type=cli_types.name_or_file,
        default="typical",
        help="patient-twin profile file or shipped name (default: typical)",
    )

    run = sub.add_parser(
        "run",
        help="run a protocol against live LSL streams",
        description="Resolve the protocol's LSL streams, run and record it.",
    )
    run.add_argument(
        "protocol", type=cli_types.name_or_file, help="protocol YAML file (or shipped name)"
    )
    _display_options(run, live_default)
    _audio_options(run)
    _mirror_option(run)
    _console_option(run)

    sim = sub.add_parser(
        "simulate",
        help="dry-run a protocol against a simulated patient",
        description="Runs the whole engine in-process on a manual clock "
        "(no LSL, no waiting) and records it like a live session.",
    )
    sim.add_argument(
        "protocol", type=cli_types.name_or_file, help="protocol YAML file (or shipped name)"
    )
    sim.add_argument(
        "--patient",
        type=cli_types.name_or_file,
        default="typical",
        help="patient-twin profile (file or name)",
    )
    _display_options(sim, DRY_RUN)
    from engine.twinfit.forecast_cli import add_forecast_options

    add_forecast_options(sim)  # --runs N [--compare P2] [--forecast F.html]: patient twins

    val = sub.add_parser("validate", help="check protocol files; errors name file:line:field")
    val.add_argument("files", nargs="+", type=cli_types.path, metavar="PROTOCOL")

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
    from engine.bench import describe
    from engine.export.cli import add_export_parser, add_replay_parser
    from engine.report.cli import add_report_parser

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


def _print_progress(p: object) -> None:
    from engine.session import Progress

    assert isinstance(p, Progress)
    step = f"step {p.step + 1}" if p.step is not None else ""
    print(
        f"[{format_duration(p.elapsed):>9} / {format_duration(p.total)}] {p.state.value:<8} "
        f"{step:<7} intensity {p.intensity:.2f}  {p.features.describe()}",
        file=sys.stderr,
        flush=True,
    )


def _print_event(text: str) -> None:
    print(f"  * {text}", file=sys.stderr, flush=True)


def _options(args: argparse.Namespace, dry_run: bool) -> RunOptions:
    from engine.display import DRY_RUN, capabilities, default_display_name, display_names
    from engine.live import DRY_RUN_FRAME_RATE, RunOptions

    display = args.display or (DRY_RUN if dry_run else default_display_name())
    caps = capabilities(display)
    # a dry-run that draws nothing needs only DRY_RUN_FRAME_RATE frames per session second
    rate = DRY_RUN_FRAME_RATE if dry_run and not caps.draws else caps.default_rate
    if args.screenshot is not None and not caps.draws:
        drawing = ", ".join(n for n in display_names() if capabilities(n).draws)
        raise VrTherapyError(
            f"--screenshot needs a display that draws ({drawing}); {display} draws nothing"
        )
    opts = RunOptions(
        out=args.out,
        participant=args.participant,
        display=display,
        size=caps.default_size,
        frame_rate=rate,
        screenshot=args.screenshot,
        on_event=_print_event,
        on_progress=_print_progress,
        report=not args.no_report,
    )
    if getattr(args, "mirror", False):
        if not caps.mirror:
            can = ", ".join(n for n in display_names() if capabilities(n).mirror)
            raise VrTherapyError(f"--mirror needs --display {can} (the display is {display})")
        opts.mirror = True
    if getattr(args, "no_audio", False):  # demo and run only; simulate is always silent
        opts.audio = False
    if getattr(args, "volume", None) is not None:
        opts.volume = args.volume
    if getattr(args, "console", None) is not None:  # demo and run only
        from engine.console_process import split_bind

        split_bind(args.console)  # a bad address is refused before anything starts
        opts.console = args.console
    return opts


def _finish(result: SessionResult, protocol: Protocol) -> int:
    from engine.session import SessionState

    s = result.summary
    steps = len(protocol.controller.levels())
    print(
        f"session {s.state.value}: {s.reason}; {format_duration(s.duration)}, {s.frames} frames, "
        f"{len(s.decisions)} intensity decisions, highest step {s.max_step + 1}/{steps}",
        file=sys.stderr,
    )
    window = "--" if s.time_in_window is None else f"{s.time_in_window:.0%}"
    max_hr = "--" if s.max_hr is None else f"{s.max_hr:.0f} bpm"
    print(
        f"  time in arousal window {window}, max HR {max_hr}, {s.safety_events} safety "
        f"decisions, {len(s.answers)} prompt answers, {s.quality_events} quality flag changes",
        file=sys.stderr,
    )
    if result.report is not None:
        print(f"report:    {result.report}", file=sys.stderr)
    for warning in result.warnings:
        print(f"vrtherapy: warning: {warning}", file=sys.stderr)
    print(f"recording: {result.recording}")
    return EXIT_OK if s.state is SessionState.FINISHED else EXIT_ABORTED


def _cmd_session(args: argparse.Namespace) -> int:
    with SignalStop() as signals:  # from here on a stop signal ends cleanly
        return _session(args, signals)


def _session(args: argparse.Namespace, signals: SignalStop) -> int:
    from engine.live import run_live, run_simulated, with_duration
    from engine.protocol import load_protocol, resolve_seed
    from engine.sessiondir import check_participant
    from engine.twin_profiles import load_patient

    check_participant(args.participant)
    name = "heights-demo" if args.command == "demo" and args.protocol is None else args.protocol
    protocol = with_duration(load_protocol(resolve_seed("protocols", name)), args.duration)
    if args.command == "simulate":
        from engine.twinfit.forecast_cli import cmd_forecast, forecast_requested

        if forecast_requested(args):  # many runs on a twin's uncertainty, nothing recorded
            return cmd_forecast(args, protocol)
    patient = load_patient(args.patient) if args.command in ("demo", "simulate") else None
    opts = _options(args, dry_run=args.command == "simulate")
    opts.operator = privacy_cli.operator_from_args(args)
    terms = getattr(protocol, "consent", None)  # the protocol's consent: block, if any
    raw = terms.model_dump(exclude={"recorded_at"}) if terms is not None else None
    flags = any(getattr(args, f"consent_{f}") is not None for f in privacy_cli.CONSENT_FLAGS)
    if args.command == "run" or raw is not None or flags:  # demo/simulate: twin, no person
        opts.consent = privacy_cli.consent_from_args(args, raw, f"protocol {protocol.protocol}")
    opts.key = privacy_cli.session_key(args, args.out, opts.operator)  # site key by default
    opts.encryption_opt_out = args.no_encryption
    print(
        f"{args.command}: protocol {protocol.protocol} ({protocol.scene}), "
        f"{format_duration(protocol.duration)}, display {opts.display}",
        file=sys.stderr,
    )
    if args.command == "simulate":
        assert patient is not None
        opts.progress_every = 60.0
        result = run_simulated(protocol, opts, patient, signals)
    else:
        result = run_live(protocol, opts, twin=patient, signals=signals)
    return _finish(result, protocol)


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
    "demo": _cmd_session,
    "run": _cmd_session,
    "simulate": _cmd_session,
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
