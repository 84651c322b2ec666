"""Encryption at rest: site keys, sealed files, tamper detection, encrypted recordings."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli as vrtherapy
from killed_writer import assert_ecg_ramp, write_and_kill

from engine.errors import RecordingError
from engine.privacy.audit import AuditLog
from engine.privacy.errors import DecryptionError, KeyFileError, SealedFileError
from engine.privacy.keys import (
    SiteKey,
    create_passphrase_key,
    create_site_key,
    key_id_of,
    load_site_key,
)
from engine.privacy.sealed import (
    HEADER_SIZE,
    SealedReader,
    SealedWriter,
    close_torn,
    read_sealed_bytes,
    recording_bytes,
    sealed_sink,
    verify_sealed,
    write_sealed_bytes,
)
from engine.record import StreamSpec, XdfRecorder, load_recording, scan_chunks

RECORDS = [b"first record", b"the second one, a bit longer", b"3"]


def _key(seed: int) -> SiteKey:
    key = bytes([seed]) * 32
    return SiteKey(key, key_id_of(key))


def _sealed(path: Path, key: SiteKey, records: list[bytes] = RECORDS) -> Path:
    with SealedWriter(path, key) as w:
        for r in records:
            assert w.write(r) == len(r)
    return path


def _record_spans(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each record (data records then the end record)."""
    spans, pos = [], HEADER_SIZE
    while pos < len(data):
        (length,) = struct.unpack_from("<I", data, pos)
        spans.append((pos, pos + 16 + length))
        pos += 16 + length
    return spans


def _flip(path: Path, pos: int, mask: int = 0x01) -> None:
    data = bytearray(path.read_bytes())
    data[pos] ^= mask
    path.write_bytes(bytes(data))


# ------------------------------------------------------------------ keys


def test_key_file_round_trip_and_mode(tmp_path: Path) -> None:
    made = create_site_key(tmp_path / "site.key")
    assert (tmp_path / "site.key").stat().st_mode & 0o777 == 0o600
    loaded = load_site_key(tmp_path / "site.key")
    assert loaded.key == made.key and loaded.key_id == made.key_id == key_id_of(made.key)
    assert made.key.hex() not in repr(loaded)
    with pytest.raises(KeyFileError, match="exists already"):
        create_site_key(tmp_path / "site.key")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_key_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "site.key"
    create_site_key(path)
    path.chmod(mode)
    with pytest.raises(KeyFileError, match=f"{re.escape(str(path))}.*mode {mode:04o}.*chmod 600"):
        load_site_key(path)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"vrtherapy-site-key v1 raw\n",
        b"vrtherapy-site-key v1 raw\nAAAA\n",  # 3 bytes
        b"vrtherapy-site-key v1 raw\n" + b"A" * 42 + b"==\n",  # 31 bytes
        b"vrtherapy-site-key v1 raw\nnot base64 at all!!\n",
        b"vrtherapy-site-key v2 raw\n" + b"A" * 44 + b"\n",
        b"vrtherapy-site-key v1 aes\n" + b"A" * 44 + b"\n",
        b"\xff\xfe binary garbage",
        b"vrtherapy-site-key v1 scrypt n=1024 r=8 p=1 salt=AAAAAAAAAAAAAAAAAAAAAA== id=00\n",
    ],
)
def test_corrupt_key_file_is_refused_naming_it(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match=re.escape(str(path))):
        load_site_key(path)


def test_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match=r"nope\.key does not exist"):
        load_site_key(tmp_path / "nope.key")


def test_passphrase_key(tmp_path: Path) -> None:
    path = tmp_path / "pass.key"
    made = create_passphrase_key(path, "correct horse battery")
    assert b"correct" not in path.read_bytes() and made.key not in path.read_bytes()
    assert load_site_key(path, "correct horse battery").key == made.key
    with pytest.raises(DecryptionError, match="wrong passphrase"):
        load_site_key(path, "correct horse batterx")
    with pytest.raises(KeyFileError, match="passphrase is needed"):
        load_site_key(path)


# ------------------------------------------------------------------ sealed files


def test_round_trip_and_ciphertext_only(tmp_path: Path) -> None:
    key = _key(1)
    path = _sealed(tmp_path / "f.sealed", key)
    assert not any(r in path.read_bytes() for r in RECORDS if len(r) >= 8)
    reader = SealedReader(path, key)
    assert list(reader) == RECORDS and reader.closed_cleanly
    check = verify_sealed(path, key)
    assert check.ok and check.records == 3 and check.first_bad is None
    write_sealed_bytes(tmp_path / "small.sealed", b"consent", key)
    assert read_sealed_bytes(tmp_path / "small.sealed", key) == b"consent"
    assert not (tmp_path / "small.sealed.tmp").exists()


def _expected_index(data: bytes, pos: int) -> int:
    if pos < HEADER_SIZE:
        return -1
    return next(i for i, (a, b) in enumerate(_record_spans(data)) if a <= pos < b)


@pytest.mark.parametrize(
    ("what", "where"),
    [
        ("magic", lambda s: 0),
        ("version", lambda s: 8),
        ("key id", lambda s: 9),
        ("file id", lambda s: 20),
        ("wrap nonce", lambda s: 40),
        ("wrapped key tag", lambda s: HEADER_SIZE - 1),
        ("record 0 length", lambda s: s[0][0]),
        ("record 1 length high byte", lambda s: s[1][0] + 3),
        ("record 1 nonce", lambda s: s[1][0] + 4),
        ("record 1 ciphertext", lambda s: s[1][0] + 16),
        ("record 2 tag", lambda s: s[2][1] - 1),
        ("end record length", lambda s: s[3][0]),
        ("end record tag", lambda s: s[3][1] - 1),
    ],
)
@pytest.mark.parametrize("mask", [0x01, 0x80])
def test_flipped_byte_is_detected_and_named(tmp_path: Path, what: str, where, mask: int) -> None:
    key = _key(2)
    path = _sealed(tmp_path / "f.sealed", key)
    data = path.read_bytes()
    pos = where(_record_spans(data))
    _flip(path, pos, mask)
    check = verify_sealed(path, key)
    assert not check.ok, what
    assert check.first_bad == _expected_index(data, pos), (what, check)
    assert check.reason and (("header" in check.reason) == (pos < HEADER_SIZE))


def test_every_single_byte_flip_is_detected(tmp_path: Path) -> None:
    key = _key(3)
    path = _sealed(tmp_path / "f.sealed", key)
    original = path.read_bytes()
    for pos in range(len(original)):
        path.write_bytes(original)
        _flip(path, pos)
        check = verify_sealed(path, key)
        assert not check.ok and check.first_bad == _expected_index(original, pos), pos


def test_reader_refuses_a_changed_record_naming_it(tmp_path: Path) -> None:
    key = _key(4)
    path = _sealed(tmp_path / "f.sealed", key)
    spans = _record_spans(path.read_bytes())
    _flip(path, spans[1][0] + 20)
    with pytest.raises(DecryptionError, match=f"record 1 at byte {spans[1][0]}"):
        SealedReader(path, key).read_all()


def test_reordered_removed_and_transplanted_records(tmp_path: Path) -> None:
    key = _key(5)
    data = _sealed(tmp_path / "a.sealed", key).read_bytes()
    s = _record_spans(data)
    rec = [data[a:b] for a, b in s]
    head = data[:HEADER_SIZE]
    cases = {
        "swapped": (head + rec[1] + rec[0] + rec[2] + rec[3], 0),
        "removed": (head + rec[0] + rec[2] + rec[3], 1),
        "after end": (data + rec[0], 4),
    }
    other = _sealed(tmp_path / "b.sealed", key).read_bytes()
    cases["transplanted"] = (head + _record_spans_bytes(other)[0] + b"".join(rec[1:]), 0)
    for name, (blob, bad) in cases.items():
        path = tmp_path / f"{name}.sealed"
        path.write_bytes(blob)
        check = verify_sealed(path, key)
        assert not check.ok and check.first_bad == bad, (name, check)


def _record_spans_bytes(data: bytes) -> list[bytes]:
    return [data[a:b] for a, b in _record_spans(data)]


def test_truncated_tail_keeps_whole_records(tmp_path: Path) -> None:
    key = _key(6)
    data = _sealed(tmp_path / "f.sealed", key).read_bytes()
    spans = _record_spans(data)
    for cut, whole in [(spans[2][0] + 5, 2), (spans[2][1], 3), (spans[1][1] - 1, 1)]:
        path = tmp_path / f"cut{cut}.sealed"
        path.write_bytes(data[:cut])
        assert SealedReader(path, key).read_all() == b"".join(RECORDS[:whole])
        check = verify_sealed(path, key)
        assert not check.ok and not check.closed and check.records == whole
        with pytest.raises(DecryptionError, match="truncated"):
            read_sealed_bytes(path, key)


def test_wrong_key_fails_cleanly_and_writes_nothing(tmp_path: Path) -> None:
    key = _key(7)
    path = _sealed(tmp_path / "f.sealed", key)
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(
        DecryptionError, match=f"{re.escape(str(path))}.*sealed with site key {key.key_id}"
    ):
        SealedReader(path, _key(8))
    same_id = SiteKey(_key(8).key, key.key_id)  # right id, wrong bytes: the unwrap fails
    with pytest.raises(DecryptionError, match="cannot unwrap the data key"):
        SealedReader(path, same_id)
    with pytest.raises(DecryptionError):
        recording_bytes(path, _key(8))
    assert sorted(tmp_path.rglob("*")) == before


def test_not_sealed_and_existing_file(tmp_path: Path) -> None:
    (tmp_path / "plain").write_bytes(b"XDF:" + b"\0" * 200)
    with pytest.raises(SealedFileError, match="not a sealed"):
        SealedReader(tmp_path / "plain", _key(1))
    with pytest.raises(SealedFileError, match="exists already"):
        SealedWriter(tmp_path / "plain", _key(1))
    assert recording_bytes(tmp_path / "plain", None).startswith(b"XDF:")


# ------------------------------------------------------------------ encrypted recordings


def _record(path: Path, key: SiteKey) -> None:
    rec = XdfRecorder(path, flush_interval=0.01, sink_factory=sealed_sink(key))
    ecg = rec.add_stream(StreamSpec("ECG", "ECG", 1, 500.0, "float32"))
    ev = rec.add_stream(StreamSpec("events", "Markers", 1, 0.0, "string"))
    rec.start()
    for k in range(20):
        idx = np.arange(k * 50, (k + 1) * 50)
        rec.push(ecg, idx.astype(np.float32), 100.0 + idx / 500)
        rec.push_marker(ev, f"e{k}", 100.0 + k / 10)
    rec.close()


def test_encrypted_recording_round_trip(tmp_path: Path) -> None:
    key = _key(9)
    path = tmp_path / "recording.xdf.sealed"
    _record(path, key)
    assert b"ECG" not in path.read_bytes() and verify_sealed(path, key).ok
    rec = load_recording(path, key=key)
    ecg = rec.streams["ECG"]
    assert np.array_equal(ecg.time_series[:, 0], np.arange(1000, dtype=np.float32))
    assert np.array_equal(ecg.time_stamps, 100.0 + np.arange(1000) / 500)
    assert rec.streams["events"].time_series == [[f"e{k}"] for k in range(20)]
    with pytest.raises(RecordingError, match="encrypted recording: give the site key"):
        load_recording(path)
    with pytest.raises(RecordingError, match="encrypted recording"):
        scan_chunks(path)
    before = sorted(tmp_path.iterdir())
    with pytest.raises(DecryptionError):
        load_recording(path, key=_key(10))
    assert sorted(tmp_path.iterdir()) == before


def test_sigkilled_encrypted_recording_reads_up_to_last_record(tmp_path: Path) -> None:
    key_path = tmp_path / "site.key"
    key = create_site_key(key_path)
    path = tmp_path / "killed.xdf.sealed"
    pushed = write_and_kill(path, 2.0, key_path)
    check = verify_sealed(path, key)
    assert not check.closed and check.records >= 2
    ecg = load_recording(path, key=key).streams["ECG"]
    assert_ecg_ramp(ecg.time_series, ecg.time_stamps, pushed)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["killed.xdf.sealed", "site.key"]


@pytest.mark.slow
def test_verify_repair_closes_a_killed_sealed_session(tmp_path: Path) -> None:
    """A sealed recording whose writer was killed gets its end record from
    ``verify --repair`` (original kept), and the session then verifies clean."""
    key_path = tmp_path / "site.key"
    key = create_site_key(key_path)
    out = tmp_path / "sessions"
    session = out / "P-0003" / "20260101-000000-demo"
    session.mkdir(parents=True)
    AuditLog(out / "audit.log").append("session_start", session="P-0003/" + session.name)
    rec = session / "recording.xdf.sealed"
    pushed = write_and_kill(rec, 2.0, key_path)
    torn = rec.read_bytes()
    r = vrtherapy("verify", str(session), "--repair", "--key", str(key_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "repaired recording.xdf.sealed" in r.stdout
    assert verify_sealed(rec, key).ok
    assert (session / "recording.xdf.sealed.orig").read_bytes() == torn
    ecg = load_recording(rec, key=key).streams["ECG"]
    assert_ecg_ramp(ecg.time_series, ecg.time_stamps, pushed)
    r = vrtherapy("verify", str(session), "--key", str(key_path))
    assert r.returncode == 0, r.stdout + r.stderr
    with pytest.raises(SealedFileError, match="has its end record: nothing to repair"):
        close_torn(rec, key)


def test_a_changed_sealed_record_is_never_sealed_over(tmp_path: Path) -> None:
    key = _key(11)
    path = tmp_path / "f.sealed"
    with SealedWriter(path, key) as w:
        for r in RECORDS:
            w.write(r)
    data = path.read_bytes()
    last = _record_spans(data)[-1]
    path.write_bytes(data[: last[0]])  # as if killed before the end record
    _flip(path, _record_spans(data)[1][0] + 20)
    before = path.read_bytes()
    with pytest.raises(DecryptionError, match=r"record 1 .* fails authentication.*not repaired"):
        close_torn(path, key)
    assert path.read_bytes() == before and sorted(tmp_path.iterdir()) == [path]
