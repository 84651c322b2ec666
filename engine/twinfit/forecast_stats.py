"""Summaries of a forecast's runs: the distributions a therapist asks about.

For one protocol (:func:`summarise`): the hierarchy step reached over time (median and
10th-90th percentiles at every 10 s), the time to each step (among the runs that reached
it, and how many did), the highest step, the time inside the arousal window, the chance of
hitting the heart-rate ceiling or a safety stop, and the SUDS answers. :func:`text_table`
puts one or two protocols side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from biosignals.units import format_duration
from engine.protocol import Protocol
from engine.twinfit.forecast import PROGRESS_EVERY, ForecastRun

__all__ = [
    "ForecastSummary",
    "StepTime",
    "checkpoints",
    "summarise",
    "summary_rows",
    "table",
    "text_table",
]

_LO, _HI = 10, 90


@dataclass(frozen=True)
class StepTime:
    """When runs first reached one step: share of runs, median and 10-90 % of the time (s)."""

    step: int
    label: str
    share: float
    median: float | None
    low: float | None
    high: float | None


@dataclass
class ForecastSummary:
    """One protocol's forecast (times in session seconds)."""

    protocol: str
    title: str
    runs: int
    duration: float
    baseline: float
    steps_total: int
    ceiling_bpm: float
    grid: np.ndarray
    step_median: np.ndarray
    step_low: np.ndarray
    step_high: np.ndarray
    hr_median: np.ndarray
    hr_low: np.ndarray
    hr_high: np.ndarray
    highest: dict[int, int]
    time_to_step: list[StepTime]
    window: tuple[float, float, float] | None
    ceiling_share: float
    stop_share: float
    suds_mean: tuple[float, float, float] | None
    suds_last: tuple[float, float, float] | None
    notes: list[str] = field(default_factory=list)

    @property
    def highest_median(self) -> tuple[float, float, float]:
        """Median and 10-90 % of the highest step reached."""
        values = np.repeat(list(self.highest), list(self.highest.values()))
        return _spread(values.astype(np.float64))  # type: ignore[return-value]


def _spread(values: np.ndarray) -> tuple[float, float, float] | None:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return None
    lo, mid, hi = np.percentile(v, [_LO, 50, _HI])
    return float(mid), float(lo), float(hi)


def _course(runs: list[ForecastRun], grid: np.ndarray, attr: str, hold: bool) -> np.ndarray:
    rows = []
    for r in runs:
        t, y = r.course_t, getattr(r, attr)
        if t.size == 0:
            rows.append(np.full(grid.size, np.nan))
            continue
        if hold:  # a step holds until the next sample
            idx = np.searchsorted(t, grid + 1e-6, side="right") - 1
            rows.append(np.where(idx >= 0, y[np.maximum(idx, 0)], 0.0))
        else:
            rows.append(np.interp(grid, t, y, left=np.nan, right=np.nan))
    return np.asarray(rows)


