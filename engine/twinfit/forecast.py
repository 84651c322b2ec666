"""Forecast a protocol on a twin: many in-process sessions, nothing recorded.

Each run is the real session (controller, safety layer, prompts, feature pipeline) on a
:class:`~engine.clock.ManualClock` against a twin drawn from the fitted twin's uncertainty
(:mod:`engine.twinfit.samples`), with its own seed. Nothing is written: no session folder,
no recording. :func:`run_forecast` spreads the runs over processes and reports progress;
:mod:`engine.twinfit.forecast_stats` summarises them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np

from biosignals.twin_model import TwinPhysiology
from biosignals.twin_profile import TwinProfile
from engine.clock import ManualClock
from engine.display import DRY_RUN, open_display
from engine.live import TWIN_ECG_RATE, TWIN_EDA_RATE
from engine.protocol import Protocol
from engine.session_builder import SessionSetup, build_session
from engine.session_types import Progress, SessionState, SessionSummary
from engine.twinfeed import TwinFeed
from engine.twinfit.feed import BeatFeed
from engine.twinfit.samples import TwinUncertainty

__all__ = ["PROGRESS_EVERY", "ForecastRun", "RunSpec", "forecast_one", "run_forecast"]

PROGRESS_EVERY = 10.0
"""Session seconds between the samples of a run's course (step, HR, arousal)."""
CEILING_REASON = "above ceiling"
LOSS_REASON = "signal lost"
FORECAST_FRAME_RATE = 1.0
"""Frames per session second in forecast runs: one per controller tick (a dry-run has two,
so that safety reacts within half a second; a forecast trades that for speed)."""


@dataclass(frozen=True)
class RunSpec:
    """One forecast run: which protocol, which twin, which seed, which heart input."""

    protocol: Protocol
    profile: TwinProfile
    seed: int
    ecg: bool = False


@dataclass
class ForecastRun:
    """What one run did (times are session seconds)."""

    seed: int
    steps_total: int
    baseline: float
    duration: float
    state: str
    reason: str
    max_step: int
    time_in_window: float | None
    ceiling_hit: bool
    safety_stop: bool
    max_hr: float | None
    signal_losses: int = 0
    """Times the safety layer lowered the intensity for a signal loss."""
    course_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    course_step: np.ndarray = field(default_factory=lambda: np.zeros(0))
    course_hr: np.ndarray = field(default_factory=lambda: np.zeros(0))
    step_reached: dict[int, float] = field(default_factory=dict)
    suds: list[tuple[float, int]] = field(default_factory=list)


def _feed(spec: RunSpec, clock: ManualClock) -> BeatFeed | TwinFeed:
    seed = spec.seed
    if spec.ecg:
        return TwinFeed(
            TwinPhysiology(spec.profile, start_time=0.0, seed=seed),
            clock,
            TWIN_ECG_RATE,
            TWIN_EDA_RATE,
        )
    physiology = TwinPhysiology(
        spec.profile, start_time=0.0, seed=seed, eda_rate=TWIN_EDA_RATE, ecg=False
    )
    return BeatFeed(physiology, clock)


def forecast_one(spec: RunSpec) -> ForecastRun:
    """Run the protocol once against the twin (no recording); what happened."""
    protocol = spec.protocol.model_copy(update={"seed": spec.seed})
    clock = ManualClock()
    feed = _feed(spec, clock)
    physiology = feed.physiology
    pacer = protocol.controller.paced_breathing_rate()
    if pacer is not None:
        physiology.set_paced_breathing(pacer)
    course: list[tuple[float, int, float]] = []

    def on_progress(p: Progress) -> None:
        step = 0 if p.step is None or p.state is SessionState.BASELINE else p.step + 1
        hr = p.features.hr_bpm
        course.append((p.elapsed, step, np.nan if hr is None else hr))

    def answer(kind: str) -> int | None:
        return physiology.suds() if kind == "suds" else physiology.pain_nrs()

    display = open_display(DRY_RUN)
    try:
        setup = SessionSetup(
            protocol,
            clock,
            display,
            feed.streams(),
            sinks=(feed,),
            responder=answer,
            frame_rate=FORECAST_FRAME_RATE,
            on_progress=on_progress,
            progress_every=PROGRESS_EVERY,
        )
        summary = build_session(setup, None).run()
    finally:
        display.close()
    return _result(spec, protocol, summary, course)


def _result(
    spec: RunSpec,
    protocol: Protocol,
    summary: SessionSummary,
    course: list[tuple[float, int, float]],
) -> ForecastRun:
    start = summary.started or 0.0
    reached: dict[int, float] = {}
    for d in summary.decisions:
        if d.step is not None and d.step + 1 not in reached and d.target > d.previous:
            reached[d.step + 1] = d.time - start
    ceiling = any(d.source == "safety" and CEILING_REASON in d.reason for d in summary.decisions)
    ceiling = ceiling or (
        summary.max_hr is not None and summary.max_hr > protocol.safety.max_heart_rate
    )
    arr = np.asarray(course, dtype=np.float64).reshape(-1, 3)
    return ForecastRun(
        seed=spec.seed,
        steps_total=len(protocol.controller.levels()),
        baseline=protocol.baseline,
        duration=protocol.duration,
        state=summary.state.value,
        reason=summary.reason,
        max_step=summary.max_step + 1 if summary.decisions else 0,
        time_in_window=summary.time_in_window,
        ceiling_hit=bool(ceiling),
        safety_stop=summary.state is SessionState.ABORTED,  # no one presses stop in a forecast
        max_hr=summary.max_hr,
        signal_losses=sum(1 for d in summary.decisions if d.reason.startswith(LOSS_REASON)),
        course_t=arr[:, 0],
        course_step=arr[:, 1],
        course_hr=arr[:, 2],
        step_reached=reached,
        suds=[(t - start, v) for t, kind, v in summary.answers if kind == "suds"],
    )


def run_forecast(
    protocol: Protocol,
    profile: TwinProfile,
    uncertainty: TwinUncertainty,
    runs: int,
    *,
    seed: int = 0,
    jobs: int | None = None,
    ecg: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[ForecastRun]:
    """``runs`` sessions of ``protocol`` on twins drawn from ``uncertainty``.

    Runs go to ``jobs`` processes (default: the CPUs this process may use); run ``k`` has
    seed ``seed + k`` whatever the number of processes, so the forecast is reproducible.
    """
    rng = np.random.default_rng(seed)
    specs = [
        RunSpec(protocol, uncertainty.draw(profile, k, rng), seed + k, ecg) for k in range(runs)
    ]
    jobs = max(1, min(jobs or len(os.sched_getaffinity(0)), runs))
    out: dict[int, ForecastRun] = {}
    if jobs == 1:
        for k, spec in enumerate(specs):
            out[k] = forecast_one(spec)
            if progress is not None:
                progress(k + 1, runs)
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(forecast_one, spec): k for k, spec in enumerate(specs)}
            for done, future in enumerate(as_completed(futures), 1):
                out[futures[future]] = future.result()
                if progress is not None:
                    progress(done, runs)
    return [out[k] for k in range(runs)]
