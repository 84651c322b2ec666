"""Twin fit: recovery of known twins, prediction of the next session, speed.

* Recovery: courses of ``--sessions`` sessions (``--protocol`` for ``--minutes``) dry-run
  from ``--profiles`` known twins spread over the parameter ranges (every 4th with noisy
  sensors, every 4th with ectopic beats, resting levels shifting day to day); a twin is
  fitted to each course. Per parameter: median relative error (target <= 15 %) and how
  often the 95 % interval covers the truth (target >= 80 %).
* Prediction: a twin fitted to sessions 1..n-1 forecasts session n (``--forecast-runs``
  runs); RMSE of the heart-rate trajectory and error in the highest step reached, against
  the population-typical twin and "same as the last session" (the fitted twin must beat
  both).
* Speed: fitting one 40-minute session (target < 30 s on one core); a 50-run forecast of
  a 40-minute protocol (target < 60 s); the forecast's beats-only heart input against the
  full ECG path (same outcome?).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
from vrtherapy_benchmarks.bench_args import bench_parser, count, positive
from vrtherapy_benchmarks.twin_fit_cases import RANGES, CaseResult, make_cases, run_case

from biosignals.twin_model import TwinProfile
from engine.display import DRY_RUN
from engine.export.recording import load_session
from engine.live import DRY_RUN_FRAME_RATE, RunOptions, run_simulated, with_duration
from engine.protocol import Protocol, load_protocol, resolve_seed
from engine.twinfit.fit import DEFAULT_BOOTSTRAP, fit_twin
from engine.twinfit.forecast import run_forecast
from engine.twinfit.samples import TwinUncertainty, uncertainty_of
from engine.twinfit.trace import SessionTrace, session_trace

_MAX_REL, _MIN_COVER = 0.15, 0.80


def _say(text: str) -> None:
    print(text, flush=True)


def _cases(args: argparse.Namespace) -> list[CaseResult]:
    cases = make_cases(args.profiles, protocol=args.protocol, minutes=args.minutes,
                       sessions=args.sessions, bootstrap=args.bootstrap,
                       forecast_runs=args.forecast_runs,
                       recovery=args.part != "prediction")  # fmt: skip
    if args.fault:
        cases = [c for c in cases if c.fault == args.fault]
    started, out = time.perf_counter(), []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_case, c) for c in cases]
        for done, future in enumerate(as_completed(futures), 1):
            r = future.result()
            out.append(r)
            took = time.perf_counter() - started
            print(f"  case {r.index:2d} ({r.fault}) done: {done}/{len(cases)} ({took:.0f} s)",
                  file=sys.stderr, flush=True)  # fmt: skip
    return sorted(out, key=lambda r: r.index)


def _recovery(results: list[CaseResult]) -> bool:
    _say(f"\nrecovery ({len(results)} known twins; relative error |fit - truth| / truth)")
    _say(f"  {'parameter':22s} {'median err':>10s} {'90% err':>8s} {'covered':>8s} "
         f"{'identified':>10s}")  # fmt: skip
    ok = True
    for name in RANGES:
        rel, covered, identified, missed = [], [], 0, []
        for r in results:
            value, low, high, status = r.estimates[name]
            if status != "fitted":
                continue
            identified += 1
            truth = r.truth[name]
            rel.append(abs(value - truth) / abs(truth))
            covered.append(low is not None and high is not None and low <= truth <= high)
            if not covered[-1]:
                span = "no interval" if low is None or high is None else f"{low:.4g}..{high:.4g}"
                missed.append(f"{r.index} ({r.fault}) {value:.4g} [{span}] truth {truth:.4g}")
        if not rel:
            _say(f"  {name:22s} {'--':>10s} {'--':>8s} {'--':>8s} {0:>7d}/{len(results)}")
            continue
        med, p90, cover = (
            float(np.median(rel)),
            float(np.percentile(rel, 90)),
            float(np.mean(covered)),
        )
        good = med <= _MAX_REL and cover >= _MIN_COVER
        ok &= good
        _say(f"  {name:22s} {med:>10.1%} {p90:>8.1%} {cover:>8.0%} {identified:>7d}/{len(results)}"
             f"  {'ok' if good else 'FAIL'}")  # fmt: skip
        for line in missed:
            _say(f"      not covered: course {line}")
    _say(f"  targets: median error <= {_MAX_REL:.0%}, "
         f"95% intervals cover the truth in >= {_MIN_COVER:.0%}")  # fmt: skip
    by_fault: dict[str, list[float]] = {}
    for r in results:
        errs = [
            abs(r.estimates[n][0] - r.truth[n]) / abs(r.truth[n])
            for n in RANGES
            if r.estimates[n][3] == "fitted"
        ]
        by_fault.setdefault(r.fault, []).append(float(np.median(errs)))
    _say(
        "  median error by sensor fault: "
        + ", ".join(f"{f} {np.median(v):.1%} ({len(v)})" for f, v in by_fault.items())
    )
    return ok


def _prediction(results: list[CaseResult]) -> bool:
    rows = [r for r in results if r.hr_rmse]
    if not rows:
        return True
    _say(f"\nprediction of the last session ({len(rows)} courses; fit on the sessions before it)")
    _say(f"  {'predictor':14s} {'HR RMSE (bpm)':>14s} {'|step error|':>13s} "
         f"{'beaten by fitted':>17s}")  # fmt: skip
    ok = True
    for name in ("fitted", "typical", "last session"):
        rmse = np.asarray([r.hr_rmse[name] for r in rows])
        step = np.asarray([r.step_error[name] for r in rows])
        beaten = ""
        if name != "fitted":
            fitted = np.asarray([r.hr_rmse["fitted"] for r in rows])
            wins = float(np.mean(fitted < rmse))
            beaten = f"{wins:.0%} of courses"
            good = np.nanmean(fitted) < np.nanmean(rmse) and np.mean(
                [r.step_error["fitted"] for r in rows]
            ) <= np.mean(step)
            ok &= bool(good)
        _say(f"  {name:14s} {np.nanmean(rmse):>14.2f} {np.mean(step):>13.2f} {beaten:>17s}")
    truth = np.asarray([r.hr_rmse["true twin"] for r in rows])
    _say(f"  {'true twin':14s} {np.nanmean(truth):>14.2f} "
         f"{np.mean([r.step_error['true twin'] for r in rows]):>13.2f}  (reference: the "
         "twin that made the course)")  # fmt: skip
    _expected(rows)
    for fault in sorted({r.fault for r in rows}):
        some = [r for r in rows if r.fault == fault]
        _say(f"  {fault:14s} ({len(some)}) HR RMSE / |step error|: " + ", ".join(
            f"{name} {np.nanmean([r.hr_rmse[name] for r in some]):.2f} / "
            f"{np.mean([r.step_error[name] for r in some]):.2f}"
            for name in ("fitted", "typical", "last session", "true twin")
        ))  # fmt: skip
    _say("  fitted twin beats both baselines (mean HR RMSE and mean step error): "
         + ("yes" if ok else "NO"))  # fmt: skip
    return ok


def _expected(rows: list[CaseResult]) -> None:
    """Step errors averaged over the true twin's runs (draws of the session predicted)."""
    names = ("fitted", "typical", "last session", "true twin")
    _say("  expected |step error| over the session's own chance (the true twin's runs as "
         "draws of the session): " + ", ".join(
             f"{n} {np.mean([r.expected_step_error[n] for r in rows]):.2f}" for n in names
         ))  # fmt: skip
    for fault in sorted({r.fault for r in rows}):
        some = [r for r in rows if r.fault == fault]
        _say(f"    {fault:14s} ({len(some)}): " + ", ".join(
            f"{n} {np.mean([r.expected_step_error[n] for r in some]):.2f}" for n in names
        ))  # fmt: skip


