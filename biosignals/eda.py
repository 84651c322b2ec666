"""Causal, stateful electrodermal activity (EDA) extraction: tonic level and SCRs.

:class:`EdaExtractor` takes skin-conductance chunks in µS. The signal ``y`` is low-passed
(Butterworth order 2 at 1 Hz, state carried between chunks). The tonic skin conductance
level (:attr:`EdaExtractor.scl`) is the causal lower envelope: the minimum of ``y`` over
the last 10 s. The tonic ramp ``r`` is the larger of (a) the envelope's rise over 1 s,
held for 1.5 s (a step of the envelope, an old minimum leaving the window, is no ramp)
and (b) the smallest 1-s slope of ``y`` over the last 3 s (a rise held that long is
tonic, not the start of an SCR); ``Z``, the running integral of ``r``, is removed:
``w = y - Z``.

SCR detection is trough-to-peak scoring with the earlier response's course
extrapolated (decomposition methods such as Benedek & Kaernbach 2010 separate
overlapping responses by their decay; this is a causal, local version of that idea):

* the *decay-compensated slope* ``v = w' + w / tau`` (``tau`` = 1 s, shorter than any
  SCR recovery) is constant on an exponential decay with time constant ``tau``, falls
  on the slower decays and late rises of real responses, and jumps up where a new
  response starts, also on top of an earlier one that is still rising or decaying;
* the candidate onset for a sample is the latest point of the last 0.75 s (searched on
  a grid of at most 32 Hz) where ``v`` is below all later values and within about one
  noise SD of the window's minimum; after a flag, not before the top of ``v`` in the
  second after it (that belongs to the flagged response);
* from the onset ``(t0, w0, w0')`` the signal without a new response is extrapolated as
  ``w0 + s * tau * (1 - exp(-(t - t0) / tau))``, where ``s`` is ``w0'`` shrunk towards 0
  by a dead band of two noise SDs of the slope (slope noise at rest is no decay). The
  rise ``e`` of ``w`` above that extrapolation is the response so far;
* the SCR is *flagged* (returned by :meth:`EdaExtractor.update`) at the first sample
  where ``e`` reaches ``max(scr_threshold_us, 7 * noise)``, ``noise`` being the
  low-passed signal's noise SD, estimated causally from the mean absolute second
  difference of the raw samples (the larger of 2 s and 0.25 s averages, so that noise
  bursts raise the bar at once);
* it is *completed* (peak time, amplitude = maximal ``e``, rise time) once ``e`` has
  fallen from its maximum by ``max(10 %, threshold / 2)``, when the next SCR is flagged,
  or 5 s after its onset, whichever comes first; completed SCRs are collected with
  :meth:`EdaExtractor.drain_completed`.

The extrapolated decay is deliberately conservative (it falls more slowly than real
recoveries), so amplitudes of responses on an earlier one's decay are underestimated,
never overestimated. Results do not depend on how the signal is cut into chunks.

The per-sample values are kept in one buffer (:mod:`biosignals._eda_features`); onsets
are searched, vectorised (:mod:`biosignals._eda_scan`), only for samples whose rise from
any point in reach can reach the threshold.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from dataclasses import dataclass
from operator import attrgetter

import numpy as np
from numpy.typing import ArrayLike, NDArray

from biosignals._eda_artifacts import MARGIN_S, ArtifactEvent, EdaArtifacts
from biosignals._eda_features import (
    ROW_ENV,
    ROW_S,
    ROW_T,
    ROW_THR,
    ROW_U,
    ROW_V,
    ROW_W,
    EdaFeatures,
    FloatArray,
    trailing_min,
)
from biosignals._eda_scan import IndexArray, first_hit, first_hit_one
from biosignals._stream import as_chunk, check_rate, fill_nonfinite, offline_indices
from biosignals.errors import SignalError

__all__ = [
    "SCR_DROP_BEFORE_ARTIFACT",
    "ArtifactEvent",
    "EdaExtractor",
    "SkinResponse",
    "detect_scr",
]

SCR_DROP_BEFORE_ARTIFACT = MARGIN_S
"""Seconds before a motion artefact's start from which SCR onsets are dropped (with those
inside it: the artefact's own rise is no response)."""

