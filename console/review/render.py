"""HTML of the review pages (Jinja2 templates beside this module, autoescaped) and the
course plots as server-side SVG (no script needed; they print)."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import jinja2

from engine.report.html import template_environment

__all__ = ["Series", "fmt", "line_chart", "render"]

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")


def fmt(value: Any, spec: str = ".1f") -> str:
    """A number for a table cell; ``n/a`` for None or NaN; text as it is."""
    if value is None or value == "":
        return "n/a"
    if isinstance(value, float):
        return "n/a" if not math.isfinite(value) else format(value, spec)
    return str(value)


@functools.cache
def _environment() -> jinja2.Environment:
    env: jinja2.Environment = template_environment("console.review", "the review pages")
    env.filters["fmt"] = fmt
    return env


def render(template: str, **context: Any) -> str:
    """The page ``template`` with ``context``."""
    return str(_environment().get_template(template).render(**context))


@dataclass(frozen=True)
class Series:
    """One line of a chart: its name and one value per session (``None``: no value)."""

    name: str
    values: list[float | None]


def _ticks(lo: float, hi: float) -> list[float]:
    span = hi - lo
    step = 10 ** math.floor(math.log10(span / 4)) if span > 0 else 1.0
    for mult in (1, 2, 5, 10):
        if span / (step * mult) <= 6:
            step *= mult
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


@dataclass(frozen=True)
class _Frame:
    """Where a chart's values go: plot box and value range."""

    width: int
    height: int
    left: int
    top: int
    plot_w: int
    plot_h: int
    lo: float
    hi: float
    n: int

    def x(self, i: int) -> float:
        return self.left + self.plot_w * (i + 0.5) / self.n

    def y(self, v: float) -> float:
        return self.top + self.plot_h * (1 - (v - self.lo) / (self.hi - self.lo))


def _frame(labels: list[str], series: list[Series]) -> _Frame:
    values = [v for s in series for v in s.values if v is not None and math.isfinite(v)]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 1.0, hi + 1.0
    pad = (hi - lo) * 0.08
    return _Frame(
        640, 240, 52, 28, 640 - 52 - 150, 240 - 28 - 36, lo - pad, hi + pad, max(1, len(labels))
    )


def _axes(f: _Frame, title: str, unit: str, labels: list[str]) -> list[str]:
    out = [f'<text x="{f.left}" y="18" class="chart-title">{_esc(title)} ({_esc(unit)})</text>']
    for t in _ticks(f.lo, f.hi):
        out.append(
            f'<line x1="{f.left}" x2="{f.left + f.plot_w}" y1="{f.y(t):.1f}" y2="{f.y(t):.1f}" '
            f'stroke="#e3e3e3"/><text x="{f.left - 6}" y="{f.y(t) + 4:.1f}" text-anchor="end" '
            f'class="tick">{t:g}</text>'
        )
    for i, label in enumerate(labels):
        out.append(
            f'<text x="{f.x(i):.1f}" y="{f.top + f.plot_h + 16}" text-anchor="middle" '
            f'class="tick">{_esc(label)}</text>'
        )
    return out


def _line(f: _Frame, k: int, s: Series) -> tuple[list[str], int]:
    colour = COLOURS[k % len(COLOURS)]
    out: list[str] = []
    runs: list[list[str]] = [[]]
    points = 0
    for i, v in enumerate(s.values):
        if v is None or not math.isfinite(v):
            runs.append([])
            continue
        runs[-1].append(f"{f.x(i):.1f},{f.y(v):.1f}")
        out.append(
            f'<circle cx="{f.x(i):.1f}" cy="{f.y(v):.1f}" r="3.5" fill="{colour}" '
            f'class="point"><title>{_esc(s.name)}, session {i + 1}: {v:.4g}</title></circle>'
        )
        points += 1
    for run in runs:
        if len(run) > 1:
            out.append(
                f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" '
                f'stroke-width="2"/>'
            )
    legend_x, ly = f.left + f.plot_w + 10, f.top + 14 * k + 8
    out.append(
        f'<rect x="{legend_x}" y="{ly - 8}" width="10" height="10" fill="{colour}"/>'
        f'<text x="{legend_x + 16}" y="{ly + 1}" class="legend">{_esc(s.name)}</text>'
    )
    return out, points


def line_chart(title: str, unit: str, labels: list[str], series: list[Series]) -> str:
    """An SVG line chart of ``series`` over sessions (x: session 1..n), with points,
    gaps where a value is missing, axis ticks and a legend. ``data-points`` on the
    ``svg`` counts the points drawn."""
    f = _frame(labels, series)
    out = _axes(f, title, unit, labels)
    points = 0
    for k, s in enumerate(series):
        parts, n = _line(f, k, s)
        out += parts
        points += n
    return (
        f'<svg class="chart" viewBox="0 0 {f.width} {f.height}" role="img" '
        f'aria-label="{_esc(title)}" data-points="{points}" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(out)}</svg>'
    )


def _esc(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )
