"""Fuzz the binary file readers: XDF recordings (plain and sealed), sealed files, key files.

Each reader gets a valid file damaged by bit flips, truncation anywhere (a kill), deletes,
inserted garbage and runs of 0xFF (huge lengths). It must return a result or raise the
project's own error (a :class:`VrTherapyError`) in one line naming the file; never another
exception. Truncation is also tried at every chunk boundary (and one byte either side).
"""

from __future__ import annotations

import logging
import re
import struct
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from file_fuzz import damaged_bytes, fuzz_settings, one_sentence
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import RecordingError, VrTherapyError
from engine.export.recording import load_session
from engine.export.xdfread import read_xdf
from engine.live import RunOptions, run_simulated, with_duration
from engine.privacy.keys import SiteKey, create_passphrase_key, create_site_key, load_site_key
from engine.privacy.pseudonym import IdentityMap
from engine.privacy.sealed import (
    read_sealed_bytes,
    sealed_sink,
    verify_sealed,
    write_sealed_bytes,
)
from engine.protocol import load_protocol, resolve_seed
from engine.record import StreamSpec, XdfRecorder
from engine.record.reader import load_recording, scan_chunks
from engine.report.model import build_model
from engine.review.index import SessionIndex
from engine.twin_profiles import load_patient


@pytest.fixture(autouse=True)
def _quiet_pyxdf() -> Iterator[None]:
    """pyxdf logs every damaged chunk it skips (with a traceback): not under test here."""
    logging.getLogger("pyxdf").disabled = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # pyxdf's own divisions by zero
        yield
    logging.getLogger("pyxdf").disabled = False


def _record(path: Path, key: SiteKey | None = None) -> bytes:
    """A small recording: 2-channel ECG, a marker stream, a file header."""
    sink = sealed_sink(key) if key is not None else None
    rec = XdfRecorder(path, file_header={"participant": "P01"}, sink_factory=sink)
    ecg = rec.add_stream(StreamSpec("ECG", "ECG", 2, 500.0, "float32"))
    markers = rec.add_stream(StreamSpec("Markers", "Markers", 1, 0.0, "string"))
    rec.start()
    values = np.random.default_rng(0).standard_normal((40, 2)).astype(np.float32)
    rec.push(ecg, values, 100 + np.arange(40) / 500)
    rec.push_marker(markers, "start", 100.0)
    rec.push_marker(markers, '{"event": "suds", "value": 40}', 100.05)
    rec.close()
    return path.read_bytes()


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> SiteKey:
    return create_site_key(tmp_path_factory.mktemp("key") / "site.key")


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return _record(tmp_path_factory.mktemp("rec") / "s.xdf")


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory, key: SiteKey) -> bytes:
    return _record(tmp_path_factory.mktemp("rec") / "s.xdf", key)


def _clean(path: Path, *readers: Callable[[Path], Any]) -> None:
    """Each reader returns, or raises VrTherapyError in one line naming ``path``."""
    for read in readers:
        try:
            read(path)
        except VrTherapyError as exc:
            assert one_sentence(str(exc), path.name), f"{read}: {exc}"


def _scan(path: Path) -> None:
    scan = scan_chunks(path)
    assert scan.problem is None or one_sentence(scan.problem), scan.problem


def _plain_readers(path: Path) -> None:
    _clean(path, _scan, load_recording, read_xdf)


def test_the_valid_recordings_read(
    tmp_path: Path, plain: bytes, sealed: bytes, key: SiteKey
) -> None:
    (tmp_path / "p.xdf").write_bytes(plain)
    (tmp_path / "s.xdf").write_bytes(sealed)
    assert scan_chunks(tmp_path / "p.xdf").problem is None
    assert {s.text("name") for s in read_xdf(tmp_path / "p.xdf").streams} == {"ECG", "Markers"}
    assert set(load_recording(tmp_path / "s.xdf", key=key).streams) == {"ECG", "Markers"}
    assert verify_sealed(tmp_path / "s.xdf", key).ok


@fuzz_settings(150)
@given(st.data())
def test_damaged_recording_reads_or_fails_cleanly(
    tmp_path_factory: Any, plain: bytes, data: Any
) -> None:
    path = tmp_path_factory.mktemp("x") / "session.xdf"
    path.write_bytes(data.draw(damaged_bytes(plain)))
    _plain_readers(path)


def test_recording_cut_at_every_chunk_boundary_reads_or_fails_cleanly(
    tmp_path: Path, plain: bytes
) -> None:
    (tmp_path / "whole.xdf").write_bytes(plain)
    ends = sorted({0, 1, 3, 4, 5} | _chunk_ends(tmp_path / "whole.xdf", len(plain)))
    for end in ends:
        path = tmp_path / f"cut{end}.xdf"
        path.write_bytes(plain[:end])
        _plain_readers(path)
    assert len(ends) > 10


def _chunk_ends(path: Path, size: int) -> set[int]:
    """Every chunk boundary of a whole file and one or two bytes either side (in range)."""
    scan = scan_chunks(path)
    assert scan.problem is None and scan.valid_end == size
    starts = {len(b"XDF:")}
    pos = len(b"XDF:")
    data = path.read_bytes()
    while pos < size:  # XDF: 1-byte length-of-length, that length, then tag+content
        nbytes = data[pos]
        length = int.from_bytes(data[pos + 1 : pos + 1 + nbytes], "little")
        pos += 1 + nbytes + length
        starts.add(pos)
    return {p + d for p in starts for d in (-2, -1, 0, 1, 2) if 0 <= p + d < size}