_ONSET_WINDOW_S = 0.75  # onsets are searched in the last 0.75 s ...
_ONSET_GRID_HZ = 32.0  # onsets are searched on a grid of at most 32 Hz
_VPEAK_S = 1.0  # ... after the top of v within 1 s after the last flag
_ONSET_MAX_S = 5.0  # an SCR is completed at most 5 s after its onset
_PEAK_DROP = 0.1  # peak confirmed after a fall of 10 % of the amplitude (or thr / 2)
_RATE_MEMORY_S = 3600.0
_RELEASE_S = 1.0  # completed responses wait this long for an artefact to show


@dataclass(frozen=True, slots=True)
class SkinResponse:
    """One skin conductance response, flagged early and completed at its peak.

    Attributes
    ----------
    onset : float
        SCR onset time (s).
    onset_sample : int
        Onset index counted from the first sample ever given.
    flag_time : float
        Time of the sample at which the rise since the onset reached the threshold (s).
    amplitude_us : float
        Rise above the extrapolated pre-onset course (µS): at ``flag_time`` while
        incomplete, at the peak once complete.
    peak_time : float or None
        Time of the SCR peak (s); None until complete.
    rise_time : float or None
        ``peak_time - onset`` (s); None until complete.
    complete : bool
        Whether the peak has been confirmed.
    """

    onset: float
    onset_sample: int
    flag_time: float
    amplitude_us: float
    peak_time: float | None = None
    rise_time: float | None = None
    complete: bool = False


@dataclass(slots=True)
class _Candidate:
    """A candidate onset: absolute sample, time, ``w`` and shrunk slope there."""

    sample: int
    time: float
    w: float
    slope: float


@dataclass(slots=True)
class _Open:
    """The flagged, not yet complete response and its running maximum rise."""

    start: _Candidate
    response: SkinResponse
    best: float
    best_time: float
    extrapolation: tuple[FloatArray, FloatArray, FloatArray]  # start's time, w, slope
    artefact: bool = False  # belongs to a motion artefact: never reported complete


