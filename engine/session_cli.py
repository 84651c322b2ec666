"""``vrtherapy demo``, ``run`` and ``simulate``: their options and the session they run.

The three commands share the display, recording, audio and privacy options (built here)
and one handler, :func:`cmd_session`: load the protocol, turn the options into
:class:`~engine.live.RunOptions`, run the session live or on a manual clock, and print its
summary. :mod:`engine.cli` adds the parsers and dispatches to the handler.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from biosignals.errors import VrTherapyError
from biosignals.units import format_duration
from engine import cli_types
from engine.cli_types import EXIT_ABORTED, EXIT_OK
from engine.display import DRY_RUN, HEADLESS, capabilities, display_names
from engine.privacy import cli as privacy_cli
from engine.signals import SignalStop

if TYPE_CHECKING:
    from engine.live import RunOptions, SessionResult
    from engine.protocol import Protocol

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


def add_session_parsers(sub: Any) -> None:
    """Add ``demo``, ``run`` and ``simulate`` to the ``vrtherapy`` subcommands (in order)."""
    _add_live_parsers(sub)
    _add_simulate_parser(sub)


def _add_live_parsers(sub: Any) -> None:
    demo = sub.add_parser(
        "demo",
        help="run a short session against a simulated patient on LSL",
        description="A simulated patient publishes ECG and EDA on LSL "
        "loopback; the heights demo protocol adapts to it; the "
        "session is recorded.",
    )
    _live_options(demo)
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
    _live_options(run)


def _live_options(p: Any) -> None:
    """The display, audio, mirror and console options of a live session (demo, run)."""
    _display_options(p, f"a desktop window if a desktop is present, else {HEADLESS}")
    _audio_options(p)
    _mirror_option(p)
    _console_option(p)


def _add_simulate_parser(sub: Any) -> None:
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


def run_options(args: argparse.Namespace, dry_run: bool) -> RunOptions:
    """The :class:`~engine.live.RunOptions` of a ``demo``, ``run`` or ``simulate`` command.

    Raises
    ------
    VrTherapyError
        An option the chosen display cannot honour (``--screenshot``, ``--mirror``), or a
        bad ``--console`` address.
    """
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


def cmd_session(args: argparse.Namespace) -> int:
    """Run ``demo``, ``run`` or ``simulate``; a stop signal ends the session cleanly."""
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
    opts = run_options(args, dry_run=args.command == "simulate")
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
