"""Tests of biosignals.arousal: validated weights, robust baseline, normalised index."""

from __future__ import annotations

import pydantic
import pytest

from biosignals.arousal import ArousalModel, ArousalWeights


def test_weights_are_a_frozen_validated_model() -> None:
    w = ArousalWeights.model_validate({"heart": 0.5, "scr_rate": 0.5, "scr_window": "2min"})
    assert w.scr_window == 120.0 and w.eda == 0.3
    with pytest.raises(pydantic.ValidationError):
        setattr(w, "heart", 0.1)  # noqa: B010
    for bad in (
        {"hart": 0.5},
        {"heart": 1.5},
        {"hr_span_bpm": 0.0},
        {"heart": 0.0, "eda": 0.0, "scr_rate": 0.0},
        {"scr_window": "1s"},
    ):
        with pytest.raises(pydantic.ValidationError):
            ArousalWeights.model_validate(bad)


def _model(**weights: float) -> ArousalModel:
    m = ArousalModel(ArousalWeights(**weights))
    for hr, scl, scr in [
        (70, 4.0, 1.0),
        (72, 4.2, 2.0),
        (68, 3.8, 1.0),
        (70, 4.0, 1.0),
        (200, 40, 9),
    ]:
        m.collect(hr, scl, scr)
    return m


def test_baseline_is_median_and_iqr_robust_to_an_artefact() -> None:
    m = _model()
    assert m.index(80.0, 4.0, 1.0) is None  # before the baseline is fixed
    base = m.fix_baseline()
    assert base.hr_bpm == 70.0 and base.scl_us == 4.0 and base.scr_rate == 1.0
    assert base.hr_iqr == pytest.approx(2.0) and base.samples == 5
    m.collect(500.0, 50.0, 30.0)  # ignored once fixed
    assert m.baseline == base


def test_index_weights_spans_and_clipping() -> None:
    m = _model(
        heart=0.5, eda=0.3, scr_rate=0.2, hr_span_bpm=30, scl_span_us=3, scr_rate_span_per_min=6
    )
    m.fix_baseline()
    assert m.index(70.0, 4.0, 1.0) == 0.0
    s = m.evaluate(5.0, 85.0, 5.5, 4.0)
    assert (s.hr_part, s.scl_part, s.scr_part) == pytest.approx((0.5, 0.5, 0.5))
    assert s.index == pytest.approx(0.5) and s.valid and s.reason == ""
    assert m.index(85.0, 4.0, 1.0) == pytest.approx(0.25)
    assert m.index(200.0, 40.0, 30.0) == 1.0 and m.index(50.0, 2.0, 0.0) == 0.0
    assert m.index(85.0, None, None) == pytest.approx(0.5)  # missing inputs renormalise
    only_scr = _model(heart=0.0, eda=0.0, scr_rate=1.0)
    only_scr.fix_baseline()
    assert only_scr.index(150.0, 20.0, 4.0) == pytest.approx(0.5)


def test_invalid_inputs_give_no_index_and_say_why() -> None:
    m = _model()
    m.fix_baseline()
    s = m.evaluate(1.0, 90.0, 4.0, 1.0, valid=False, reason="heart:dropout")
    assert s.index is None and not s.valid and s.reason == "heart:dropout"
    assert s.hr_bpm == 90.0
    empty = ArousalModel()
    empty.fix_baseline()
    assert empty.evaluate(1.0, 80.0, 5.0).reason == "no weighted input has a baseline"
