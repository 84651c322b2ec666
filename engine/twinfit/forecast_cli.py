"""``vrtherapy simulate PROTOCOL --patient P --runs N [--compare P2] [--forecast F.html]``.

With ``--runs``, ``simulate`` forecasts instead of dry-running once: N in-process sessions
per protocol (nothing recorded) against twins drawn from the patient's fit uncertainty
(:mod:`engine.twinfit.samples`), on several processes, printing progress on stderr and
the distributions on stdout (and, with ``--forecast``, a self-contained HTML page).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

from engine.cli_types import out_file
from engine.errors import ProtocolError
from engine.protocol import Protocol, load_protocol, resolve_seed
from engine.twin_profiles import load_patient
from engine.twinfit.forecast import run_forecast
from engine.twinfit.forecast_html import write_forecast
from engine.twinfit.forecast_stats import ForecastSummary, summarise, text_table
from engine.twinfit.samples import load_uncertainty
from engine.twinfit.trace import TwinFitError

__all__ = ["MAX_RUNS", "add_forecast_options", "cmd_forecast", "forecast_requested"]

MAX_RUNS = 10000


def _positive(limit: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if not 1 <= value <= limit:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}: a whole number 1..{limit}")
        return value

    return parse


def add_forecast_options(sim: argparse.ArgumentParser) -> None:
    """``--runs``, ``--compare``, ``--forecast``, ``--jobs``, ``--ecg`` on ``simulate``."""
    g = sim.add_argument_group(
        "forecast (patient twins)",
        "with --runs, run the protocol N times on twins drawn from the patient's fit "
        "uncertainty (PATIENT.fit.json beside a fitted profile) instead of one recorded "
        "dry-run; nothing is recorded",
    )
    g.add_argument(
        "--runs",
        type=_positive(MAX_RUNS, "a number of runs"),
        metavar="N",
        help="forecast with N runs per protocol",
    )
    g.add_argument(
        "--compare",
        metavar="PROTOCOL2",
        help="with --runs: forecast this protocol too, on the same twins, side by side",
    )
    g.add_argument(
        "--forecast",
        type=out_file,
        metavar="HTML",
        help="with --runs: write the forecast as a self-contained HTML page",
    )
    g.add_argument(
        "--jobs",
        type=_positive(256, "a number of processes"),
        metavar="N",
        help="with --runs: processes to use (default: every CPU this may use)",
    )
    g.add_argument(
        "--ecg",
        action="store_true",
        help="with --runs: synthesise the ECG and detect its R peaks like a dry-run "
        "(slower; default: the heart rate from the twin's beats)",
    )


def forecast_requested(args: argparse.Namespace) -> bool:
    """Whether ``simulate`` forecasts; refuses forecast options without ``--runs``.

    Raises
    ------
    TwinFitError
        ``--compare``, ``--forecast``, ``--jobs`` or ``--ecg`` given without ``--runs``.
    """
    if args.runs is not None:
        return True
    given = [f"--{n}" for n in ("compare", "forecast", "jobs") if getattr(args, n) is not None]
    given += ["--ecg"] if args.ecg else []
    if given:
        raise TwinFitError(f"{', '.join(given)} only with --runs N (a forecast)")
    return False


def _check(protocol: Protocol, resting_hr: float, name: str) -> None:
    ceiling = protocol.safety.max_heart_rate
    if resting_hr >= ceiling:
        raise ProtocolError(
            f"{protocol.protocol}: safety.max_heart_rate ({ceiling:g} bpm) is not above "
            f"patient {name}'s resting heart rate ({resting_hr:g} bpm)"
        )


def _progress(name: str, started: float) -> Callable[[int, int], None]:
    def report(done: int, total: int) -> None:
        if done == total or done % max(1, total // 10) == 0:
            print(
                f"forecast {name}: {done}/{total} runs ({time.perf_counter() - started:.1f} s)",
                file=sys.stderr,
                flush=True,
            )

    return report


def cmd_forecast(args: argparse.Namespace, protocol: Protocol) -> int:
    """Run the forecast of ``protocol`` (and ``--compare``); errors propagate (exit 2)."""
    from engine.live import with_duration

    profile = load_patient(args.patient)
    uncertainty = load_uncertainty(resolve_seed("patients", args.patient))
    protocols = [protocol]
    if args.compare is not None:
        protocols.append(
            with_duration(load_protocol(resolve_seed("protocols", args.compare)), args.duration)
        )
    for p in protocols:
        _check(p, profile.in_session().resting_hr, profile.name)
    jobs = args.jobs or len(os.sched_getaffinity(0))
    print(
        f"forecast: twin {profile.name}, {args.runs} runs per protocol on {jobs} process(es); "
        f"{uncertainty.describe()}",
        file=sys.stderr,
    )
    summaries: list[ForecastSummary] = []
    for p in protocols:
        started = time.perf_counter()
        runs = run_forecast(
            p,
            profile,
            uncertainty,
            args.runs,
            seed=protocol.seed,
            jobs=jobs,
            ecg=bool(args.ecg),
            progress=_progress(p.protocol, started),
        )
        summaries.append(summarise(p, runs))
    print(text_table(summaries))
    if args.forecast is not None:
        path = write_forecast(args.forecast, summaries, profile.name, uncertainty.describe())
        print(f"forecast: {path}", file=sys.stderr)
    return 0
