"""`vrtherapy twin fit` estimates the sensors' faults from the recordings' quality flags.

Real dry-runs of a twin with the noisy-sensors faults (and of a clean one); the estimates
come from the quality flags and raw samples the sessions recorded. Tolerances: the
dropout and artefact rates within 35 % of the truth (a course of 3 x 10 min holds about
20 dropouts and 20 flagged artefacts, Poisson: +-22 % is one standard deviation; counted
per session hour, without the dead-time correction, the artefact rate came out at 38/h
for a truth of 60), the dropout duration and the noise within 10 %, the EDA artefacts'
size within 15 % (0.83 µS for 0.8 on this course).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from twinfit_helpers import record_course, short_protocol, traces

from biosignals.twin_model import TwinPhysiology, TwinProfile
from engine.protocol import load_protocol
from engine.twin_profiles import load_patient
from engine.twinfit.sensors import estimate_sensors

NOISY = dict(ecg_noise_mv=0.1, eda_noise_us=0.03, dropout_rate_per_hour=20.0,
             dropout_duration=6.0, artifact_rate_per_hour=60.0, artifact_mv=1.5,
             artifact_us=0.8)  # fmt: skip


@pytest.fixture(scope="module")
def noisy_course(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three 10-minute sessions of a twin recorded with the noisy-sensors faults."""
    out = tmp_path_factory.mktemp("noisy")
    protocol = load_protocol(short_protocol(out, duration="10min", seed=3))
    return record_course(out, TwinProfile.model_validate(NOISY), 3, protocol=protocol)


def test_a_noisy_sensor_course_gives_its_fault_rates(noisy_course: list[Path]) -> None:
    s = estimate_sensors([t.sensors for t in traces(noisy_course)])
    assert s.stream_hours == pytest.approx(1.0) and s.session_hours == pytest.approx(0.5)
    assert s.dropout_rate_per_hour == pytest.approx(20.0, rel=0.35)
    assert s.dropout_duration == pytest.approx(6.0, rel=0.1)
    assert s.artifact_rate_per_hour == pytest.approx(60.0, rel=0.35)
    assert s.live_hours < s.session_hours  # open flags and dropouts are dead time
    assert s.ecg_noise_mv == pytest.approx(0.1, rel=0.1)
    assert s.eda_noise_us == pytest.approx(0.03, rel=0.1)
    assert s.artifact_us == pytest.approx(0.8, rel=0.15)


@pytest.mark.parametrize("beats", ["sinus", "ectopic"])
def test_a_clean_course_gives_zero_rates_and_todays_profile(tmp_path: Path, beats: str) -> None:
    # ectopic beats raise the ECG's artifact flag (17-25/h at 4 PVCs/min): not movement
    truth = TwinProfile(ectopic_rate_per_min=4.0 if beats == "ectopic" else 0.0)
    protocol = load_protocol(short_protocol(tmp_path, duration="6min", seed=4))
    course = traces(record_course(tmp_path, truth, 2, protocol=protocol))
    s = estimate_sensors([t.sensors for t in course])
    assert s.dropouts == 0 and s.artifacts == 0
    fields = s.profile_fields()
    assert fields["dropout_rate_per_hour"] == 0.0 and fields["artifact_rate_per_hour"] == 0.0
    default = TwinProfile()
    assert fields == {k: getattr(default, k) for k in fields}


def test_the_fitted_yaml_carries_the_faults_and_loads_with_patient(
    noisy_course: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "twins" / "noisy.yaml"
    r = run_cli("twin", "fit", *map(str, noisy_course), "-o", str(out), "--bootstrap", "2")
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert "# Sensors: estimates from the recordings' quality flags" in text
    fitted = load_patient(str(out))
    sidecar = json.loads(out.with_name("noisy.fit.json").read_text())["sensors"]
    for name in ("dropout_rate_per_hour", "dropout_duration", "artifact_rate_per_hour",
                 "artifact_us", "ecg_noise_mv", "eda_noise_us"):  # fmt: skip
        assert getattr(fitted, name) == pytest.approx(sidecar[name]), name
    assert fitted.dropout_rate_per_hour == pytest.approx(20.0, rel=0.35)
    assert fitted.artifact_rate_per_hour > 0 and fitted.ecg_noise_mv > 0.05
    protocol = short_protocol(tmp_path, duration="3min")
    r = run_cli("simulate", str(protocol), "--patient", str(out), "--out", str(tmp_path / "s"),
                "--no-report", "--no-encryption")  # fmt: skip
    assert r.returncode == 0, r.stderr


def test_the_forecast_twin_loses_its_beats_in_heart_dropouts() -> None:
    profile = TwinProfile(dropout_rate_per_hour=120.0, dropout_duration=10.0)
    twin = TwinPhysiology(profile, start_time=0.0, seed=2, eda_rate=32.0, ecg=False)
    beats = np.concatenate([twin.advance(t).beat_times for t in np.arange(1.0, 601.0)])
    kept = beats[twin.heart_present(beats)]
    assert 0 < kept.size < beats.size  # ~20 dropouts of 10 s in 10 min
    assert float(np.max(np.diff(kept))) >= 9.0  # a 10 s hole without beats
    clean = TwinPhysiology(TwinProfile(), start_time=0.0, seed=2, eda_rate=32.0, ecg=False)
    beats = clean.advance(600.0).beat_times
    assert bool(clean.heart_present(beats).all())
