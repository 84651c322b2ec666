"""The forecast page: one self-contained HTML file (inline PNG and CSS, no scripts, no CDN)."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from engine import __version__
from engine.atomic import write_text_atomic
from engine.errors import VrTherapyError
from engine.report.html import template_environment
from engine.twinfit.forecast_stats import ForecastSummary, table

__all__ = ["forecast_png", "render_forecast", "write_forecast"]

_COLORS = ("#1f4e79", "#ef6c00", "#2e7d32", "#6a1b9a")


def _figure() -> tuple[Any, Any]:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise VrTherapyError(
            "the forecast page needs matplotlib: pip install 'vrtherapy[report]' (or matplotlib)"
        ) from None
    return Figure, FigureCanvasAgg


def _template() -> Any:
    return template_environment("engine.twinfit", "the forecast page").get_template(
        "forecast.html.j2"
    )


def _step_panel(ax: Any, summaries: list[ForecastSummary]) -> None:
    for s, color in zip(summaries, _COLORS, strict=False):
        t = s.grid / 60.0
        ax.fill_between(t, s.step_low, s.step_high, step="post", color=color, alpha=0.18, lw=0)
        ax.step(
            t,
            s.step_median,
            where="post",
            color=color,
            lw=1.8,
            label=f"{s.protocol} (median, 10-90 %)",
        )
    top = max(s.steps_total for s in summaries)
    ax.set_ylim(-0.2, top + 0.4)
    ax.set_yticks(range(0, top + 1))
    ax.set_ylabel("hierarchy step\n(0 = baseline)")
    ax.legend(loc="upper left", fontsize=8, frameon=False)


def _hr_panel(ax: Any, summaries: list[ForecastSummary]) -> None:
    for s, color in zip(summaries, _COLORS, strict=False):
        t = s.grid / 60.0
        ax.fill_between(t, s.hr_low, s.hr_high, color=color, alpha=0.15, lw=0)
        ax.plot(t, s.hr_median, color=color, lw=1.2)
    ceilings = sorted({s.ceiling_bpm for s in summaries})
    for c in ceilings:
        ax.axhline(c, color="#c62828", lw=0.9, ls="--")
        ax.annotate(
            f"HR ceiling {c:g}",
            (0.0, c),
            xytext=(3, -10),
            textcoords="offset points",
            fontsize=7,
            color="#c62828",
        )
    ax.set_ylabel("heart rate\n(bpm)")
    ax.set_xlabel("session time (min)")


def _time_panel(ax: Any, summaries: list[ForecastSummary]) -> None:
    width = 0.8 / len(summaries)
    for k, (s, color) in enumerate(zip(summaries, _COLORS, strict=False)):
        for st in s.time_to_step:
            if st.median is None or st.low is None or st.high is None:
                continue
            y = st.step + (k - (len(summaries) - 1) / 2) * width
            ax.plot(
                [st.low / 60, st.high / 60],
                [y, y],
                color=color,
                lw=3,
                alpha=0.5,
                solid_capstyle="butt",
            )
            ax.plot(st.median / 60, y, "o", color=color, ms=4)
            ax.annotate(
                f"{st.share:.0%}",
                (st.high / 60, y),
                xytext=(3, -3),
                textcoords="offset points",
                fontsize=6,
            )
    ax.set_ylabel("time to step\n(min; share of runs)")
    ax.invert_yaxis()


def forecast_png(summaries: list[ForecastSummary], width_in: float = 10.0, dpi: int = 96) -> bytes:
    """Step over time, heart rate over time, time to each step; PNG bytes."""
    figure_cls, canvas_cls = _figure()
    fig = figure_cls(figsize=(width_in, 8.0), dpi=dpi)
    canvas_cls(fig)
    axes = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2, 2.4]})
    _step_panel(axes[0], summaries)
    _time_panel(axes[1], summaries)
    _hr_panel(axes[2], summaries)
    for ax in axes:
        ax.grid(True, color="#e0e0e0", lw=0.5)
        ax.tick_params(labelsize=8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    axes[-1].set_xlim(0, max(s.duration for s in summaries) / 60.0)
    fig.align_ylabels(axes)
    fig.subplots_adjust(left=0.1, right=0.97, top=0.98, bottom=0.07, hspace=0.12)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def render_forecast(
    summaries: list[ForecastSummary], twin: str, uncertainty: str, png: bytes
) -> str:
    """The page's HTML text."""
    keys, columns = table(summaries)
    steps = sorted(
        {step for s in summaries for step in s.highest}
        | set(range(1, max(s.steps_total for s in summaries) + 1))
    )
    return str(
        _template().render(
            names=" vs ".join(s.protocol for s in summaries),
            twin=twin,
            runs=summaries[0].runs,
            uncertainty=uncertainty,
            notes=[n for s in summaries for n in s.notes],
            summaries=summaries,
            keys=keys,
            columns=columns,
            steps=steps,
            png=base64.b64encode(png).decode("ascii"),
            version=__version__,
        )
    )


def write_forecast(
    path: Path, summaries: list[ForecastSummary], twin: str, uncertainty: str
) -> Path:
    """Write the page to ``path`` (temp file + rename)."""
    html = render_forecast(summaries, twin, uncertainty, forecast_png(summaries))
    return write_text_atomic(path, html, "forecast")
