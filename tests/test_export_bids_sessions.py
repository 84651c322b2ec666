"""BIDS export of real `vrtherapy simulate` sessions through the real CLI: a sealed archive of
two participants passes the official validator, numbering is stable, and bad input (a
torn recording, another site key) is refused with one sentence and nothing modified."""

from __future__ import annotations

import filecmp
import gzip
import json
import shutil
from pathlib import Path

import pytest
from bids_helpers import snapshot, unchanged, validate
from conftest import run_cli as vrtherapy

from engine.privacy.audit import read_entries
from engine.privacy.keys import create_site_key

pytestmark = pytest.mark.slow  # `vrtherapy simulate` sessions, then export processes

RUNS = (  # participant, protocol, duration, encrypted
    ("P-0042", "spiders-graded", "200s", True),
    ("P-0042", "heights-demo", "40s", True),
    ("P-0007", "snow-distraction", "100s", False),
)


def _simulate(out: Path, key: Path, participant: str, protocol: str, duration: str, seal: bool):
    extra = ("--key", str(key)) if seal else ("--no-encryption",)
    r = vrtherapy(
        "simulate", protocol, "--duration", duration, "--out", str(out),
        "--participant", participant, *extra,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return Path(r.stdout.strip().splitlines()[-1].removeprefix("recording: ")).parent


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[Path]]:
    base = tmp_path_factory.mktemp("archive")
    key = base / "site.key"
    create_site_key(key)
    sessions = base / "sessions"
    folders = [_simulate(sessions, key, *run) for run in RUNS]
    return key, sessions, folders


def _events(root: Path, stem: str) -> list[list[str]]:
    (path,) = root.rglob(f"{stem}_events.tsv")
    return [line.split("\t") for line in path.read_text().splitlines()]


def test_a_sealed_archive_exports_to_a_valid_dataset_and_nothing_in_it_changes(
    archive: tuple[Path, Path, list[Path]], tmp_path: Path
) -> None:
    key, sessions, _ = archive
    before = snapshot(sessions)
    out = tmp_path / "bids"
    r = vrtherapy("export", str(sessions), "--format", "bids", "--out", str(out), "--key", str(key))
    assert r.returncode == 0, r.stderr
    assert "3 sessions of 2 participants" in r.stdout
    assert validate(out) == []
    assert (out / "participants.tsv").read_text() == "participant_id\nsub-P0007\nsub-P0042\n"
    sessions_tsv = (out / "sub-P0042" / "sub-P0042_sessions.tsv").read_text().splitlines()
    assert sessions_tsv[1:] == [
        "ses-1\tspiders-graded\tspiders\tfinished",
        "ses-2\theights-demo\theights\tfinished",
    ]
    spiders = _events(out, "sub-P0042_ses-1_task-spiders")
    predicted = [row for row in spiders if row[2] == "predicted_suds_answered"]
    assert len(predicted) == 1 and predicted[0][0] == "0" and predicted[0][4] == "0"
    assert any(row[2] == "intensity_step" for row in spiders)
    snow = _events(out, "sub-P0007_ses-1_task-snow")
    assert any(row[2] == "nrs_answered" for row in snow)
    assert not any(row[2].startswith("predicted_suds") for row in snow)
    ecg = out / "sub-P0042/ses-2/beh/sub-P0042_ses-2_task-heights_recording-ecg_physio"
    sidecar = json.loads(ecg.with_suffix(".json").read_text())
    assert sidecar["SamplingFrequency"] > 0 and sidecar["Columns"] == ["ecg"]
    rows = gzip.decompress(Path(f"{ecg}.tsv.gz").read_bytes()).decode().splitlines()
    assert len(rows) == pytest.approx(40 * sidecar["SamplingFrequency"], rel=0.01)
    unchanged(sessions, before)  # no plaintext (nor anything else) left in the sessions
    exports = [e for e in read_entries(sessions / "audit.log") if e["event"] == "export"]
    assert len(exports) == 3 and {e["details"]["format"] for e in exports} == {"bids"}


def test_one_session_alone_keeps_its_number_and_content(
    archive: tuple[Path, Path, list[Path]], tmp_path: Path
) -> None:
    key, sessions, folders = archive
    whole, alone = tmp_path / "whole", tmp_path / "alone"
    args = ("--format", "bids", "--key", str(key))
    assert vrtherapy("export", str(sessions), *args, "--out", str(whole)).returncode == 0
    r = vrtherapy("export", str(folders[1]), *args, "--out", str(alone))
    assert r.returncode == 0, r.stderr
    assert validate(alone) == []
    beh = Path("sub-P0042", "ses-2", "beh")
    names = sorted(p.name for p in (alone / beh).iterdir())
    assert names == sorted(p.name for p in (whole / beh).iterdir())
    assert all(filecmp.cmp(alone / beh / n, whole / beh / n, shallow=False) for n in names)
    assert not (alone / "sub-P0042" / "ses-1").exists()


def test_another_site_key_is_refused_audited_and_nothing_is_written(
    archive: tuple[Path, Path, list[Path]], tmp_path: Path
) -> None:
    _, sessions, _ = archive
    other = tmp_path / "other.key"
    create_site_key(other)
    before = snapshot(sessions)
    out = tmp_path / "new" / "folders" / "bids"  # made for the export, removed on failure
    r = vrtherapy(
        "export", str(sessions), "--format", "bids", "--out", str(out), "--key", str(other)
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "sealed under another site key" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.key"]  # no dataset, no leftovers
    unchanged(sessions, before)
    assert read_entries(sessions / "audit.log")[-1]["event"] == "failed_decryption"


def test_out_inside_the_sessions_folder_is_refused_for_sealed_sessions(
    archive: tuple[Path, Path, list[Path]],
) -> None:
    key, sessions, folders = archive
    before = snapshot(sessions)
    for out in (sessions / "bids", folders[0] / "exports" / "bids", folders[0]):
        r = vrtherapy(
            "export", str(sessions), "--format", "bids", "--out", str(out), "--key", str(key)
        )
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert not (sessions / "bids").exists()
    unchanged(sessions, before)


def test_a_torn_recording_is_refused_unless_unverified_then_exports_what_is_there(
    tmp_path: Path,
) -> None:
    key = tmp_path / "site.key"
    create_site_key(key)
    sessions = tmp_path / "sessions"
    folder = _simulate(sessions, key, "P-0009", "heights-demo", "60s", False)
    recording = folder / "recording.xdf"
    data = recording.read_bytes()
    recording.write_bytes(data[: len(data) * 2 // 3 + 7])  # torn mid-chunk
    before = snapshot(sessions)
    out = tmp_path / "bids"
    r = vrtherapy("export", str(sessions), "--format", "bids", "--out", str(out))
    assert r.returncode == 2 and "changed since the session ended" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not out.exists()
    unchanged(sessions, before)
    r = vrtherapy("export", str(sessions), "--format", "bids", "--out", str(out), "--unverified")
    assert r.returncode == 0, r.stderr
    assert validate(out) == []
    beh = out / "sub-P0009" / "ses-1" / "beh"
    events = _events(out, "sub-P0009_ses-1_task-heights")
    assert events[1][2] == "state_baseline" and any(row[2] == "session_start" for row in events)
    # a dry-run writes each stream in few large chunks: the tear took the physiology's
    assert not list(beh.glob("*_physio.*"))
    shutil.rmtree(out)
