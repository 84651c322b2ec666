"""``vrtherapy serve`` in a real browser: Debian's headless Chromium (/usr/bin/chromium)
driven by Playwright, against the review app over real dry-run sessions (sealed and not)
and bad folders. A clinician logs in, opens a participant, the course plots render, a
sealed session's report opens, and the browser reports no error (a CSP violation would be
one); a therapist is refused; after viewing a sealed session no plaintext of it is on
disk; the audit names the views; nothing in the sessions folder changed."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import ErrorRecordingPage, chromium, needs_chromium
from conftest import site_key
from console_server_helpers import make_users
from review_helpers import Archive, ReviewServer, add_bad_folders, archive  # noqa: F401

from engine.privacy.audit import read_entries
from engine.privacy.integrity import file_sha256
from engine.privacy.sealed import read_sealed_bytes, recording_bytes

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[dev]'")
pytestmark = [pytest.mark.slow, needs_chromium]


@pytest.fixture(scope="module")
def world(
    archive: Archive,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
    site_dir: Path,
) -> Iterator[tuple[ReviewServer, dict[str, Path], Path]]:
    root = tmp_path_factory.mktemp("review-serve")
    bad = add_bad_folders(archive, root / "sessions", site_dir)
    users = make_users(root / "users.json")
    server = ReviewServer(root / "sessions", users, site_key()).start()
    try:
        yield server, bad, root / "sessions"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(playwright_api) as b:
        yield b


class Page(ErrorRecordingPage):
    """A review page (1280x900)."""

    def __init__(self, browser: Any) -> None:
        super().__init__(browser, {"width": 1280, "height": 900})


def _sealed_heights(sessions: Path) -> Path:
    return next(
        p
        for p in sorted((sessions / "P-A").iterdir())
        if "heights" in p.name and (p / "recording.xdf.sealed").exists()
    )


def test_clinician_opens_a_participant_the_course_and_a_sealed_report(
    world: tuple[ReviewServer, dict[str, Path], Path], browser: Any
) -> None:
    server, _, sessions = world
    p = Page(browser)
    p.log_in(server.base, "nurse.kim")
    assert p.page.inner_text("h1") == "Participants"
    rows = p.page.locator("#participants tbody tr")
    assert rows.count() == 3  # P-A, P-B and P-X (bad folders)
    assert "bad" in (p.page.locator("#participants tbody tr", has_text="P-X").inner_html())
    p.page.click("text=P-A")
    p.page.wait_for_load_state()
    assert p.page.locator("#sessions tbody tr").count() == 4
    assert p.page.locator("#sessions tbody tr[data-status=ok]").count() == 4
    p.page.click("#course-link")
    p.page.wait_for_load_state()
    charts = p.page.locator("svg.chart")
    assert charts.count() == 5
    points = [int(charts.nth(i).get_attribute("data-points") or 0) for i in range(5)]
    assert points[0] >= 12 and points[1] == 4 and points[2] >= 3  # SUDS x3, steps, HR react.
    predicted = charts.first.locator("circle title", has_text="predicted")
    assert predicted.count() == 4  # one predicted SUDS per exposure session
    box = charts.first.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    assert p.page.locator("#course tbody tr").count() == 4
    sealed = _sealed_heights(sessions)
    p.page.goto(f"{server.base}/participants/P-A")
    p.page.click(f"a[href$='{sealed.name}']")
    p.page.wait_for_load_state()
    assert p.page.inner_text("h1") == "Session report"
    assert p.page.locator("#downloads button").count() == 3
    width = p.page.eval_on_selector("img.timeline", "img => img.naturalWidth")
    assert width > 500  # the inline timeline decoded
    colour = p.page.eval_on_selector("h1", "h => getComputedStyle(h).color")
    assert colour == "rgb(31, 78, 121)"  # the report's own style applied (CSP hash)
    assert p.errors == []
    p.close()
    views = [e for e in read_entries(server.audit) if e["actor"] == "nurse.kim"]
    pages = [e["details"].get("page") for e in views if e["event"] == "console_review"]
    assert pages[:4] == ["/", "/participants", "/course", "/participants"]
    opened = [e for e in views if e["details"].get("page") == "/session"]
    assert opened and opened[-1]["session"] == f"P-A/{sealed.name}"


def test_a_therapist_is_refused(
    world: tuple[ReviewServer, dict[str, Path], Path], browser: Any
) -> None:
    server, _, _ = world
    p = Page(browser)
    p.log_in(server.base, "dr.lee")
    assert "Review pages are for clinicians" in p.page.inner_text("body")
    answer = p.page.goto(server.base + "/participants/P-A/course")
    assert answer is not None and answer.status == 403
    p.close()
    refused = [
        e
        for e in read_entries(server.audit)
        if e["event"] == "console_refused" and e["actor"] == "dr.lee"
    ]
    assert len(refused) >= 2 and "clinician role" in refused[0]["details"]["reason"]


def test_bad_folders_are_marked_and_left_as_they_are(
    world: tuple[ReviewServer, dict[str, Path], Path], browser: Any
) -> None:
    server, bad, _ = world
    before = {
        p: file_sha256(p) for folder in bad.values() for p in folder.rglob("*") if p.is_file()
    }
    p = Page(browser)
    p.log_in(server.base, "nurse.kim")
    p.page.goto(server.base + "/participants/P-X")
    status = {r.get_attribute("data-status") for r in p.page.locator("#sessions tbody tr").all()}
    assert {"torn,changed", "no_summary", "wrong_key", "no_summary,no_integrity,no_recording"} <= {
        s.replace("no_integrity,", "") if s and s.startswith("torn") else s for s in status
    } | status
    for name in ("wrong_key", "no_recording"):
        p.page.goto(f"{server.base}/participants/P-X/sessions/{bad[name].name}")
        assert p.page.locator("#problem").is_visible()
        assert "cannot be shown" in p.page.inner_text("#problem")
    p.page.goto(f"{server.base}/participants/P-X/sessions/{bad['wrong_key'].name}")
    assert "another site key" in p.page.inner_text("#problem")
    p.page.goto(f"{server.base}/participants/P-X/sessions/{bad['torn'].name}")
    assert p.page.inner_text("h1") == "Session report"  # rendered in memory from the cut file
    assert "torn" in p.page.inner_text("#problem")
    p.page.goto(f"{server.base}/participants/P-X/course")
    assert p.page.locator("svg.chart").count() == 5
    assert p.errors == []
    p.close()
    after = {p: file_sha256(p) for folder in bad.values() for p in folder.rglob("*") if p.is_file()}
    assert sorted(after) == sorted(before)
    assert after == before


def _needles(folder: Path) -> list[bytes]:
    """Pieces of a sealed session's plaintext: the middle of its recording and report."""
    raw = recording_bytes(folder / "recording.xdf.sealed", site_key())
    report = read_sealed_bytes(folder / "report.html.sealed", site_key())
    mid = report.index(b"base64,") + len(report) // 4
    return [raw[len(raw) // 2 : len(raw) // 2 + 48], report[mid : mid + 48]]


def _files_changed_since(root: Path, since: float) -> Iterator[Path]:
    for dirpath, _dirs, files in os.walk(root, onerror=lambda e: None):
        for name in files:
            path = Path(dirpath) / name
            try:
                st = path.lstat()
            except OSError:
                continue
            small = st.st_size < 512 * 1024 * 1024
            if path.is_file() and not path.is_symlink() and st.st_mtime >= since and small:
                yield path


def test_no_plaintext_on_disk_after_viewing_a_sealed_session(
    world: tuple[ReviewServer, dict[str, Path], Path], browser: Any
) -> None:
    server, _, sessions = world
    sealed = _sealed_heights(sessions)
    needles = _needles(sealed)
    start = time.time() - 1
    p = Page(browser)
    p.log_in(server.base, "nurse.kim")
    p.page.goto(f"{server.base}/participants/P-A/sessions/{sealed.name}")
    assert p.page.inner_text("h1") == "Session report"
    p.page.goto(f"{server.base}/participants/P-A/course")
    p.close()
    plant = Path(tempfile.mkdtemp(prefix="review-scan-check-")) / "planted.bin"
    plant.write_bytes(b"prefix" + needles[1] + b"suffix")  # the scan must find this one
    roots = {Path(tempfile.gettempdir()), sessions, Path.home() / ".cache"}
    hits, scanned = [], 0
    for root in roots:
        for path in _files_changed_since(root, start):
            try:
                data = path.read_bytes()
            except OSError:
                continue
            scanned += 1
            if any(n in data for n in needles):
                hits.append(path)
    shutil.rmtree(plant.parent)
    assert hits == [plant], f"plaintext of {sealed.name} found in {hits}"
    for path in sessions.rglob("*"):  # the whole sessions folder, whenever written
        if path.is_file():
            assert not any(n in path.read_bytes() for n in needles), path
    assert scanned > 0
    views = [
        e
        for e in read_entries(server.audit)
        if e["event"] == "console_review"
        and e["actor"] == "nurse.kim"
        and e["session"] == f"P-A/{sealed.name}"
    ]
    assert views