def _percentiles(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    out = []
    for q in (50, _LO, _HI):
        col = np.full(matrix.shape[1], np.nan)
        for j in range(matrix.shape[1]):
            v = matrix[:, j][np.isfinite(matrix[:, j])]
            if v.size:
                col[j] = np.percentile(v, q)
        out.append(col)
    return out[0], out[1], out[2]


def summarise(protocol: Protocol, runs: list[ForecastRun]) -> ForecastSummary:
    """The forecast of ``protocol`` from its ``runs``."""
    grid = np.arange(0.0, protocol.duration + 1e-9, PROGRESS_EVERY)
    steps = _percentiles(_course(runs, grid, "course_step", hold=True))
    hr = _percentiles(_course(runs, grid, "course_hr", hold=False))
    labels = [getattr(level, "label", "") or "" for level in protocol.controller.levels()]
    total = len(labels)
    times = []
    for step in range(1, total + 1):
        got = np.asarray([r.step_reached[step] for r in runs if step in r.step_reached])
        spread = _spread(got) if got.size else None
        times.append(
            StepTime(
                step,
                labels[step - 1] if step <= len(labels) else "",
                got.size / len(runs),
                *(spread or (None, None, None)),
            )
        )
    highest: dict[int, int] = {}
    for r in runs:
        highest[r.max_step] = highest.get(r.max_step, 0) + 1
    window = _spread(
        np.asarray([np.nan if r.time_in_window is None else r.time_in_window for r in runs])
    )
    means = np.asarray([np.mean([v for _, v in r.suds]) if r.suds else np.nan for r in runs])
    lasts = np.asarray([r.suds[-1][1] if r.suds else np.nan for r in runs], dtype=np.float64)
    return ForecastSummary(
        protocol=protocol.protocol,
        title=getattr(protocol, "title", None) or protocol.protocol,
        runs=len(runs),
        duration=protocol.duration,
        baseline=protocol.baseline,
        steps_total=total,
        ceiling_bpm=protocol.safety.max_heart_rate,
        grid=grid,
        step_median=steps[0],
        step_low=steps[1],
        step_high=steps[2],
        hr_median=hr[0],
        hr_low=hr[1],
        hr_high=hr[2],
        highest=dict(sorted(highest.items())),
        time_to_step=times,
        window=window,
        ceiling_share=float(np.mean([r.ceiling_hit for r in runs])),
        stop_share=float(np.mean([r.safety_stop for r in runs])),
        suds_mean=_spread(means),
        suds_last=_spread(lasts),
    )


def _range(value: tuple[float, float, float] | None, fmt: str, scale: float = 1.0) -> str:
    if value is None:
        return "n/a"
    mid, lo, hi = (v * scale for v in value)
    return f"{format(mid, fmt)} [{format(lo, fmt)}..{format(hi, fmt)}]"


def _clock(seconds: float | None) -> str:
    return "--" if seconds is None else format_duration(seconds)


def checkpoints(summaries: list[ForecastSummary]) -> list[float]:
    """Session minutes at which the step is shown: each protocol's quarters."""
    return sorted(
        {round(s.duration / 60.0 * f, 1) for s in summaries for f in (0.25, 0.5, 0.75, 1.0)}
    )


def summary_rows(s: ForecastSummary, minutes: list[float]) -> list[tuple[str, str]]:
    """The figures of one summary as ``(label, text)`` rows (steps at ``minutes``)."""
    rows = [
        ("runs", str(s.runs)),
        ("highest step reached", f"{_range(s.highest_median, '.0f')} of {s.steps_total}"),
    ]
    for minute in minutes:
        t = minute * 60.0
        if t <= s.duration + 1e-6 and s.grid.size:
            j = min(round(t / PROGRESS_EVERY), s.grid.size - 1)
            text = f"{s.step_median[j]:.0f} [{s.step_low[j]:.0f}..{s.step_high[j]:.0f}]"
            rows.append((f"step at {minute:g} min", text))
    for st in s.time_to_step:
        when = (
            "never"
            if st.median is None
            else f"{_clock(st.median)} [{_clock(st.low)}..{_clock(st.high)}]"
        )
        rows.append((f"time to step {st.step}", f"{when} ({st.share:.0%} of runs)"))
    rows += [
        ("time in arousal window", _range(s.window, ".0f", 100.0) + " %"),
        ("HR ceiling hit", f"{s.ceiling_share:.0%} of runs ({s.ceiling_bpm:g} bpm)"),
        ("safety stop", f"{s.stop_share:.0%} of runs"),
        ("mean SUDS", _range(s.suds_mean, ".0f")),
        ("last SUDS", _range(s.suds_last, ".0f")),
    ]
    return rows


def table(summaries: list[ForecastSummary]) -> tuple[list[str], list[dict[str, str]]]:
    """Row labels (in order) and one ``{label: text}`` column per summary."""
    minutes = checkpoints(summaries)
    columns = [dict(summary_rows(s, minutes)) for s in summaries]
    keys: list[str] = []
    for s in summaries:
        keys += [k for k, _ in summary_rows(s, minutes) if k not in keys]
    return keys, columns


def text_table(summaries: list[ForecastSummary]) -> str:
    """The summaries side by side (median [10th..90th percentile] of the runs)."""
    keys, columns = table(summaries)
    width = max(len(k) for k in keys) + 2
    cols = [
        max(len(s.protocol), *(len(c.get(k, "")) for k in keys)) + 2
        for s, c in zip(summaries, columns, strict=True)
    ]
    lines = [
        " " * width + "".join(s.protocol.ljust(w) for s, w in zip(summaries, cols, strict=True))
    ]
    for k in keys:
        lines.append(
            k.ljust(width)
            + "".join(c.get(k, "").ljust(w) for c, w in zip(columns, cols, strict=True))
        )
    lines.append("(median [10th..90th percentile] over the runs)")
    return "\n".join(line.rstrip() for line in lines)
