"""Fit a twin to a participant's recorded sessions (``vrtherapy twin fit``).

:func:`fit_twin` estimates, by robust least squares (``scipy.optimize.least_squares``,
soft-L1 loss) on the recorded feature trajectories driven by the recorded intensity
(:mod:`engine.twinfit.problem`):

1. parameters the data cannot identify at all are held at population defaults
   (:func:`~engine.twinfit.uncertainty.structural_holds`);
2. three starts (fast, typical, slow habituation) are fitted briefly, the best one to
   convergence; the residual scale of each signal is then estimated and the fit redone;
3. a weak population prior on each shared parameter decides what the data leave open;
   parameters that lean on it are reported as weakly identified
   (:func:`~engine.twinfit.uncertainty.weak_parameters`);
4. a moving-block residual bootstrap (centred residuals, the prior resampled around the
   fit) gives the samples a forecast draws from; on a course of three or more sessions
   with exposure, a delete-one-session jackknife widens them where the sessions disagree
   more than the bootstrap says (:func:`~engine.twinfit.uncertainty.widen_by_jackknife`);
   each 95 % interval is the estimate plus and minus ``t(0.975, B - 1)`` of the ``B``
   samples' standard deviations (:func:`~engine.twinfit.uncertainty.interval`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from scipy.optimize import OptimizeResult, least_squares
from scipy.sparse import issparse

from engine.twinfit.params import GLOBAL_PARAMS, HR_GAIN_ANCHOR, population_default
from engine.twinfit.problem import SIGNALS, FitProblem
from engine.twinfit.result import Estimate, FitResult, SessionFit, SignalFit, Status
from engine.twinfit.sensors import estimate_sensors
from engine.twinfit.trace import SessionTrace, TwinFitError, check_one_participant
from engine.twinfit.uncertainty import (
    MIN_JACKKNIFE_SESSIONS,
    batch_means_inflation,
    block_bootstrap,
    interval,
    session_jackknife,
    structural_holds,
    weak_parameters,
    widen_by_jackknife,
)

__all__ = ["DEFAULT_BOOTSTRAP", "fit_twin"]

DEFAULT_BOOTSTRAP = 30
_STARTS = ((90.0, 0.3), (300.0, 0.5), (900.0, 0.7))  # (habituation_tau, habituation_floor)
_SIGMA_FLOOR = {"hr": 0.5, "scl": 0.01, "scr": 0.3, "suds": 2.0}
_UNITS = {"hr": "bpm", "scl": "uS", "scr": "/min", "suds": "SUDS"}
_SHIFT_SD_POPULATION = {"hr": 4.0, "scl": 0.8}  # day-to-day sd of resting levels


def _resting(trace: SessionTrace, values: np.ndarray, default: float) -> float:
    rest = values[(trace.feature_t < trace.baseline_end) & np.isfinite(values)]
    if rest.size == 0:
        rest = values[np.isfinite(values)]
    return float(np.median(rest)) if rest.size else default


def _start(problem: FitProblem, traces: list[SessionTrace], tau: float, floor: float) -> np.ndarray:
    shared = {spec.name: population_default(spec.name) for spec in GLOBAL_PARAMS}
    shared.update(problem.fixed)
    shared["habituation_tau"], shared["habituation_floor"] = tau, floor
    hr0 = np.asarray([_resting(tr, tr.hr, 70.0) for tr in traces])
    scl0 = np.asarray([_resting(tr, tr.scl, 4.0) for tr in traces])
    lo, hi = problem.bounds()
    x = problem.pack(shared, hr0, np.clip(scl0, 0.5, 40.0))
    return np.asarray(np.clip(x, lo, hi), dtype=np.float64)


def _solve(problem: FitProblem, x0: np.ndarray, max_nfev: int | None = None) -> OptimizeResult:
    lo, hi = problem.bounds()
    return least_squares(
        problem.residuals,
        np.clip(x0, lo, hi),
        bounds=(lo, hi),
        jac_sparsity=problem.sparsity(),
        x_scale="jac",
        loss="soft_l1",
        f_scale=3.0,
        max_nfev=max_nfev,
        method="trf",
    )


def _sigma(problem: FitProblem, x: np.ndarray) -> dict[str, float]:
    """Each signal's residual scale, widened by the square root of its autocorrelation
    inflation: a signal whose residuals wander slowly (the SCL envelope, the 60 s SCR
    count) holds fewer independent values than ticks, and must not outweigh the others.
    The inflation is the long-run variance of each session's residuals (60 s batch means,
    :func:`~engine.twinfit.uncertainty.batch_means_inflation`), not their lag-1
    autocorrelation, which misses a slow drift under fast noise."""
    pred = problem.predict(x)
    out = {}
    for signal in SIGNALS:
        parts = [obs.y[signal] - p[signal] for p, obs in zip(pred, problem.data, strict=True)]
        resid = np.concatenate(parts)
        if resid.size == 0:
            out[signal] = problem.sigma[signal]
            continue
        rms = max(_SIGMA_FLOOR[signal], float(np.sqrt(np.mean(resid**2))))
        kappa = 1.0 if signal == "suds" else batch_means_inflation(parts)
        out[signal] = rms * float(np.sqrt(kappa))
    return out


def _fit(problem: FitProblem, traces: list[SessionTrace]) -> tuple[FitProblem, OptimizeResult, int]:
    """Multi-start, re-weighted fit; returns the weighted problem, its solution, evaluations."""
    evaluations = 0
    best: OptimizeResult | None = None
    for tau, floor in _STARTS if problem.free else _STARTS[:1]:
        trial = _solve(problem, _start(problem, traces, tau, floor), max_nfev=15)
        evaluations += trial.nfev
        if best is None or trial.cost < best.cost:
            best = trial
    assert best is not None
    result = _solve(problem, best.x)
    problem = problem.with_sigma(_sigma(problem, result.x))
    final = _solve(problem, result.x)
    return problem, final, evaluations + result.nfev + final.nfev


def _goodness(
    problem: FitProblem, x: np.ndarray
) -> tuple[list[SignalFit], list[dict[str, float | None]]]:
    pred = problem.predict(x)
    per_session: list[dict[str, float | None]] = [{} for _ in pred]
    overall = []
    for signal in SIGNALS:
        obs = [o.y[signal] for o in problem.data]
        resid = [o - p[signal] for o, p in zip(obs, pred, strict=True)]
        for k, r in enumerate(resid):
            per_session[k][signal] = float(np.sqrt(np.mean(r**2))) if r.size else None
        y, r = np.concatenate(obs), np.concatenate(resid)
        if y.size == 0:
            overall.append(SignalFit(signal, _UNITS[signal], 0, None, None))
            continue
        total = float(np.sum((y - y.mean()) ** 2))
        r2 = 1.0 - float(r @ r) / total if total > 0 else None
        overall.append(
            SignalFit(signal, _UNITS[signal], int(y.size), float(np.sqrt(np.mean(r**2))), r2)
        )
    return overall, per_session


def _values(problem: FitProblem, x: np.ndarray) -> dict[str, float]:
    shared, hr0, scl0 = problem.unpack(x)
    shared = {k: v for k, v in shared.items() if k != "max_hr_gain"}
    shared["resting_hr"] = float(np.mean(hr0))
    if problem.eda:
        shared["resting_scl"] = float(np.mean(scl0))
    return shared


def _estimates(
    problem: FitProblem,
    x: np.ndarray,
    samples: list[dict[str, float]],
    held: dict[str, str],
    weak: dict[str, str],
) -> dict[str, Estimate]:
    point = _values(problem, x)
    out = {}
    for name, value in point.items():
        if name in held:
            out[name] = Estimate(name, value, None, None, Status.NOT_IDENTIFIABLE, held[name])
            continue
        bounds = interval(name, value, [s[name] for s in samples])
        low, high = bounds if bounds is not None else (None, None)
        status = Status.WEAK if name in weak else Status.FITTED
        out[name] = Estimate(name, value, low, high, status, weak.get(name, ""))
    out["max_hr_gain"] = Estimate(
        "max_hr_gain",
        HR_GAIN_ANCHOR,
        None,
        None,
        Status.HELD,
        "heart rate shows only max_hr_gain * reactivity: held at the population value so "
        "that reactivity (and the other gains) are identifiable",
    )
    return out


def _shift_sd(values: np.ndarray, signal: str) -> float:
    if values.size >= 3:
        return float(np.std(values, ddof=1))
    return _SHIFT_SD_POPULATION[signal]


def fit_twin(
    traces: list[SessionTrace],
    *,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> FitResult:
    """Fit a twin to ``traces`` (one participant's sessions, in course order).

    Raises
    ------
    TwinFitError
        No sessions, or sessions of different participants.
    """
    if not traces:
        raise TwinFitError("no sessions to fit")
    check_one_participant(traces)
    started = time.perf_counter()
    eda = any(tr.has_eda for tr in traces)
    held = structural_holds(traces, eda)
    free = tuple(s.name for s in GLOBAL_PARAMS if s.name not in held)
    problem = FitProblem.build(traces, free, {n: population_default(n) for n in held}, eda)
    problem, result, evaluations = _fit(problem, traces)
    jac = result.jac.toarray() if issparse(result.jac) else np.asarray(result.jac)
    weak = weak_parameters(problem, jac, result.fun)
    if progress is not None:
        progress(f"fitted in {time.perf_counter() - started:.1f} s; bootstrap x{bootstrap}")
    vectors = block_bootstrap(
        problem, result.x, bootstrap, seed, lambda p, x0: _solve(p, x0, max_nfev=60).x
    )
    samples = [_values(problem, v) for v in vectors]
    if len(samples) > 1 and sum(tr.exposure for tr in traces) >= MIN_JACKKNIFE_SESSIONS:
        jack = session_jackknife(problem, result.x, lambda p, x0: _solve(p, x0, max_nfev=60).x)
        samples, _ = widen_by_jackknife(_values(problem, result.x), samples, jack)
    goodness, per_session = _goodness(problem, result.x)
    _, hr0, scl0 = problem.unpack(result.x)
    sessions = [
        SessionFit(
            str(tr.path),
            tr.recorded,
            tr.protocol,
            tr.duration,
            float(hr0[k]),
            float(scl0[k]) if eda else None,
            per_session[k],
        )
        for k, tr in enumerate(traces)
    ]
    shift_sd = {"hr": _shift_sd(hr0, "hr")}
    if eda:
        shift_sd["scl"] = _shift_sd(scl0, "scl")
    return FitResult(
        participant=traces[0].participant,
        estimates=_estimates(problem, result.x, samples, held, weak),
        sessions=sessions,
        goodness=goodness,
        samples=samples,
        shift_sd=shift_sd,
        converged=bool(result.success),
        message=str(result.message),
        seconds=time.perf_counter() - started,
        evaluations=evaluations,
        sensors=estimate_sensors([tr.sensors for tr in traces]),
    )
