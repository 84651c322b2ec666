"""The twin fit's uncertainty: the session jackknife's widening and leaving a session out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from twinfit_helpers import record_course, traces

from biosignals.twin_model import TwinProfile
from engine.twinfit.fit import _sigma
from engine.twinfit.params import GLOBAL_PARAMS, PARAMS, population_default
from engine.twinfit.problem import FitProblem, Observed
from engine.twinfit.uncertainty import (
    autocorrelation_inflation,
    batch_means_inflation,
    interval,
    widen_by_jackknife,
)


def _samples(values: list[float]) -> list[dict[str, float]]:
    return [{"reactivity": v, "resting_hr": 70.0 + v} for v in values]


def test_the_jackknife_widens_where_the_sessions_disagree_more() -> None:
    point = {"reactivity": 1.0, "resting_hr": 71.0}
    samples = _samples([0.99, 1.01, 0.98, 1.02])
    jack = [{"reactivity": v} for v in (0.9, 1.1, 0.95, 1.05, 1.0, 1.0)]  # spread further
    widened, factors = widen_by_jackknife(point, samples, jack)
    n, theta = 6, np.asarray([j["reactivity"] for j in jack])
    sd_jack = np.sqrt((n - 1) / n * np.sum((theta - theta.mean()) ** 2))
    sd_boot = np.std([s["reactivity"] for s in samples], ddof=1)
    # 95 % half-widths: t(0.975, n - 1) jackknife sds (6 sessions: 2.57), the interval's
    # t(0.975, B - 1) bootstrap sds (4 samples: 3.18)
    t_ratio = stats.t.ppf(0.975, n - 1) / stats.t.ppf(0.975, len(samples) - 1)
    assert factors["reactivity"] == pytest.approx(t_ratio * sd_jack / sd_boot)
    for before, after in zip(samples, widened, strict=True):
        assert after["reactivity"] - 1.0 == pytest.approx(
            factors["reactivity"] * (before["reactivity"] - 1.0)
        )
        assert after["resting_hr"] == before["resting_hr"]  # per-session levels untouched


def test_the_jackknife_never_narrows_and_stays_in_range() -> None:
    point = {"reactivity": 0.1}
    samples = _samples([0.05, 0.15, 0.08, 0.12])
    agreeing = [{"reactivity": 0.1} for _ in range(4)]
    same, factors = widen_by_jackknife(point, samples, agreeing)
    assert factors["reactivity"] == 1.0 and same == samples
    wild = [{"reactivity": v} for v in (0.1, 2.5, 0.1, 0.1)]
    widened, _ = widen_by_jackknife(point, samples, wild)
    spec = PARAMS["reactivity"]
    assert all(spec.lower <= s["reactivity"] <= spec.upper for s in widened)
    assert min(s["reactivity"] for s in widened) == spec.lower
    assert widen_by_jackknife(point, samples, wild[:2])[1] == {}  # too few sessions


def test_a_session_left_out_keeps_the_others_places(tmp_path: Path) -> None:
    """Session 2 without session 1 is still played as the third of the course (its
    reactivity fallen twice), with its own resting levels."""
    truth = TwinProfile(between_session_rate=0.2)
    course = traces(record_course(tmp_path, truth, 3))
    free = tuple(s.name for s in GLOBAL_PARAMS)
    problem = FitProblem.build(course, free, {}, eda=True)
    shared = {s.name: population_default(s.name) for s in GLOBAL_PARAMS}
    shared["between_session_rate"] = 0.2
    x = problem.pack(shared, np.asarray([70.0, 72.0, 74.0]), np.asarray([4.0, 4.5, 5.0]))
    smaller, y = problem.without_session(1, x)
    assert smaller.sessions == 2 and y.size == x.size - 2
    _, hr0, scl0 = smaller.unpack(y)
    assert list(hr0) == [70.0, 74.0] and list(scl0) == [4.0, 5.0]
    full, part = problem.predict(x), smaller.predict(y)
    for signal in ("hr", "scl", "suds"):
        np.testing.assert_allclose(part[1][signal], full[2][signal])
        np.testing.assert_allclose(part[0][signal], full[0][signal])


def test_the_interval_covers_a_further_draw_95_percent_of_the_time() -> None:
    """Of 20 replicates drawn from the estimate's own distribution, the estimate plus and
    minus t(0.975, 19) standard deviations covers the truth 95 % of the time; the
    replicates' 2.5..97.5 percentiles cover it only 87 % of the time."""
    rng = np.random.default_rng(5)
    truth, hits, percentile_hits, trials = 70.0, 0, 0, 4000
    for _ in range(trials):
        estimate = truth + rng.normal()
        replicates = list(estimate + rng.normal(size=20))
        bounds = interval("resting_hr", estimate, replicates)
        assert bounds is not None
        hits += bounds[0] <= truth <= bounds[1]
        low, high = np.percentile(replicates, [2.5, 97.5])
        percentile_hits += low <= truth <= high
    assert 0.94 < hits / trials < 0.96
    assert 0.85 < percentile_hits / trials < 0.89