class EdaExtractor:
    """Streaming SCR detector and tonic level (SCL) estimator.

    Parameters
    ----------
    sampling_rate : float
        Samples per second, 4-1000 Hz.
    scr_threshold_us : float
        Minimal SCR amplitude in µS (default 0.01): the rise since the onset at which an
        SCR is flagged.

    Raises
    ------
    SignalError
        If ``sampling_rate`` is outside 4-1000 Hz or the threshold is not positive.
    """

    def __init__(self, sampling_rate: float, scr_threshold_us: float = 0.01) -> None:
        self.sampling_rate = check_rate(sampling_rate, 4.0, 1000.0, "EdaExtractor")
        thr = float(scr_threshold_us)
        if not math.isfinite(thr) or thr <= 0.0:
            raise SignalError(
                "EdaExtractor: scr_threshold_us must be a positive number, "
                f"got {scr_threshold_us!r}"
            )
        self.scr_threshold_us = thr
        fs = self.sampling_rate
        self._look = max(2, round(_ONSET_WINDOW_S * fs))
        self._back = np.arange(0, self._look, max(1, round(fs / _ONSET_GRID_HZ)))  # grid
        self._features = EdaFeatures(fs, thr, self._look)
        self._artifacts = EdaArtifacts(fs)
        # constants of the open SCR's course, as 0-d arrays (faster in numpy operations)
        self._drop = (np.array(_PEAK_DROP), np.array(0.5 * thr), np.array(-_ONSET_MAX_S))
        self.reset()

    def reset(self) -> None:
        """Forget all state, as if newly constructed."""
        self._features.reset()
        self._artifacts.reset()
        self._last_value = 0.0
        self._last_time: float | None = None
        self._n = 0
        # max of v within 1 s after the last flag, its sample, and the end of that second
        self._vpeak = (math.inf, -(1 << 62), -math.inf)
        self._open: _Open | None = None
        self._onsets: list[float] = []  # flagged onset times, in time order
        self._completed: list[SkinResponse] = []
        self._done: list[tuple[float, SkinResponse]] = []  # (release time, completed)

    def update(self, samples: ArrayLike, timestamps: ArrayLike) -> list[SkinResponse]:
        """Consume one chunk of skin conductance (µS) and return the SCRs flagged in it.

        An SCR is flagged as soon as its rise since the onset reaches the threshold;
        the returned :class:`SkinResponse` is incomplete (``complete`` False, no peak).
        Its completed version follows from :meth:`drain_completed` once the peak is
        confirmed.

        Parameters
        ----------
        samples : array_like
            1-D skin conductance in µS. NaN/inf are held at the last finite value.
        timestamps : array_like
            1-D sample times in seconds, same length, non-decreasing.

        Returns
        -------
        list of SkinResponse
            SCRs flagged during this chunk, in time order.

        Raises
        ------
        SignalError
            If the arrays are not 1-D, differ in length or the timestamps are invalid.
        """
        x, t = as_chunk(samples, timestamps, self._last_time, "EdaExtractor.update")
        return self.update_checked(x, t)

    def update_checked(self, x: FloatArray, t: FloatArray) -> list[SkinResponse]:
        """:meth:`update` for a chunk already checked as :meth:`update` would: 1-D float64
        arrays of equal length, timestamps finite and non-decreasing from the previous
        chunk (:class:`~biosignals.pipeline.FeaturePipeline` checks them before). Nothing is
        checked again."""
        n = x.size
        if n == 0:
            return []
        first = self._n == 0
        if first:
            finite = x[np.isfinite(x)]
            self._last_value = float(finite[0]) if finite.size else 0.0
            self._features.start(self._last_value, float(t[0]))
        x, self._last_value = fill_nonfinite(x, self._last_value)
        c = self._features.add(self._artifacts.process(x, t), t, first)
        flagged = self._scan(c, c + n)
        self._retract(self._n + n)  # segments found after the last flag
        self._n += n
        self._last_time = float(t[-1])
        self._release(self._last_time)
        return flagged

    def drain_artifacts(self) -> list[ArtifactEvent]:
        """Return (and forget) the motion-artefact segments that started or ended since
        the last call, in time order (see :mod:`biosignals._eda_artifacts`). Responses
        with an onset from 1 s before a segment to 1 s after it are not SCRs: never
        returned once the segment is known, withdrawn from :meth:`scr_rate` and never
        completed when it is found later."""
        return self._artifacts.drain()

    def drain_completed(self) -> list[SkinResponse]:
        """Return (and forget) the SCRs completed since the last call, in time order.

        Each is the completed version (``complete`` True, with peak time, amplitude at
        the peak and rise time) of an SCR returned earlier by :meth:`update`.
        """
        out, self._completed = self._completed, []
        return out

    def _scan(self, c: int, e: int) -> list[SkinResponse]:
        """Flag and complete SCRs in the chunk at columns ``[c, e)``."""
        cols = self._candidates(c, e)
        col0 = self._n - c  # sample of column 0
        if cols is None:
            self._advance(c, e, col0)
            return []
        out: list[SkinResponse] = []
        start = c
        while start < e:
            if start > c:
                cols = cols[cols >= start]
            hit = None
            if cols.size:
                peak_v, peak_at, until = self._vpeak
                vpeak = (peak_v, peak_at - col0, until)
                if e - c == 1:  # one sample (a frame's)
                    hit = first_hit_one(self._features.buf, c, vpeak, self._back)
                else:
                    hit = first_hit(self._features.buf, cols, start, e, vpeak, self._back)
            stop = hit[0] if hit is not None else e
            self._advance(start, stop, col0)
            if hit is None:
                break
            self._retract(col0 + stop)
            resp = self._flag(hit[1], stop, hit[2], col0)
            if resp is not None:
                out.append(resp)
            start = stop + 1
        return out

    def _candidates(self, c: int, e: int) -> IndexArray | None:
        """Columns of the chunk ``[c, e)`` that may flag (the others cannot), or None."""
        buf, look = self._features.buf, self._look
        if e - c == 1:  # one sample (a frame's): the test below, once, in Python floats
            low = float(np.minimum.reduce(buf[ROW_U, c - look + 1 : e]))
            if buf.item(ROW_W, c) - low >= buf.item(ROW_THR, c):
                return np.array([c], dtype=np.intp)
            return None  # (also where a NaN made the bound NaN, as below)
        w, u, thr = buf[ROW_W, c:e], buf[ROW_U, c - look + 1 : e], buf[ROW_THR, c:e]
        # a bound of the rise from any onset in reach: rounding is monotone, so no row's
        # bound below exceeds this one
        if w[w.argmax()] - u[u.argmin()] < thr[thr.argmin()]:
            return None
        # an upper bound of the rise from any onset in the window reaches the threshold
        may = w - trailing_min(buf[ROW_U], c, e, look) >= thr
        if not may[may.argmax()]:
            return None
        return may.nonzero()[0] + c

    def _flag(self, j: int, i: int, rise: float, col0: int) -> SkinResponse | None:
        """Flag the SCR with onset column ``j`` at column ``i`` (rise ``rise``); None if
        it belongs to a motion artefact known by then (followed, never reported)."""
        buf = self._features.buf
        self._close(float(buf[ROW_T, i]))
        t, v = buf[ROW_T], buf[ROW_V]
        cand = _Candidate(col0 + j, float(t[j]), float(buf[ROW_W, j]), float(buf[ROW_S, j]))
        resp = SkinResponse(
            onset=cand.time,
            onset_sample=max(cand.sample, 0),
            flag_time=float(t[i]),
            amplitude_us=rise,
        )
        ext = (np.array(cand.time), np.array(cand.w), np.array(cand.slope))
        artefact = self._artifacts.covers(cand.time, col0 + i)
        self._open = _Open(cand, resp, resp.amplitude_us, resp.flag_time, ext, artefact)
        self._vpeak = (float(v[i]), col0 + i, resp.flag_time + _VPEAK_S)
        if artefact:
            return None
        self._remember(cand.time)
        return resp

    def _advance(self, a: int, b: int, col0: int) -> None:
        """Follow the open SCR and the top of ``v`` after the last flag over columns
        ``[a, b)``, scanned without a new flag."""
        if b <= a:
            return
        buf = self._features.buf
        if self._open is not None:
            self._follow(buf[ROW_T, a:b], buf[ROW_W, a:b])
        peak_v, _, until = self._vpeak
        if until < buf.item(ROW_T, a):  # the second after the last flag is over
            return
        if b - a == 1:  # one sample (a frame's): the same in Python floats
            v = buf.item(ROW_V, a)
            if v >= peak_v:
                self._vpeak = (v, col0 + a, until)
            return
        seg = buf[ROW_V, a:b][buf[ROW_T, a:b] <= until]
        j = int(seg.argmax())
        if seg[j] >= peak_v:
            self._vpeak = (float(seg[j]), col0 + a + j, until)

    def _follow(self, t: FloatArray, w: FloatArray) -> None:
        """Track the open SCR's rise over ``t``; complete it at its confirmed peak."""
        op, (peak_drop, half_thr, neg_onset_max) = self._open, self._drop
        assert op is not None
        time, w0, slope = op.extrapolation
        # the rise above the extrapolation: w - s.w - s.slope * tau * -expm1(-age / tau)
        # (tau = 1 s), computed with the negative age (rounds exactly the same)
        back = np.subtract(time, t)
        e = w - w0 + slope * np.expm1(back)
        best = np.maximum.accumulate(e)
        np.maximum(best, op.best, out=best)  # the running maximum, op.best included
        done = e <= best - np.maximum(peak_drop * best, half_thr)
        if t[-1] - op.start.time > _ONSET_MAX_S:  # (the age grows along t)
            done |= back < neg_onset_max
        stops = done.nonzero()[0]
        stop = int(stops[0]) if stops.size else t.size
        if stop > 0:
            j = int(e[:stop].argmax())
            if e[j] > op.best:
                op.best, op.best_time = float(e[j]), float(t[j])
        if stops.size:
            self._close(float(t[stops[0]]))

    def _close(self, now: float) -> None:
        """Complete the open SCR at its best rise so far (released :data:`_RELEASE_S`
        after ``now``, unless an artefact shows up by then)."""
        op = self._open
        if op is None:
            return
        self._open = None
        if op.artefact:
            return
        done = dataclasses.replace(
            op.response,
            amplitude_us=op.best,
            peak_time=op.best_time,
            rise_time=op.best_time - op.start.time,
            complete=True,
        )
        self._done.append((now + _RELEASE_S, done))

    def _release(self, now: float) -> None:
        """Completed responses whose wait is over by ``now``, to :meth:`drain_completed`."""
        k = 0
        while k < len(self._done) and self._done[k][0] <= now:
            k += 1
        if k:
            self._completed += [r for _, r in self._done[:k]]
            del self._done[:k]

    def _retract(self, upto: int) -> None:
        """Apply the artefact segments detected before absolute sample ``upto`` (in
        sample order): responses with an onset from 1 s before a segment on are
        withdrawn: from the SCR rate, the open one and those still waiting."""
        new = self._artifacts.new
        while new and new[0].detected < upto:
            seg = new.pop(0)
            edge = seg.start - SCR_DROP_BEFORE_ARTIFACT
            del self._onsets[bisect.bisect_left(self._onsets, edge) :]
            if self._open is not None and self._open.start.time >= edge:
                self._open.artefact = True
            # those released before the detection (in sample order) stay released
            self._done = [(r, d) for r, d in self._done if r <= seg.at or d.onset < edge]

    def _remember(self, onset: float) -> None:
        self._onsets.append(onset)
        if self._onsets[0] < onset - _RATE_MEMORY_S:
            del self._onsets[: bisect.bisect_left(self._onsets, onset - _RATE_MEMORY_S)]

    @property
    def scl(self) -> float | None:
        """Tonic skin conductance level (µS): minimum of the low-passed signal over the
        last 10 s; None before any sample."""
        if self._n == 0:
            return None
        return self._features.buf.item(ROW_ENV, self._features.c - 1)

    def scr_rate(self, now: float, window: float = 60.0) -> float:
        """SCRs per minute flagged so far whose onset lies in ``(now - window, now]``.

        Parameters
        ----------
        now : float
            Current time on the timestamps' clock (s).
        window : float
            Window length in seconds, 0 < window <= 3600.

        Raises
        ------
        SignalError
            If ``window`` is not within (0, 3600] or ``now`` is not finite.
        """
        if not math.isfinite(now) or not 0.0 < window <= _RATE_MEMORY_S:
            raise SignalError(
                f"EdaExtractor.scr_rate: need finite now and 0 < window <= "
                f"{_RATE_MEMORY_S:g} s, got now={now!r}, window={window!r}"
            )
        onsets = self._onsets  # in time order: count those in (now - window, now]
        count = bisect.bisect_right(onsets, now) - bisect.bisect_right(onsets, now - window)
        return count * 60.0 / window


def detect_scr(eda: ArrayLike, sampling_rate: float) -> NDArray[np.int64]:
    """Run :class:`EdaExtractor` over a whole recording and return SCR onset indices.

    Parameters
    ----------
    eda : array_like
        1-D skin conductance in µS.
    sampling_rate : float
        Samples per second, 4-1000 Hz.

    Returns
    -------
    numpy.ndarray
        int64 onset sample indices, increasing.
    """
    return offline_indices(EdaExtractor(sampling_rate), eda, 10.0, attrgetter("onset_sample"))
