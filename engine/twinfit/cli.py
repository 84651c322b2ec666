"""``vrtherapy twin fit SESSION... -o patient.yaml``: argument parser and command.

Each session is opened like ``report`` and ``export`` open theirs
(:func:`engine.privacy.review_cli.open_review`): integrity checked first, the site key
found by itself for sealed sessions (decrypted in memory, nothing readable written but
the fitted profile), one audit entry per session naming the operator.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from engine import cli_types
from engine.export.recording import load_session
from engine.privacy.review_cli import Review, add_review_options, open_review
from engine.protocol import Protocol, load_protocol, resolve_seed
from engine.twinfit.course import forecast_path, next_session_forecast, write_forecast
from engine.twinfit.fit import DEFAULT_BOOTSTRAP, fit_twin
from engine.twinfit.forecast_stats import text_table
from engine.twinfit.output import sidecar_path, write_fit
from engine.twinfit.result import FitResult, Status
from engine.twinfit.trace import SessionTrace, TwinFitError, session_trace

__all__ = ["add_fit_parser", "cmd_twin_fit"]

MAX_BOOTSTRAP = 1000


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_BOOTSTRAP:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number 0..{MAX_BOOTSTRAP}")
    return value


def add_fit_parser(twin: argparse.ArgumentParser) -> None:
    """Add ``fit`` as a subcommand of the ``twin`` parser (``twin --patient`` still works)."""
    sub = twin.add_subparsers(dest="twin_command", metavar="fit", required=False)
    p = sub.add_parser(
        "fit",
        help="fit a twin to a participant's recorded sessions",
        description="Estimates the twin's parameters (resting HR/SCL, reactivity, response "
        "lag, habituation, SCR rates, SUDS scale, between-session rate) from one or more "
        "sessions of one participant by least squares on the recorded features, driven by "
        "the recorded intensity. Writes a profile YAML that --patient loads, with 95%% "
        "bootstrap intervals and goodness of fit in comments and in PROFILE.fit.json.",
    )
    p.add_argument(
        "sessions",
        nargs="+",
        type=cli_types.path,
        metavar="SESSION",
        help="recording or session folder (several: one participant's course)",
    )
    p.add_argument(
        "-o",
        "--output",
        type=cli_types.out_path,
        required=True,
        metavar="PROFILE.yaml",
        help="fitted profile to write (and PROFILE.fit.json beside it)",
    )
    p.add_argument("--name", help="profile name (default: fitted-PARTICIPANT)")
    p.add_argument(
        "--bootstrap",
        type=_count,
        default=DEFAULT_BOOTSTRAP,
        metavar="N",
        help=f"bootstrap replicates for the intervals (default {DEFAULT_BOOTSTRAP})",
    )
    p.add_argument(
        "--fit-seed",
        type=int,
        default=0,
        metavar="N",
        help="random seed of the bootstrap (default 0)",
    )
    p.add_argument(
        "--next",
        metavar="PROTOCOL",
        help="also forecast the next session with this protocol (seed name or YAML) and "
        "store it in PROFILE.forecast.json, for the clinician's course page (serve --twins)",
    )
    p.add_argument(
        "--next-runs",
        type=_count,
        default=50,
        metavar="N",
        help="runs of the --next forecast (default 50)",
    )
    p.add_argument("--force", action="store_true", help="replace the output if it exists")
    add_review_options(p)


def _session_args(args: argparse.Namespace, path: Path) -> argparse.Namespace:
    values: dict[str, Any] = dict(vars(args))
    values["recording"] = path
    return argparse.Namespace(**values)


def _traces(reviews: list[Review]) -> list[SessionTrace]:
    traces = []
    for review in reviews:
        with review.decrypting():
            data = load_session(review.recording, review.key)  # in memory only
        traces.append(session_trace(data))
    ordered = sorted(traces, key=lambda t: t.recorded)
    if [t.path for t in ordered] != [t.path for t in traces]:
        print("twin fit: sessions taken in the order they were recorded", file=sys.stderr)
    return ordered


def _report(result: FitResult, out: Path) -> None:
    print(
        f"twin fit: {len(result.sessions)} session(s) of {result.participant or '?'}, "
        f"{'converged' if result.converged else 'NOT converged'} in {result.seconds:.1f} s"
    )
    for e in result.estimates.values():
        if e.low is not None and e.high is not None:
            weak = f" ({e.status.value}: {e.reason})" if e.status is Status.WEAK else ""
            print(f"  {e.name:22s} {e.value:9.4g}   95% {e.low:.4g}..{e.high:.4g}{weak}")
        else:
            print(f"  {e.name:22s} {e.value:9.4g}   {e.status.value}: {e.reason}")
    for g in result.goodness:
        if g.n and g.rmse is not None:
            r2 = "n/a" if g.r2 is None else f"{g.r2:.3f}"
            print(f"  fit {g.signal:5s} RMSE {g.rmse:.3g} {g.unit}  R^2 {r2}  ({g.n} values)")
    print(f"profile: {out}\nsidecar: {sidecar_path(out)}")


def cmd_twin_fit(args: argparse.Namespace) -> int:
    """Run ``vrtherapy twin fit``; errors propagate as VrTherapyError (exit 2)."""
    out: Path = args.output
    if out.suffix.lower() not in (".yaml", ".yml"):
        raise TwinFitError(f"-o {out}: the fitted profile is YAML: give a name ending in .yaml")
    protocol = _next_protocol(args.next)
    reviews = [open_review(_session_args(args, s), "twin fit") for s in args.sessions]
    for review in reviews:
        review.check_output(out, plaintext=True)
        review.check_output(sidecar_path(out), plaintext=True)
        if protocol is not None:
            review.check_output(forecast_path(out), plaintext=True)
    traces = _traces(reviews)
    start = time.perf_counter()
    result = fit_twin(
        traces,
        bootstrap=args.bootstrap,
        seed=args.fit_seed,
        progress=lambda text: print(f"twin fit: {text}", file=sys.stderr, flush=True),
    )
    name = args.name or f"fitted-{result.participant or 'patient'}"
    write_fit(result, out, name, force=bool(args.force))
    for review in reviews:
        review.audit(
            "twin_fit", output=str(out), sessions=len(traces), key_used=review.key is not None
        )
    _report(result, out)
    if protocol is not None:
        print(f"twin fit: forecasting the next session ({args.next_runs} runs)", file=sys.stderr)
        summary = next_session_forecast(out, protocol, args.next_runs, seed=args.fit_seed)
        print(text_table([summary]))
        print(f"forecast: {write_forecast(out, summary)}")
    print(f"({time.perf_counter() - start:.1f} s)", file=sys.stderr)
    return 0


def _next_protocol(name: str | None) -> Protocol | None:
    """``--next``: a seed protocol's name or a YAML file, loaded and validated first (so a
    bad one fails before any fitting)."""
    if name is None:
        return None
    return load_protocol(resolve_seed("protocols", name))
