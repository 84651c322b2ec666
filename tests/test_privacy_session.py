"""SessionPrivacy (the live.py wiring) and an encrypted recorder whose disk fills up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from waiting import script

from engine.privacy.audit import model_sha256, read_entries
from engine.privacy.consent import consent_from_mapping, simulation_consent
from engine.privacy.errors import ConsentError
from engine.privacy.integrity import verify_session
from engine.privacy.keys import SiteKey, create_site_key, key_id_of
from engine.privacy.pseudonym import scan_for_identifiers
from engine.privacy.sealed import read_sealed_bytes, verify_sealed, write_sealed_bytes
from engine.privacy.session_guard import SessionPrivacy
from engine.protocol import load_protocol, resolve_seed
from engine.record import StreamSpec, XdfRecorder, load_recording
from engine.sessiondir import new_session_dir

CONSENT = consent_from_mapping(
    {"streams": ["heart", "eda"], "purpose": "treatment", "retention_days": 90}, "test"
)


def _key() -> SiteKey:
    return SiteKey(b"k" * 32, key_id_of(b"k" * 32))


@pytest.mark.parametrize("encrypted", [False, True])
def test_session_privacy_flow(tmp_path: Path, encrypted: bool) -> None:
    key = _key() if encrypted else None
    protocol = load_protocol(resolve_seed("protocols", "heights-demo"))
    folder = new_session_dir(tmp_path, protocol.protocol, "P-0042")
    guard = SessionPrivacy(tmp_path, folder, consent=CONSENT, key=key)
    assert guard.check_streams(["heart", "eda"]) == ("heart", "eda")
    guard.start(protocol.protocol, model_sha256(protocol), "vrtherapy test")
    rec = XdfRecorder(folder / guard.recording_name, sink_factory=guard.sink_factory)
    sid = rec.add_stream(StreamSpec("ECG", "ECG", 1, 500.0, "float32"))
    rec.start()
    rec.push(sid, np.arange(100, dtype=np.float32), 5.0 + np.arange(100) / 500)
    rec.close()
    guard.override(intensity=0.2, by="therapist T-01")
    if key is not None:
        write_sealed_bytes(folder / "summary.json.sealed", b'{"state": "finished"}', key)
    else:
        (folder / "summary.json").write_text('{"state": "finished"}')
    manifest = guard.finish("finished", "protocol duration reached", 12.5)

    assert verify_session(folder, tmp_path / "audit.log").ok
    events = [e["event"] for e in read_entries(tmp_path / "audit.log")]
    expected = ["session_start", "consent", "protocol", "override", "session_stop", "integrity"]
    if encrypted:
        expected.insert(1, "key_use")
    assert events == expected
    names = sorted(manifest["files"])
    if key is None:
        assert names == ["consent.json", "recording.xdf", "summary.json"]
        assert len(load_recording(folder / "recording.xdf").streams["ECG"].time_stamps) == 100
    else:
        assert names == ["consent.json.sealed", "recording.xdf.sealed", "summary.json.sealed"]
        assert all(verify_sealed(folder / n, key).ok for n in names)
        assert read_sealed_bytes(folder / "summary.json.sealed", key) == b'{"state": "finished"}'
        # no plaintext: neither the stream names nor the consent purpose are readable
        assert scan_for_identifiers(folder, ["treatment", "XdfRecorder", "channel_format"]) == []


def test_session_privacy_refusals(tmp_path: Path) -> None:
    with pytest.raises(ConsentError, match="no consent given"):
        SessionPrivacy(tmp_path, tmp_path / "P-1" / "s", consent=None)
    guard = SessionPrivacy(tmp_path, tmp_path / "P-1" / "s", consent=simulation_consent(["eda"]))
    with pytest.raises(ConsentError, match=r"\['heart'\] are not covered"):
        guard.check_streams(["heart", "eda"])
    assert not (tmp_path / "audit.log").exists()


_FULL_DISK_SEALED = script(r"""
import resource
import numpy as np
from waiting import wait_for
from engine.privacy.keys import load_site_key
from engine.privacy.sealed import sealed_sink
from engine.record import RecorderState, StreamSpec, XdfRecorder
key = load_site_key(sys.argv[2])
resource.setrlimit(resource.RLIMIT_FSIZE, (20000, resource.RLIM_INFINITY))
rec = XdfRecorder(sys.argv[1], flush_interval=0.01, sink_factory=sealed_sink(key))
sid = rec.add_stream(StreamSpec("ECG", "ECG", 4, 500.0, "double64"))
rec.start()
t = 0
while rec.state is RecorderState.RECORDING and t < 2000:
    rec.push(sid, np.full((50, 4), float(t)), 10.0 + (t * 50 + np.arange(50)) / 500)
    t += 1
    wait_for(  # this block written, or the write failed
        lambda: rec.state is not RecorderState.RECORDING or rec.stats()["samples.ECG"] >= 50 * t,
        10.0,
        what=f"block {t} written or the recorder failed",
    )
print(rec.state.name, type(rec.error).__name__)
""")


def test_full_disk_fails_the_recorder_and_keeps_whole_records(tmp_path: Path) -> None:
    key = create_site_key(tmp_path / "site.key")
    path = tmp_path / "full.xdf.sealed"
    out = subprocess.run(
        [sys.executable, "-c", _FULL_DISK_SEALED, str(path), str(tmp_path / "site.key")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert out.split("\n")[0] == "FAILED OSError"
    check = verify_sealed(path, key)
    assert not check.closed and check.records >= 2 and path.stat().st_size <= 20000
    ecg = load_recording(path, key=key).streams["ECG"]
    n = len(ecg.time_stamps)
    assert n > 0 and np.array_equal(ecg.time_stamps, 10.0 + np.arange(n) / 500)


@pytest.mark.parametrize("encrypted", [False, True])
def test_report_written_after_the_manifest_joins_it(tmp_path: Path, encrypted: bool) -> None:
    """``write_report`` after ``finish`` (the order live.py ends a session in): the report,
    sealed when the session is, is listed in integrity.json and the session verifies."""
    from biosignals.twin import TwinProfile
    from engine.live import RunOptions, run_simulated, with_duration

    key = _key() if encrypted else None
    protocol = with_duration(load_protocol(resolve_seed("protocols", "heights-demo")), 40.0)
    opts = RunOptions(out=tmp_path, display="null", report=False, key=key, operator="op-7")
    result = run_simulated(protocol, opts, TwinProfile())
    assert result.report is None and verify_session(result.folder, tmp_path / "audit.log").ok
    guard = SessionPrivacy(tmp_path, result.folder, consent=CONSENT, key=key, actor="op-7")
    path = guard.write_report(result.recording)
    assert path.name == ("report.html.sealed" if encrypted else "report.html")
    check = verify_session(result.folder, tmp_path / "audit.log")
    assert check.ok, check.problems
    html = read_sealed_bytes(path, key) if key is not None else path.read_bytes()
    assert b"heights-demo" in html
    entries = read_entries(tmp_path / "audit.log")
    assert entries[-1]["details"]["added"] == path.name
    assert {e["actor"] for e in entries} == {"op-7"}
