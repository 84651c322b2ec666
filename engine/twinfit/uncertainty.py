"""How well a twin fit pins each parameter down: identifiability and bootstrap intervals.

* :func:`structural_holds`: parameters the data cannot identify whatever the values
  (no change of intensity, no skin conductance, no SUDS answers while exposed, a single
  session), with the reason.
* :func:`weak_parameters`: parameters the data leave as uncertain as the population is
  (the approximate 95 % interval from the Jacobian, widened for the residuals'
  autocorrelation, is wider than the population range), e.g. the habituation time
  constant of a patient who does not habituate.
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

__all__ = ["block_bootstrap", "structural_holds", "weak_parameters"]

BLOCK_S = 60
"""Block length of the bootstrap for the 1 Hz features (samples)."""
_Z95 = 1.959964


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


def _inflation(residuals: np.ndarray) -> float:
    """Variance inflation for autocorrelated residuals, ``(1 + r1) / (1 - r1)`` (1..50)."""
    if residuals.size < 3:
        return 1.0
    r = residuals - residuals.mean()
    denom = float(r @ r)
    rho = float(r[1:] @ r[:-1]) / denom if denom > 0 else 0.0
    rho = min(max(rho, 0.0), 0.96)
    return min(50.0, (1.0 + rho) / (1.0 - rho))


def weak_parameters(problem: FitProblem, jac: np.ndarray, residuals: np.ndarray) -> dict[str, str]:
    """Free shared parameters whose approximate 95 % interval is wider than the population.

    ``jac`` is the Jacobian of the weighted residuals at the fit (free coordinates).
    """
    fisher = jac.T @ jac
    ridge = 1e-9 * max(float(np.trace(fisher)), 1e-12)
    cov = np.linalg.inv(fisher + ridge * np.eye(fisher.shape[0])) * _inflation(residuals)
    scale = float(residuals @ residuals) / max(residuals.size - fisher.shape[0], 1)
    out = {}
    for k, name in enumerate(problem.free):
        spec = PARAMS[name]
        lo, hi = (spec.to_free(v) for v in spec.population)
        width = 2.0 * _Z95 * math.sqrt(max(cov[k, k] * max(scale, 1.0), 0.0))
        if not math.isfinite(width) or width >= hi - lo:
            out[name] = (
                "the sessions leave it as uncertain as the population is (approximate 95 % "
                "interval wider than the population range)"
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