@fuzz_settings(100)
@given(st.data())
def test_damaged_sealed_recording_reads_or_fails_cleanly(
    tmp_path_factory: Any, sealed: bytes, key: SiteKey, data: Any
) -> None:
    path = tmp_path_factory.mktemp("x") / "session.xdf"
    path.write_bytes(data.draw(damaged_bytes(sealed)))
    check = verify_sealed(path, key)
    assert check.ok is False or path.read_bytes() == sealed
    _clean(
        path,
        lambda p: load_recording(p, key=key),
        lambda p: read_xdf(p, key),
        lambda p: read_sealed_bytes(p, key),
    )


@fuzz_settings(100)
@given(st.data())
def test_damaged_sealed_identity_map_fails_cleanly(
    tmp_path_factory: Any, key: SiteKey, data: Any
) -> None:
    path = tmp_path_factory.mktemp("ids") / "identities.sealed"
    write_sealed_bytes(path, b'{"pseudonyms": {"P-1A2B": "Jane Doe"}}', key)
    good = path.read_bytes()
    damaged = data.draw(damaged_bytes(good))
    path.write_bytes(damaged)
    try:
        ids = IdentityMap(path, key)
        assert ids.real_name("P-1A2B") == "Jane Doe"  # whole and authentic (bytes after
        assert damaged.startswith(good)  # the end record are not read)
    except VrTherapyError as exc:
        assert one_sentence(str(exc), path.name), str(exc)


@pytest.fixture(scope="module")
def key_files(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    folder = tmp_path_factory.mktemp("keys")
    create_site_key(folder / "raw.key")
    create_passphrase_key(folder / "pass.key", "a long passphrase here")
    return [(folder / "raw.key").read_bytes(), (folder / "pass.key").read_bytes()]


@fuzz_settings(150)
@given(st.data())
def test_damaged_key_file_loads_or_fails_cleanly(
    tmp_path_factory: Any, key_files: list[bytes], data: Any
) -> None:
    path = tmp_path_factory.mktemp("k") / "site.key"
    path.write_bytes(data.draw(damaged_bytes(data.draw(st.sampled_from(key_files)))))
    path.chmod(0o600)
    try:
        loaded = load_site_key(path)  # no passphrase: a passphrase file stops before scrypt
        assert len(loaded.key) == 32
    except VrTherapyError as exc:
        assert one_sentence(str(exc), path.name), str(exc)


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sessions folder with one real 40 s simulated session (plain, not sealed)."""
    protocol = with_duration(load_protocol(resolve_seed("protocols", "heights-demo")), 40.0)
    out = tmp_path_factory.mktemp("made")
    opts = RunOptions(
        out=out, display="null", frame_rate=2.0, report=False, encryption_opt_out=True
    )
    run_simulated(protocol, opts, load_patient("typical"))
    return out


@pytest.fixture(scope="module")
def session_recording(sessions: Path) -> bytes:
    """That session's recording (role maps, markers, features...)."""
    data = next(sessions.rglob("recording.xdf")).read_bytes()
    assert data.startswith(b"XDF:")
    return data


def _report_model(path: Path) -> None:
    build_model(load_session(path), {})


@fuzz_settings(120)
@given(st.data())
def test_damaged_session_recording_reports_or_fails_cleanly(
    tmp_path_factory: Any, session_recording: bytes, data: Any
) -> None:
    headers = tuple(m.start() for m in re.finditer(rb"<\?xml", session_recording))
    path = tmp_path_factory.mktemp("x") / "recording.xdf"
    path.write_bytes(data.draw(damaged_bytes(session_recording, max_edits=3, near=headers)))
    _clean(path, _report_model)


def _first_timestamp_at(data: bytes) -> int:
    """Offset of the first sample's 8-byte timestamp in the first Samples chunk."""
    pos = len(b"XDF:")
    while True:
        nbytes = data[pos]
        length = int.from_bytes(data[pos + 1 : pos + 1 + nbytes], "little")
        start = pos + 1 + nbytes
        if int.from_bytes(data[start : start + 2], "little") == 3:  # Samples
            count_at = start + 2 + 4  # tag, stream id
            return count_at + 1 + data[count_at] + 1  # varlen count, TimeStampBytes
        pos = start + length


@pytest.mark.parametrize("stamp", [1e300, -1e300, float("nan"), float("inf")])
def test_recording_with_a_rotten_timestamp_is_one_sentence(
    tmp_path: Path, session_recording: bytes, stamp: float
) -> None:
    data = bytearray(session_recording)
    at = _first_timestamp_at(session_recording)
    data[at : at + 8] = struct.pack("<d", stamp)
    path = tmp_path / "recording.xdf"
    path.write_bytes(bytes(data))
    with pytest.raises(RecordingError, match="the recording is damaged") as caught:
        _report_model(path)
    assert one_sentence(str(caught.value), str(path))


@pytest.fixture(scope="module")
def index_file(tmp_path_factory: pytest.TempPathFactory, sessions: Path) -> bytes:
    """The review index (SQLite) of ``sessions``, as bytes."""
    path = tmp_path_factory.mktemp("index") / "index.db"
    index = SessionIndex(path, sessions, None)
    assert index.refresh().added == 1
    index.close()
    return path.read_bytes()


@fuzz_settings(100)
@given(st.data())
def test_damaged_review_index_reads_or_fails_cleanly(
    tmp_path_factory: Any, sessions: Path, index_file: bytes, data: Any
) -> None:
    path = tmp_path_factory.mktemp("ix") / "index.db"
    path.write_bytes(data.draw(damaged_bytes(index_file, max_edits=3)))
    try:
        index = SessionIndex(path, sessions, None)
        try:
            index.participants()
            index.sessions_of()
            index.verify()  # rebuilds rows that disagree with the folder
            assert [r["participant"] for r in index.sessions_of()] == ["demo"]
        finally:
            index.close()
    except VrTherapyError as exc:
        assert one_sentence(str(exc), path.name), str(exc)
