"""Causal streaming QRS detector (Pan-Tompkins family), private to :mod:`biosignals.ecg`.

Front end (:mod:`biosignals._ecg_front`, vectorised per chunk): Butterworth band-pass
5-15 Hz (Pan & Tompkins 1985), first difference, squaring, 150 ms moving-window integration
(MWI). Candidates are MWI local maxima that dominate +-60 ms; each is decided exactly 60 ms
after it (fixed look-ahead, so decisions never depend on chunk boundaries). The MWI peak
lags the R peak by ~120-160 ms, so a beat is decided ~180-220 ms after its R peak.

Decision logic (per candidate, Pan & Tompkins 1985; Hamilton & Tompkins 1986):
adaptive signal/noise peak levels SPKI/NPKI with THR1 = NPKI + 0.25 (SPKI - NPKI) and
THR2 = THR1 / 2; 200 ms refractory; T-wave discrimination (a candidate within 360 ms of the
previous beat whose maximal slope is below half that beat's is noise); search-back with THR2
when no beat came for 166 % of the regular RR average (RR2: mean of the last 8 RRs within
92-116 % of it; adopted anew after 8 irregular RRs); a 2 s learning phase, repeated every
2 s once no beat was found for 3.5 s (e.g. after leads-off, a NaN burst or a sudden drop
in QRS amplitude), where a re-learn lowers SPKI at most 4-fold per step so that a sinus
pause of several seconds is not filled with noise "beats".

Doubtful beats are held (at most 1 s): a premature one until the regular next beat could
show it was noise or a T/P wave (:mod:`biosignals._ecg_doubt`: a smaller complex between
two beats at the regular RR, less like a beat than the one the rhythm predicts; one unlike
the recent beats in muscle noise with no pause after it), a small one until a larger QRS
could follow it as a QRS follows its P wave. A beat shaped like one
of the last 8 (raw -80..+100 ms around R, correlation >= 0.85), as large (energy >= 80 % of
their median) and with QRS edges (>= 22 % of their high-frequency content) is sure and
returned at once (a repeated ectopic beat), unless it comes faster than a heart beats
(270 ms after the last). A held complex that the next beat follows within 270 ms is dropped
if that beat, with QRS edges, is more like the recent beats (one of the two is no beat;
a T wave, with few edges, does not count). A candidate under THR1 but over 0.3 THR1
(noise raised the threshold) is a beat if it is typical of the last beats: shaped like one
of them (correlation >= 0.85), with >= 60 % of their amplitude and QRS edges.

In noise (noise peaks near the beats' size: NPKI over 5 % of SPKI; muscle noise,
electrode motion, tall T waves) the raw shape is a weaker witness and rivals are common,
so the rhythm and the rival get a larger say: a beat that is not sure waits 270 ms for a
rival (one more like the recent beats, with QRS edges, takes its place even within the
refractory period); a blunt complex (few QRS edges for its size) is never sure; a held
complex between two beats at the regular RR is dropped if it is only slightly (0.05)
less like the recent beats, whatever its size; a candidate under THR1 where the rhythm
predicts the next beat is a beat if its shape correlates >= 0.5 with theirs; a peak
unlike them (< 0.5) seeks a rival placement. Whenever a hold ends with no beat after it,
a blunt complex gives R to a rival up to 150 ms after its candidate that is much more like
the recent beats (a bump merged with the QRS after it), and a premature one gives way to a
candidate under THR1 where the rhythm predicts the next beat that is much more like them.
A blunt premature complex followed by a pause is kept: a wide ectopic beat looks the same.

Each beat is placed on the R wave at the maximum of |zero-phase 5-25 Hz band-pass| of the
raw signal within 250 ms before the candidate (the MIT-BIH annotation convention); a peak
with few QRS edges for its size gives way to a rival up to 450 ms before the candidate
that is much more like the recent beats (an electrode-motion bump merged with a QRS). The
zero-phase filter is the forward-backward Butterworth response as a +-200 ms FIR; samples
after the look-ahead are odd-extended, as ``filtfilt`` pads.
"""

from __future__ import annotations

import numpy as np

