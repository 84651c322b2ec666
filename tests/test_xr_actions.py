"""Controller stick -> prompt step keys (pure; the action set itself is tested in Monado by
tests/test_xr_prompts.py)."""

from __future__ import annotations

from engine.display._xr_actions import PROFILES, SIMPLE_PROFILE, StickSteps


def test_one_step_per_push_with_hysteresis() -> None:
    stick = StickSteps()
    track = [(0.0, 0.0), (0.5, 0.0), (0.8, 0.1), (0.9, 0.0), (0.5, 0.0), (0.35, 0.0)]
    assert [stick.update(x, y) for x, y in track] == [None, None, "right", None, None, None]
    # back to rest re-arms; left and down step down the scale, up steps up
    assert [stick.update(x, y) for x, y in [(0.1, 0.0), (-0.75, 0.2)]] == [None, "left"]
    assert [stick.update(x, y) for x, y in [(0.0, 0.0), (0.1, -0.9)]] == [None, "left"]
    assert [stick.update(x, y) for x, y in [(0.0, 0.0), (0.2, 0.95)]] == [None, "right"]
    stick.update(0.9, 0.0)  # held while focus is lost ...
    stick.reset()
    assert stick.update(0.9, 0.0) == "right"  # ... counts again once back
    assert stick.update(float("nan"), 0.0) is None


def test_bindings_never_produce_the_therapist_keys() -> None:
    assert set(PROFILES[SIMPLE_PROFILE]) == {"select", "menu"}
    for table in PROFILES.values():
        assert set(table) <= {"select", "menu", "step"}
        assert all(p.startswith("/user/hand/") for paths in table.values() for p in paths)
