"""The fitted twin on the clinician's course page (#18 point 4): ``vrtherapy twin fit
--next`` stores the next session's forecast beside the profile, ``vrtherapy serve --twins``
shows the twin over sessions, its estimates and that forecast; a broken forecast file is
shown as such, never an error page."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from conftest import run_cli, site_key
from console_server_helpers import client, login, make_users
from review_helpers import Archive, ReviewServer, archive  # noqa: F401

pytestmark = pytest.mark.slow


async def _get(base: str, paths: list[str]) -> list[str]:
    pages = []
    async with client(base) as http:
        await login(http, "nurse.kim")
        for path in paths:
            async with http.get(path) as r:
                assert r.status == 200, await r.text()
                pages.append(await r.text())
    return pages


def test_the_course_page_shows_the_fitted_twin_and_its_forecast(
    archive: Archive,  # noqa: F811
    tmp_path: Path,
) -> None:
    twins = tmp_path / "twins"
    twins.mkdir()
    heights = [str(p) for p in archive.folders("P-A") if "heights" in p.name]
    assert len(heights) == 3
    profile = twins / "P-A.yaml"
    fit = run_cli(
        "twin", "fit", *heights, "-o", str(profile), "--bootstrap", "4",
        "--next", "heights-demo", "--next-runs", "2",
    )  # fmt: skip
    assert fit.returncode == 0, fit.stderr
    stored = json.loads((twins / "P-A.forecast.json").read_text())
    assert stored["runs"] == 2 and stored["rows"]
    assert "forecast:" in fit.stdout and (twins / "P-A.forecast.json").stat().st_mode & 0o077 == 0

    sessions = tmp_path / "sessions"
    shutil.copytree(archive.sessions, sessions)
    users = make_users(tmp_path / "users.json")
    server = ReviewServer(sessions, users, site_key(), twins=twins).start()
    try:
        with_twin, without = asyncio.run(
            _get(server.base, ["/participants/P-A/course", "/participants/P-B/course"])
        )
        (twins / "P-A.forecast.json").write_text("{not json")
        (broken,) = asyncio.run(_get(server.base, ["/participants/P-A/course"]))
    finally:
        server.stop()
    assert 'id="twin"' in with_twin and 'id="twin-estimates"' in with_twin
    assert "between_session_rate" in with_twin and "reactivity" in with_twin
    # one point per fitted session on each twin chart (reactivity and its interval: 3 lines)
    twin_part = with_twin.split('id="twin-charts"', 1)[1].split("</section>", 1)[0]
    assert 'data-points="9"' in twin_part and 'data-points="3"' in twin_part
    forecast = with_twin.split('id="twin-forecast"', 1)[1].split("</table>", 1)[0]
    for label, _text in stored["rows"][:3]:
        assert label in forecast
    assert 'id="twin"' not in without  # no profile of P-B
    assert 'id="twin"' in broken and "could not be read" in broken and "{not json" not in broken


def test_serve_twins_must_be_a_folder(tmp_path: Path) -> None:
    sessions = tmp_path / "sessions"
    sessions.mkdir()
    proc = run_cli("serve", str(sessions), "--bind", "127.0.0.1:0", "--twins", str(tmp_path / "no"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--twins" in lines[0]
    assert "Traceback" not in proc.stderr


def test_twin_fit_next_with_a_bad_protocol_fits_nothing(tmp_path: Path) -> None:
    proc = run_cli(
        "twin", "fit", str(tmp_path / "missing"), "-o", str(tmp_path / "p.yaml"),
        "--next", "no-such-protocol",
    )  # fmt: skip
    assert proc.returncode == 2 and "no-such-protocol" in proc.stderr
    assert "Traceback" not in proc.stderr and not list(tmp_path.iterdir())