from biosignals import _ecg_doubt as doubt
from biosignals._ecg_doubt import Held
from biosignals._ecg_front import DER, MWI, RAW, ROWS, TIME, QrsFrontEnd
from biosignals._ecg_peaks import MwiPeaks
from biosignals._ecg_place import Placed, QrsPlacer, likeness
from biosignals._ecg_recent import RecentBeats, RrAverage
from biosignals._stream import FloatArray, History

LOOK_AHEAD_S = 0.060
TWAVE_SLOPE = 0.5
EARLY = 0.8
WEAK_SLOPE = 0.6
WEAK_AMP = 0.6
AMP_MIN = 0.3
SURE_COR = 0.85  # an early beat this like a recent beat's shape is released at once
SURE_NORM = 0.8  # ... if about as large (a P wave is smaller) ...
SURE_HF = 0.22  # ... and with QRS edges (a P or T wave has few)
LIKE_LEVEL = 0.3  # a candidate this far below THR1 is a beat if it is sure (like the last)
HOLD_MAX_S = 1.0  # no beat is held longer after its candidate
SEARCH_BACK_TRUST = 0.7  # a beat found by search-back is less sure
SEARCH_BACK_FLOOR = 0.125
HF_MIN_T = 0.15  # in the T wave's place after a beat
HF_MIN = 0.08  # elsewhere (a wide premature beat has little, a T or P wave less)
NOISY = 0.05  # NPKI over this x SPKI: noise peaks near the beats' size (noise decisions)
NOISY_HOLD = 0.1  # ... over this: a beat that is not sure waits for a rival
ON_TIME_COR = 0.5  # in noise, a candidate under THR1 on time and this like the beats is one
RIVAL_AFTER_S = 0.15
RIVAL_MARGIN = 0.15


