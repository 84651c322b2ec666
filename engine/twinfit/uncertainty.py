"""How well a twin fit pins each parameter down: identifiability and bootstrap intervals.

* :func:`structural_holds`: parameters the data cannot identify whatever the values
  (no change of intensity, no skin conductance, no SUDS answers while exposed, a single
  session), with the reason.
* :func:`weak_parameters`: parameters the data leave almost as uncertain as the weak
  population prior of the fit (:attr:`~engine.twinfit.params.ParamSpec.prior`), from the
  Jacobian with the data's information divided by the residuals' autocorrelation, e.g.
  the habituation time constant of a patient who hardly habituates. They stay free (the
  prior keeps them near the population) and are reported as weakly identified.
* :func:`block_bootstrap`: moving-block residual bootstrap (60 s blocks of the 1 Hz
  features, single SUDS answers): refits on ``prediction + resampled centred residuals``
  with the prior resampled around the fit, warm started at the fit.
* :func:`session_jackknife` and :func:`widen_by_jackknife`: the shared parameters refitted
  with each session left out; the bootstrap samples are spread further where the sessions
  disagree more than the bootstrap says (model misfit that differs from day to day).
* :func:`interval`: the 95 % interval of a parameter from its (widened) samples, the
  estimate plus and minus Student's ``t(0.975, B - 1)`` of their standard deviations.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.stats import t as student_t

from engine.twinfit.params import GLOBAL_PARAMS, PARAMS, Needs
from engine.twinfit.problem import SIGNALS, FitProblem, Observed
from engine.twinfit.trace import SessionTrace

__all__ = [
    "autocorrelation_inflation",
    "batch_means_inflation",
    "block_bootstrap",
    "interval",
    "session_jackknife",
    "structural_holds",
    "weak_parameters",
    "widen_by_jackknife",
]

WEAK_SHARE = 0.6
"""Posterior / prior standard deviation above which a parameter is weakly identified."""
BLOCK_S = 60
"""Block length of the bootstrap for the 1 Hz features (samples)."""


def structural_holds(traces: list[SessionTrace], eda: bool) -> dict[str, str]:
    """Parameter -> why the data cannot identify it (before any fit)."""
    exposed = [tr for tr in traces if tr.exposure]
    missing: dict[Needs, str] = {}
    if not exposed:
        missing[Needs.EXPOSURE] = (
            "the intensity never changed in any session: nothing shows how the patient "
            "responds to it"
        )
    if not eda:
        missing[Needs.EDA] = "no session recorded skin conductance"
    if Needs.EXPOSURE in missing or Needs.EDA in missing:
        missing[Needs.EDA_EXPOSURE] = missing.get(Needs.EXPOSURE) or missing[Needs.EDA]
    if not any(tr.suds.size and tr.exposure for tr in traces):
        missing[Needs.SUDS] = missing.get(Needs.EXPOSURE, "no SUDS answers while exposed")
    if len(exposed) < 2:
        missing[Needs.COURSE] = (
            f"{len(exposed)} session(s) with exposure: the change from session to session "
            f"needs two or more"
        )
    return {spec.name: missing[spec.needs] for spec in GLOBAL_PARAMS if spec.needs in missing}


MAX_INFLATION = 100.0


def autocorrelation_inflation(series: list[np.ndarray]) -> float:
    """Variance inflation of autocorrelated residuals, ``(1 + r1) / (1 - r1)`` from their
    lag-1 autocorrelation ``r1`` (pooled over ``series``), within 1..:data:`MAX_INFLATION`."""
    num = den = 0.0
    for resid in series:
        if resid.size < 3:
            continue
        r = resid - resid.mean()
        num += float(r[1:] @ r[:-1])
        den += float(r @ r)
    rho = min(max(num / den if den > 0 else 0.0, 0.0), 0.999)
    return min(MAX_INFLATION, (1.0 + rho) / (1.0 - rho))


def batch_means_inflation(series: list[np.ndarray], batch: int = BLOCK_S) -> float:
    """Variance inflation of autocorrelated residuals from the variance of their batch means.

    The variance of the mean of ``n`` autocorrelated values is ``sigma_LR^2 / n``, with
    ``sigma_LR^2`` their long-run variance (the sum of all their autocovariances). The
    lag-1 rule ``(1 + r1) / (1 - r1)`` of :func:`autocorrelation_inflation` assumes the
    autocorrelation dies out geometrically and undercounts a slow drift on top of fast
    noise (a misfit that wanders over minutes): such residuals have a small ``r1`` but
    wander far.
    The batch-means estimator measures the long-run variance directly: each series (one
    session's residuals of one signal) is centred and cut into non-overlapping batches of
    ``batch`` values (the last, shorter one dropped); ``batch * mean(batch mean ** 2)``
    estimates ``sigma_LR^2``. Pooled over ``series``, divided by the residuals' variance,
    within 1..:data:`MAX_INFLATION`; series with fewer than two batches fall back to the
    lag-1 rule (1.0 if there is nothing to pool).

    Parameters
    ----------
    series
        Residual series, one per session (1 Hz features: ``batch`` = 60 s; the values
        left out as invalid close up, so a batch can span a sensor's gap).
    batch
        Batch length in samples.

    Returns
    -------
    float
        ``sigma_LR^2 / sigma^2``, the number of ticks worth one independent value.
    """
    long_run = variance = 0.0
    batches = values = 0
    short = []
    for resid in series:
        n_batches = resid.size // batch
        if n_batches < 2:
            short.append(resid)
            continue
        r = resid - resid.mean()
        means = r[: n_batches * batch].reshape(n_batches, batch).mean(axis=1)
        long_run += batch * float(means @ means)
        batches += n_batches
        variance += float(r @ r)
        values += r.size
    if batches == 0 or variance <= 0.0:
        return autocorrelation_inflation(short) if short else 1.0
    kappa = (long_run / batches) / (variance / values)
    return min(MAX_INFLATION, max(1.0, kappa))


def _inflation(residuals: np.ndarray) -> float:
    return autocorrelation_inflation([residuals])


def weak_parameters(problem: FitProblem, jac: np.ndarray, residuals: np.ndarray) -> dict[str, str]:
    """Free shared parameters the data leave almost as uncertain as the population prior.

    ``jac`` and ``residuals`` are those of :meth:`FitProblem.residuals` at the fit (data
    rows, then prior rows). The data's information is divided by the residuals'
    autocorrelation inflation; a parameter whose approximate posterior standard deviation
    is more than :data:`WEAK_SHARE` of its prior's is weakly identified.
    """
    rows = problem.data_rows
    data_jac, data_res = jac[:rows], residuals[:rows]
    dof = max(rows - jac.shape[1], 1)
    noise = max(float(data_res @ data_res) / dof, 1.0) * _inflation(data_res)
    info = data_jac.T @ data_jac / noise
    scales = np.asarray([PARAMS[name].prior[1] for name in problem.free])
    prior = np.zeros(info.shape[0])
    prior[: len(scales)] = 1.0 / scales**2
    ridge = 1e-9 * max(float(np.trace(info)), 1e-12)
    cov = np.linalg.inv(info + np.diag(prior) + ridge * np.eye(info.shape[0]))
    out = {}
    for k, name in enumerate(problem.free):
        share = math.sqrt(max(cov[k, k], 0.0)) / scales[k]
        if share > WEAK_SHARE:
            out[name] = (
                f"the sessions narrow it only to {share:.0%} of the "
                f"population's spread, so the value leans on the population prior"
            )
    return out


def _resample(values: np.ndarray, block: int, rng: np.random.Generator) -> np.ndarray:
    n = values.size
    if n == 0:
        return values
    block = max(1, min(block, n))
    starts = rng.integers(0, n - block + 1, size=math.ceil(n / block))
    return np.concatenate([values[s : s + block] for s in starts])[:n]


def _replicate(
    problem: FitProblem, fitted: list[dict[str, np.ndarray]], rng: np.random.Generator
) -> tuple[Observed, ...]:
    """``fitted + resampled residuals``, each session's and signal's residuals centred."""
    out = []
    for pred, obs in zip(fitted, problem.data, strict=True):
        y = {}
        for signal in SIGNALS:
            resid = obs.y[signal] - pred[signal]
            if resid.size:
                resid = resid - resid.mean()  # centred: a replicate's noise has mean 0
            y[signal] = pred[signal] + _resample(resid, 1 if signal == "suds" else BLOCK_S, rng)
        out.append(Observed(obs.t, y))
    return tuple(out)


def _prior_centres(
    problem: FitProblem, x: np.ndarray, rng: np.random.Generator
) -> tuple[float, ...]:
    """A replicate's prior centres: the fit plus a draw of each prior's own spread."""
    scales = np.asarray([PARAMS[name].prior[1] for name in problem.free])
    return tuple(float(v) for v in x[: len(scales)] + rng.normal(0.0, 1.0, scales.size) * scales)


def block_bootstrap(
    problem: FitProblem,
    x: np.ndarray,
    replicates: int,
    seed: int,
    solve: Callable[[FitProblem, np.ndarray], np.ndarray],
    progress: Callable[[int, int], None] | None = None,
) -> list[np.ndarray]:
    """Parameter vectors refitted on ``replicates`` block-bootstrap replicates.

    A replicate is the fit's prediction plus resampled centred residuals
    (:func:`_replicate`), and the prior is resampled the same way: its pseudo-observation
    of each free shared parameter is drawn around the fit, ``x + N(0, prior scale)``
    (:func:`_prior_centres`). The replicates are then fitted with the same estimator, so
    they scatter around ``x`` as the fit scatters around the truth; refitted against the
    population centre instead, each replicate would be pulled towards the population a
    second time and its spread would not contain the fit.
    """
    rng = np.random.default_rng(seed)
    fitted = problem.predict(x)
    out = []
    for k in range(replicates):
        data = _replicate(problem, fitted, rng)
        replica = problem.with_data(data, _prior_centres(problem, x, rng))
        out.append(solve(replica, x))
        if progress is not None:
            progress(k + 1, replicates)
    return out


MIN_JACKKNIFE_SESSIONS = 3
"""Sessions with exposure a course needs for the session jackknife (leaving one out must
leave two: the between-session rate needs them)."""


def _t95(n: int) -> float:
    """Student's ``t(0.975, n - 1)``: the 95 % half-width, in standard deviations estimated
    from ``n`` values, of where one more value falls (``n >= 2``)."""
    return float(student_t.ppf(0.975, n - 1))


def _free(name: str, value: float) -> float:
    """``value`` in the optimiser's coordinate (log for time constants; the resting levels
    as they are)."""
    return PARAMS[name].to_free(value) if name in PARAMS else value


def _from_free(name: str, x: float) -> float:
    """Inverse of :func:`_free`, within the parameter's search range."""
    if name not in PARAMS:
        return x
    spec = PARAMS[name]
    return min(max(spec.from_free(x), spec.lower), spec.upper)


def interval(name: str, point: float, samples: list[float]) -> tuple[float, float] | None:
    """95 % interval of ``name`` estimated at ``point`` from its bootstrap samples.

    ``point +- t(0.975, B - 1) * sd`` of the ``B`` samples, in the optimiser's coordinate
    (log for time constants), within the search range; ``None`` below two samples. The
    samples' own 2.5..97.5 percentiles would be the interval only for many replicates:
    their extremes are where few samples lie, and of 20 replicates drawn from the very
    distribution of the estimate they cover a further draw 87 % of the time (the
    standard deviation with Student's t, 95 %). The replicates stay what a forecast draws.
    """
    if len(samples) < 2:
        return None
    x = np.asarray([_free(name, v) for v in samples])
    centre, half = _free(name, point), _t95(len(samples)) * float(np.std(x, ddof=1))
    return _from_free(name, centre - half), _from_free(name, centre + half)


def session_jackknife(
    problem: FitProblem,
    x: np.ndarray,
    solve: Callable[[FitProblem, np.ndarray], np.ndarray],
) -> list[dict[str, float]]:
    """The free shared parameters refitted with each session left out in turn (the others
    keep their places in the course), warm started at the fit."""
    out = []
    for k in range(problem.sessions):
        smaller, start = problem.without_session(k, x)
        v = solve(smaller, start)
        out.append(
            {name: PARAMS[name].from_free(float(v[j])) for j, name in enumerate(problem.free)}
        )
    return out


def widen_by_jackknife(
    point: dict[str, float], samples: list[dict[str, float]], jack: list[dict[str, float]]
) -> tuple[list[dict[str, float]], dict[str, float]]:
    """Bootstrap samples spread further around ``point`` where the sessions disagree more
    than the bootstrap says; returns them and each parameter's widening factor.

    The residual bootstrap knows only the noise within a session. A misfit of the mean
    model that differs from session to session (a response the model shapes a little
    differently each day) moves the estimate as well, and only leaving whole sessions out
    shows it: the delete-one-session jackknife's standard deviation,
    ``sqrt((n - 1) / n * sum((theta_k - mean) ** 2))``, treats the sessions as the
    independent units and assumes nothing about the residuals within them; estimated from
    ``n`` sessions it is itself uncertain, so its 95 % interval is Student's
    ``t(0.975, n - 1)`` standard deviations wide (2.57 for 6 sessions), not 1.96. Where
    that is wider than the bootstrap's (:func:`interval`: ``t(0.975, B - 1) * sd_boot``
    of ``B`` samples), each sample's distance from ``point`` is multiplied by their ratio
    (never narrowed), within the parameter's search range. Both sides are measured in the
    optimiser's coordinate (log for time constants), as the interval is.
    """
    factors: dict[str, float] = {}
    if len(jack) < MIN_JACKKNIFE_SESSIONS or len(samples) < 2:
        return samples, factors
    n, t_boot = len(jack), _t95(len(samples))
    for name in jack[0]:
        theta = np.asarray([_free(name, j[name]) for j in jack])
        sd_jack = math.sqrt((n - 1) / n * float(np.sum((theta - theta.mean()) ** 2)))
        sd_boot = float(np.std([_free(name, smp[name]) for smp in samples], ddof=1))
        ratio = _t95(n) * sd_jack / (t_boot * sd_boot) if sd_boot > 0 else 1.0
        factors[name] = max(1.0, ratio)
    out = []
    for smp in samples:
        widened = dict(smp)
        for name, f in factors.items():
            centre = _free(name, point[name])
            widened[name] = _from_free(name, centre + f * (_free(name, smp[name]) - centre))
        out.append(widened)
    return out, factors