def _one_session(minutes: float, folder: Path) -> tuple[SessionTrace, Protocol]:
    p = with_duration(load_protocol(resolve_seed("protocols", "heights-graded")), minutes * 60)
    opts = RunOptions(out=folder, display=DRY_RUN, frame_rate=DRY_RUN_FRAME_RATE, report=False)
    truth = TwinProfile(
        reactivity=1.3, habituation_tau=180.0, habituation_floor=0.4, response_lag=6.0
    )
    return session_trace(load_session(run_simulated(p, opts, truth).recording)), p


def _cpu_with_children() -> float:
    """CPU seconds of this process and of its finished worker processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _speed(args: argparse.Namespace) -> bool:
    _say("\nspeed")
    with tempfile.TemporaryDirectory(prefix="twin-fit-speed-") as folder:
        trace, protocol = _one_session(40.0, Path(folder))
    wall, cpu = time.perf_counter(), time.process_time()
    fit = fit_twin([trace], bootstrap=DEFAULT_BOOTSTRAP)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    fit_ok = cpu < 30.0
    _say(f"  fit of one 40-min session (bootstrap x{DEFAULT_BOOTSTRAP}): wall {wall:.1f} s, "
         f"CPU {cpu:.1f} s on one core (target < 30 s) {'ok' if fit_ok else 'FAIL'}")  # fmt: skip
    wall, cpu = time.perf_counter(), _cpu_with_children()
    run_forecast(protocol, fit.profile("speed"), uncertainty_of(fit), 50, jobs=args.jobs)
    wall, cpu = time.perf_counter() - wall, _cpu_with_children() - cpu
    fc_ok = cpu < 60.0
    _say(
        f"  50-run forecast of the 40-min protocol: CPU {cpu:.1f} s in all ({cpu / 50:.2f} s "
        f"per run), i.e. {cpu:.1f} s on one core (target < 60 s) {'ok' if fc_ok else 'FAIL'}; "
        f"wall {wall:.1f} s on {args.jobs} process(es) of a shared machine"
    )
    _fidelity(protocol, args)
    return fit_ok and fc_ok


def _fidelity(protocol: Protocol, args: argparse.Namespace) -> None:
    """The forecast's beats-only heart input against the dry-run's ECG path."""
    n = 12
    _say(f"  heart input of a forecast, {n} runs each on the typical twin (median [10..90 %]):")
    for ecg in (False, True):
        started = time.perf_counter()
        runs = run_forecast(protocol, TwinProfile(), TwinUncertainty(), n, jobs=args.jobs, ecg=ecg)
        wall = time.perf_counter() - started
        steps = np.asarray([r.max_step for r in runs], dtype=float)
        window = np.asarray([r.time_in_window or np.nan for r in runs])
        last = np.asarray([max(r.step_reached) if r.step_reached else 0 for r in runs], dtype=float)
        lo, mid, hi = np.percentile(steps, (10, 50, 90))
        wlo, wmid, whi = np.nanpercentile(window, (10, 50, 90))
        _say(
            f"    {'ECG + R-peak detection' if ecg else 'beats (hr role)':24s} highest step "
            f"{mid:.0f} [{lo:.0f}..{hi:.0f}], time in window {wmid:.0%} [{wlo:.0%}..{whi:.0%}], "
            f"last step reached {np.median(last):.0f}; {wall:.1f} s"
        )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print its figures."""
    parser = bench_parser("vrtherapy bench twin-fit", __doc__)
    parser.add_argument(
        "--profiles",
        type=count(1, 10_000),
        default=20,
        help="known twins (default 20; fewer for a quick run)",
    )
    parser.add_argument("--sessions", type=count(1, 1000), default=6)
    parser.add_argument(
        "--minutes", type=positive(240.0), default=20.0, help="session length (default 20)"
    )
    parser.add_argument("--protocol", default="heights-graded")
    parser.add_argument("--bootstrap", type=count(1, 100_000), default=20)
    parser.add_argument(
        "--forecast-runs",
        type=count(0, 100_000),
        default=10,
        help="0: recovery only, no prediction part",
    )
    parser.add_argument("--jobs", type=count(1, 1024), default=len(os.sched_getaffinity(0)))
    parser.add_argument(
        "--part",
        choices=("all", "recovery", "prediction", "speed"),
        default="all",
        help="recovery: fits of whole courses and the prediction part; prediction: only the "
        "fits of sessions 1..n-1 and the forecasts of session n; speed: timings",
    )
    parser.add_argument(
        "--fault",
        choices=("none", "noisy-sensors", "ectopic-beats"),
        help="only the courses with this sensor fault (the same twins as without it)",
    )
    args = parser.parse_args(argv)
    _say(f"twin-fit: {args.profiles} twins x {args.sessions} sessions of {args.protocol} "
         f"({args.minutes:g} min), bootstrap x{args.bootstrap}, {args.forecast_runs} forecast "
         f"runs, {args.jobs} processes")  # fmt: skip
    ok = True
    if args.part in ("all", "recovery", "prediction"):
        results = _cases(args)
        if args.part != "prediction":
            ok &= _recovery(results)
        ok &= _prediction(results)
        if args.part != "prediction":
            fits = [r.fit_seconds for r in results]
            _say(f"  course fits: median {np.median(fits):.1f} s, max {max(fits):.1f} s "
                 f"({sum(not r.converged for r in results)} not converged)")  # fmt: skip
    if args.part in ("all", "speed"):
        ok &= _speed(args)
    _say(f"\ntwin-fit: {'all targets met' if ok else 'SOME TARGETS MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
