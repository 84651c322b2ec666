"""Audit trail: hash chain, tamper detection, session integrity, retention purge."""

from __future__ import annotations

import datetime as _dt
import itertools
import json
from pathlib import Path

import pytest

from engine.privacy.audit import GENESIS, AuditLog, read_entries, verify_chain
from engine.privacy.errors import AuditError
from engine.privacy.integrity import member_path, verify_session, write_integrity
from engine.privacy.purge import purge_older_than, session_end

T0 = _dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=_dt.UTC)


def _log(path: Path, n: int = 4) -> AuditLog:
    log = AuditLog(path, now=lambda: T0)
    log.append("session_start", session="P-0042/20260102-030405-demo", protocol="heights")
    log.append("protocol", session="P-0042/20260102-030405-demo", sha256="ab" * 32, version=2)
    log.append("override", actor="therapist-T1", intensity=0.3, note="patient asked, ü")
    for k in range(n - 3):
        log.append("session_stop", state="finished", k=k, ratio=1e-05)
    return log


def test_chain_round_trip(tmp_path: Path) -> None:
    log = _log(tmp_path / "audit.log")
    entries = read_entries(log.path)
    assert [e["seq"] for e in entries] == [0, 1, 2, 3]
    assert entries[0]["prev_hash"] == GENESIS
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(entries))
    assert entries[2]["actor"] == "therapist-T1" and entries[0]["actor"] == "vrtherapy"
    assert entries[0]["time"] == "2026-01-02T03:04:05.000+00:00"
    result = verify_chain(log.path)
    assert result.ok and result.entries == 4 and result.head == entries[-1]["hash"]
    assert verify_chain(log.path, expect_head=entries[1]["hash"]).ok
    assert verify_chain(tmp_path / "none.log").ok  # no log yet: empty chain


