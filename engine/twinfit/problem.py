"""The least-squares problem of a twin fit: parameters in, weighted residuals out.

The parameter vector holds the free shared parameters (:data:`~engine.twinfit.params.
GLOBAL_PARAMS` minus those held fixed), then each session's resting heart rate and, with
skin conductance, each session's resting SCL. Session ``s`` (0 = the first fitted) is
played with ``reactivity * (1 - between_session_rate) ** s``.

Residuals are ``(observed - predicted) / sigma`` per signal (:data:`SIGNALS`): the
features' heart rate, SCL and SCR rate at each tick, and the SUDS answers, predicted by
:func:`biosignals.twin_mean.mean_response` driven by the recorded intensity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.sparse import lil_matrix

from biosignals.twin_mean import IntensityCourse, MeanParams, MeanTrace, mean_response
from engine.twinfit.params import HR_GAIN_ANCHOR, PARAMS, resting_bounds
from engine.twinfit.trace import SessionTrace

__all__ = ["GRID_DT", "SIGNALS", "FitProblem", "Observed", "live_share", "observed"]

SIGNALS = ("hr", "scl", "scr", "suds")
GRID_DT = 0.25
"""Grid step of the mean model in fits, s."""
_DEFAULT_EDA_NOISE = MeanParams.eda_noise_us


@dataclass(frozen=True)
class Observed:
    """One session's observations: per signal, times (s) and finite values."""

    t: Mapping[str, np.ndarray]
    y: Mapping[str, np.ndarray]

    def count(self, signal: str) -> int:
        """How many values of ``signal``."""
        return int(self.y[signal].size)


def observed(trace: SessionTrace, eda: bool) -> Observed:
    """The finite observations of ``trace`` (SCL and SCR rate only when ``eda``)."""
    t, y = {}, {}
    series = {"hr": trace.hr, "scl": trace.scl, "scr": trace.scr_rate}
    for signal, values in series.items():
        if signal != "hr" and not eda:
            t[signal], y[signal] = np.zeros(0), np.zeros(0)
            continue
        ok = np.isfinite(values) & (trace.feature_t >= 0)
        t[signal], y[signal] = trace.feature_t[ok], values[ok]
    ok = (trace.suds_t >= 0) & (trace.suds_t <= trace.duration)
    t["suds"], y["suds"] = trace.suds_t[ok], trace.suds[ok]
    return Observed(t, y)


def live_share(course: IntensityCourse, dead: tuple[tuple[float, float], ...]) -> np.ndarray | None:
    """Per step of ``course``'s grid, the share outside the ``dead`` spans (s from the
    start, merged and sorted); ``None`` when there are none."""
    if not dead:
        return None
    edges = np.concatenate(([0.0], course.end_times))
    covered = np.zeros(edges.size)  # dead seconds before each edge
    for a, b in dead:
        covered += np.clip(edges, a, b) - a
    return np.asarray(1.0 - np.diff(covered) / course.dt)


