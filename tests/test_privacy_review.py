"""Encrypted sessions through the real CLI: report, export and replay need the site key."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli as vrtherapy

from engine.export.recording import load_physiology
from engine.privacy.audit import read_entries, verify_chain
from engine.privacy.keys import create_site_key, load_site_key
from engine.privacy.sealed import read_sealed_bytes

ROOT = Path(__file__).resolve().parents[1]

# a `vrtherapy simulate` session, then report/export/replay/verify processes on it
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sealed_session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    base = tmp_path_factory.mktemp("enc")
    key = base / "site.key"
    create_site_key(key)
    out = base / "sessions"
    r = vrtherapy(
        "simulate",
        "heights-demo",
        "--duration",
        "40s",
        "--out",
        str(out),
        "--key",
        str(key),
        "--participant",
        "P-0042",
    )
    assert r.returncode == 0, r.stderr
    rec = Path(r.stdout.strip().splitlines()[-1].removeprefix("recording: "))
    assert rec.name == "recording.xdf.sealed"
    return key, out, rec


def test_report_needs_the_key_and_is_sealed(
    sealed_session: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    key, out, rec = sealed_session
    readable = tmp_path / "r.html"
    no_site = {"VRTHERAPY_SITE_DIR": str(tmp_path / "no-site")}  # no site key to fall back on
    r = vrtherapy("report", str(rec), "--plaintext", "-o", str(readable), env=no_site)
    assert r.returncode == 2 and "encrypted recording: give the site key" in r.stderr
    assert not readable.exists() and not (rec.parent / "report.html").exists()
    sealed = rec.parent / "report.html.sealed"  # written, sealed, at the session's end
    html = read_sealed_bytes(sealed, load_site_key(key)).decode()
    assert "heights-demo" in html and b"heights-demo" not in sealed.read_bytes()
    r = vrtherapy("report", str(rec), "--key", str(key), "--plaintext", "-o", str(readable))
    assert r.returncode == 0, r.stderr
    assert "heights-demo" in readable.read_text()
    events = [e for e in read_entries(out / "audit.log") if e["event"] == "report"]
    assert events[-1]["details"]["plaintext_of_sealed"] is True


def test_wrong_key_fails_cleanly_and_is_audited(
    sealed_session: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _, out, rec = sealed_session
    other = tmp_path / "other.key"
    create_site_key(other)
    before = set(rec.parent.iterdir())
    r = vrtherapy(
        "export", str(rec), "--key", str(other), "--format", "csv", "-o", str(tmp_path / "csv")
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert set(rec.parent.iterdir()) == before, "nothing written on a failed decryption"
    assert read_entries(out / "audit.log")[-1]["event"] == "failed_decryption"
    assert verify_chain(out / "audit.log").ok


def test_export_and_replay_with_key(
    sealed_session: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    key, out, rec = sealed_session
    r = vrtherapy("export", str(rec), "--key", str(key), "-o", str(tmp_path / "s.edf"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "s.edf").stat().st_size > 10_000
    streams = load_physiology(rec, load_site_key(key))
    assert {s.type for s in streams} == {"ECG", "EDA"}
    entries = read_entries(out / "audit.log")
    assert any(e["event"] == "export" and e["details"]["key_used"] for e in entries)
    r = vrtherapy("verify", str(rec.parent), "--key", str(key))
    assert r.returncode == 0, r.stdout + r.stderr
