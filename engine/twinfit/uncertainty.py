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
  features, single SUDS answers): refits on ``prediction + resampled residuals``, warm
  started at the fit.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from engine.twinfit.params import GLOBAL_PARAMS, PARAMS, Needs
from engine.twinfit.problem import SIGNALS, FitProblem, Observed
from engine.twinfit.trace import SessionTrace

__all__ = [
    "autocorrelation_inflation",
    "block_bootstrap",
    "structural_holds",
    "weak_parameters",
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
    out = []
    for pred, obs in zip(fitted, problem.data, strict=True):
        y = {}
        for signal in SIGNALS:
            resid = obs.y[signal] - pred[signal]
            y[signal] = pred[signal] + _resample(resid, 1 if signal == "suds" else BLOCK_S, rng)
        out.append(Observed(obs.t, y))
    return tuple(out)


def block_bootstrap(
    problem: FitProblem,
    x: np.ndarray,
    replicates: int,
    seed: int,
    solve: Callable[[FitProblem, np.ndarray], np.ndarray],
    progress: Callable[[int, int], None] | None = None,
) -> list[np.ndarray]:
    """Parameter vectors refitted on ``replicates`` block-bootstrap replicates."""
    rng = np.random.default_rng(seed)
    fitted = problem.predict(x)
    out = []
    for k in range(replicates):
        out.append(solve(problem.with_data(_replicate(problem, fitted, rng)), x))
        if progress is not None:
            progress(k + 1, replicates)
    return out