@dataclass(frozen=True)
class FitProblem:
    """Sessions, which parameters are free, and the residual scale of each signal."""

    courses: tuple[IntensityCourse, ...]
    data: tuple[Observed, ...]
    free: tuple[str, ...]
    fixed: Mapping[str, float]
    eda: bool
    sigma: Mapping[str, float] = field(
        default_factory=lambda: {"hr": 2.0, "scl": 0.05, "scr": 1.5, "suds": 5.0}
    )
    prior_centre: tuple[float, ...] | None = None
    """Centre of each free shared parameter's prior (optimiser's coordinates); ``None``:
    the population defaults. A bootstrap replicate draws its own (see
    :func:`~engine.twinfit.uncertainty.block_bootstrap`)."""
    course_index: tuple[int, ...] | None = None
    """Each session's place in the course (``None``: 0, 1, 2, ...); a problem that leaves
    a session out keeps the others' places (:meth:`without_session`)."""
    eda_noise: tuple[float, ...] | None = None
    """Each session's white noise on the raw EDA, µS, as its recording shows it
    (:attr:`~engine.twinfit.sensors.SensorCounts.eda_noise_us`): it lowers the SCL the
    features report (:data:`~biosignals.twin_mean.SCL_NOISE_MIN`). ``None``: the
    twin's default noise in every session."""
    scr_live: tuple[np.ndarray | None, ...] | None = None
    """Each session's share of each grid step in which its EDA could count SCRs
    (:attr:`~engine.twinfit.sensors.SensorCounts.eda_dead`): the extractor drops the
    onsets round a motion artefact and sees none in a dropout, so the SCR rate there is
    predicted from the live time only. ``None``: every step live."""

    @classmethod
    def build(
        cls,
        traces: list[SessionTrace],
        free: tuple[str, ...],
        fixed: Mapping[str, float],
        eda: bool,
    ) -> FitProblem:
        """The problem for ``traces`` (in course order)."""
        courses = tuple(
            IntensityCourse.from_samples(tr.intensity_t, tr.intensity, tr.duration, GRID_DT)
            for tr in traces
        )
        noise = tuple(
            _DEFAULT_EDA_NOISE if tr.sensors.eda_noise_us is None else tr.sensors.eda_noise_us
            for tr in traces
        )
        data = tuple(observed(tr, eda) for tr in traces)
        live = tuple(
            live_share(c, tr.sensors.eda_dead) for c, tr in zip(courses, traces, strict=True)
        )
        return cls(courses, data, free, dict(fixed), eda, eda_noise=noise, scr_live=live)

    @property
    def sessions(self) -> int:
        """Number of sessions."""
        return len(self.courses)

    @property
    def size(self) -> int:
        """Length of the parameter vector."""
        return len(self.free) + self.sessions * (2 if self.eda else 1)

    def with_sigma(self, sigma: Mapping[str, float]) -> FitProblem:
        """The same problem with other residual scales."""
        return replace(self, sigma=dict(sigma))

    def with_data(
        self, data: tuple[Observed, ...], prior_centre: tuple[float, ...] | None = None
    ) -> FitProblem:
        """The same problem on other observations and, if given, other prior centres (a
        bootstrap replicate)."""
        return replace(self, data=data, prior_centre=prior_centre)

    def without_session(self, k: int, x: np.ndarray) -> tuple[FitProblem, np.ndarray]:
        """The problem without session ``k`` (the others keep their places in the course)
        and ``x`` without that session's resting levels."""
        keep = [s for s in range(self.sessions) if s != k]
        places = self._places()
        n, s = len(self.free), self.sessions
        drop = [n + k] + ([n + s + k] if self.eda else [])
        smaller = replace(
            self,
            courses=tuple(self.courses[i] for i in keep),
            data=tuple(self.data[i] for i in keep),
            course_index=tuple(places[i] for i in keep),
            eda_noise=None if self.eda_noise is None else tuple(self.eda_noise[i] for i in keep),
            scr_live=None if self.scr_live is None else tuple(self.scr_live[i] for i in keep),
        )
        return smaller, np.delete(x, drop)

    # ------------------------------------------------------------------ vectors
    def unpack(self, x: np.ndarray) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
        """``(shared values by name, resting HR per session, resting SCL per session)``."""
        shared = dict(self.fixed)
        for k, name in enumerate(self.free):
            shared[name] = PARAMS[name].from_free(float(x[k]))
        n, s = len(self.free), self.sessions
        hr0 = np.asarray(x[n : n + s], dtype=np.float64)
        scl0 = np.asarray(x[n + s : n + 2 * s], dtype=np.float64) if self.eda else np.zeros(s)
        return shared, hr0, scl0

    def pack(self, shared: Mapping[str, float], hr0: np.ndarray, scl0: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`unpack`."""
        head = [PARAMS[name].to_free(shared[name]) for name in self.free]
        tail = [*hr0, *scl0] if self.eda else list(hr0)
        return np.asarray(head + tail, dtype=np.float64)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of the parameter vector."""
        pairs = [PARAMS[name].free_bounds for name in self.free]
        pairs += [resting_bounds("hr")] * self.sessions
        if self.eda:
            pairs += [resting_bounds("scl")] * self.sessions
        lo, hi = zip(*pairs, strict=True)
        return np.asarray(lo), np.asarray(hi)

    def session_params(
        self,
        shared: Mapping[str, float],
        hr0: float,
        scl0: float,
        session: int,
        eda_noise: float = _DEFAULT_EDA_NOISE,
    ) -> MeanParams:
        """The mean-model parameters of session ``session`` (its place in the course)."""
        decay = (1.0 - shared["between_session_rate"]) ** session
        return MeanParams(
            resting_hr=hr0,
            max_hr_gain=shared.get("max_hr_gain", HR_GAIN_ANCHOR),
            resting_scl=scl0 if self.eda else 4.0,
            max_scl_gain=shared["max_scl_gain"],
            scl_lag=shared["scl_lag"],
            scr_rate_rest=shared["scr_rate_rest"],
            scr_rate_max=shared["scr_rate_rest"] + shared["scr_rate_gain"],
            reactivity=shared["reactivity"] * decay,
            response_lag=shared["response_lag"],
            habituation_tau=shared["habituation_tau"],
            habituation_floor=shared["habituation_floor"],
            suds_scale=shared["suds_scale"],
            eda_noise_us=eda_noise,
        )

    # ------------------------------------------------------------------ model
    def traces(self, x: np.ndarray) -> list[MeanTrace]:
        """The mean response of every session under ``x``."""
        shared, hr0, scl0 = self.unpack(x)
        noise = self.eda_noise or (_DEFAULT_EDA_NOISE,) * self.sessions
        return [
            mean_response(course, self.session_params(shared, hr0[s], scl0[s], place, noise[s]))
            for s, (course, place) in enumerate(zip(self.courses, self._places(), strict=True))
        ]

    def _places(self) -> tuple[int, ...]:
        return self.course_index or tuple(range(self.sessions))

    def predict(self, x: np.ndarray) -> list[dict[str, np.ndarray]]:
        """Per session, each signal's prediction at its observation times."""
        out = []
        live = self.scr_live or (None,) * self.sessions
        for trace, obs, share in zip(self.traces(x), self.data, live, strict=True):
            out.append(
                {
                    "hr": trace.hr_feature(obs.t["hr"]),
                    "scl": trace.scl_feature(obs.t["scl"]),
                    "scr": trace.scr_feature(obs.t["scr"], share),
                    "suds": trace.suds(obs.t["suds"]),
                }
            )
        return out

    @property
    def data_rows(self) -> int:
        """Number of data residuals (the prior's rows follow them)."""
        return sum(obs.count(sig) for obs in self.data for sig in SIGNALS)

    def prior_residuals(self, x: np.ndarray) -> np.ndarray:
        """``(x - prior centre) / prior scale`` of each free shared parameter (centre: the
        population default unless :attr:`prior_centre` says otherwise)."""
        out = np.empty(len(self.free))
        for k, name in enumerate(self.free):
            centre, scale = PARAMS[name].prior
            if self.prior_centre is not None:
                centre = self.prior_centre[k]
            out[k] = (x[k] - centre) / scale
        return out

    def residuals(self, x: np.ndarray) -> np.ndarray:
        """Weighted residuals ``(observed - predicted) / sigma``, session by session, then
        the weak population prior of each free shared parameter (:attr:`ParamSpec.prior`):
        it decides only what the data leave open."""
        parts = []
        for pred, obs in zip(self.predict(x), self.data, strict=True):
            for signal in SIGNALS:
                parts.append((obs.y[signal] - pred[signal]) / self.sigma[signal])
        parts.append(self.prior_residuals(x))
        return np.concatenate(parts)

    def sparsity(self) -> lil_matrix:
        """Which residual depends on which parameter (for grouped finite differences)."""
        rows = self.data_rows
        m = lil_matrix((rows + len(self.free), self.size), dtype=np.int8)
        n, row = len(self.free), 0
        for s, obs in enumerate(self.data):
            for signal in SIGNALS:
                count = obs.count(signal)
                block = slice(row, row + count)
                m[block, :n] = 1
                if signal == "hr":
                    m[block, n + s] = 1
                if signal == "scl" and self.eda:
                    m[block, n + self.sessions + s] = 1
                row += count
        for k in range(n):
            m[rows + k, k] = 1
        return m
