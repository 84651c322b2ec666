"""Outcome measures (engine/review/measures.py) against the figures of each session's own
HTML report (written by the session at its end), for a fixed set of real dry-runs; the
rows of bad folders; the table columns (docs/outcomes.md)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import site_key
from review_helpers import Archive, add_bad_folders, archive  # noqa: F401

from engine.privacy.sealed import read_sealed_bytes
from engine.review.folder import SessionFolder, find_sessions
from engine.review.measures import COLUMNS, STEP_COLUMNS
from engine.review.rows import session_row


class _Tables(HTMLParser):
    """Cell texts of every table row, by the id of the section around it."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[list[str]]] = {}
        self.text: dict[str, str] = {}
        self._section = ""
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self._section = dict(attrs).get("id") or ""
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.setdefault(self._section, []).append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        self.text[self._section] = self.text.get(self._section, "") + data


def _report(folder: Path) -> _Tables:
    sealed = folder / "report.html.sealed"
    html = (
        read_sealed_bytes(sealed, site_key()).decode()
        if sealed.exists()
        else (folder / "report.html").read_text()
    )
    tables = _Tables()
    tables.feed(html)
    return tables


def _number(text: str) -> float | None:
    match = re.search(r"-?\d+(\.\d+)?", text)
    return float(match.group(0)) if match else None


def _check_against_report(row: dict[str, object], report: _Tables) -> None:
    header = {r[0]: r[1] for r in report.rows["header"] if len(r) == 2}
    minutes, seconds = re.match(r"(\d+) min ([\d.]+) s", header["Duration"]).groups()  # type: ignore[union-attr]
    assert row["duration_s"] == pytest.approx(int(minutes) * 60 + float(seconds), abs=0.05)
    assert row["end_state"] == header["End state"]
    assert row["end_reason"] == header["End reason"]
    assert row["protocol"] == header["Protocol"] and row["scene"] == header["Scene"]
    steps = report.rows.get("habituation", [])[1:]
    peaks: dict[int, float] = {}
    for cells in steps:
        if cells[2] != "-":
            hr = _number(cells[5].split("→")[0])
            if hr is not None:
                peaks[int(cells[2])] = max(peaks.get(int(cells[2]), hr), hr)
    for k, hr in peaks.items():
        assert round(float(row[f"hr_peak_step{k}_bpm"])) == hr  # type: ignore[arg-type]
    decisions = report.rows.get("decisions", [])[1:]
    reached = [int(c[3]) for c in decisions if c[3] != "-"]
    assert row["highest_step"] == (max(reached) if reached else None)
    assert row["safety_events"] == sum(1 for c in decisions if c[4] == "safety")
    suds = [
        float(c[2]) for c in report.rows.get("answers", [])[1:] if c[1] == "SUDS" and c[2] != "n/a"
    ]
    assert row["peak_suds"] == (max(suds) if suds else None)
    assert row["end_suds"] == (suds[-1] if suds else None)
    assert row["suds_answers"] == len(suds)
    window = {r[0]: r[1] for r in report.rows["arousal-window"]}
    inside = _number(window["Inside the window"])
    if inside is None:
        assert row["time_in_window_pct"] is None
    else:
        assert round(float(row["time_in_window_pct"]), 1) == inside  # type: ignore[arg-type]
    valid = [_number(c[1]) for c in report.rows["quality"][1:]]
    shown = [v for v in valid if v is not None]
    assert round(float(row["valid_signal_pct"]), 1) == min(shown)  # type: ignore[arg-type]


def test_measures_match_each_sessions_report(archive: Archive) -> None:  # noqa: F811
    folders = find_sessions(archive.sessions)
    assert len(folders) == 5
    kinds = set()
    for folder in folders:
        row = session_row(folder, site_key())
        assert row["status"] == "ok", row["problems"]
        _check_against_report(row, _report(folder.path))
        kinds.add((row["protocol"], row["sealed"]))
    assert ("spiders-graded", 0) in kinds and ("heights-graded", 1) in kinds
    heights = [session_row(f, site_key()) for f in folders if "heights" in f.rel]
    assert all(int(r["highest_step"]) >= 1 for r in heights)  # type: ignore[arg-type]
    assert all(r["hr_reactivity_step1_bpm"] is not None for r in heights)
    for r in heights:  # the predicted-SUDS prompt at the start of each exposure session
        assert r["predicted_suds"] is not None and r["peak_suds"] is not None
        assert r["expectancy_violation"] == float(r["predicted_suds"]) - float(r["peak_suds"])  # type: ignore[arg-type]
    first = heights[0]
    assert first["hr_reactivity_step1_bpm"] == pytest.approx(
        float(first["hr_peak_step1_bpm"]) - float(first["baseline_hr_bpm"])  # type: ignore[arg-type]
    )
    snow = session_row(next(f for f in folders if "snow" in f.rel), site_key())
    assert snow["prompts_answered"] >= 1  # type: ignore[operator]


def test_predicted_suds_is_read_from_its_prompt_markers() -> None:
    from engine.export.recording import Marker
    from engine.review.measures import _answers, _prompts

    markers = [
        Marker(1.0, {"event": "predicted_suds", "kind": "asked", "value": None}),
        Marker(2.0, {"event": "predicted_suds", "kind": "answered", "value": 70}),
        Marker(3.0, {"event": "suds", "kind": "answered", "value": 40}),
        Marker(4.0, {"event": "suds", "kind": "timeout", "value": None}),
        Marker(5.0, {"event": "command", "kind": "answered", "value": 3}),
    ]
    assert _answers(markers, "predicted_suds") == [70.0]
    assert _prompts(markers) == {"asked": 1, "answered": 2, "timeout": 1}


def test_bad_folders_get_rows_that_say_what_is_wrong(
    archive: Archive,  # noqa: F811
    tmp_path: Path,
    site_dir: Path,
) -> None:
    bad = add_bad_folders(archive, tmp_path / "sessions", site_dir)
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "sessions").rglob("*")}
    rows = {
        name: session_row(SessionFolder(path, f"P-X/{path.name}", "P-X"), site_key())
        for name, path in bad.items()
    }
    assert "torn" in str(rows["torn"]["status"]) and rows["torn"]["duration_s"] is not None
    assert "changed" in str(rows["torn"]["status"])  # the cut file differs from integrity.json
    assert rows["no_summary"]["status"] == "no_summary"
    assert rows["no_summary"]["highest_step"] is not None  # measures from the recording alone
    assert rows["no_recording"]["status"] == "no_summary,no_integrity,no_recording"
    assert "wrong_key" in str(rows["wrong_key"]["status"])
    assert "another site key" in str(rows["wrong_key"]["problems"])
    assert rows["wrong_key"].get("peak_suds") is None
    after = {p: p.stat().st_mtime_ns for p in (tmp_path / "sessions").rglob("*")}
    assert after == before  # nothing was written, nothing changed


def test_columns_are_documented_with_units() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "outcomes.md").read_text()
    for column in (*COLUMNS, *STEP_COLUMNS):
        assert f"`{column.name}`" in doc, column.name
        if column.unit:
            assert column.unit in doc
