"""Quantisation-aware parts of :mod:`biosignals.quality`: resolution and +-1 step windows.

Internal. :class:`CoarseRules` says when a stream counts as coarsely quantised and how long
it may then hold a value; :class:`CoarseTracker` follows one stream's resolution (smallest
non-zero step seen), coarse/fine verdict and, for the band rule, its last samples. All of
it is per sample and causal, so chunking does not change any result.

Quantisation
------------
A signal from a low-resolution ADC legitimately repeats values: BITalino's 10-bit EDA
(steps of 3.3 V / 1024 / 0.132 = 0.0244 µS) holds one value for seconds, a 0.025 mV-step
ECG holds its baseline between beats, a PPG whose pulse spans a dozen counts sits on its
peaks. The quality monitor estimates the stream's **resolution** ``q`` causally as the smallest
non-zero step between consecutive samples seen so far (the value grid; unknown before the
first step). With :class:`CoarseRules` given, a sample belongs to a *coarse* stream while
``q >= step``, or ``q >= fraction * R`` with ``R`` the range of the stream's first
``reference`` seconds (for unitless signals; unknown ``q`` counts as coarse). ``q`` only
shrinks and ``R`` only grows, so a stream that is fine once stays fine and is checked
exactly as without the rules (float and high-resolution streams pay nothing after their
first chunk). On coarse samples:

* **flatline** needs an exact hold of :meth:`CoarseRules.hold_after` seconds
  (``max(hold, min(q * hold_per_unit, hold_max))``; ``hold`` while ``q`` is unknown),
  or, with ``band_after > 0``, ``band_after`` seconds (counted in samples at the nominal
  rate) within +-1 step (max - min <= 2 ``q``: an electrode off that leaves only ADC
  noise); the bound of a hold is the one at its first sample;
* **clipping** at a running extreme needs the same hold as flatline (a coarse signal sits
  on its highest value at every rounded peak); at a ``device_range`` limit (within one
  step of it) ``clip_samples`` identical samples still suffice.

The pipeline's rules per role (``biosignals.pipeline.COARSE_RULES``): ECG is coarse from
10 µV steps, PPG from steps of 1/1000 of its first 5 s's range; either is flat after 2.5 s
within +-1 step (the slowest plausible beat, 30 bpm, is 2 s apart; a clean 50 bpm ECG in
0.025 mV steps holds its baseline up to ~1.1 s). EDA is coarse from 0.5 nS steps and may
hold one value ``max(4 s, q * 600 s/µS)``, at most 60 s: the time a resting level drifting
0.1 µS/min takes to cross one step (14.6 s at BITalino's 10 bits, 4 s at the E4's 1 nS);
EDA has no band rule (a calm skin may stay within one step for minutes), and an electrode
off reads ~0 µS, which ``out_of_range`` flags at once. Heart-rate streams repeat values and
have no flatline or clipping check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from biosignals._stream import History, window_extreme

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

GRID_SLACK = 1.0 + 1e-6  # float rounding of values on one grid (float32 transport)


@dataclass(frozen=True, slots=True)
class CoarseRules:
    """When a stream counts as coarsely quantised and how long it may then hold a value.

    Attributes
    ----------
    step : float
        Resolution (in the stream's unit) from which a stream is coarse.
    fraction : float
        ... or resolution relative to the range of the stream's first ``reference``
        seconds from which it is (for unitless signals; a later artefact or rail does not
        change the verdict).
    reference : float
        Seconds of samples whose range is the reference of ``fraction``.
    hold : float
        Seconds a coarse stream may hold one value before ``flatline`` (and before
        ``clipping`` at a running extreme); also while the resolution is unknown.
    hold_per_unit : float
        Hold at least ``resolution * hold_per_unit`` seconds (the time the slowest clean
        drift takes to cross one step).
    hold_max : float
        Upper bound of that resolution-scaled hold, seconds.
    band_after : float
        Seconds within +-1 step (range <= 2 steps) before ``flatline``; 0: no band rule.
    """

    step: float = math.inf
    fraction: float = math.inf
    reference: float = 5.0
    hold: float = 2.5
    hold_per_unit: float = 0.0
    hold_max: float = 60.0
    band_after: float = 0.0

    def hold_after(self, resolution: FloatArray) -> FloatArray:
        """Seconds of exact hold allowed at each resolution (``hold`` where unknown, inf)."""
        known = np.where(np.isfinite(resolution), resolution, 0.0)
        return np.maximum(np.minimum(known * self.hold_per_unit, self.hold_max), self.hold)


class CoarseTracker:
    """Resolution, coarse verdict and band window of one stream, per sample.

    Parameters
    ----------
    rules : CoarseRules
        The role's rules.
    sampling_rate : float
        Nominal rate (Hz): the band window holds ``band_after * sampling_rate`` samples.
    """

    def __init__(self, rules: CoarseRules, sampling_rate: float) -> None:
        self.rules = rules
        self.resolution = math.inf  # smallest non-zero step seen so far
        self._ref_n = max(1, round(rules.reference * sampling_rate))
        self._seen = 0  # finite samples seen, up to _ref_n
        self._ref = (math.inf, -math.inf)  # extremes of the first _ref_n samples
        self._band: History | None = None
        self._n = 0
        if rules.band_after > 0.0:
            self._n = max(2, round(rules.band_after * sampling_rate))
            self._band = History(2, self._n - 1)  # values and times of the window

    def samples(self, x: FloatArray, steps: FloatArray) -> tuple[FloatArray, BoolArray]:
        """Resolution at each sample of ``x`` and whether the stream is coarse there.

        ``steps`` are |x[i] - x[i-1]| (inf before the stream's first sample). The verdict
        can only go from coarse to fine: the resolution only shrinks, the reference range
        only grows.
        """
        q = np.minimum.accumulate(np.where(steps > 0.0, steps, np.inf))
        np.minimum(q, self.resolution, out=q)
        self.resolution = float(q[-1])
        coarse = q >= self.rules.step
        if math.isfinite(self.rules.fraction):
            coarse |= q >= self.rules.fraction * self._reference(x)
        return q, coarse

    def _reference(self, x: FloatArray) -> FloatArray | float:
        """Range of the stream's first ``reference`` seconds, up to each sample of ``x``."""
        take = min(self._ref_n - self._seen, x.size)
        if take <= 0:
            return self._ref[1] - self._ref[0]
        self._seen += take
        hi = np.maximum.accumulate(np.maximum(x[:take], self._ref[1]))
        lo = np.minimum.accumulate(np.minimum(x[:take], self._ref[0]))
        self._ref = (float(lo[-1]), float(hi[-1]))
        spread = np.empty(x.size)
        spread[:take] = hi - lo
        spread[take:] = self._ref[1] - self._ref[0]
        return spread

    def band_flat(
        self, x: FloatArray, t: FloatArray, q: FloatArray, coarse: BoolArray
    ) -> tuple[BoolArray, FloatArray] | None:
        """Per sample: whether the last ``band_after`` seconds of samples stay within 2
        steps (coarse samples only), and the time of that window's first sample; None
        without a band rule."""
        if self._band is None:
            return None
        n, band = self._n, self._band
        buf, col = band.block(x.size)
        end = col + x.size
        buf[0, col:end] = x
        buf[1, col:end] = t
        first = max(col - (n - 1), 0)
        seg = buf[0, first:end]
        shared = seg[x.size - 1 : n] if band.start + col >= n - 1 else seg[:0]
        if shared.size and _spread(shared) > 2.0 * float(q.max()) * GRID_SLACK:
            # every window of this chunk holds ``shared`` (a QRS, a pulse): none is flat
            return np.zeros(x.size, dtype=bool), t
        origin = (n - 1) // 2  # trailing window: samples i - n + 1 ... i
        top = window_extreme(seg, n, np.empty_like(seg), maximum=True, mode="nearest",
                             origin=origin)  # fmt: skip
        low = window_extreme(seg, n, np.empty_like(seg), maximum=False, mode="nearest",
                             origin=origin)  # fmt: skip
        spread = (top - low)[col - first :]
        j = np.arange(x.size)
        full = band.start + col + j >= n - 1  # a whole window seen
        starts = buf[1, np.maximum(col - n + 1 + j, 0)]
        return full & coarse & (spread <= 2.0 * q * GRID_SLACK), starts


def _spread(x: FloatArray) -> float:
    """max - min of a non-empty array."""
    return float(x[x.argmax()]) - float(x[x.argmin()])
