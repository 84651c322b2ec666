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

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from twinfit_helpers import record_course, short_protocol, traces

from biosignals.eda import SCR_DROP_BEFORE_ARTIFACT
from biosignals.twin_mean import IntensityCourse
from biosignals.twin_model import TwinPhysiology, TwinProfile
from engine.export.recording import SessionData, load_session
from engine.live import RunOptions, run_simulated
from engine.protocol import load_protocol
from engine.twin_profiles import load_patient
from engine.twinfit.forecast import LOSS_REASON, RunSpec, forecast_one
from engine.twinfit.params import GLOBAL_PARAMS, population_default
from engine.twinfit.problem import FitProblem, live_share
from engine.twinfit.samples import TwinUncertainty, load_uncertainty
from engine.twinfit.sensors import estimate_sensors, sensor_counts

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


def test_the_scr_rate_is_predicted_from_the_edas_live_time(noisy_course: list[Path]) -> None:
    """The EDA extractor drops the SCR onsets round a motion artefact and sees none in a
    dropout: each recording's dead spans cover those, and the fit predicts the SCR count
    from the live time only. With the truth's values the recorded count lies nearer the
    prediction from the live time than from the whole session (a session holds only ~20
    SCRs, so the counts themselves scatter by about 20 %; the benchmark's noisy courses
    show the bias this removes: scr_rate_rest fitted 25-35 % low)."""
    course = traces(noisy_course)
    for t, path in zip(course, noisy_course, strict=True):
        spans = np.asarray(t.sensors.eda_dead)
        assert spans.size and np.all(spans[:, 1] > spans[:, 0])
        assert np.all(spans[1:, 0] > spans[:-1, 1]) and 0.0 <= spans[0, 0] <= spans[-1, 1]
        data = load_session(path)  # on the session clock: flags as recorded
        clock = np.asarray(sensor_counts(data, 0.0, data.t_end).eda_dead)
        flags = _eda_flags(data)
        assert flags
        for start, end in flags:
            assert np.any((clock[:, 0] <= start + 1e-9) & (clock[:, 1] >= end - 1e-9))
    free = tuple(p.name for p in GLOBAL_PARAMS)
    problem = FitProblem.build(course, free, {}, eda=True)
    truth = TwinProfile.model_validate(NOISY)
    shared = {name: population_default(name) for name in free}
    shared["scr_rate_gain"] = truth.scr_rate_max - truth.scr_rate_rest
    x = problem.pack(shared, np.full(3, truth.resting_hr), np.full(3, truth.resting_scl))
    observed = float(np.concatenate([obs.y["scr"] for obs in problem.data]).mean())

    def predicted(p: FitProblem) -> float:
        return float(np.concatenate([pred["scr"] for pred in p.predict(x)]).mean())

    whole = predicted(dataclasses.replace(problem, scr_live=None))
    assert abs(predicted(problem) - observed) < 0.5 * abs(whole - observed)


def _eda_flags(data: SessionData) -> list[tuple[float, float]]:
    """Where the recording's closed EDA artefact flags (from 1 s before) and EDA dropouts
    hid SCRs, on the session clock."""
    out = []
    for m in data.events("quality"):
        role, flag, end = m.event.get("role"), m.event.get("flag"), m.event.get("end")
        if role == "eda" and flag in ("artifact", "dropout") and end is not None:
            before = SCR_DROP_BEFORE_ARTIFACT if flag == "artifact" else 0.0
            out.append((float(m.event["start"]) - before, float(end)))
    return out


def test_the_live_share_of_each_grid_step() -> None:
    course = IntensityCourse.from_samples(np.zeros(1), np.zeros(1), 3.0, dt=0.5)
    share = live_share(course, ((0.25, 1.0), (2.4, 2.6)))
    assert share == pytest.approx([0.5, 0.0, 1.0, 1.0, 0.8, 0.8])
    assert live_share(course, ()) is None


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
    # the forecast draws each run's fault rates from the counts behind them
    counts = load_uncertainty(out).sensor_counts
    assert counts["dropout_rate_per_hour"] == (sidecar["dropouts"], sidecar["stream_hours"])
    assert counts["artifact_rate_per_hour"] == (sidecar["artifacts"], sidecar["live_hours"])
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


def test_forecast_twins_draw_their_fault_rates_from_the_counts() -> None:
    # 26 dropouts in 1.67 stream-hours (five 10-min sessions, heart + EDA): 15.6 per hour,
    # known to +-20 % (1 / sqrt(26)); no artefact counted: its rate stays 0
    profile = TwinProfile(**{**NOISY, "dropout_rate_per_hour": 15.6, "artifact_rate_per_hour": 0.0})
    unc = TwinUncertainty(
        sensor_counts={"dropout_rate_per_hour": (26.0, 1.6667), "artifact_rate_per_hour": (0, 1.5)}
    )
    rng = np.random.default_rng(5)
    twins = [unc.draw(profile, k, rng) for k in range(2000)]
    rates = np.asarray([t.dropout_rate_per_hour for t in twins])
    assert float(np.mean(rates)) == pytest.approx(15.6, rel=0.03)  # the estimate, unbiased
    assert float(np.std(rates)) == pytest.approx(15.6 / np.sqrt(26.0), rel=0.1)
    assert {t.artifact_rate_per_hour for t in twins} == {0.0}
    assert {t.dropout_duration for t in twins} == {6.0}
    assert "dropouts from 26 in 1.67 h" in unc.describe()
    # a clean course (no event counted) and a profile without counts keep their rates
    clean = TwinUncertainty(sensor_counts={"dropout_rate_per_hour": (0.0, 1.0)})
    assert clean.draw(TwinProfile(), 0, rng).dropout_rate_per_hour == 0.0
    assert TwinUncertainty().draw(profile, 0, rng) == profile


def test_a_forecast_sees_the_short_heart_dropouts_its_session_saw(tmp_path: Path) -> None:
    # dropouts of 1.5 s: the ECG's monitor flags them after 0.4 s without a sample, a beats
    # stream's only after 3 s without a beat. The same twin and seed give the same
    # dropouts in the recorded session and in its forecast run: the forecast must lower
    # the intensity for them as the session did and climb as high. Measured on these 10
    # seeds: the session lowered 23 times; the forecast 25 times with its steps equal in 9
    # (it runs at 1 frame/s, the session at 2); before the beats feed marked the heart
    # dropouts, 16 times with 4 runs climbing one step higher than their session.
    truth = TwinProfile(dropout_rate_per_hour=60.0, dropout_duration=1.5)
    protocol = load_protocol(short_protocol(tmp_path, duration="6min", seed=3))
    recorded, forecast, same_step = 0, 0, 0
    for seed in range(3, 13):
        p = protocol.model_copy(update={"seed": seed})
        opts = RunOptions(out=tmp_path, display="null", frame_rate=2.0, report=False)
        summary = run_simulated(p, opts, truth).summary
        recorded += sum(d.reason.startswith(LOSS_REASON) for d in summary.decisions)
        run = forecast_one(RunSpec(protocol, truth, seed))
        forecast += run.signal_losses
        same_step += run.max_step == summary.max_step + 1
    assert recorded >= 10
    assert abs(forecast - recorded) <= 0.15 * recorded, (forecast, recorded)
    assert same_step >= 8