def test_the_interval_of_a_time_constant_is_taken_on_its_log_scale_within_range() -> None:
    lag = [5.0 * float(np.exp(v)) for v in (-0.2, -0.1, 0.0, 0.1, 0.2)]
    bounds = interval("response_lag", 5.0, lag)
    assert bounds is not None
    half = stats.t.ppf(0.975, 4) * np.std(np.log(lag), ddof=1)
    assert bounds == pytest.approx((5.0 * np.exp(-half), 5.0 * np.exp(half)))
    assert 5.0 - bounds[0] < bounds[1] - 5.0  # wider upwards, as the log scale is
    floor = interval("habituation_floor", 0.02, [0.0, 0.05, 0.01, 0.03])
    assert floor is not None and floor[0] == PARAMS["habituation_floor"].lower
    assert interval("reactivity", 1.0, [1.1]) is None  # one sample: no spread


def _drifting(rng: np.random.Generator, n: int, phi: float, drift_var: float) -> np.ndarray:
    """White noise (variance 1) plus a slow AR(1) drift of variance ``drift_var``."""
    shocks = rng.normal(0.0, np.sqrt(drift_var * (1.0 - phi**2)), n)
    drift = np.empty(n)
    drift[0] = rng.normal(0.0, np.sqrt(drift_var))
    for k in range(1, n):
        drift[k] = phi * drift[k - 1] + shocks[k]
    return rng.normal(0.0, 1.0, n) + drift


def test_the_weight_of_residuals_with_a_slow_drift_reflects_their_long_run_variance() -> None:
    # Fast noise plus a slow drift (a 20 s time constant, a fifth of the variance): the
    # lag-1 autocorrelation is small (0.19), yet the mean of n values varies ~8.6 times
    # as much as n independent ones would (long-run / marginal variance).
    phi, drift_var = 0.95, 0.25
    long_run = (1.0 + drift_var * (1.0 + phi) / (1.0 - phi)) / (1.0 + drift_var)
    rng = np.random.default_rng(3)
    sessions = [_drifting(rng, 1200, phi, drift_var) for _ in range(6)]  # 6 x 20 min at 1 Hz
    lag1 = autocorrelation_inflation(sessions)
    batch = batch_means_inflation(sessions)
    assert lag1 < 1.6  # the lag-1 rule sees almost independent values
    # 60 s batches recover most of it (low by ~30 % on average at a 20 s time constant:
    # the autocovariances beyond a batch are cut off)
    assert 0.4 * long_run < batch < 1.2 * long_run
    # the empirical variance of a session's mean, against the two weights' predictions
    means = [_drifting(rng, 1200, phi, drift_var).mean() for _ in range(400)]
    measured = float(np.var(means)) * 1200 / (1.0 + drift_var)
    assert abs(np.log(batch / measured)) < abs(np.log(lag1 / measured)) / 2


def test_batch_means_leave_independent_residuals_at_weight_one() -> None:
    rng = np.random.default_rng(4)
    white = [rng.normal(0.0, 2.0, 1200) for _ in range(6)]
    assert batch_means_inflation(white) == pytest.approx(1.0, abs=0.35)
    assert batch_means_inflation([rng.normal(0.0, 1.0, 30)]) >= 1.0  # too short: lag-1 rule
    assert batch_means_inflation([]) == 1.0


def test_the_fit_weights_a_drifting_signal_by_its_long_run_variance(tmp_path: Path) -> None:
    """The fit's residual scale of a signal whose residuals drift (white noise plus a 10 s
    AR(1) drift: lag-1 autocorrelation 0.18, long-run / marginal variance 4.6) is widened
    by ~sqrt(4), not by the lag-1 rule's sqrt(1.44)."""
    course = traces(record_course(tmp_path, TwinProfile(), 3))
    free = tuple(s.name for s in GLOBAL_PARAMS)
    problem = FitProblem.build(course, free, {}, eda=True)
    shared = {s.name: population_default(s.name) for s in GLOBAL_PARAMS}
    x = problem.pack(shared, np.full(3, 70.0), np.full(3, 4.0))
    rng = np.random.default_rng(5)
    data, predicted = [], problem.predict(x)
    for pred, obs in zip(predicted, problem.data, strict=True):
        y = dict(obs.y)
        y["hr"] = pred["hr"] + _drifting(rng, pred["hr"].size, 0.9, 0.25)
        data.append(Observed(obs.t, y))
    sigma = _sigma(problem.with_data(tuple(data)), x)
    resid = np.concatenate([d.y["hr"] - p["hr"] for d, p in zip(data, predicted, strict=True)])
    widening = (sigma["hr"] / float(np.sqrt(np.mean(resid**2)))) ** 2
    assert 2.5 < widening < 8.0
