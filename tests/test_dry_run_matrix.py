"""Every seed protocol against every patient twin, as dry-runs, with behavioural checks.

Each pair runs the whole engine in-process (ManualClock, null display, real recorder) for
a shortened session; the assertions are about what a therapist would expect to see.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from engine.export.recording import SessionData, load_session
from engine.live import DRY_RUN_FRAME_RATE, RunOptions, run_simulated, with_duration
from engine.protocol import Protocol, load_protocol, seed_patients, seed_protocols
from engine.session import SessionSummary
from engine.twin_profiles import load_patient

pytestmark = pytest.mark.slow
MINUTES = {"heights-demo": 2.0, "snow-distraction": 8.0, "breathing-biofeedback": 5.0}
DEFAULT_MINUTES = 10.0


@dataclass
class Run:
    protocol: Protocol
    summary: SessionSummary
    data: SessionData


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Run]:
    out = tmp_path_factory.mktemp("matrix")
    done: dict[tuple[str, str], Run] = {}
    for proto_path in seed_protocols():
        minutes = MINUTES.get(proto_path.stem, DEFAULT_MINUTES)
        protocol = with_duration(load_protocol(proto_path), minutes * 60.0)
        for patient_path in seed_patients():
            opts = RunOptions(out=out, display="null", frame_rate=DRY_RUN_FRAME_RATE, report=False)
            result = run_simulated(protocol, opts, load_patient(str(patient_path)))
            done[(proto_path.stem, patient_path.stem)] = Run(
                protocol, result.summary, load_session(result.recording)
            )
        if protocol.controller.kind == "exposure":  # a therapist's low ceiling for this patient
            tight = protocol.model_copy(
                update={"safety": protocol.safety.model_copy(update={"max_heart_rate": 95.0})}
            )
            opts = RunOptions(out=out, display="null", frame_rate=DRY_RUN_FRAME_RATE, report=False)
            result = run_simulated(tight, opts, load_patient("high-anxiety"))
            done[(f"{proto_path.stem}@95bpm", "high-anxiety")] = Run(
                tight, result.summary, load_session(result.recording)
            )
    return done


def exposure(runs: dict[tuple[str, str], Run]) -> list[str]:
    """The seed exposure protocols (not the low-ceiling variants)."""
    return sorted(
        {
            p
            for (p, _), r in runs.items()
            if r.protocol.controller.kind == "exposure" and "@" not in p
        }
    )


def test_every_pair_finishes_with_explained_decisions(runs: dict[tuple[str, str], Run]) -> None:
    assert len(runs) >= len(seed_protocols()) * len(seed_patients()) >= 7 * 8
    for (proto, patient), run in runs.items():
        assert run.summary.state.value == "finished", (proto, patient, run.summary.reason)
        assert all(d.reason for d in run.summary.decisions), (proto, patient)
        top = max(run.protocol.controller.levels())
        intensity = run.data.intensity
        assert intensity is not None and float(np.max(intensity.values)) <= top + 1e-6


def test_slow_habituator_climbs_less_than_fast(runs: dict[tuple[str, str], Run]) -> None:
    slow = [runs[(p, "slow-habituator")].summary.max_step for p in exposure(runs)]
    fast = [runs[(p, "fast-habituator")].summary.max_step for p in exposure(runs)]
    assert all(s <= f for s, f in zip(slow, fast, strict=True)), (slow, fast)
    assert sum(slow) < sum(fast), (slow, fast)


def test_heart_rate_above_ceiling_never_rises_for_long(runs: dict[tuple[str, str], Run]) -> None:
    """Whenever measured HR is above the ceiling, intensity does not rise 1 s later."""
    checked = 0
    for (proto, patient), run in runs.items():
        feats, shown = run.data.features, run.data.intensity
        assert feats is not None and shown is not None
        hr = feats.values[:, 0]
        ceiling = run.protocol.safety.max_heart_rate
        for t in feats.timestamps[np.nan_to_num(hr) > ceiling]:
            now = np.interp(t, shown.timestamps, shown.values[:, 0])
            later = np.interp(t + 1.0, shown.timestamps, shown.values[:, 0])
            assert later <= now + 1e-6, (proto, patient, t)
            checked += 1
    assert checked > 0, "no twin ever crossed a ceiling: the check would be vacuous"
    lowered = [
        d
        for (p, _), r in runs.items()
        if "@" in p
        for d in r.summary.decisions
        if d.source == "safety" and "above ceiling" in d.reason
    ]
    assert lowered, "the low-ceiling runs must show the ceiling acting"


def test_high_anxiety_is_held_back(runs: dict[tuple[str, str], Run]) -> None:
    for proto in exposure(runs):
        anxious = runs[(proto, "high-anxiety")].summary
        relaxed = runs[(proto, "non-responder")].summary
        assert anxious.max_step <= relaxed.max_step, proto
    safety = [
        d
        for p in exposure(runs)
        for d in runs[(p, "high-anxiety")].summary.decisions
        if d.source == "safety" or "over-aroused" in d.reason
    ]
    assert safety, "the high-anxiety twin should trigger over-arousal or the ceiling"


def test_dropouts_trigger_the_signal_loss_policy(runs: dict[tuple[str, str], Run]) -> None:
    for (proto, patient), run in runs.items():
        if patient != "noisy-sensors":
            continue
        events = [m.event for m in run.data.markers]
        lost = [e for e in events if "signal lost" in str(e.get("text", ""))]
        assert lost, proto
        flagged = [e for e in events if e.get("event") == "quality" and e.get("flag") == "dropout"]
        assert flagged, proto
        if run.protocol.safety.on_signal_loss == "lower":
            lowered = [
                d
                for d in run.summary.decisions
                if d.source == "safety" and "signal lost" in d.reason
            ]
            notes = [e for e in lost if "already there" in str(e.get("text"))]
            assert lowered or notes, proto


def test_distraction_raises_engagement_for_pain(runs: dict[tuple[str, str], Run]) -> None:
    pain = runs[("snow-distraction", "chronic-pain")].summary
    calm = runs[("snow-distraction", "non-responder")].summary
    assert any(kind == "nrs" for _, kind, _ in pain.answers)
    raised = [d for d in pain.decisions if d.target > d.previous and d.source == "controller"]
    assert raised and max(d.target for d in pain.decisions) > max(d.target for d in calm.decisions)


def test_breathing_reward_grows_when_the_twin_follows_the_pacer(
    runs: dict[tuple[str, str], Run],
) -> None:
    shown = runs[("breathing-biofeedback", "typical")].data.intensity
    assert shown is not None and float(np.max(shown.values)) >= 0.5


def test_ectopic_beats_do_not_derail_heart_rate(runs: dict[tuple[str, str], Run]) -> None:
    for proto in exposure(runs):
        ectopic = runs[(proto, "ectopic-beats")].summary.max_hr
        assert ectopic is not None and ectopic < 140, proto