def test_unknown_event_and_bad_details(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.log")
    with pytest.raises(AuditError, match="'coffee' is not one of"):
        log.append("coffee")
    with pytest.raises(AuditError, match="not JSON data"):
        log.append("report", value=float("nan"))
    assert not (tmp_path / "audit.log").read_bytes()


def _entry_of_byte(data: bytes, pos: int) -> int:
    return data[:pos].count(b"\n")


def test_every_single_byte_flip_is_detected_and_named(tmp_path: Path) -> None:
    path = _log(tmp_path / "audit.log").path
    original = path.read_bytes()
    for mask in (0x01, 0x20):
        for pos in range(len(original)):
            data = bytearray(original)
            data[pos] ^= mask
            path.write_bytes(bytes(data))
            result = verify_chain(path)
            assert not result.ok, (pos, mask)
            assert result.first_broken == _entry_of_byte(original, pos), (pos, mask, result)


def test_removed_and_reordered_entries(tmp_path: Path) -> None:
    path = _log(tmp_path / "audit.log").path
    lines = path.read_bytes().splitlines(keepends=True)
    head = verify_chain(path).head
    path.write_bytes(b"".join(lines[:1] + lines[2:]))
    assert verify_chain(path).first_broken == 1
    path.write_bytes(b"".join([lines[1], lines[0], *lines[2:]]))
    assert verify_chain(path).first_broken == 0
    path.write_bytes(b"".join(lines[:3]))  # tail cut: only an external head shows it
    assert verify_chain(path).ok
    cut = verify_chain(path, expect_head=head)
    assert not cut.ok and "not in the log" in (cut.reason or "")


def test_append_refuses_a_damaged_tail(tmp_path: Path) -> None:
    log = _log(tmp_path / "audit.log")
    with open(log.path, "ab") as f:
        f.write(b'{"seq":4,"torn')
    with pytest.raises(AuditError, match="last entry is damaged or cut off"):
        log.append("report")


# ------------------------------------------------------------------ integrity


def _session(out: Path, name: str = "20260102-030405-demo", ended: str | None = None) -> Path:
    folder = out / "P-0042" / name
    folder.mkdir(parents=True)
    (folder / "recording.xdf").write_bytes(b"XDF:" + bytes(range(256)) * 10)
    summary = {"state": "finished"} | ({"ended_at": ended} if ended else {})
    (folder / "summary.json").write_text(json.dumps(summary))
    (folder / "report.html").write_text("<html>report</html>")
    return folder


def test_session_integrity_detects_changes(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.log")
    folder = _session(tmp_path)
    manifest = write_integrity(folder, log, ended_at=T0)
    assert sorted(manifest["files"]) == ["recording.xdf", "report.html", "summary.json"]
    entry = read_entries(log.path)[-1]
    assert entry["event"] == "integrity" and entry["session"] == "P-0042/20260102-030405-demo"
    assert verify_session(folder, log.path).ok

    rec = folder / "recording.xdf"
    data = bytearray(rec.read_bytes())
    data[100] ^= 1
    rec.write_bytes(bytes(data))
    assert any(
        "recording.xdf: SHA-256 differs" in p for p in verify_session(folder, log.path).problems
    )
    data[100] ^= 1
    rec.write_bytes(bytes(data))
    (folder / "extra.txt").write_text("x")
    assert any("extra.txt: not listed" in p for p in verify_session(folder, log.path).problems)
    (folder / "extra.txt").unlink()
    (folder / "report.html").unlink()
    assert any("report.html: missing" in p for p in verify_session(folder, log.path).problems)


def test_manifest_and_audit_tampering(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.log")
    folder = _session(tmp_path)
    write_integrity(folder, log)
    manifest = folder / "integrity.json"
    text = manifest.read_text()
    manifest.write_text(text.replace('"sha256"', '"sha256" '))
    check = verify_session(folder, log.path)
    assert not check.ok and "does not match audit entry 0" in check.problems[0]
    manifest.write_text(text)
    raw = bytearray(log.path.read_bytes())
    raw[30] ^= 1
    log.path.write_bytes(bytes(raw))
    check = verify_session(folder, log.path)
    assert not check.ok and check.problems[0].startswith("audit entry 0:")


@pytest.mark.parametrize("name", ["/dev/zero", "../outside.txt", "a/../../outside.txt", ""])
def test_a_manifest_naming_a_file_outside_its_session_is_refused_unread(
    tmp_path: Path, name: str
) -> None:
    # manifests are outside input: a name must never make verify or the review index read
    # (and, for /dev/zero, read forever) a file outside the session folder
    log = AuditLog(tmp_path / "audit.log")
    folder = _session(tmp_path)
    (folder.parent / "outside.txt").write_text("elsewhere")
    write_integrity(folder, log)
    assert member_path(folder, name) is None
    assert member_path(folder, "recording.xdf") == folder / "recording.xdf"
    (folder / "link.txt").symlink_to(folder.parent / "outside.txt")
    assert member_path(folder, "link.txt") is None
    (folder / "link.txt").unlink()
    manifest = folder / "integrity.json"
    data = json.loads(manifest.read_text())
    data["files"][name] = "0" * 64
    manifest.write_text(json.dumps(data))
    check = verify_session(folder, log.path)
    assert not check.ok
    assert f"lists {name!r}, not a file of the session folder" in check.problems[0]


# ------------------------------------------------------------------ purge


def test_purge_removes_old_sessions_with_audit_entries(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.log")
    old = _session(tmp_path, "20250101-000000-demo")
    write_integrity(old, log, ended_at=T0 - _dt.timedelta(days=400))
    recent = _session(
        tmp_path, "20251230-000000-demo", ended=(T0 - _dt.timedelta(days=3)).isoformat()
    )
    other = tmp_path / "P-0042" / "notes"  # not a session folder: never touched
    other.mkdir()
    (tmp_path / "P-0007").mkdir()
    lone = _session(tmp_path / "x", "20250101-000000-demo")  # out/x/P-0042/...: not ours
    assert session_end(recent) == T0 - _dt.timedelta(days=3)

    dry = purge_older_than(tmp_path, 365, log, now=T0, dry_run=True)
    assert [p.folder for p in dry] == [old] and old.exists()
    removed = purge_older_than(tmp_path, 365, log, now=T0)
    assert [(p.folder, p.files) for p in removed] == [(old, 4)]
    assert not old.exists() and recent.exists() and other.exists() and lone.exists()
    purge = read_entries(log.path)[-1]
    assert purge["event"] == "purge" and purge["session"] == "P-0042/20250101-000000-demo"
    assert purge["details"]["status"] == "removed" and purge["details"]["files"] == 4
    assert verify_chain(log.path).ok

    removed = purge_older_than(tmp_path, 1, log, now=T0)
    assert [p.folder for p in removed] == [recent]
    assert other.exists() and (tmp_path / "P-0042").exists()


def test_purge_expired_follows_each_sessions_consent(tmp_path: Path) -> None:
    from engine.privacy.consent import consent_from_mapping, record_consent
    from engine.privacy.purge import purge_expired

    log = AuditLog(tmp_path / "audit.log")
    short = _session(tmp_path, "20250101-000000-a", ended=(T0 - _dt.timedelta(days=40)).isoformat())
    long = _session(tmp_path, "20250101-000000-b", ended=(T0 - _dt.timedelta(days=40)).isoformat())
    none = _session(tmp_path, "20250101-000000-c", ended=(T0 - _dt.timedelta(days=900)).isoformat())
    for folder, days in ((short, 30), (long, 365)):
        consent = consent_from_mapping(
            {"streams": "heart", "purpose": "treatment", "retention_days": days}, "t"
        )
        record_consent(folder, consent, log, session=f"P-0042/{folder.name}")
    removed, unknown = purge_expired(tmp_path, log, now=T0)
    assert [p.folder for p in removed] == [short] and unknown == [none]
    assert not short.exists() and long.exists() and none.exists()
    assert read_entries(log.path)[-1]["details"]["retention_days"] == 30
