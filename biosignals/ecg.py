"""Causal, stateful ECG R-peak and heart-rate extraction.

:class:`EcgExtractor` takes ``(samples, timestamps)`` chunks in mV (any scale works: the
thresholds are adaptive) and returns :class:`HeartBeat` events as soon as each beat is
decided, 60 ms after the QRS energy peak (~180-220 ms after the R peak); beats found by
search-back (after a missed beat) and doubtful beats held until they can be told from
noise or a P/T wave (at most 1 s; in strong noise, a beat not like the recent ones waits
330 ms for a rival) come later. Results do not depend on how the signal is
cut into chunks. See :mod:`biosignals._ecg_qrs` for the detector and its literature.

RR artifact/ectopic handling for the heart rate: an RR outside 0.27-2.0 s (30-220 bpm) or
more than 30 % away from the median of the last 9 plausible RRs is flagged; such a beat's
``hr_bpm`` is the current smoothed rate instead of ``60 / rr``, and it does not enter
:attr:`EcgExtractor.heart_rate`, the median of the accepted RRs of the last 10 s of beats.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from operator import attrgetter

import numpy as np
from numpy.typing import ArrayLike, NDArray

from biosignals._ecg_qrs import QrsDetector
from biosignals._stream import (
    FloatArray,
    as_chunk,
    check_rate,
    fill_nonfinite,
    median_of_few,
    offline_indices,
)

__all__ = ["EcgExtractor", "HeartBeat", "detect_r_peaks"]

_RR_MIN_S = 0.27
_RR_MAX_S = 2.0
_RR_JUMP = 0.30
_HR_WINDOW_S = 10.0
_REF_COUNT = 9


@dataclass(frozen=True, slots=True)
class HeartBeat:
    """One detected heart beat.

    Attributes
    ----------
    time : float
        R-peak time in seconds, on the clock of the timestamps given to ``update``.
    sample : int
        R-peak sample index counted from the first sample ever given.
    rr : float or None
        Seconds since the previous detected beat (None for the first).
    hr_bpm : float or None
        Instantaneous heart rate after artifact/ectopic correction (None if unknown).
    confidence : float
        How sure the detector is that this is a beat, 0-1 (ECG: the least of its QRS
        amplitude and high-frequency content relative to the recent beats' and of its
        detection margin, times 0.7 when found by search-back; PPG: 1).
    """

    time: float
    sample: int
    rr: float | None
    hr_bpm: float | None
    confidence: float = 1.0


class _RrCorrector:
    """Flags implausible RR intervals and keeps the smoothed heart rate."""

    def __init__(self) -> None:
        self.reference: deque[float] = deque(maxlen=_REF_COUNT)
        self.accepted: deque[tuple[float, float]] = deque()
        self._rate: float | None = None  # heart_rate() of the current accepted RRs

    def heart_rate(self) -> float | None:
        if not self.accepted:
            return None
        if self._rate is None:
            self._rate = 60.0 / median_of_few([rr for _, rr in self.accepted])
        return self._rate

    def current(self, last_beat_time: float | None, now: float | None) -> float | None:
        """The smoothed heart rate, or None when no beat came in the last 10 s up to ``now``."""
        if last_beat_time is None or now is None or now - last_beat_time > _HR_WINDOW_S:
            return None
        return self.heart_rate()

    def add(self, time: float, rr: float) -> float | None:
        """Register an RR ending at ``time``; return the corrected instantaneous HR."""
        reference, accepted = self.reference, self.accepted
        ok = _RR_MIN_S <= rr <= _RR_MAX_S  # plausible
        if ok:
            if len(reference) >= 3:
                ref = median_of_few(reference)
                ok = abs(rr - ref) <= _RR_JUMP * ref
            reference.append(rr)
        if ok:
            accepted.append((time, rr))
        oldest = time - _HR_WINDOW_S
        while accepted and accepted[0][0] < oldest:
            accepted.popleft()
        self._rate = None
        return 60.0 / rr if ok else self.heart_rate()


class EcgExtractor:
    """Streaming R-peak detector and heart-rate estimator.

    Parameters
    ----------
    sampling_rate : float
        Samples per second, 100-10000 Hz.

    Raises
    ------
    SignalError
        If ``sampling_rate`` is not finite or outside 100-10000 Hz.
    """

    def __init__(self, sampling_rate: float) -> None:
        self.sampling_rate = check_rate(sampling_rate, 100.0, 10000.0, "EcgExtractor")
        self._qrs = QrsDetector(self.sampling_rate)
        self.reset()

    def reset(self) -> None:
        """Forget all state, as if newly constructed."""
        self._qrs.reset()
        self._rr = _RrCorrector()
        self._last_value = 0.0
        self._last_time: float | None = None
        self._last_beat_time: float | None = None

    def update(self, samples: ArrayLike, timestamps: ArrayLike) -> list[HeartBeat]:
        """Consume one chunk and return the beats decided during it.

        Parameters
        ----------
        samples : array_like
            1-D ECG samples (mV or any consistent unit). NaN/inf are held at the last finite
            value, so a dropout never poisons the filter state.
        timestamps : array_like
            1-D sample times in seconds, same length, non-decreasing.

        Returns
        -------
        list of HeartBeat
            Beats in time order; empty for an empty chunk.

        Raises
        ------
        SignalError
            If the arrays are not 1-D, differ in length or the timestamps are invalid.
        """
        x, t = as_chunk(samples, timestamps, self._last_time, "EcgExtractor.update")
        return self.update_checked(x, t)

    def update_checked(self, x: FloatArray, t: FloatArray) -> list[HeartBeat]:
        """:meth:`update` for a chunk already checked as :meth:`update` would: 1-D float64
        arrays of equal length, timestamps finite and non-decreasing from the previous
        chunk (:class:`~biosignals.pipeline.FeaturePipeline` checks them before). Nothing is
        checked again."""
        if x.size == 0:
            return []
        if self._last_time is None and not np.isfinite(x[0]):
            finite = x[np.isfinite(x)]
            self._last_value = float(finite[0]) if finite.size else 0.0
        x, self._last_value = fill_nonfinite(x, self._last_value)
        self._last_time = t.item(-1)
        beats: list[HeartBeat] = []
        for sample, time, confidence in self._qrs.process(x, t):
            rr = None if self._last_beat_time is None else time - self._last_beat_time
            hr = None if rr is None else self._rr.add(time, rr)
            beats.append(HeartBeat(time, sample, rr, hr, confidence))
            self._last_beat_time = time
        return beats

    def drain_artifacts(self) -> list[float]:
        """Return (and forget) the times of artefact evidence since the last call: the
        second of two complexes within 3 s that no heart makes, a QRS-like complex less
        than 0.27 s after a beat (over 220 bpm) or one between two regular beats, too
        close to either (the detector does not report them as beats)."""
        out, self._qrs.suspects = self._qrs.suspects, []
        return out

    @property
    def heart_rate(self) -> float | None:
        """Smoothed heart rate in bpm, or None until known or after 10 s without a beat.

        The median of the accepted (artifact-free) RR intervals of the beats in the 10 s
        up to the latest beat.
        """
        return self._rr.current(self._last_beat_time, self._last_time)


def detect_r_peaks(ecg: ArrayLike, sampling_rate: float) -> NDArray[np.int64]:
    """Run :class:`EcgExtractor` over a whole recording and return R-peak sample indices.

    Parameters
    ----------
    ecg : array_like
        1-D ECG signal.
    sampling_rate : float
        Samples per second, 100-10000 Hz.

    Returns
    -------
    numpy.ndarray
        int64 sample indices of the detected R peaks, increasing.
    """
    return offline_indices(EcgExtractor(sampling_rate), ecg, 2.0, attrgetter("sample"))
