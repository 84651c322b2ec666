"""Keep Python's garbage collector from stalling a frame loop on start-up objects.

CPython's oldest-generation collection walks every tracked container in the process. In a
headset session that is tens of thousands of objects built before the first frame
(modules, meshes, ctypes structures of the OpenXR bindings, the protocol model...), and a
full pass measured ~86 ms of CPU inside one 20 Hz frame on the project's 2-core test
machine under Monado: one late frame per few minutes. :func:`frozen_heap` collects once
before the loop and then freezes what is alive (:func:`gc.freeze`), so later collections
only ever walk objects the loop itself made. Automatic collection stays on; memory is
reclaimed as before.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["frozen_heap"]


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Collect, freeze the surviving objects for the ``with`` block, unfreeze after."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
