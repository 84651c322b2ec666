"""The report's timeline figure (matplotlib, Agg backend, no pyplot state), as PNG bytes."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from engine.errors import VrTherapyError
from engine.report.model import ReportModel

__all__ = ["timeline_png"]

_MAX_POINTS = 3000
_EVENT_COLORS = {"safety": "#c62828", "therapist": "#6a1b9a", "stop": "#212121"}
_LINE = "#1f4e79"
_SOFT = "#8fb3d9"
_TWIN = "#c2185b"


def _figure_class() -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise VrTherapyError(
            "the HTML report needs matplotlib: pip install 'vrtherapy[report]' (or matplotlib)"
        ) from None
    return Figure, FigureCanvasAgg


def envelope(t: np.ndarray, y: np.ndarray, n: int = _MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Min/max per bin so a long signal plots with about ``n`` points and keeps its peaks."""
    if t.size <= n:
        return t, y
    starts = np.linspace(0, t.size, n // 2, endpoint=False).astype(np.int64)
    lo = np.minimum.reduceat(y, starts)
    hi = np.maximum.reduceat(y, starts)
    tt = np.repeat(t[starts], 2)
    yy = np.column_stack([lo, hi]).ravel()
    return tt, yy


def _minutes(t: np.ndarray) -> np.ndarray:
    return t / 60.0


def _legend(ax: Any, ncol: int) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", fontsize=7, frameon=False, ncol=ncol)


def _heart(ax: Any, model: ReportModel) -> None:
    s = model.series
    if "beat_t" in s and s["beat_t"].size:
        t, y = envelope(s["beat_t"], s["beat_hr"])
        label = model.labels.get("beat_hr", "beat-to-beat (R-peaks)")
        ax.plot(_minutes(t), y, color=_SOFT, lw=0.6, label=label)
    if "hr_stream_t" in s and s["hr_stream_t"].size:
        t, y = envelope(s["hr_stream_t"], s["hr_stream"])
        label = model.labels.get("hr_stream", "HR stream")
        ax.plot(_minutes(t), y, color="#2e7d32", lw=0.8, label=label)
    if "feat_t" in s:
        ax.plot(_minutes(s["feat_t"]), s["feat_hr"], color=_LINE, lw=1.2, label="session HR")
    if "twin_hr" in s:
        label = model.labels.get("twin", "patient twin")
        ax.plot(_minutes(s["twin_t"]), s["twin_hr"], color=_TWIN, lw=1.3, ls="--", label=label)
    ax.set_ylabel("HR (bpm)")
    _legend(ax, 3)


def _hrv(ax: Any, s: dict[str, np.ndarray]) -> None:
    if "rmssd_t" in s and np.isfinite(s["rmssd"]).any():
        ax.plot(_minutes(s["rmssd_t"]), s["rmssd"], "o-", color=_LINE, ms=3, lw=1)
    else:
        ax.text(
            0.5,
            0.5,
            "no RMSSD (no beats, or too few)",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="#555",
            fontsize=8,
        )
    ax.set_ylabel("RMSSD 60 s\n(ms)")


def _eda(ax: Any, s: dict[str, np.ndarray], twin_label: str = "patient twin") -> None:
    if "eda_t" in s and s["eda_t"].size:
        t, y = envelope(s["eda_t"], s["eda"])
        ax.plot(_minutes(t), y, color=_LINE, lw=0.7, label="skin conductance")
        scr_t = s.get("scr_t", np.zeros(0))
        if scr_t.size:
            order = np.argsort(s["eda_t"], kind="stable")
            level = np.interp(scr_t, s["eda_t"][order], s["eda"][order])
            ax.plot(
                _minutes(s["scr_t"]),
                level,
                "v",
                color="#ef6c00",
                ms=3.5,
                label=f"SCR peaks ({scr_t.size})",
            )
        if "twin_scl" in s:
            ax.plot(_minutes(s["twin_t"]), s["twin_scl"], color=_TWIN, lw=1.3, ls="--",
                    label=twin_label)  # fmt: skip
        _legend(ax, 3)
    ax.set_ylabel("SC (µS)")


def _intensity(ax: Any, model: ReportModel) -> None:
    s = model.series
    if model.window is not None:
        ax.axhspan(*model.window, color="#c8e6c9", alpha=0.6, lw=0, label="arousal window")
    if "int_t" in s:
        t, y = envelope(s["int_t"], s["int"])
        ax.plot(_minutes(t), y, color="#37474f", lw=1.4, label="intensity")
    if "feat_t" in s:
        ax.plot(
            _minutes(s["feat_t"]), s["feat_arousal"], color="#ef6c00", lw=0.9, label="arousal index"
        )
    levels: dict[int, float] = {}
    for d in model.decisions:
        if d.step is not None and d.target is not None:
            levels.setdefault(d.step, d.target)
    for step, target in sorted(levels.items()):
        ax.axhline(target, color="#90a4ae", lw=0.5, ls=":")
        ax.annotate(
            f"step {step + 1}",
            (1.0, target),
            xycoords=("axes fraction", "data"),
            xytext=(3, -3),
            textcoords="offset points",
            fontsize=7,
            color="#37474f",
        )
    ax.set_ylim(-0.05, 1.1)
    ax.set_ylabel("intensity /\narousal")
    _legend(ax, 3)


def _answers(ax: Any, model: ReportModel) -> None:
    pts = [(a.time, a.value, a.kind) for a in model.answers if a.value is not None]
    if pts:
        for kind, marker in (("SUDS", "o"), ("NRS", "s")):
            sel = [(t, v) for t, v, k in pts if k == kind]
            if sel:
                arr = np.asarray(sel)
                ax.plot(_minutes(arr[:, 0]), arr[:, 1], marker + "-", ms=4, lw=0.8, label=kind)
        _legend(ax, 1)
    else:
        ax.text(
            0.5,
            0.5,
            "no SUDS/NRS answers recorded",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="#555",
            fontsize=8,
        )
    ax.set_ylabel("SUDS / NRS")


def timeline_png(model: ReportModel, width_in: float = 11.0, dpi: int = 96) -> bytes:
    """Render the shared-time-axis timeline; returns PNG bytes."""
    figure_cls, canvas_cls = _figure_class()
    fig = figure_cls(figsize=(width_in, 11.0), dpi=dpi)
    canvas_cls(fig)
    axes = fig.subplots(5, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.6, 2.4, 2.6, 1.4]})
    s = model.series
    _heart(axes[0], model)
    _hrv(axes[1], s)
    _eda(axes[2], s, model.labels.get("twin", "patient twin"))
    _intensity(axes[3], model)
    _answers(axes[4], model)
    for ax in axes:
        ax.grid(True, color="#e0e0e0", lw=0.5)
        ax.tick_params(labelsize=8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for t, source, _ in model.events:
            ax.axvline(t / 60.0, color=_EVENT_COLORS.get(source, "#999"), lw=0.9, ls="--")
    axes[-1].set_xlim(0, max(model.duration, 1.0) / 60.0)
    axes[-1].set_xlabel(
        "time from first physiology sample (min)   "
        "dashed: red = safety, purple = therapist, black = stop"
    )
    fig.align_ylabels(axes)
    fig.subplots_adjust(left=0.08, right=0.94, top=0.99, bottom=0.05, hspace=0.12)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
