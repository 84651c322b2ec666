"""The tests' one waiting helper: it returns what it waited for, fails naming it, never
swallows an error, and a simulated device's ticks end when it is stopped."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from waiting import WaitTimeout, script, ticks, wait_for


def test_wait_for_returns_the_first_truthy_value_once_state_changes() -> None:
    items: list[int] = []

    def producer() -> None:
        for k in (1, 2, 3):
            items.append(k)

    thread = threading.Thread(target=producer)
    thread.start()
    calls: list[int] = []

    def three_items() -> list[int] | None:
        calls.append(len(items))
        return list(items) if len(items) == 3 else None

    assert wait_for(three_items, 10.0, what="three items") == [1, 2, 3]
    thread.join()
    assert calls[-1] == 3


def test_wait_for_does_not_poll_again_once_the_predicate_holds() -> None:
    calls: list[int] = []
    assert wait_for(lambda: calls.append(1) or len(calls), 1.0) == 1
    assert calls == [1]


def test_timeout_fails_the_test_naming_what_was_awaited_and_the_last_value() -> None:
    message = r"waited 0\.05 s for the recorder's flush; last value: 0"
    with pytest.raises(WaitTimeout, match=message):
        wait_for(lambda: 0, 0.05, what="the recorder's flush")
    assert issubclass(WaitTimeout, AssertionError)  # pytest reports it as a failure

    def nothing_yet() -> list[int]:
        return []

    with pytest.raises(WaitTimeout, match=r"for nothing_yet; last value: \[\]"):
        wait_for(nothing_yet, 0.02)


def test_an_error_in_the_predicate_propagates_at_once() -> None:
    calls: list[int] = []

    def refused() -> None:
        calls.append(1)
        if len(calls) == 3:
            raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        wait_for(refused, 30.0, interval=0.001)
    assert len(calls) == 3


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="timeout must be > 0"):
        wait_for(lambda: True, 0.0)
    with pytest.raises(ValueError, match="interval >= 0"):
        wait_for(lambda: True, 1.0, interval=-1.0)
    with pytest.raises(ValueError, match="period must be > 0"):
        next(ticks(threading.Event(), 0.0))


def test_ticks_end_when_stopped() -> None:
    stop = threading.Event()
    seen: list[float] = []
    for now in ticks(stop, 0.001):
        seen.append(now)
        if len(seen) == 3:
            stop.set()
    assert len(seen) == 3 and seen == sorted(seen)
    assert list(ticks(stop, 0.001)) == []  # stopped before the first tick


def test_stop_ends_the_wait_between_ticks_at_once() -> None:
    stop, ticked = threading.Event(), threading.Event()

    def device() -> None:
        for _ in ticks(stop, 3600.0):  # an hour between ticks unless stopped
            ticked.set()

    thread = threading.Thread(target=device, daemon=True)
    thread.start()
    wait_for(ticked.is_set, 10.0, what="the first tick")
    stop.set()
    thread.join(timeout=10.0)
    assert not thread.is_alive()


def test_script_can_import_the_helper_in_a_subprocess() -> None:
    code = script("from waiting import wait_for\nprint(wait_for(lambda: 'ready', 1.0))\n")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout == "ready\n"
