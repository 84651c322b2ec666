"""Consent, pseudonymity (identity map, identifier scan), and the privacy CLI commands."""

from __future__ import annotations

import argparse
import datetime as _dt
import io
import json
from pathlib import Path

import pytest

from biosignals.twin import TwinProfile
from engine.live import RunOptions, run_simulated, with_duration
from engine.privacy import cli as pcli
from engine.privacy.audit import AuditLog, read_entries
from engine.privacy.consent import Consent, consent_from_mapping, filter_streams, record_consent
from engine.privacy.errors import ConsentError, DecryptionError
from engine.privacy.integrity import write_integrity
from engine.privacy.keys import SiteKey, create_site_key, key_id_of
from engine.privacy.pseudonym import IdentityMap, scan_for_identifiers
from engine.privacy.sealed import read_sealed_bytes, sealed_sink
from engine.protocol import load_protocol, resolve_seed
from engine.record import StreamSpec, XdfRecorder, load_recording

T0 = _dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=_dt.UTC)
CONSENT = {"streams": "heart, eda", "purpose": "treatment", "retention_days": 365}


def _key(seed: int) -> SiteKey:
    return SiteKey(bytes([seed]) * 32, key_id_of(bytes([seed]) * 32))


# ------------------------------------------------------------------ consent


def test_consent_model_and_filter() -> None:
    c = consent_from_mapping({**CONSENT, "recorded_at": T0.isoformat()}, "p.yaml: consent")
    assert c.streams == ("eda", "heart") and c.given_by == "participant"
    assert filter_streams(["heart", "ppg", "eda"], c) == ("heart", "eda")
    with pytest.raises(ConsentError, match=r"\['ppg'\] are not covered by consent"):
        filter_streams(["heart", "ppg"], c, strict=True)
    with pytest.raises(ConsentError, match="no consent given"):
        filter_streams(["heart"], None)
    with pytest.raises(Exception, match="frozen"):
        setattr(c, "purpose", "x")  # noqa: B010 (frozen model)
    assert c.sha256() == Consent.model_validate_json(c.to_bytes()).sha256()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, "p.yaml: no consent given"),
        ({**CONSENT, "streams": "heart,face"}, r"p.yaml.streams: .*\['face'\] not among"),
        ({**CONSENT, "retention_days": 0}, "p.yaml.retention_days"),
        ({**CONSENT, "purpose": ""}, "p.yaml.purpose"),
        ({**CONSENT, "given_by": "Jane Doe"}, "p.yaml.given_by"),
        (
            {k: v for k, v in CONSENT.items() if k != "purpose"},
            "p.yaml.purpose: required field is missing",
        ),
        ({**CONSENT, "recorded_at": "2026-01-01T00:00:00"}, "p.yaml.recorded_at"),
    ],
)
def test_consent_errors_name_the_field(data: dict | None, message: str) -> None:
    with pytest.raises(ConsentError, match=message):
        consent_from_mapping(data, "p.yaml")


def test_consent_from_cli_args_overrides_protocol() -> None:
    p = argparse.ArgumentParser()
    pcli.add_consent_options(p)
    args = p.parse_args(["--consent-streams", "heart", "--consent-retention-days", "30"])
    c = pcli.consent_from_args(args, CONSENT, "p.yaml")
    assert c.streams == ("heart",) and c.retention_days == 30 and c.purpose == "treatment"
    with pytest.raises(ConsentError, match="no consent given"):
        pcli.consent_from_args(p.parse_args([]), None, "p.yaml")


@pytest.mark.parametrize("sealed", [False, True])
def test_record_consent_writes_file_and_audit_hash(tmp_path: Path, sealed: bool) -> None:
    key = _key(1) if sealed else None
    log = AuditLog(tmp_path / "audit.log")
    c = consent_from_mapping(CONSENT, "cli")
    path = record_consent(tmp_path, c, log, session="P-0042/s", key=key)
    stored = read_sealed_bytes(path, _key(1)) if sealed else path.read_bytes()
    assert (b"treatment" in path.read_bytes()) is not sealed
    entry = read_entries(log.path)[-1]
    assert entry["event"] == "consent" and entry["details"]["sealed"] is sealed
    assert entry["details"]["consent_sha256"] == c.sha256()
    assert Consent.model_validate_json(stored) == c


# ------------------------------------------------------------------ pseudonymity


def test_identity_map_round_trip(tmp_path: Path) -> None:
    key = _key(2)
    path = tmp_path / "identity.sealed"
    ids = IdentityMap(path, key)
    jane = ids.add("Jane Doe")
    assert jane.startswith("P-") and len(jane) == 6 and jane[2:].isdigit()
    assert ids.add("  jane   DOE ") == jane and len(ids) == 1
    bob = ids.add("Bob Stone")
    again = IdentityMap(path, key)
    assert again.lookup("Jane Doe") == jane and again.real_name(bob) == "Bob Stone"
    assert again.lookup("Nobody") is None
    assert scan_for_identifiers(tmp_path, ["Jane Doe", "Bob Stone"]) == []
    hits = scan_for_identifiers(tmp_path, ["Jane Doe"], key=key)  # positive control
    assert [(h.path.name, h.where) for h in hits] == [("identity.sealed", "decrypted")]
    with pytest.raises(DecryptionError):
        IdentityMap(path, _key(3))


