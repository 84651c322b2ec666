"""Private: second-order-sections filtering with carried state, chunk by chunk.

``scipy.signal.sosfilt`` spends ~50 µs per call on argument checks and axis moves before
its compiled loop starts: as long as that loop takes for ~250 samples x sections. The
extractors filter every chunk, and their chunks are short (a frame's few samples in a
live session, a second of PPG or EDA), so :class:`SosState` runs short chunks through
:func:`sos_recursion`: SciPy's recursion in Python floats, the same IEEE operations in
the same order, hence the same numbers bit for bit. Long chunks go to ``sosfilt``.

Whether the two agree on this machine is checked once, at import
(:data:`RECURSION_EXACT`): a SciPy build whose compiler fused a multiply and an add
into one rounding would differ in the last bit, and there every chunk goes to SciPy, so
results never depend on chunk sizes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.signal import butter, sosfilt, sosfilt_zi

FloatArray = NDArray[np.float64]
Rows = Sequence[Sequence[float]]

PYTHON_FILTER_MAX = 256
"""Most ``samples x sections`` per chunk that :class:`SosState` filters in Python floats;
longer chunks cost less through ``sosfilt`` (its set-up then weighs less than the loop)."""


def sos_recursion(rows: Rows, z: list[list[float]], xs: list[float]) -> list[float]:
    """Filter ``xs`` through the sections ``rows`` (``b0, b1, b2, 1, a1, a2`` each) with the
    state ``z`` (``[z0, z1]`` per section; updated in place).

    SciPy's ``sosfilt`` recursion (Direct Form II transposed), operation for operation::

        y  = b0 * x + z0
        z0 = b1 * x - a1 * y + z1
        z1 = b2 * x - a2 * y
    """
    k = 0
    while len(rows) - k >= 2:  # two sections per pass over the samples
        xs = _two_sections(rows[k], rows[k + 1], z, k, xs)
        k += 2
    if k < len(rows):
        xs = _one_section(rows[k], z, k, xs)
    return xs


def _one_section(
    row: Sequence[float], z: list[list[float]], k: int, xs: list[float]
) -> list[float]:
    """Section ``k`` (see :func:`sos_recursion`)."""
    b0, b1, b2, _, a1, a2 = row
    z0, z1 = z[k]
    out: list[float] = []
    append = out.append
    for x in xs:
        y = b0 * x + z0
        z0 = b1 * x - a1 * y + z1
        z1 = b2 * x - a2 * y
        append(y)
    z[k] = [z0, z1]
    return out


def _two_sections(
    row: Sequence[float], row2: Sequence[float], z: list[list[float]], k: int, xs: list[float]
) -> list[float]:
    """Sections ``k`` and ``k + 1`` in one pass: the arithmetic of one after the other."""
    b0, b1, b2, _, a1, a2 = row
    c0, c1, c2, _, d1, d2 = row2
    (z0, z1), (u0, u1) = z[k], z[k + 1]
    out: list[float] = []
    append = out.append
    for x in xs:
        y = b0 * x + z0
        z0 = b1 * x - a1 * y + z1
        z1 = b2 * x - a2 * y
        w = c0 * y + u0
        u0 = c1 * y - d1 * w + u1
        u1 = c2 * y - d2 * w
        append(w)
    z[k], z[k + 1] = [z0, z1], [u0, u1]
    return out


def recursion_matches_sosfilt() -> bool:
    """True if :func:`sos_recursion` gives ``sosfilt``'s outputs and final state bit for
    bit, for one to three sections, a random state and input spanning six decades."""
    rng = np.random.default_rng(0)
    for order in (2, 3):  # one, two and three sections
        sos = butter(order, [0.05, 0.3], btype="bandpass", output="sos")
        for sections in (sos[:1], sos):
            x = rng.standard_normal(64) * 10.0 ** rng.uniform(-3, 3, 64)
            zi = rng.standard_normal((sections.shape[0], 2))
            want, zf = sosfilt(sections, x, zi=zi)
            z = zi.tolist()
            if sos_recursion(sections.tolist(), z, x.tolist()) != want.tolist():
                return False
            if z != zf.tolist():
                return False
    return True


RECURSION_EXACT = recursion_matches_sosfilt()
"""Whether this machine's SciPy and Python floats agree bit for bit (checked at import)."""


class SosState:
    """A second-order-sections filter with carried state, for 1-D float64 chunks.

    Equal to ``scipy.signal.sosfilt(sos, x, zi=zi)`` chunk after chunk (tested), whatever
    the chunk sizes: chunks of up to :data:`PYTHON_FILTER_MAX` samples x sections run
    :func:`sos_recursion` where :data:`RECURSION_EXACT`, longer ones ``sosfilt``.
    """

    def __init__(self, sos: FloatArray) -> None:
        self.sos = np.ascontiguousarray(sos, dtype=np.float64)
        self._rows: list[list[float]] = self.sos.tolist()
        self._short = PYTHON_FILTER_MAX // self.sos.shape[0] if RECURSION_EXACT else 0
        self.zi: list[list[float]] | None = None  # [z0, z1] per section; None: not started

    def start(self, x0: float) -> None:
        """Set the state to the steady state for a constant input ``x0``."""
        self.zi = (sosfilt_zi(self.sos) * x0).tolist()

    def filter_into(self, x: FloatArray, out: FloatArray) -> None:
        """Filter the chunk ``x`` into ``out`` (1-D, same length; may be ``x`` itself)."""
        z = self.zi
        assert z is not None, "SosState.start first"
        if x.shape[0] <= self._short:
            out[:] = sos_recursion(self._rows, z, x.tolist())
            return
        y, zf = sosfilt(self.sos, x, zi=np.array(z))
        out[:] = y
        self.zi = zf.tolist()

    def filter_list(self, xs: list[float]) -> list[float]:
        """Filter a short chunk given as Python floats (a frame's) into Python floats: the
        numbers :meth:`filter_into` gives for it, without arrays on the Python path."""
        z = self.zi
        assert z is not None, "SosState.start first"
        if len(xs) <= self._short:
            return sos_recursion(self._rows, z, xs)
        y, zf = sosfilt(self.sos, np.array(xs), zi=np.array(z))
        self.zi = zf.tolist()
        return list(y.tolist())

    def filter_one(self, x: float) -> float:
        """Filter one sample (a frame's at a slow rate); see :meth:`filter_list`."""
        return self.filter_list([x])[0]

    def filter(self, x: FloatArray) -> FloatArray:
        """Filter one chunk (state must have been started); a new array."""
        out = np.empty(x.shape[0])
        self.filter_into(x, out)
        return out

    def filter_in_place(self, block: FloatArray) -> None:
        """Filter the samples in ``block`` (shape ``(1, n)``, writable, e.g. one row of a
        :meth:`History.block`) in place; same result as :meth:`filter`."""
        self.filter_into(block[0], block[0])
