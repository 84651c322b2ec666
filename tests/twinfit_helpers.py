"""Recorded courses for the twin-fit tests: short dry-runs of a known twin, in process."""

from __future__ import annotations

from pathlib import Path

from biosignals.twin_model import TwinProfile
from engine.export.recording import load_session
from engine.live import RunOptions, run_simulated
from engine.protocol import Protocol, load_protocol
from engine.twinfit.trace import SessionTrace, session_trace

SHORT_PROTOCOL = """\
protocol: twin-fit-test
scene: heights
duration: {duration}
seed: {seed}
streams: {{heart: {{type: ECG}}, eda: {{type: EDA}}}}
baseline: 1min
controller:
  kind: exposure
  tick: 1s
  arousal_window: [0.2, 0.7]
  settle_time: 40s
  habituation_drop: 0.1
  min_dwell: 20s
  step_up: {{when: settled}}
  hierarchy:
{hierarchy}
safety: {{max_heart_rate: 170, max_step_per_minute: 0.6}}
prompts: {{suds: {{every: 1min, timeout: 20s, first_after: 30s}}}}
"""
STEPS = (0.2, 0.4, 0.6, 0.8)


def short_protocol(
    folder: Path, *, duration: str = "8min", seed: int = 3, steps: tuple[float, ...] = STEPS
) -> Path:
    """A short graded-exposure protocol file (constant intensity with ``steps=(0.0,)``)."""
    hierarchy = "\n".join(f"    - {{intensity: {v}, label: step {k}}}" for k, v in enumerate(steps))
    path = folder / f"twin-fit-test-{seed}-{len(steps)}.yaml"
    path.write_text(SHORT_PROTOCOL.format(duration=duration, seed=seed, hierarchy=hierarchy))
    return path


def record_course(
    out: Path,
    truth: TwinProfile,
    sessions: int,
    *,
    participant: str = "P-0042",
    protocol: Protocol | None = None,
) -> list[Path]:
    """Dry-run ``sessions`` sessions of ``truth``'s course (plaintext recordings)."""
    base = protocol or load_protocol(short_protocol(out))
    paths = []
    for s in range(sessions):
        p = base.model_copy(update={"seed": base.seed + 11 * s})
        opts = RunOptions(
            out=out, participant=participant, display="null", frame_rate=2.0, report=False
        )
        result = run_simulated(p, opts, truth.model_copy(update={"session": s}))
        paths.append(result.recording)
    return paths


def traces(paths: list[Path]) -> list[SessionTrace]:
    """The fit's view of each recording."""
    return [session_trace(load_session(p)) for p in paths]
