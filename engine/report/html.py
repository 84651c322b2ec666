"""Write the clinician report: one self-contained HTML file (inline PNG, inline CSS, no JS)."""

from __future__ import annotations

import base64
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

from engine.atomic import write_text_atomic
from engine.errors import RecordingError, VrTherapyError
from engine.export.recording import load_session
from engine.privacy.keys import SiteKey
from engine.privacy.sealed import read_sealed_bytes, write_sealed_bytes
from engine.report.model import ReportModel, build_model, mmss
from engine.report.plots import timeline_png
from engine.report.twin_overlay import TwinOverlay, add_twin

__all__ = ["build_report", "render_html", "template_environment"]

TEMPLATE = "report.html.j2"
_mmss = mmss


def _num(value: float | None, fmt: str = ".2f", unit: str = "") -> str:
    """A number (with its unit) for the report; ``n/a`` for None or NaN (the section
    says why)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{format(value, fmt)} {unit}" if unit else format(value, fmt)


def template_environment(package: str, needed_by: str) -> Any:
    """A Jinja2 environment over ``package``'s ``templates/`` folder, as every page of the
    project renders: autoescaped, strict about undefined names, trimmed blocks.

    Raises
    ------
    VrTherapyError
        Jinja2 is not installed (``needed_by`` names what needs it).
    """
    try:
        import jinja2
    except ImportError:
        raise VrTherapyError(
            f"{needed_by} needs jinja2: pip install 'vrtherapy[report]' (or jinja2)"
        ) from None
    folder = Path(str(resources.files(package) / "templates"))
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _environment() -> Any:
    env = template_environment("engine.report", "the HTML report")
    env.filters["mmss"] = _mmss
    env.filters["num"] = _num
    return env


def render_html(model: ReportModel, png: bytes) -> str:
    """The report's HTML text for ``model`` with the timeline ``png`` inlined."""
    template = _environment().get_template(TEMPLATE)
    return str(template.render(m=model, timeline=base64.b64encode(png).decode("ascii")))


def _summary(recording: Path, summary: Path | None, key: SiteKey | None) -> dict[str, Any]:
    path = summary if summary is not None else recording.parent / "summary.json"
    sealed = recording.parent / "summary.json.sealed"
    if summary is None and not path.exists() and key is not None and sealed.exists():
        return dict(json.loads(read_sealed_bytes(sealed, key)))
    if summary is None and not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read session summary ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise RecordingError(
            f"{path}:{exc.lineno}: session summary is not JSON ({exc.msg})"
        ) from None
    except (UnicodeDecodeError, RecursionError) as exc:  # not UTF-8; nested too deep
        raise RecordingError(f"{path}: session summary is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise RecordingError(f"{path}: session summary is not a JSON object")
    return data


def build_report(
    recording: Path,
    out: Path,
    *,
    summary: Path | None = None,
    force: bool = False,
    key: SiteKey | None = None,
    seal: bool = False,
    twin: TwinOverlay | None = None,
) -> Path:
    """Write the clinician HTML report of a session recording.

    Parameters
    ----------
    recording
        The session's ``recording.xdf``.
    out
        The HTML file to write.
    summary
        The session's ``summary.json``; default: ``summary.json`` beside the recording,
        used when present.
    force
        Replace ``out`` if it exists.
    key
        Site key, to read an encrypted (sealed) recording and summary in memory.
    seal
        Write the report sealed with ``key`` (health data stays encrypted at rest).
    twin
        A patient twin to draw over the recorded HR and SCL
        (:func:`engine.report.twin_overlay.twin_overlay`).

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    VrTherapyError
        When ``out`` exists and ``force`` is false.
    RecordingError
        When the recording is not readable XDF, is empty, or no stream in it carries a
        physiological role. A partial recording (cut off, stopped early) gives a report
        whose missing numbers read "n/a" with the reason.
    """
    recording, out = Path(recording), Path(out)
    if out.exists() and not force:
        raise VrTherapyError(f"{out} already exists; pass force=True (--force) to replace it")
    info = _summary(recording, summary, key)
    data = load_session(recording, key)
    model = build_model(data, info)
    if twin is not None:
        drawn = add_twin(model.series, data, twin)
        if isinstance(drawn, str):
            model.notes.append(drawn)
        else:
            model.twin = drawn
            model.labels["twin"] = drawn.label
    html = render_html(model, timeline_png(model))
    if seal:
        if key is None:
            raise VrTherapyError("a sealed report needs the site key (--key FILE)")
        out.parent.mkdir(parents=True, exist_ok=True)
        write_sealed_bytes(out, html.encode("utf-8"), key)
        return out
    return write_text_atomic(out, html, "report")
