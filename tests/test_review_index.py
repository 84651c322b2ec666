"""The session index (engine/review/index.py): built from real session folders, updated
incrementally, checked against each session's integrity.json, measures sealed at rest."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from conftest import site_key
from review_helpers import Archive, archive  # noqa: F401

from engine.review.folder import find_sessions
from engine.review.index import Refresh, SessionIndex
from engine.review.rows import session_row


def _copy(archive: Archive, tmp_path: Path) -> Path:  # noqa: F811
    target = tmp_path / "sessions"
    shutil.copytree(archive.sessions, target)
    return target


def test_built_once_then_only_what_changed(archive: Archive, tmp_path: Path) -> None:  # noqa: F811
    sessions = _copy(archive, tmp_path)
    index = SessionIndex(tmp_path / "index.sqlite", sessions, site_key())
    assert index.refresh(workers=2) == Refresh(5, 0, 0, 0)
    assert index.refresh() == Refresh(0, 0, 0, 5)
    rows = index.sessions_of()
    direct = [session_row(f, site_key()) for f in find_sessions(sessions)]
    assert [r["session"] for r in rows] == [d["session"] for d in direct]
    for r, d in zip(rows, direct, strict=True):
        assert r == d  # the index holds exactly the rows computed from the folders
    participants = index.participants()
    assert [(p.participant, p.sessions, p.not_ok) for p in participants] == [
        ("P-A", 4, 0),
        ("P-B", 1, 0),
    ]
    gone = find_sessions(sessions)[0]
    shutil.rmtree(gone.path)
    assert index.refresh() == Refresh(0, 0, 1, 4)
    assert index.session(gone.rel) is None
    assert oct((tmp_path / "index.sqlite").stat().st_mode & 0o777) == "0o600"


def test_rebuilt_when_integrity_json_disagrees(archive: Archive, tmp_path: Path) -> None:  # noqa: F811
    sessions = _copy(archive, tmp_path)
    index = SessionIndex(tmp_path / "index.sqlite", sessions, site_key())
    index.refresh()
    folder = find_sessions(sessions)[1]
    manifest_path = folder.path / "integrity.json"
    manifest = json.loads(manifest_path.read_text())
    name = next(n for n in manifest["files"] if n.startswith("recording"))
    manifest["files"][name] = "0" * 64  # the manifest no longer matches the recording
    stat = manifest_path.stat()
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    os.utime(manifest_path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert index.refresh() == Refresh(0, 1, 0, 4)
    row = index.session(folder.rel)
    assert row is not None and row["status"] == "changed"
    assert "differs from integrity.json" in str(row["problems"])


def test_verify_rehashes_and_catches_a_change_that_kept_size_and_time(
    archive: Archive,  # noqa: F811
    tmp_path: Path,
) -> None:
    sessions = _copy(archive, tmp_path)
    index = SessionIndex(tmp_path / "index.sqlite", sessions, site_key())
    index.refresh()
    folder = next(f for f in find_sessions(sessions) if (f.path / "recording.xdf").exists())
    rec = folder.path / "recording.xdf"
    stat = rec.stat()
    data = bytearray(rec.read_bytes())
    data[-5] ^= 0xFF  # one flipped byte, same size, same modification time
    rec.write_bytes(bytes(data))
    os.utime(rec, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert index.refresh() == Refresh(0, 0, 0, 5)  # the cheap check cannot see it
    assert index.verify() == [folder.rel]
    row = index.session(folder.rel)
    assert row is not None and "changed" in str(row["status"])


def test_measures_are_sealed_at_rest_and_another_key_rebuilds(
    archive: Archive,  # noqa: F811
    tmp_path: Path,
) -> None:
    from engine.privacy.keys import create_site_key

    path = tmp_path / "index.sqlite"
    index = SessionIndex(path, archive.sessions, site_key())
    index.refresh()
    index.close()
    raw = path.read_bytes()
    assert b"peak_suds" not in raw and b"baseline_hr_bpm" not in raw
    assert b"P-A" in raw  # folder names (pseudonyms) are plain, as on disk
    other = create_site_key(tmp_path / "other.key")
    again = SessionIndex(path, archive.sessions, other)
    assert again.refresh() == Refresh(5, 0, 0, 0)  # another key: built anew
    sealed = [r for r in again.sessions_of() if r["sealed"]]
    assert sealed and all("wrong_key" in str(r["status"]) for r in sealed)
    assert all(r.get("peak_suds") is None for r in sealed)
    plain = SessionIndex(":memory:", archive.sessions, None)
    plain.refresh()
    unsealed = [r for r in plain.sessions_of() if not r["sealed"]]
    assert len(unsealed) == 1 and unsealed[0]["status"] == "ok"


def test_verify_never_reads_a_file_the_manifest_names_outside_its_session(
    archive: Archive,  # noqa: F811
    tmp_path: Path,
) -> None:
    # a manifest is outside input: "/dev/zero" listed in it would make a re-hash read forever
    sessions = _copy(archive, tmp_path)
    folder = find_sessions(sessions)[0]
    manifest_path = folder.path / "integrity.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"]["/dev/zero"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    index = SessionIndex(tmp_path / "index.sqlite", sessions, site_key())
    index.refresh()
    assert index.verify() == [folder.rel]
    row = index.session(folder.rel)
    assert row is not None and row["status"] != "ok"
