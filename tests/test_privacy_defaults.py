"""Sealed by default, with the operator named (issue 14, failure 9): sessions are sealed
with the site key, made once on first use; every reader finds it by itself; ``--no-encryption``
is loud and audited; every audit entry names the operator."""

from __future__ import annotations

import getpass
import stat
from pathlib import Path

import pytest
from conftest import run_cli as vrtherapy

from engine.privacy.audit import read_entries
from engine.privacy.errors import PrivacyError
from engine.privacy.keys import load_site_key
from engine.privacy.site import operator_name, site_dir


def _simulate(out: Path, env: dict[str, str], *extra: str) -> tuple[Path, str]:
    r = vrtherapy(
        "simulate", "heights-demo", "--duration", "40s", "--out", str(out), *extra, env=env
    )
    assert r.returncode == 0, r.stderr
    return Path(r.stdout.strip().splitlines()[-1].removeprefix("recording: ")), r.stderr


@pytest.mark.slow
def test_sessions_are_sealed_with_a_site_key_made_once(tmp_path: Path) -> None:
    site = tmp_path / "config" / "vrtherapy"
    env = {"VRTHERAPY_SITE_DIR": str(site)}
    out = tmp_path / "sessions"
    first, said = _simulate(out, env)
    key_file = site / "site.key"
    key = load_site_key(key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(site.stat().st_mode) == 0o700
    assert f"site key created: {key_file}" in said and f"fingerprint {key.key_id}" in said
    assert "BACK IT UP" in said and str(out) in said
    second, said = _simulate(out, env)
    assert "site key created" not in said and load_site_key(key_file).key == key.key
    for rec in (first, second):
        assert rec.name == "recording.xdf.sealed"
        names = sorted(p.name for p in rec.parent.iterdir())
        assert names == [
            "consent.json.sealed", "integrity.json", "recording.xdf.sealed",
            "report.html.sealed", "summary.json.sealed",
        ]  # fmt: skip
    entries = read_entries(out / "audit.log")
    created = [e for e in entries if e["event"] == "key_created"]
    assert len(created) == 1 and created[0]["details"]["key_id"] == key.key_id
    starts = [e for e in entries if e["event"] == "session_start"]
    assert [e["details"]["key_id"] for e in starts] == [key.key_id, key.key_id]

    # the clinician's commands on this site need no --key
    r = vrtherapy("verify", str(first.parent), env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "sealed recording.xdf.sealed: ok" in r.stdout
    assert "sealed report.html.sealed: ok" in r.stdout
    readable = tmp_path / "reports" / "r.html"
    r = vrtherapy("report", str(first.parent), "--plaintext", "-o", str(readable), env=env)
    assert r.returncode == 0, r.stderr
    assert "heights-demo" in readable.read_text()
    r = vrtherapy("export", str(first), "-o", str(tmp_path / "x.edf"), env=env)
    assert r.returncode == 0, r.stderr
    last = read_entries(out / "audit.log")[-1]
    assert last["event"] == "export" and last["details"]["key_used"] is True
    # a copied sessions folder is unreadable without the site folder's key
    r = vrtherapy(
        "export", str(first), "-o", str(tmp_path / "y.edf"),
        env={"VRTHERAPY_SITE_DIR": str(tmp_path / "another-machine")},
    )  # fmt: skip
    assert r.returncode == 2 and "encrypted recording: give the site key" in r.stderr


@pytest.mark.slow
def test_no_encryption_is_loud_and_audited(tmp_path: Path) -> None:
    out = tmp_path / "sessions"
    rec, said = _simulate(out, {}, "--no-encryption")
    assert "warning: --no-encryption" in said and "plaintext" in said
    assert rec.name == "recording.xdf" and (rec.parent / "report.html").is_file()
    start = next(e for e in read_entries(out / "audit.log") if e["event"] == "session_start")
    assert start["details"]["encrypted"] is False
    assert start["details"]["encryption"] == "off: --no-encryption"
    r = vrtherapy("simulate", "heights-demo", "--out", str(out), "--no-encryption", "--key", "k")
    assert r.returncode == 2 and "exclude each other" in r.stderr


@pytest.mark.slow
def test_every_audit_entry_names_the_operator(tmp_path: Path) -> None:
    out = tmp_path / "sessions"
    rec, _ = _simulate(out, {}, "--operator", "alice")
    session = rec.parent
    assert {e["actor"] for e in read_entries(out / "audit.log")} == {"alice"}
    r = vrtherapy(
        "report", str(session), "--plaintext", "-o", str(tmp_path / "r.html"),
        env={"VRTHERAPY_OPERATOR": "bob"},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = vrtherapy("export", str(session), "-o", str(tmp_path / "x.edf"), "--operator", "carol")
    assert r.returncode == 0, r.stderr
    r = vrtherapy("verify", str(session))  # default: the login name
    assert r.returncode == 0, r.stdout + r.stderr
    r = vrtherapy("purge", "--out", str(out), "--older-than", "0", "--operator", "dave")
    assert r.returncode == 0 and "1 session(s) removed" in r.stdout, r.stdout + r.stderr
    by_event: dict[str, set[str]] = {}
    for e in read_entries(out / "audit.log"):
        by_event.setdefault(e["event"], set()).add(e["actor"])
    assert by_event["session_start"] == by_event["session_stop"] == {"alice"}
    assert by_event["report"] == {"bob"} and by_event["export"] == {"carol"}
    assert by_event["verify"] == {getpass.getuser()} and by_event["purge"] == {"dave"}


@pytest.mark.parametrize("name", ["", " alice", "a\nb", "x" * 65])
def test_a_bad_operator_name_is_one_sentence(tmp_path: Path, name: str) -> None:
    r = vrtherapy("simulate", "heights-demo", "--out", str(tmp_path), "--operator", name)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "--operator" in r.stderr and "is not an operator name" in r.stderr
    assert not any(tmp_path.iterdir())


def test_a_site_key_inside_the_sessions_folder_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "sessions"
    r = vrtherapy(
        "simulate", "heights-demo", "--out", str(out),
        env={"VRTHERAPY_SITE_DIR": str(out / "keys")},
    )  # fmt: skip
    assert r.returncode == 2 and "lies inside the sessions folder" in r.stderr
    assert not (out / "keys" / "site.key").exists()


def test_site_folder_and_operator_resolution() -> None:
    assert site_dir({"VRTHERAPY_SITE_DIR": "/srv/clinic"}) == Path("/srv/clinic")
    assert site_dir({"XDG_CONFIG_HOME": "/cfg"}) == Path("/cfg/vrtherapy")
    assert site_dir({}) == Path("~/.config/vrtherapy").expanduser()
    assert operator_name("dr-x", {"VRTHERAPY_OPERATOR": "nurse"}) == "dr-x"
    assert operator_name(None, {"VRTHERAPY_OPERATOR": "nurse"}) == "nurse"
    assert operator_name(None, {}) == getpass.getuser()
    with pytest.raises(PrivacyError, match="VRTHERAPY_OPERATOR: '' is not an operator name"):
        operator_name(None, {"VRTHERAPY_OPERATOR": ""})
