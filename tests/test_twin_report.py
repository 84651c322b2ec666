"""The patient twin in the session report, and the course view the review will show."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from twinfit_helpers import record_course, short_protocol, traces

from biosignals.twin_model import TwinProfile
from engine.export.recording import load_session
from engine.protocol import load_protocol
from engine.report import build_report
from engine.report.model import build_model
from engine.report.twin_overlay import add_twin, twin_overlay
from engine.twinfit.course import course_twin, next_session_forecast
from engine.twinfit.fit import fit_twin
from engine.twinfit.output import SIDECAR_FORMAT, write_fit
from engine.twinfit.trace import TwinFitError

TRUTH = TwinProfile(reactivity=1.3, habituation_floor=0.4, between_session_rate=0.2,
                    resting_hr_shifts=(0.0, 5.0))  # fmt: skip


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], Path]:
    folder = tmp_path_factory.mktemp("report")
    course = record_course(
        folder, TRUTH, 2, protocol=load_protocol(short_protocol(folder, duration="5min"))
    )
    profile, _ = write_fit(fit_twin(traces(course), bootstrap=4), folder / "p.yaml", "fitted-P")
    return course, profile


def test_the_report_draws_the_fit_over_the_session(fitted: tuple[list[Path], Path]) -> None:
    course, profile = fitted
    overlay = twin_overlay(str(profile), course[1])
    assert overlay.fitted and overlay.session == 1  # found in the sidecar: that day's twin
    data = load_session(course[1])
    model = build_model(data, {})
    summary = add_twin(model.series, data, overlay)
    assert not isinstance(summary, str)
    assert summary.hr_rmse is not None and summary.hr_rmse < 3.0
    assert summary.hr_r2 is not None and summary.hr_r2 > 0.8
    t, hr = model.series["twin_t"], model.series["twin_hr"]
    feat = np.interp(t, model.series["feat_t"], model.series["feat_hr"])
    assert np.nanmean(np.abs(hr - feat)) < 2.5  # on the report's own time axis
    html = build_report(course[1], profile.parent / "r.html", twin=overlay).read_text()
    assert 'id="twin"' in html and "twin fitted-P (fit, session 2)" in html and "RMSE" in html


def test_a_session_outside_the_fit_is_a_prediction(
    fitted: tuple[list[Path], Path], tmp_path: Path
) -> None:
    _, profile = fitted
    flat = load_protocol(short_protocol(tmp_path, duration="3min"))
    later = record_course(tmp_path, TRUTH.model_copy(update={"session": 2}), 1, protocol=flat)[0]
    overlay = twin_overlay(str(profile), later)
    assert not overlay.fitted and overlay.session == 2  # the twin plays its next session
    html = build_report(later, tmp_path / "r.html", twin=overlay).read_text()
    assert "a prediction: the twin was not fitted to this session" in html


def test_the_course_view_has_each_session_and_the_next(fitted: tuple[list[Path], Path]) -> None:
    _, profile = fitted
    view = course_twin(profile)
    assert view.participant == "P-0042" and view.next_session == 2
    assert [s.index for s in view.sessions] == [0, 1]
    first, second = view.sessions
    assert second.resting_hr - first.resting_hr == pytest.approx(5.0, abs=1.5)
    assert second.reactivity < first.reactivity  # learning between sessions
    assert first.reactivity_low is not None and first.reactivity_low <= first.reactivity
    with pytest.raises(TwinFitError, match="no readable twin-fit sidecar"):
        course_twin(profile.with_name("missing.yaml"))


def test_the_course_page_gets_the_next_sessions_forecast(
    fitted: tuple[list[Path], Path], tmp_path: Path
) -> None:
    _, profile = fitted
    protocol = load_protocol(short_protocol(tmp_path, duration="3min"))
    forecast = next_session_forecast(profile, protocol, 2, jobs=1)
    assert forecast.protocol == "twin-fit-test" and forecast.runs == 2
    assert forecast.steps_total == 4 and 1 <= forecast.highest_median[1] <= 4
    assert forecast.hr_median.size == forecast.grid.size and np.isfinite(forecast.hr_median).any()
    rest = forecast.hr_median[forecast.grid < forecast.baseline]
    assert np.nanmedian(rest) == pytest.approx(TRUTH.in_session(2).resting_hr, abs=5.0)


def test_a_sidecar_without_its_fields_is_one_error(tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text("name: p\n")
    profile.with_name("p.fit.json").write_text(json.dumps({"format": SIDECAR_FORMAT}))
    with pytest.raises(TwinFitError, match="without the expected fields"):
        course_twin(profile)
