"""Consent decides what is recorded; therapist overrides land in the audit trail."""

from __future__ import annotations

from pathlib import Path

import pytest

from biosignals.twin import TwinProfile
from engine.display.base import InputEvents
from engine.display.null import NullDisplay
from engine.export.recording import load_session
from engine.live import RunOptions, run_simulated, with_duration
from engine.privacy.audit import read_entries, verify_chain
from engine.privacy.consent import Consent
from engine.privacy.errors import ConsentError
from engine.protocol import load_protocol, resolve_seed


def demo(seconds: float = 40.0):
    return with_duration(load_protocol(resolve_seed("protocols", "heights-demo")), seconds)


def consent(*streams: str) -> Consent:
    return Consent(streams=streams, purpose="research", retention_days=30)


def test_stream_without_consent_is_neither_recorded_nor_exported(tmp_path: Path) -> None:
    events: list[str] = []
    opts = RunOptions(
        out=tmp_path, display="null", report=False, consent=consent("heart"), on_event=events.append
    )
    result = run_simulated(demo(), opts, TwinProfile())
    data = load_session(result.recording)
    assert [s.type for s in data.physiology] == ["ECG"]
    assert "stream eda not recorded: not covered by the participant's consent" in events
    from engine.export.csv import export_csv

    names = {p.name for p in export_csv(result.recording, tmp_path / "csv")}
    assert not any("EDA" in n for n in names) and any("ECG" in n for n in names)


def test_consent_covering_nothing_is_refused(tmp_path: Path) -> None:
    opts = RunOptions(out=tmp_path, display="null", report=False, consent=consent("ppg"))
    with pytest.raises(ConsentError, match="covers none of the protocol's streams"):
        run_simulated(demo(), opts, TwinProfile())
    assert not any(tmp_path.iterdir())


def test_therapist_override_is_audited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Therapist(NullDisplay):
        def poll(self) -> InputEvents:
            return InputEvents(keys=("up",) if self.frames == 25 * 30 else ())  # active phase

    import engine.live

    monkeypatch.setattr(engine.live, "open_display", lambda name, size: Therapist())
    result = run_simulated(
        demo(), RunOptions(out=tmp_path, display="null", report=False), TwinProfile()
    )
    assert any(d.source == "therapist" for d in result.summary.decisions)
    entries = read_entries(tmp_path / "audit.log")
    overrides = [e for e in entries if e["event"] == "override"]
    assert overrides and overrides[0]["details"]["reason"].startswith("therapist raised a step")
    assert verify_chain(tmp_path / "audit.log").ok
