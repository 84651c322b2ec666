"""``validate`` exit 0 means the protocol runs: the session's own checks are in the model.

Each check that used to pass validation and then fail in the session has a test here; a
fuzz test then builds protocols from the seed protocols with values inside, on and just
outside their ranges and asserts that every protocol that loads also finishes a
2-minute dry-run against the ``typical`` twin (counts printed; more examples with
``VRTHERAPY_FUZZ_EXAMPLES``).
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from protocol_fuzz import fuzz_settings, protocol_dicts
from test_config_fuzz import assert_clean

from engine.errors import ProtocolError
from engine.live import DRY_RUN_FRAME_RATE, RunOptions, run_simulated, with_duration
from engine.privacy.errors import ConsentError
from engine.protocol import Protocol, load_protocol, resolve_seed
from engine.session import SessionState
from engine.twin_profiles import load_patient

DEMO = resolve_seed("protocols", "heights-demo").read_text(encoding="utf-8")
ACCEPTED: dict[str, tuple[type[Exception], str]] = {
    # The ceiling is checked against the patient's resting heart rate: a twin (or a
    # person) resting above it cannot be exposed safely. Patient-dependent, so validate
    # cannot know it; the dry-run refuses it in one sentence before anything starts.
    "patient rests above the ceiling": (ProtocolError, "is not above patient"),
    # The twin publishes ECG and EDA only (roles heart, eda). A protocol whose consent
    # covers only ppg/hr/resp is valid for a live session with such devices, but the
    # dry-run has nothing it may record: refused in one sentence before anything starts.
    "consent excludes the twin's streams": (ConsentError, "consent covers none"),
}
"""The only errors a validated protocol may get from a dry-run, and why validate cannot
know them."""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "protocol.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ProtocolError) as info:
        load_protocol(path)
    message = str(info.value)
    assert_clean(path, message)
    return message


def test_negative_seed_is_refused_at_validation(tmp_path: Path) -> None:
    msg = error_of(tmp_path, DEMO.replace("seed: 7 ", "seed: -1.0e+12 "))
    assert ":10: seed: must be at least 0, got -1000000000000.0" in msg
    msg = error_of(tmp_path, DEMO.replace("seed: 7 ", "seed: -1 "))
    assert ":10: seed: must be at least 0, got -1" in msg
    assert load_protocol(write(tmp_path, DEMO.replace("seed: 7 ", "seed: 0 "))).seed == 0


@pytest.mark.parametrize("baseline", ["0s", "2s", "9.9s"])
def test_baseline_shorter_than_the_arousal_model_needs_is_refused(
    tmp_path: Path, baseline: str
) -> None:
    msg = error_of(tmp_path, DEMO.replace("baseline: 20s ", f"baseline: {baseline} "))
    assert ":17: baseline: " in msg and "too short" in msg and "at least 10 s" in msg


def test_baseline_must_span_three_controller_ticks(tmp_path: Path) -> None:
    text = DEMO.replace("  tick: 1s ", "  tick: 10s ")
    msg = error_of(tmp_path, text)
    assert ":17: baseline: baseline (20 s) must span at least 3 controller ticks of 10 s" in msg
    assert load_protocol(write(tmp_path, text.replace("baseline: 20s", "baseline: 30s")))


def test_consent_must_cover_a_protocol_stream(tmp_path: Path) -> None:
    block = "consent: {streams: STREAMS, purpose: treatment, retention_days: 30}\n"
    msg = error_of(tmp_path, DEMO + block.replace("STREAMS", "[]"))
    assert ":38: consent.streams: consent covers none of the protocol's streams" in msg
    msg = error_of(tmp_path, DEMO + block.replace("STREAMS", "[ppg]"))
    assert "(heart, eda); consented: ppg" in msg
    assert load_protocol(write(tmp_path, DEMO + block.replace("STREAMS", "[eda]")))


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("  tick: 1s ", "  tick: 4.9e-324 ", ":21: controller.tick: must be at least 0.1 s"),
        ("  step_up: {when: settled}", "  step_up: {by: 1e-9}", ":26: controller.step_up.by"),
        (
            "safety:",
            "prompts: {suds: {every: 1.0e-323, timeout: 5.0e-324}}\nsafety:",
            ":34: prompts.suds.timeout: must be at least 1 s",
        ),
        ("  tick: 1s ", "  start_step: 5\n  tick: 1s ", ":21: controller.start_step: start_step 5"),
    ],
)
def test_values_the_session_cannot_run_are_refused(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    text = DEMO.replace(old, new)
    if "step_up" in new:  # without a hierarchy the step size makes the levels
        text = text[: text.index("  hierarchy:")] + text[text.index("\nsafety:") :]
    assert expected in error_of(tmp_path, text)


def simulate_briefly(protocol: Protocol, out: Path) -> SessionState:
    """A dry-run of about 2 minutes (longer only when the baseline is): as ``simulate``."""
    duration = min(4 * 3600.0, max(120.0, protocol.baseline + 30.0))
    opts = RunOptions(
        out=out,
        display="null",
        frame_rate=DRY_RUN_FRAME_RATE,
        report=False,
        consent=protocol.consent,
    )
    result = run_simulated(with_duration(protocol, duration), opts, TYPICAL)
    return result.summary.state


TYPICAL = load_patient("typical")


@pytest.mark.parametrize(
    ("old", "new", "accepted"),
    [
        ("max_heart_rate: 150 ", "max_heart_rate: 65 ", "patient rests above the ceiling"),
        (
            "  eda: {type: EDA}",
            "  ppg: {type: PPG}\nconsent: {streams: [ppg], purpose: t, retention_days: 9}",
            "consent excludes the twin's streams",
        ),
    ],
)
def test_the_accepted_dry_run_refusals_happen_and_are_one_sentence(
    tmp_path: Path, old: str, new: str, accepted: str
) -> None:
    protocol = load_protocol(write(tmp_path, DEMO.replace(old, new)))  # valid
    with pytest.raises(ACCEPTED[accepted][0]) as info:
        simulate_briefly(protocol, tmp_path / "sessions")
    assert _accepted(info.value) == accepted and len(str(info.value).splitlines()) == 1
    assert not (tmp_path / "sessions").exists() or not any((tmp_path / "sessions").iterdir())


def _accepted(exc: Exception) -> str | None:
    for name, (kind, text) in ACCEPTED.items():
        if isinstance(exc, kind) and text in str(exc):
            return name
    return None


def check_runs(tmp_path: Path, data: dict[str, Any], counts: Counter[str]) -> None:
    """Validate ``data`` as a file; if it loads, a dry-run must finish."""
    path = write(tmp_path, yaml.safe_dump(data, allow_unicode=True))
    counts["inputs"] += 1
    try:
        protocol = load_protocol(path)
    except ProtocolError as exc:
        assert_clean(path, str(exc))
        counts["clean rejections"] += 1
        return
    out = tmp_path / "sessions"
    try:
        state = simulate_briefly(protocol, out)
    except (ProtocolError, ConsentError) as exc:
        name = _accepted(exc)
        if name is None:
            raise
        counts[f"accepted: {name}"] += 1
    else:
        counts[f"ran: {state.value}"] += 1
    finally:
        shutil.rmtree(out, ignore_errors=True)


@pytest.mark.slow
def test_validated_protocols_finish_a_dry_run(tmp_path: Path, capsys: Any) -> None:
    counts: Counter[str] = Counter()

    @fuzz_settings(150)
    @given(protocol_dicts())
    def run(data: dict[str, Any]) -> None:
        check_runs(tmp_path, data, counts)

    run()
    ran = sum(v for k, v in counts.items() if k.startswith("ran"))
    assert ran >= 1 and counts["clean rejections"] >= 1
    with capsys.disabled():
        figures = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        print(f"\nvalidate-then-simulate: {figures}, tracebacks 0, validate-ok-then-crash 0")