class QrsDetector:
    """Streaming R-peak decisions; feed finite samples with :meth:`process`."""

    def __init__(self, fs: float) -> None:
        self.fs = fs
        self._front = QrsFrontEnd(fs)
        self._look = max(1, round(LOOK_AHEAD_S * fs))
        self._refractory = round(0.200 * fs)
        self._twave = round(0.360 * fs)
        self._pr_max = round(0.300 * fs)
        self._suspect_window = round(3.0 * fs)
        self._rival_after = round(RIVAL_AFTER_S * fs)
        self._placer = QrsPlacer(fs, self._look, self._refractory, RAW)
        self._learn = round(2.0 * fs)
        self._relearn = round(3.5 * fs)
        self._rr_min = round(0.27 * fs)
        self._rr_max = round(2.0 * fs)
        self.reset()

    def reset(self) -> None:
        """Forget everything (filters, thresholds, RR history)."""
        self._hist = History(ROWS, round(6.0 * self.fs) + 2 * self._look)
        self._front.reset()
        self._peaks = MwiPeaks(self.fs, self._look, self._front.w_mwi, (RAW, DER, MWI))
        self._ready = False
        self._spki = 0.0
        self._npki = 0.0
        self._pending: list[tuple[int, float, float]] = []
        self._noise: list[tuple[int, float, float]] = []
        self._last_c: int | None = None
        self._last_r: int | None = None
        self._last_slope = 0.0
        self._beats = RecentBeats()  # the last confirmed beats' morphology
        self._held: Held | None = None  # a beat not yet confirmed
        self._held_due = 0
        self._rr = RrAverage(self.fs, self._rr_min, self._rr_max, self._twave)
        self._sb_due: int | None = None
        self._sb_level = 0.5  # search-back threshold, a fraction of THR1
        self._relearn_due = self._learn
        self._out: list[tuple[int, float, float]] = []
        self._suspect_at: int | None = None
        self.suspects: list[float] = []  # artefact evidence not yet drained (times)

    def process(self, x: FloatArray, t: FloatArray) -> list[tuple[int, float, float]]:
        """Consume finite samples ``x`` at times ``t``; return decided beats (index, time,
        confidence)."""
        if x.size == 0:
            return []
        self._front.append(self._hist, x, t)
        self._out = []
        for c, v, slope in self._peaks.new(self._hist):
            self._run_timers(c + self._look)
            self._on_candidate(c, v, slope)
        self._run_timers(self._hist.end - 1)
        return self._out

    def _run_timers(self, now: int) -> None:
        """Fire the held-beat, search-back and re-learn timers due by ``now``, in time
        order (a tie: held beat, re-learn, search-back)."""
        while True:
            held = self._held_due if self._held is not None else None
            sb = self._sb_due
            relearn = first = self._relearn_due  # the earliest of the three (always set)
            if held is not None and held < first:
                first = held
            if sb is not None and sb < first:
                first = sb
            if first > now:
                return
            if held == first:
                self._expire_held()
            elif relearn == first:
                self._learn_thresholds(relearn)
            else:
                self._search_back(first)

    # ------------------------------------------------------------------ decisions
    def _thr1(self) -> float:
        return self._npki + 0.25 * (self._spki - self._npki)

    def _is_twave(self, c: int, slope: float) -> bool:
        return (
            self._last_c is not None
            and c - self._last_c < self._twave
            and slope < TWAVE_SLOPE * self._beats.slope_ref
        )

    def _on_candidate(self, c: int, v: float, slope: float) -> None:
        if not self._ready:
            self._pending.append((c, v, slope))
            return
        held = self._held
        if held is not None and c - held[0] < self._refractory:
            placed = self._evaluate(c, v, slope)
            if placed is None:
                return
            if placed[1] <= held[3][1] and not (
                self._noisy() and self._rival_wins(held, c, placed)
            ):
                return  # in the held beat's refractory period, and not larger
            self._drop_held()  # a larger one right after it: that was a P wave or noise
            held = None
        if self._last_c is not None and c - self._last_c < self._refractory:
            return
        placed = self._evaluate(c, v, slope)
        if placed is None:
            self._noise_peak(c, v, slope)
            return
        if self._last_c is not None and c - self._last_c < self._rr_min:
            self._suspect(c, at_once=True)  # a QRS-like complex over 220 bpm after a beat
        if held is not None and placed[0] - held[3][0] < self._refractory // 2:
            return  # the held complex again (its R placed anew): not a next beat
        if held is not None:
            args = (self._placer, self._hist, self._look, self._beats.shapes)
            if (
                doubt.splits(*args, self._last_c, self._rr.rr2, held, c, placed, self._noisy())
                or self._stray(held)
                or (
                    self._beats.edged(placed)
                    and doubt.too_fast(*args, self._rr_min, held, c, placed)
                )
            ):
                self._suspect(held[0])  # a complex between two regular beats
                self._drop_held()
            else:
                self._confirm_held()
                placed = self._evaluate(c, v, slope)  # now after the held beat
                if placed is None:
                    if c - held[0] >= self._refractory:
                        self._noise_peak(c, v, slope)
                    return
        due = self._hold_until(c, slope, placed)
        if due is None:
            self._spki = 0.125 * v + 0.875 * self._spki
            self._beat(c, v, slope, placed)
        else:
            self._held, self._held_due = (c, v, slope, placed), due

    def _evaluate(self, c: int, v: float, slope: float) -> Placed | None:
        """Placement of ``c`` if it is a beat after the last confirmed one, None if not
        (refractory, T wave, below THR1, too small, no QRS edges)."""
        last_c = self._last_c
        if last_c is not None and (c - last_c < self._refractory or self._is_twave(c, slope)):
            return None
        thr1 = self._npki + 0.25 * (self._spki - self._npki)
        below = v <= thr1
        if below and (v <= LIKE_LEVEL * thr1 or not self._beats.shapes):
            return None
        placed = self._place(c)
        if self._not_qrs(c, placed):
            return None
        if below:  # a beat under THR1 (the noise raised it) only if typical of the last
            beats = self._beats
            if placed[1] < WEAK_AMP * beats.amp_ref or placed[2] < WEAK_AMP * beats.hf_ref:
                return None
            args = (self._placer, self._hist, self._look, self._beats.shapes)
            if not doubt.typical(*args, self._rr_min, self._last_c, c, placed) and not (
                self._noisy() and self._on_time(c, placed)
            ):
                return None
        return placed

    def _place(self, c: int) -> Placed:
        return self._placer.place(self._hist, c, self._last_r, self._beats.recent(), self._noisy())

    def _likeness(self, c: int, placed: Placed) -> float | None:
        """Correlation of ``placed``'s shape (candidate ``c``) with the recent beats'."""
        return self._placer.correlation(self._hist, placed[0], c + self._look, self._beats.shapes)

    def _in_rhythm(self, c: int) -> bool:
        """True if candidate ``c`` comes where the rhythm predicts the next beat: REGULAR
        x RR2 after the last beat."""
        rr2, last_c = self._rr.rr2, self._last_c
        if rr2 is None or last_c is None:
            return False
        return doubt.REGULAR[0] * rr2 <= c - last_c <= doubt.REGULAR[1] * rr2

    def _on_time(self, c: int, placed: Placed) -> bool:
        """True if candidate ``c`` comes where the rhythm predicts the next beat and its
        shape correlates with the recent beats' at ON_TIME_COR or more."""
        if not self._in_rhythm(c):
            return False
        cor = self._likeness(c, placed)
        return cor is not None and cor >= ON_TIME_COR

    def _not_qrs(self, c: int, placed: Placed) -> bool:
        """True if ``c`` is much smaller than the recent beats (zero-phase 5-25 Hz
        amplitude below 30 %), a baseline step (unless a QRS like the recent beats rides
        it), or lacks the high-frequency content of a QRS: less than
        15 % of the recent beats' where a T wave may sit (up to ``0.42 sqrt(RR)`` s after
        the last beat, at least 360 ms), less than 8 % elsewhere."""
        r, amp, hf = placed
        if amp < AMP_MIN * self._beats.amp_ref:
            return True
        if self._placer.step_like(self._hist, r):  # a baseline step, unless a QRS rides it
            shapes = self._beats.shapes
            cor = self._placer.unstepped_correlation(self._hist, r, c + self._look, shapes)
            if cor is None or cor < doubt.TYPICAL_COR:
                return True
        last_c = self._last_c
        in_t = last_c is not None and c - last_c < self._rr.t_zone
        return hf < (HF_MIN_T if in_t else HF_MIN) * self._beats.hf_ref

    def _rival_wins(self, held: Held, c: int, placed: Placed) -> bool:
        """True if ``c``, with QRS edges, follows ``held`` too fast and is more like."""
        args = (self._placer, self._hist, self._look, self._beats.shapes)
        return self._beats.edged(placed) and doubt.too_fast(
            *args, self._rr_min, held, c, placed, RIVAL_MARGIN
        )

    def _noise_peak(self, c: int, v: float, slope: float) -> None:
        self._npki = 0.125 * v + 0.875 * self._npki
        self._noise.append((c, v, slope))

    def _hold_until(self, c: int, slope: float, placed: Placed) -> int | None:
        """When to confirm a beat that may still prove a P wave, a T wave or noise (None:
        confirm now): an early beat after the window where the regular next beat would
        come (at most HOLD_MAX_S after it), a small one after the longest PR interval;
        a sure one (:meth:`_sure`) at once."""
        rr2, last_c = self._rr.rr2, self._last_c
        early = rr2 is not None and last_c is not None and c - last_c < EARLY * rr2
        weak = len(self._beats.slopes) >= 3 and (
            slope < WEAK_SLOPE * self._beats.slope_ref or placed[1] < WEAK_AMP * self._beats.amp_ref
        )
        noisy = self._noisy(NOISY_HOLD)
        if not (early or weak or noisy):
            return None
        sure = self._sure(c, placed)
        due = None
        if early and not sure:
            assert rr2 is not None and last_c is not None
            hold_max = c + round(HOLD_MAX_S * self.fs)
            due = min(last_c + round(doubt.SPLIT_WINDOW[1] * rr2), hold_max)
        if weak and not sure:
            due = max(due or 0, c + self._pr_max)
        if noisy and not sure:
            due = max(due or 0, c + self._rr_min + self._look)
        return due

    def _noisy(self, level: float = NOISY) -> bool:
        """True if noise peaks come near the beats' size: NPKI over ``level`` x SPKI."""
        return self._npki > level * self._spki

    def _sure(self, c: int, placed: Placed) -> bool:
        """True if a beat that would be held looks like one of the last beats: its shape
        around R correlates with one of theirs at >= SURE_COR, it is at least SURE_NORM
        as large as their median and has at least SURE_HF of their high-frequency
        content (a tall P or T wave has little). A repeated ectopic beat is sure; noise,
        a P or T wave and a first ectopic beat of a new shape are not."""
        if not self._beats.shapes or placed[2] < SURE_HF * self._beats.hf_ref:
            return False
        if self._last_c is not None and c - self._last_c < self._rr_min:
            return False  # faster than a heart beats: wait for the next beat
        if self._noisy() and not self._beats.edged(placed):
            return False  # in noise, a blunt complex may be a bump shaped like the beats
        shape = self._placer.shape(self._hist, placed[0], c + self._look)
        if shape is None:
            return False
        cor, size, usual = likeness(shape, self._beats.shapes)
        return size >= SURE_NORM * usual and cor >= SURE_COR

    def _stray(self, held: Held) -> bool:
        """True if the held beat is premature and a noise burst
        (:func:`~biosignals._ecg_doubt.noise_burst`); called when a next beat came before
        its hold ended (no compensatory pause)."""
        rr2, last_c = self._rr.rr2, self._last_c
        if rr2 is None or last_c is None or held[0] - last_c >= EARLY * rr2:
            return False
        args = (self._placer, self._hist, self._look, self._beats.shapes, self._beats.hf_ref)
        return doubt.noise_burst(*args, held)

    def _suspect(self, c: int, at_once: bool = False) -> None:
        """Note a complex no heart makes (noise, motion) as evidence of an artefact
        (:attr:`suspects`, times): ``at_once``, or when it is the second within 3 s."""
        last = self._suspect_at
        self._suspect_at = c
        if at_once or (last is not None and c - last <= self._suspect_window):
            self.suspects.append(self._hist.data.item(TIME, c - self._hist.start))

    def _drop_held(self) -> None:
        assert self._held is not None
        self._noise_peak(*self._held[:3])
        self._held = None

    def _expire_held(self) -> None:
        """The held beat's hold ended with no beat after it: confirm it, unless it is
        premature and a candidate after it, under THR1, comes where the rhythm predicts
        the next beat and is much more like the recent beats (the held one was noise)."""
        assert self._held is not None
        self._replace_held()
        c0, _, _, placed0 = self._held
        rr2, last_c = self._rr.rr2, self._last_c
        if rr2 is None or last_c is None or c0 - last_c >= EARLY * rr2 or not self._beats.shapes:
            self._confirm_held()
            return
        mine = self._likeness(c0, placed0)
        lo, hi = doubt.REGULAR
        best = None
        for c, v, slope in self._noise:
            if c <= c0 or not lo * rr2 <= c - last_c <= hi * rr2 or v <= LIKE_LEVEL * self._thr1():
                continue
            placed = self._place(c)
            if self._not_qrs(c, placed) or not self._beats.edged(placed):
                continue
            cor = self._likeness(c, placed)
            if cor is None or (mine is not None and cor < mine + doubt.SPLIT_COR):
                continue
            if best is None or cor > best[0]:
                best = (cor, c, v, slope, placed)
        if best is None:
            self._confirm_held()
            return
        self._suspect(c0)
        self._drop_held()
        _, c, v, slope, placed = best
        self._noise = [n for n in self._noise if n[0] > c]
        self._beat(c, v, slope, placed, SEARCH_BACK_TRUST)

    def _replace_held(self) -> None:
        """A held complex with few QRS edges for its size may be a bump merged with the
        QRS just after it into one candidate: with the samples known when its hold ends,
        a rival peak up to RIVAL_AFTER_S after the candidate that is much more like the
        recent beats (:meth:`QrsPlacer.rival`) takes R."""
        assert self._held is not None
        c, v, slope, placed = self._held
        if not self._beats.shapes or self._beats.edged(placed):
            return
        later = min(c + self._rival_after, self._held_due - self._look)
        recent = self._beats.recent()
        better = self._placer.rival(self._hist, later, placed[0], self._last_r, recent)
        if better is not None:
            self._held = (c, v, slope, better)

    def _confirm_held(self) -> None:
        assert self._held is not None
        c, v, slope, placed = self._held
        self._held = None
        self._spki = 0.125 * v + 0.875 * self._spki
        self._beat(c, v, slope, placed)

    def _learn_thresholds(self, now: int) -> None:
        """(Re)initialise SPKI/NPKI from the last 2 s (start, or no beat for 3.5 s)."""
        if self._held is not None:
            self._confirm_held()
            return
        mwi = self._hist.rows(MWI, now - self._learn + 1, now + 1)
        self._relearn_due = now + self._learn
        self._sb_due = None
        self._noise.clear()
        peak = float(np.max(mwi))
        if peak <= 0.0 or not (self._ready or self._pending):
            self._pending.clear()  # flat input (e.g. leads not yet on): nothing to learn from
            return
        self._spki = 0.5 * peak if not self._ready else max(0.5 * peak, 0.25 * self._spki)
        self._npki = 0.5 * float(np.mean(mwi))
        self._beats.forget()  # no beat for 3.5 s: the morphology changed
        if not self._ready:
            self._ready = True
            pending, self._pending = self._pending, []
            for cand in pending:
                self._on_candidate(*cand)

    def _search_back(self, at: int) -> None:
        self._sb_due = None
        if self._held is not None:
            self._confirm_held()
            return
        thr2 = self._sb_level * self._thr1()
        best: tuple[float, int, float, float, Placed] | None = None
        for c, v, slope in self._noise:
            if v <= thr2 or self._is_twave(c, slope):
                continue
            placed = self._place(c)
            # the most QRS-like: amplitude times edge content (a T wave has no edges)
            score = placed[1] * placed[2]
            if not self._not_qrs(c, placed) and (best is None or score > best[0]):
                best = (score, c, v, slope, placed)
        if best is None:
            # nothing: look again in half an RR, down to THR1 / 8 (the amplitude fell)
            if self._sb_level > SEARCH_BACK_FLOOR and self._rr.rr2 is not None:
                self._sb_level *= 0.5
                self._sb_due = at + round(0.5 * self._rr.rr2)
            return
        _, c, v, slope, placed = best
        self._noise = [n for n in self._noise if n[0] > c]
        self._spki = 0.25 * v + 0.75 * self._spki
        self._beat(c, v, slope, placed, SEARCH_BACK_TRUST)

    def _confidence(self, v: float, placed: Placed) -> float:
        """How sure the beat is, 0-1: the least of its amplitude and high-frequency
        content relative to the recent beats' (1 at or above them) and of its MWI peak
        relative to twice THR1."""
        _, amp, hf = placed
        size = amp / self._beats.amp_ref if self._beats.amp_ref > 0.0 else 1.0
        edges = hf / self._beats.hf_ref if self._beats.hf_ref > 0.0 else 1.0
        margin = v / (2.0 * self._thr1()) if self._spki > 0.0 else 1.0
        return max(0.0, min(1.0, size, edges, margin))

    def _beat(self, c: int, v: float, slope: float, placed: Placed, trust: float = 1.0) -> None:
        r = placed[0]
        confidence = trust * self._confidence(v, placed)
        if self._last_r is not None:
            self._rr.add(r - self._last_r)
        self._last_c, self._last_r, self._last_slope = c, r, slope
        self._beats.add(slope, placed, self._placer.shape(self._hist, r, c + self._look))
        if self._noise:
            self._noise = [n for n in self._noise if n[0] > c]
        rr2 = self._rr.rr2
        self._sb_due = None if rr2 is None else c + round(1.66 * rr2) + self._look
        self._sb_level = 0.5
        self._relearn_due = c + self._relearn
        self._out.append((r, self._hist.data.item(TIME, r - self._hist.start), confidence))
