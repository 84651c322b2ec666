"""Review commands on real sessions (issue 14, failures 4 and 6): no output ever replaces
the input or a file of a session's record, exports keep ``verify`` green, and a session
whose files changed is refused before anything is read (``--unverified`` overrides, logged).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import run_cli as vrtherapy

from engine.privacy.audit import read_entries

OPERATOR = "test-clinician"

# every test works on sessions made by `vrtherapy simulate` and runs 1-4 CLI processes
pytestmark = pytest.mark.slow


def _simulate(out: Path, *extra: str) -> Path:
    r = vrtherapy(
        "simulate", "heights-demo", "--duration", "40s", "--out", str(out), "--participant",
        "P-0007", *extra,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return Path(r.stdout.strip().splitlines()[-1].removeprefix("recording: ")).parent


@pytest.fixture(scope="module")
def plain_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plain") / "sessions"
    _simulate(out, "--no-encryption")
    return out


@pytest.fixture(scope="module")
def sealed_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sealed") / "sessions"
    _simulate(out)  # sealed with the test run's site key, found by every command
    return out


def _copy(site: Path, tmp_path: Path) -> Path:
    """A private copy of the sessions folder (audit log included); its session folder."""
    out = tmp_path / site.parent.name / "sessions"
    shutil.copytree(site, out)
    (session,) = out.glob("P-0007/*")
    return session


@pytest.fixture
def plain(plain_site: Path, tmp_path: Path) -> Path:
    return _copy(plain_site, tmp_path)


@pytest.fixture
def sealed(sealed_site: Path, tmp_path: Path) -> Path:
    return _copy(sealed_site, tmp_path)


def _digests(folder: Path) -> dict[str, str]:
    files = [*folder.rglob("*"), folder.parent.parent / "audit.log"]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()}


def _refused(r: object, *needles: str) -> None:
    import subprocess

    assert isinstance(r, subprocess.CompletedProcess)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and r.stderr.count("error:") == 1, r.stderr
    for needle in needles:
        assert needle in r.stderr, r.stderr


def _verify_ok(session: Path) -> None:
    r = vrtherapy("verify", str(session))
    assert r.returncode == 0, r.stdout + r.stderr


# ------------------------------------------------------------------ 4: outputs


@pytest.mark.parametrize("command", ["export", "report"])
def test_output_onto_the_input_is_refused_with_or_without_force(
    plain: Path, tmp_path: Path, command: str
) -> None:
    rec = plain / "recording.xdf"
    link = tmp_path / "link.xdf"
    link.symlink_to(rec)
    before = _digests(plain.parent.parent)
    targets = [rec, link, plain / "exports" / ".." / "recording.xdf"]
    runs = [*((target, ["--force"]) for target in targets), (rec, [])]
    for target, force in runs:
        r = vrtherapy(command, str(rec), "-o", str(target), *force)
        _refused(r, "never replaces its input")
    assert _digests(plain.parent.parent) == before, "the session is untouched"
    _verify_ok(plain)


def test_no_file_of_the_record_is_ever_an_output(plain: Path, tmp_path: Path) -> None:
    rec = plain / "recording.xdf"
    hard = tmp_path / "hard-link-to-summary.json"
    os.link(plain / "summary.json", hard)
    (plain / "exports").mkdir()
    before = _digests(plain.parent.parent)
    session_files = sorted(p for p in plain.iterdir() if p.is_file() and p != rec)
    assert {p.name for p in session_files} == {
        "consent.json", "integrity.json", "report.html", "summary.json",
    }  # fmt: skip
    for target in [*session_files, plain.parent.parent / "audit.log", hard]:
        r = vrtherapy("report", str(rec), "-o", str(target), "--force")
        _refused(r, str(target))
    r = vrtherapy("export", str(rec), "--format", "csv", "-o", str(plain), "--force")
    _refused(r, "new files go only into its exports/ sub-folder")
    assert _digests(plain.parent.parent) == before
    (plain / "exports").rmdir()
    _verify_ok(plain)


def test_default_export_goes_to_exports_and_verify_stays_green(plain: Path) -> None:
    r = vrtherapy("export", str(plain), "--operator", OPERATOR)
    assert r.returncode == 0, r.stderr
    assert (plain / "exports" / "recording.edf").stat().st_size > 10_000
    r = vrtherapy("export", str(plain / "recording.xdf"), "--format", "csv")
    assert r.returncode == 0, r.stderr
    _verify_ok(plain)
    listed = json.loads((plain / "integrity.json").read_text())["files"]
    assert "exports/recording.edf" in listed and "exports/csv/events.csv" in listed
    entries = read_entries(plain.parent.parent / "audit.log")
    exports = [e for e in entries if e["event"] == "export"]
    assert len(exports) == 2 and exports[0]["actor"] == OPERATOR
    assert exports[0]["details"]["output"].endswith("exports/recording.edf")
    # an export is part of the record: never replaced, not even by the same command
    r = vrtherapy("export", str(plain), "--force")
    _refused(r, "exports/recording.edf", "never replaced")
    _verify_ok(plain)


def test_a_sealed_session_is_exported_only_where_asked(sealed: Path, tmp_path: Path) -> None:
    rec = sealed / "recording.xdf.sealed"
    _refused(vrtherapy("export", str(rec)), "is encrypted", "give -o PATH outside")
    inside = sealed.parent.parent / "readable.edf"  # in the sessions folder, beside the log
    _refused(vrtherapy("export", str(rec), "-o", str(inside)), "readable copy")
    r = vrtherapy("report", str(rec), "--plaintext")
    _refused(r, "--plaintext writes a readable copy", "give -o FILE")
    _refused(vrtherapy("report", str(rec)), "has its report")
    assert not inside.exists() and not (sealed / "report.html").exists()
    r = vrtherapy("export", str(rec), "-o", str(tmp_path / "out.edf"))
    assert r.returncode == 0, r.stderr
    _verify_ok(sealed)


def test_nothing_is_written_into_another_session(plain: Path, sealed: Path) -> None:
    other = sealed.parent.parent / "P-0009" / sealed.name
    shutil.copytree(sealed, other)
    r = vrtherapy("export", str(plain), "-o", str(other / "exports" / "x.edf"))
    _refused(r, "inside the session folder", "another session")


# ------------------------------------------------------------------ 6: integrity first


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("command", ["export", "replay", "report"])
def test_a_changed_recording_is_refused_before_reading(
    plain: Path, tmp_path: Path, command: str
) -> None:
    rec = plain / "recording.xdf"
    expected = json.loads((plain / "integrity.json").read_text())["files"]["recording.xdf"]
    _flip(rec, rec.stat().st_size // 2)
    found = hashlib.sha256(rec.read_bytes()).hexdigest()
    out = tmp_path / "out"
    args = [] if command == "replay" else ["-o", str(out)]
    r = vrtherapy(command, str(rec), *args)
    _refused(r, f"{rec} has changed", expected, found, "vrtherapy verify", "--unverified")
    assert not out.exists()
    last = read_entries(plain.parent.parent / "audit.log")[-1]
    assert last["event"] == "verify" and last["details"]["refused"] is True


def test_unverified_reads_a_changed_session_and_is_audited(plain: Path, tmp_path: Path) -> None:
    rec = plain / "recording.xdf"
    _flip(rec, rec.stat().st_size // 2)
    out = tmp_path / "forensic.edf"
    r = vrtherapy("export", str(rec), "-o", str(out), "--unverified", "--operator", "forensic-1")
    assert r.returncode == 0, r.stderr
    assert "warning: --unverified" in r.stderr and out.stat().st_size > 10_000
    verify, export = read_entries(plain.parent.parent / "audit.log")[-2:]
    assert verify["event"] == "verify" and verify["details"]["overridden"] is True
    assert export["event"] == "export" and export["details"]["unverified"] is True
    assert verify["actor"] == export["actor"] == "forensic-1"
    # nothing is added to a session that failed its check
    r = vrtherapy("export", str(rec), "--unverified", "--format", "csv")
    _refused(r, "nothing is added to a session whose integrity is not confirmed")


def test_a_changed_sealed_file_is_refused(sealed: Path, tmp_path: Path) -> None:
    rec = sealed / "recording.xdf.sealed"
    _flip(rec, rec.stat().st_size - 40)
    r = vrtherapy("report", str(rec), "--plaintext", "-o", str(tmp_path / "r.html"))
    _refused(r, f"{rec} has changed", "SHA-256")
    # outside any session, the records' authentication catches it, in one clear sentence
    loose = tmp_path / "loose" / "recording.xdf.sealed"
    loose.parent.mkdir()
    shutil.copyfile(rec, loose)
    r = vrtherapy("export", str(loose), "-o", str(tmp_path / "x.edf"))
    _refused(r, "fails authentication", "changed or damaged after it was written")
    assert not (tmp_path / "x.edf").exists()


def test_a_session_without_its_manifest_is_refused(plain: Path, tmp_path: Path) -> None:
    (plain / "integrity.json").unlink()
    r = vrtherapy("export", str(plain / "recording.xdf"), "-o", str(tmp_path / "x.edf"))
    _refused(r, "has no integrity.json", "verify --repair")


def test_a_session_folder_copied_away_is_checked_with_a_warning(
    plain: Path, tmp_path: Path
) -> None:
    loose = tmp_path / "usb-stick" / plain.name
    shutil.copytree(plain, loose)
    r = vrtherapy("export", str(loose), "-o", str(tmp_path / "x.edf"))
    assert r.returncode == 0, r.stderr
    assert "checked without its anchor" in r.stderr
    _flip(loose / "recording.xdf", 300)  # its manifest still catches a changed file
    r = vrtherapy("export", str(loose), "-o", str(tmp_path / "y.edf"))
    _refused(r, "has changed since the session ended")


def test_a_recording_outside_any_session_is_read_with_a_warning(
    plain: Path, tmp_path: Path
) -> None:
    loose = tmp_path / "elsewhere" / "recording.xdf"
    loose.parent.mkdir()
    shutil.copyfile(plain / "recording.xdf", loose)
    r = vrtherapy("export", str(loose))
    assert r.returncode == 0, r.stderr
    assert "not in a session folder" in r.stderr and (loose.parent / "recording.edf").is_file()
