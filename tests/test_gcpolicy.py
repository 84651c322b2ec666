"""frozen_heap: start-up objects are out of the collector's reach during a session."""

from __future__ import annotations

import gc

from engine.gcpolicy import frozen_heap


def test_frozen_heap_freezes_then_unfreezes_and_still_collects_new_cycles() -> None:
    class Node:
        def __init__(self) -> None:
            self.other: Node | None = None

    before = gc.get_freeze_count()
    with frozen_heap():
        assert gc.get_freeze_count() > before  # what was alive is frozen
        assert gc.isenabled()  # automatic collection stays on
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle made inside the loop
        del a, b
        assert gc.collect() >= 2  # still found and freed
    assert gc.get_freeze_count() == 0