def test_scan_finds_names_in_file_names_and_contents(tmp_path: Path) -> None:
    (tmp_path / "notes-jane-doe.txt").write_text("nothing")
    (tmp_path / "a.json").write_text('{"who": "JANE DOE"}')
    (tmp_path / "b.bin").write_bytes("Jane Doe".encode("utf-16-le"))
    hits = {
        (h.path.name, h.where) for h in scan_for_identifiers(tmp_path, ["Jane Doe", "jane-doe"])
    }
    assert hits == {("notes-jane-doe.txt", "name"), ("a.json", "content"), ("b.bin", "content")}


def test_session_for_a_real_person_leaves_no_real_name(tmp_path: Path) -> None:
    """Jane Doe -> pseudonym via the sealed map; a real dry-run session, an encrypted
    recording, sealed consent and integrity: no real name in any name or content."""
    key_dir, out = tmp_path / "site", tmp_path / "sessions"
    key_dir.mkdir()
    key = create_site_key(key_dir / "site.key")
    pseudonym = IdentityMap(key_dir / "identity.sealed", key).add("Jane Doe")
    protocol = with_duration(load_protocol(resolve_seed("protocols", "heights-demo")), 60.0)
    result = run_simulated(
        protocol, RunOptions(out=out, participant=pseudonym, display="null"), TwinProfile()
    )
    assert result.folder.parent.name == pseudonym
    log = AuditLog(out / "audit.log")
    rec = XdfRecorder(
        result.folder / "physio.xdf.sealed",
        file_header={"participant": pseudonym},
        sink_factory=sealed_sink(key),
    )
    sid = rec.add_stream(StreamSpec("ECG", "ECG", 1, 500.0, "float32"))
    rec.start()
    rec.push(sid, [0.1, 0.2], [1.0, 1.002])
    rec.close()
    record_consent(
        result.folder,
        consent_from_mapping(CONSENT, "cli"),
        log,
        session=f"{pseudonym}/{result.folder.name}",
        key=key,
    )
    write_integrity(result.folder, log)
    assert load_recording(result.folder / "physio.xdf.sealed", key=key).file_header
    assert scan_for_identifiers(out, ["Jane Doe"], key=key) == []
    assert scan_for_identifiers(key_dir, ["Jane Doe"]) == []


# ------------------------------------------------------------------ CLI


def _cli(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    for add in (
        pcli.add_keygen_parser,
        pcli.add_verify_parser,
        pcli.add_purge_parser,
        pcli.add_pseudonym_parser,
    ):
        add(sub)
    return parser.parse_args(argv)


def test_cli_keygen_verify_purge_pseudonym(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key_path = tmp_path / "site.key"
    assert pcli.cmd_keygen(_cli("keygen", str(key_path))) == 0
    out = tmp_path / "sessions"
    folder = out / "P-0001" / "20200101-000000-demo"
    folder.mkdir(parents=True)
    key = pcli.key_from_args(_cli("verify", str(folder), "--key", str(key_path)))
    assert key is not None
    rec = XdfRecorder(folder / "recording.xdf.sealed", sink_factory=sealed_sink(key))
    rec.add_stream(StreamSpec("ECG", "ECG", 1, 500.0, "float32"))
    rec.start()
    rec.close()
    (folder / "summary.json").write_text(json.dumps({"ended_at": "2020-01-01T00:10:00+00:00"}))
    log = pcli.audit_for(out)
    write_integrity(folder, log, ended_at=_dt.datetime(2020, 1, 1, tzinfo=_dt.UTC))
    args = _cli("verify", str(folder), "--key", str(key_path))
    assert pcli.cmd_verify(args) == 0
    assert "integrity" in capsys.readouterr().out
    assert [e["event"] for e in read_entries(log.path)[-2:]] == ["key_use", "verify"]

    data = bytearray((folder / "recording.xdf.sealed").read_bytes())
    data[-3] ^= 1
    (folder / "recording.xdf.sealed").write_bytes(bytes(data))
    assert pcli.cmd_verify(args) == pcli.EXIT_CHECK_FAILED
    printed = capsys.readouterr().out
    assert "recording.xdf.sealed: SHA-256 differs" in printed and "fails authentication" in printed

    monkeypatch.setattr("sys.stdin", io.StringIO("Jane Doe\n"))
    assert (
        pcli.cmd_pseudonym(_cli("pseudonym", "--map", str(tmp_path / "m"), "--key", str(key_path)))
        == 0
    )
    assert capsys.readouterr().out.startswith("P-")

    assert pcli.cmd_purge(_cli("purge", "--out", str(out), "--older-than", "30")) == 0
    assert "1 session(s) removed" in capsys.readouterr().out and not folder.exists()
    assert read_entries(log.path)[-1]["event"] == "purge"
