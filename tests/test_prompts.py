"""SUDS / pain NRS prompts: schedule, on demand, key and external answers, timeouts (pure)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from therapies.prompts import (
    PromptConfig,
    PromptError,
    PromptEvent,
    PromptScheduler,
    PromptsConfig,
)


def _suds(**kwargs: object) -> PromptScheduler:
    return PromptScheduler(PromptsConfig(suds=PromptConfig.model_validate(kwargs)))


def _kinds(events: list[PromptEvent]) -> list[tuple[str, str]]:
    return [(e.kind, e.event) for e in events]


def test_config_parses_durations_and_rejects_unknown_fields_and_taken_keys() -> None:
    config = PromptsConfig.model_validate(
        {"suds": {"every": "2min", "first_after": "30s"}, "nrs": {"timeout": "1min"}}
    )
    assert config.suds is not None and config.suds.every == 120.0
    assert config.suds.first_after == 30.0 and config.suds.timeout == 20.0
    assert config.nrs is not None and config.nrs.every is None and config.nrs.timeout == 60.0
    with pytest.raises(ValidationError, match="often"):
        PromptsConfig.model_validate({"suds": {"often": "2min"}})
    with pytest.raises(ValidationError, match="taken"):
        PromptsConfig(on_demand_key="up")
    with pytest.raises(ValidationError, match="taken"):
        PromptsConfig(on_demand_key="5")
    with pytest.raises(ValidationError, match="longer than timeout"):
        PromptConfig.model_validate({"every": "15s"})
    with pytest.raises(ValidationError, match="first_after needs every"):
        PromptConfig.model_validate({"first_after": "1min"})


def test_schedule_every_two_minutes_after_first_after() -> None:
    prompts = _suds(every="2min", first_after="30s", timeout="20s")
    prompts.start(100.0)
    assert prompts.update(129.9) == [] and prompts.open is None
    events = prompts.update(130.0)
    assert events == [PromptEvent(130.0, "suds", "asked", source="schedule")]
    assert prompts.open is not None and prompts.open.deadline == 150.0
    prompts.update(140.0, ("3", "0", "return"))
    assert prompts.open is None
    assert prompts.update(249.9) == []
    assert _kinds(prompts.update(250.0)) == [("suds", "asked")]


def test_a_due_prompt_waits_for_the_open_one_and_missed_slots_are_skipped() -> None:
    every = PromptConfig(every=60.0, timeout=50.0)
    prompts = PromptScheduler(PromptsConfig(suds=every, nrs=every))
    prompts.start(0.0)
    # Both due at once: one at a time, SUDS first; NRS waits in the queue.
    assert _kinds(prompts.update(0.0)) == [("suds", "asked")]
    events = prompts.update(40.0, ("5", "0", "return"))
    assert _kinds(events) == [("suds", "answered"), ("nrs", "asked")]
    assert events[1].time == 40.0
    assert prompts.update(60.0) == []  # SUDS due again: waits for the open NRS
    assert prompts.update(95.0) == [
        PromptEvent(90.0, "nrs", "timeout"),
        PromptEvent(95.0, "suds", "asked", source="schedule"),
    ]
    prompts.update(96.0, ("1", "return"))
    # A long gap (a stalled loop) asks once per kind, not once per missed slot.
    assert _kinds(prompts.update(400.0)) == [("suds", "asked")]
    assert _kinds(prompts.update(401.0, ("2", "return"))) == [
        ("suds", "answered"),
        ("nrs", "asked"),
    ]
    assert _kinds(prompts.update(402.0, ("3", "return"))) == [("nrs", "answered")]
    assert prompts.update(419.9) == []  # next slot on the original grid: 420
    assert _kinds(prompts.update(420.0)) == [("suds", "asked")]


def test_on_demand_key_asks_every_configured_prompt_even_before_start() -> None:
    prompts = PromptScheduler(PromptsConfig(suds=PromptConfig(), nrs=PromptConfig()))
    events = prompts.update(5.0, ("s",))
    assert events == [PromptEvent(5.0, "suds", "asked", source="key")]
    assert prompts.passthrough == ()
    events = prompts.update(6.0, ("7", "return"))
    assert _kinds(events) == [("suds", "answered"), ("nrs", "asked")]
    assert events[0].value == 7 and events[0].latency == pytest.approx(1.0)
    assert events[1].source == "key"
    # Without prompts configured the key is not the scheduler's and passes through.
    none = PromptScheduler(PromptsConfig())
    assert none.update(1.0, ("s",)) == [] and none.passthrough == ("s",)


def test_digit_entry_then_enter() -> None:
    prompts = _suds()
    prompts.request("suds", 10.0)
    assert prompts.update(11.0, ("4",)) == []
    assert prompts.open is not None and prompts.open.value == 4
    events = prompts.update(12.5, ("[0]", "return"))  # keypad digits work too
    assert events == [PromptEvent(12.5, "suds", "answered", 40, 2.5, "keys")]
    assert prompts.open is None


def test_digit_entry_clips_and_restarts_after_max_digits() -> None:
    prompts = PromptScheduler(PromptsConfig(suds=PromptConfig(), nrs=PromptConfig()))
    prompts.request("suds", 0.0)
    prompts.update(0.1, ("1", "5", "0"))
    assert prompts.open is not None and prompts.open.value == 100  # 150 clipped
    prompts.update(0.2, ("2",))  # a fourth digit starts a new number
    assert prompts.open is not None and prompts.open.value == 2
    prompts.update(0.3, ("backspace", "3", "5"))
    assert prompts.open is not None and prompts.open.value == 35
    assert prompts.update(0.4, ("return",))[0].value == 35
    prompts.request("nrs", 1.0)
    assert prompts.update(1.1, ("1", "0", "return"))[0].value == 10
    prompts.request("nrs", 2.0)
    assert prompts.update(2.1, ("9", "9", "return"))[0].value == 10  # clipped to 0-10


def test_step_entry_starts_at_midpoint_then_at_previous_answer() -> None:
    prompts = PromptScheduler(PromptsConfig(suds=PromptConfig(), nrs=PromptConfig()))
    prompts.request("suds", 0.0)
    prompts.update(1.0, ("right",))
    assert prompts.open is not None and prompts.open.value == 60  # 50 + 10
    events = prompts.update(2.0, ("left", "left", "return"))
    assert events[0].value == 40
    prompts.request("suds", 10.0)
    prompts.update(11.0, ("right", "right", "right", "right", "right", "right", "right"))
    assert prompts.open is not None and prompts.open.value == 100  # 40 + 70 clipped
    prompts.update(12.0, ("return",))
    prompts.request("nrs", 20.0)
    prompts.update(21.0, ("left",))
    assert prompts.open is not None and prompts.open.value == 4  # NRS steps by 1 from 5
    prompts.update(21.5, ("3", "right"))  # typing then stepping continues from the typed value
    assert prompts.open is not None and prompts.open.value == 4


def test_enter_without_a_chosen_value_records_nothing() -> None:
    prompts = _suds()
    prompts.request("suds", 0.0)
    assert prompts.update(1.0, ("return", "backspace")) == []
    assert prompts.open is not None and prompts.open.value is None


def test_timeout_is_recorded_at_the_deadline_and_closes_the_prompt() -> None:
    prompts = _suds(timeout="20s")
    prompts.request("suds", 100.0)
    prompts.update(110.0, ("6",))  # chosen but never confirmed
    assert prompts.update(119.9) == []
    events = prompts.update(120.4, ("return",))
    assert events == [PromptEvent(120.0, "suds", "timeout")]
    assert prompts.open is None
    assert prompts.passthrough == ("return",)  # nothing open any more: not claimed


def test_keys_are_claimed_only_while_a_prompt_is_open() -> None:
    prompts = _suds()
    prompts.update(0.0, ("4", "up", "left", "return"))
    assert prompts.passthrough == ("4", "up", "left", "return")
    prompts.request("suds", 1.0)
    events = prompts.update(2.0, ("4", "up", "escape", "0", "down", "return", "space"))
    assert prompts.passthrough == ("up", "escape", "down", "space")
    assert events[0].value == 40


def test_external_answer_is_clipped_and_late_answers_record_nothing() -> None:
    prompts = PromptScheduler(PromptsConfig(nrs=PromptConfig(timeout=10.0)))
    assert prompts.answer(3, 0.0) == []
    prompts.request("nrs", 1.0)
    events = prompts.answer(14, 2.0, source="gaze")
    assert events == [PromptEvent(2.0, "nrs", "answered", 10, 1.0, "gaze")]
    prompts.request("nrs", 3.0)
    assert prompts.answer(-2, 3.5)[0].value == 0
    prompts.request("nrs", 4.0)
    assert prompts.answer(6.6, 4.5, source="gaze")[0].value == 7  # a gaze point on the scale
    prompts.request("nrs", 5.0)
    assert _kinds(prompts.answer(4, 15.5)) == [("nrs", "timeout")]  # 0.5 s too late


def test_cancel_closes_and_clears_the_queue() -> None:
    prompts = PromptScheduler(PromptsConfig(suds=PromptConfig(), nrs=PromptConfig()))
    prompts.update(0.0, ("s",))
    assert prompts.cancel(1.0) == [PromptEvent(1.0, "suds", "cancelled")]
    assert prompts.open is None and prompts.update(2.0) == []
    assert prompts.cancel(3.0) == []


def test_overlay_shows_question_value_and_gauge() -> None:
    prompts = _suds()
    assert prompts.overlay() is None
    prompts.request("suds", 0.0)
    empty = prompts.overlay()
    assert empty is not None and "How anxious are you right now?" in empty.text
    assert empty.gauge is not None and empty.gauge.value is None and empty.gauge.ticks == 11
    prompts.update(1.0, ("4", "0"))
    chosen = prompts.overlay()
    assert chosen is not None and "40" in chosen.text and "Enter" in chosen.text
    assert chosen.gauge is not None and chosen.gauge.value == pytest.approx(0.4)
    assert chosen.world is None  # head-locked


def test_marker_and_description() -> None:
    event = PromptEvent(12.0, "suds", "answered", 40, 2.5, "keys")
    assert event.marker() == {
        "event": "suds",
        "kind": "answered",
        "value": 40,
        "latency": 2.5,
        "source": "keys",
        "text": "SUDS answered 40 after 2.5 s (keys)",
    }
    assert PromptEvent(3.0, "nrs", "timeout").describe() == "pain prompt timed out unanswered"


def test_misuse_raises() -> None:
    prompts = _suds()
    prompts.start(0.0)
    with pytest.raises(PromptError, match="twice"):
        prompts.start(1.0)
    with pytest.raises(PromptError, match="not one of"):
        prompts.request("fear", 1.0)  # type: ignore[arg-type]
