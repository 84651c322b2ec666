"""Pure tests: unit conversion, unit parsing errors, clock helpers, dejitter, gap bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from biosignals.conversion import (
    Dejitter,
    SignalSettings,
    TimestampMapper,
    convert,
    looks_like_unix,
    parse_unit,
    plan_conversion,
    unix_to_lsl_offset,
)
from biosignals.errors import StreamError
from biosignals.reconnect import Gap, GapTracker, StreamStatus, check_transition, gap_threshold
from biosignals.streams import FakeInlet, StreamMeta

S = SignalSettings


@pytest.mark.parametrize(
    ("role", "settings", "declared", "values", "expected"),
    [
        ("mV", S(), "microvolts", [1000.0, -250.0], [1.0, -0.25]),
        ("mV", S(), "\u00b5V", [500.0], [0.5]),
        ("mV", S(), "\u03bcV", [500.0], [0.5]),
        ("mV", S(), "millivolts", [1.5], [1.5]),
        ("mV", S(), "V", [0.002], [2.0]),
        ("mV", S(), "", [1.5], [1.5]),  # nothing declared: already the role's unit
        ("mV", S(unit="uV"), "millivolts", [1000.0], [1.0]),  # mislabelled, overridden
        ("uS", S(), "microsiemens", [4.2], [4.2]),
        ("uS", S(), "nS", [5000.0], [5.0]),
        ("uS", S(), "S", [2e-6], [2.0]),
        ("uS", S(), "kOhm", [100.0, 500.0], [10.0, 2.0]),
        ("uS", S(), "k\u03a9", [250.0], [4.0]),
        ("uS", S(), "ohms", [1e5], [10.0]),
        ("uS", S(unit="MOhm"), "", [0.5], [2.0]),
        ("uS", S(unit="counts", scale=0.5, offset=10.0), "raw", [30.0], [10.0]),
        ("mV", S(unit="uV", scale=2.0, offset=1.0), "", [501.0], [1.0]),
        ("bpm", S(content="hr_bpm"), "", [72.0], [72.0]),
        ("mV", S(content="rr_ms"), "", [1000.0, 750.0], [60.0, 80.0]),  # content wins
        ("bpm", S(content="rr_s"), "s", [0.5], [120.0]),
        ("", S(scale=2.0), "mmHg", [3.0], [6.0]),  # unitless role ignores the label
    ],
)
def test_convert_to_role_unit(
    role: str, settings: SignalSettings, declared: str, values: list[float], expected: list[float]
) -> None:
    out = convert(np.array(values), role, settings, declared)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert out.dtype == np.float64


def test_bitalino_counts_formulas() -> None:
    adc = np.array([0, 512, 1023], dtype=np.int32)
    ecg = S(unit="counts", scale=3.3 / (1100 * 1024) * 1000, offset=512)
    expected_ecg = (adc / 1024 - 0.5) * 3.3 / 1100 * 1000
    np.testing.assert_allclose(convert(adc, "mV", ecg, "counts"), expected_ecg, rtol=1e-12)
    eda = S(unit="counts", scale=3.3 / (1024 * 0.132))
    np.testing.assert_allclose(convert(adc, "uS", eda, ""), adc / 1024 * 3.3 / 0.132)


def test_non_positive_resistance_and_rr_are_nan() -> None:
    out = convert(np.array([0.0, -5.0, np.nan, np.inf, 200.0]), "uS", S(unit="kOhm"), "")
    np.testing.assert_array_equal(np.isnan(out), [True, True, True, True, False])
    assert out[4] == 5.0
    rr = convert(np.array([0.0, 800.0]), "bpm", S(content="rr_ms"), "")
    assert np.isnan(rr[0]) and rr[1] == 75.0


def test_unknown_unit_names_stream_unit_and_setting() -> None:
    with pytest.raises(StreamError, match=r"'eda-x'.*'furlongs'.*accepted: .*signal\.unit"):
        parse_unit("furlongs", stream="eda-x")
    with pytest.raises(StreamError, match=r"'s1'.*'mmHg'"):
        plan_conversion("mV", S(), "mmHg", stream="s1")
    assert parse_unit("  ") is None
    assert parse_unit("MICROVOLTS") == "uV"  # spelled-out words are case-insensitive
    with pytest.raises(StreamError):
        parse_unit("MS")  # but symbols are not: mS is not ms


def test_incompatible_units_say_how_to_override() -> None:
    with pytest.raises(StreamError, match=r"'ecg1'.*'uS' cannot be converted to 'mV'.*unit"):
        plan_conversion("mV", S(), "microsiemens", stream="ecg1")
    with pytest.raises(StreamError, match="'kOhm' cannot be converted to 'mV'"):
        plan_conversion("mV", S(unit="kOhm"), "")
    with pytest.raises(StreamError, match="not a role unit"):
        plan_conversion("furlong", S(), "")
    assert plan_conversion("uS", S(), "kOhm").describe() == "kOhm -> uS"


def test_settings_are_frozen_strict_and_validated() -> None:
    settings = S(unit="kOhm")
    with pytest.raises(ValidationError):
        settings.unit = "uS"
    with pytest.raises(ValidationError, match="extra"):
        S(units="uS")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        S(unit="furlong")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="scale must not be 0"):
        S(scale=0.0)
    with pytest.raises(ValidationError, match="finite"):
        S(offset=float("nan"))
    assert S.model_validate({"unit": "uV", "clock": "unix"}).clock == "unix"


def test_unix_clock_helpers() -> None:
    assert unix_to_lsl_offset(lambda: 100.0, lambda: 1.7e9) == 100.0 - 1.7e9
    stamps = np.array([1.7e9 + 1, 1.7e9 + 2])
    assert looks_like_unix(stamps, lsl_now=5000.0, unix_now=1.7e9 + 3)
    assert not looks_like_unix(np.array([4999.0]), lsl_now=5000.0, unix_now=1.7e9)
    assert not looks_like_unix(np.zeros(0), 1.0, 1.7e9)
    for clock in ("unix", "auto"):
        mapper = TimestampMapper(S(clock=clock), 100.0, 0.5, lambda: 10.0, wall_clock=lambda: 1.7e9)
        assert mapper.apply(np.array([1.7e9 - 2.0]), lambda: 99.0).tolist() == [8.0]
        assert mapper.unix is True
    lsl = TimestampMapper(S(clock="auto"), 100.0, 0.5, lambda: 10.0, wall_clock=lambda: 1.7e9)
    assert lsl.apply(np.array([8.0]), lambda: 0.25).tolist() == [8.25]  # + liblsl offset
    assert lsl.unix is False
    with pytest.raises(StreamError, match="irregular"):
        TimestampMapper(S(dejitter=True), 0.0, 3.0, lambda: 0.0, stream="hr")


def bunched(rate: float, n: int, per_packet: int, t0: float = 50.0) -> tuple[np.ndarray, ...]:
    true = t0 + np.arange(n) / rate
    last = (np.arange(n) // per_packet + 1) * per_packet - 1
    return true, true[np.minimum(last, n - 1)]


def test_dejitter_spreads_bunched_stamps_to_nominal_spacing() -> None:
    true, raw = bunched(100.0, 3000, 10)
    out = Dejitter(100.0).apply(raw)
    assert np.all(np.diff(out) > 0.004)  # increasing from the start (running-mean warm-up)
    np.testing.assert_allclose(np.diff(out[200:]), 0.01, atol=0.0005)
    err = out - true
    assert np.all(err > -0.01) and np.all(err < 0.1)  # packet stamps are late by <= 0.09
    assert abs(np.mean(err[-500:]) - 0.045) < 0.005  # settles at the mean packet delay


def test_dejitter_chunking_and_gaps() -> None:
    _, raw = bunched(100.0, 2000, 10)
    raw = raw.copy()
    raw[1000:] += 2.0  # a 2 s gap
    whole = Dejitter(100.0).apply(raw)
    step = Dejitter(100.0)
    parts = [step.apply(raw[i : i + 7]) for i in range(0, 2000, 7)]
    np.testing.assert_allclose(np.concatenate(parts), whole, rtol=0, atol=1e-9)
    assert 1.9 < whole[1000] - whole[999] < 2.1  # the gap is kept
    np.testing.assert_allclose(np.diff(whole[1300:]), 0.01, atol=0.0005)


def test_polar_sized_packets_dejittered_without_false_gaps() -> None:
    """PolarBand2lsl: 73 samples at 130 Hz share one stamp (0.56 s packets, longer than
    the 0.5 s gap threshold): raw stamps would look like a gap per packet."""
    true, raw = bunched(130.0, 130 * 60, 73)
    jitter = np.random.default_rng(1).normal(0, 0.02, raw.size // 73 + 1).repeat(73)
    raw = np.maximum.accumulate(raw + jitter[: raw.size])  # packet arrival jitter
    threshold = gap_threshold(130.0)
    assert GapTracker(threshold, 0.0).observe(raw, 0.0)  # raw: a "gap" per packet
    out = Dejitter(130.0, reset_after=threshold).apply(raw)
    assert GapTracker(threshold, 0.0).observe(out, 0.0) == []
    np.testing.assert_allclose(np.diff(out[1300:]), 1 / 130, rtol=0.05)
    assert np.all(np.abs(out - true)[1300:] < 0.56)


def test_gap_tracker_and_threshold() -> None:
    assert gap_threshold(500.0) == 0.5 and gap_threshold(4.0) == 1.25
    assert gap_threshold(0.0) == 3.0
    tracker = GapTracker(0.5, now=0.0)
    assert tracker.observe(np.array([1.0, 1.1, 1.2]), now=1.2) == []
    gaps = tracker.observe(np.array([2.0, 2.1, 3.0]), now=3.0)
    assert gaps == [Gap(1.2, 2.0), Gap(2.1, 3.0)]
    assert gaps[0].duration == pytest.approx(0.8)
    assert tracker.silent_for(4.0) == 1.0
    assert tracker.observe(np.array([3.1]), 3.1, reopened=True) == [Gap(3.0, 3.1, True)]


def test_status_transitions_are_checked() -> None:
    c, s, r, x = (StreamStatus.CONNECTED, StreamStatus.STALE, StreamStatus.RESOLVING,
                  StreamStatus.CLOSED)  # fmt: skip
    assert check_transition(c, s, "a") is s and check_transition(s, r, "a") is r
    assert check_transition(r, c, "a") is c and check_transition(r, x, "a") is x
    with pytest.raises(StreamError, match=r"'a'.*resolving -> stale"):
        check_transition(r, s, "a")
    with pytest.raises(StreamError, match="closed -> connected"):
        check_transition(x, c, "a")


def test_fake_inlet_converts_and_reports_gaps() -> None:
    meta = StreamMeta("gsr", "EDA", "f", 2, 10.0, "float32", ("x", "GSR"), ("", "kOhm"))
    inlet = FakeInlet(meta, channel="GSR", settings=S(), role_unit="uS")
    inlet.push([[0, 100.0], [0, 200.0], [0, 0.0]], [1.0, 1.1, 3.0])
    values, _ = inlet.pull()
    np.testing.assert_array_equal(values[:2], [10.0, 5.0])
    assert np.isnan(values[2])
    assert inlet.drain_gaps() == [Gap(1.1, 3.0)] and inlet.drain_gaps() == []
    assert inlet.status is StreamStatus.CONNECTED
    inlet.close()
    assert inlet.status is StreamStatus.CLOSED
