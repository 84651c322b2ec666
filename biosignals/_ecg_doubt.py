"""Private: whether a held (doubtful) beat is noise, for :mod:`biosignals._ecg_qrs`.

Two physiological rules, both for a premature complex with a next beat coming before its
hold ended (no compensatory pause after it):

* :func:`less_like`: the next beat comes where the rhythm predicts (REGULAR x RR2 after the
  last beat) and the held complex, smaller than it, has much less of its QRS edges
  (15-40 Hz content) or is much less like the recent beats' shape than it: noise, a T wave
  or a P wave. A premature ectopic beat is followed by a pause, not by the regular beat.
  An interpolated one (no pause) delays the next sinus beat (concealed retrograde
  conduction prolongs its PR interval), so a held complex as large as the next beat is
  dropped only if that beat is on time (at most ON_TIME x RR2 after the last beat).
* :func:`noise_burst`: the held complex is unlike the recent beats' shape and sits in
  noise of the QRS-edge band (muscle noise; T and P waves and baseline wander have none).
* :func:`too_fast`: the next beat follows the held complex faster than a heart beats, so
  one of them is no beat: the one less like the recent beats' shape (an electrode-motion
  bump just before or after a QRS; the caller counts only a next beat with QRS edges, so
  a T wave never wins).

And one for a candidate under the MWI threshold, :func:`typical`: shaped like the recent
beats, it is a beat (noise raised the threshold over it; a bump next to it would
otherwise take its place).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from biosignals._ecg_place import Placed, QrsPlacer
from biosignals._stream import FloatArray, History

Held = tuple[int, float, float, Placed]  # candidate, MWI, slope, placement
SPLIT_WINDOW = (0.75, 1.35)  # the next beat this far from the last (x RR2) may split ...
SPLIT_GAP = 0.7  # ... a held one closer than this (x RR2) to it ...
SPLIT_AMP = 0.6  # ... and smaller than this (x its amplitude)
REGULAR = (0.88, 1.1)  # the next beat this far from the last (x RR2) is where the rhythm predicts
ON_TIME = 1.03  # the next beat no later than this (x RR2) after the last is not delayed
SPLIT_BIG = 1.0  # a held beat smaller than it (x its amplitude), or any if it is on time, ...
SPLIT_HF = 0.5  # ... with less than half its QRS edges ...
SPLIT_COR = 0.3  # ... or this much less like the recent beats' shape is no beat
NOISY_COR = 0.05  # ... (in noise that hides the shape: this much less like them)
STRAY_COR = 0.4  # a premature beat less like the recent beats' shape than this ...
NOISY_HF = 0.08  # ... in this much QRS-edge-band noise (x their QRS edges) is noise
TYPICAL_COR = 0.85  # a candidate this like a recent beat's shape is typical of the beats


def splits(
    placer: QrsPlacer,
    hist: History,
    look: int,
    shapes: Iterable[FloatArray],
    last_c: int | None,
    rr2: float | None,
    held: Held,
    c: int,
    placed: Placed,
    noisy: bool = False,
) -> bool:
    """True if ``c`` is the regular next beat after the last beat ``last_c`` (RR2
    ``rr2``) and ``held``, smaller, sits between them, too close to either to be a beat
    of its own (noise, a T wave or a P wave: a premature beat is followed by a pause, not
    by the regular beat). Smaller: under SPLIT_AMP of ``c``'s amplitude; or, where ``c``
    comes where the rhythm predicts (REGULAR), any smaller one that is less like a beat
    (:func:`less_like`). An interpolated ectopic beat, as large as the regular beats, is
    kept, except in noise (``noisy``: noise that hides the shape and makes large bumps),
    where any held complex NOISY_COR less like the recent beats than ``c`` is dropped."""
    if last_c is None or rr2 is None:
        return False
    lo, hi = SPLIT_WINDOW
    if not lo * rr2 <= c - last_c <= hi * rr2:
        return False
    if c - held[0] < SPLIT_GAP * rr2 and held[3][1] < SPLIT_AMP * placed[1]:
        return True
    if not REGULAR[0] * rr2 <= c - last_c <= REGULAR[1] * rr2:
        return False
    on_time = c - last_c <= ON_TIME * rr2
    margin = NOISY_COR if noisy else SPLIT_COR
    return less_like(placer, hist, look, shapes, held, c, placed, on_time or noisy, margin)


def less_like(
    placer: QrsPlacer,
    hist: History,
    look: int,
    shapes: Iterable[FloatArray],
    held: Held,
    c: int,
    placed: Placed,
    on_time: bool = False,
    margin: float = SPLIT_COR,
) -> bool:
    """True if ``held`` is smaller than candidate ``c`` (placement ``placed``), or ``c``
    is ``on_time``, and ``held`` is less like a beat: under SPLIT_HF of its QRS edges, or
    a correlation with the recent ``shapes`` ``margin`` (SPLIT_COR) below its (``look``:
    samples known after a candidate)."""
    if held[3][1] >= SPLIT_BIG * placed[1] and not on_time:
        return False
    if held[3][2] < SPLIT_HF * placed[2]:
        return True
    a = placer.correlation(hist, held[3][0], held[0] + look, shapes)
    b = placer.correlation(hist, placed[0], c + look, shapes)
    return a is not None and b is not None and b - a >= margin


def noise_burst(
    placer: QrsPlacer,
    hist: History,
    look: int,
    shapes: Iterable[FloatArray],
    hf_ref: float,
    held: Held,
) -> bool:
    """True if ``held`` correlates under STRAY_COR with the recent ``shapes`` and the
    QRS-edge band's noise floor in the second before it (:meth:`QrsPlacer.hf_floor`) is
    over NOISY_HF of the recent beats' QRS edges ``hf_ref``."""
    r = held[3][0]
    cor = placer.correlation(hist, r, held[0] + look, shapes)
    if cor is None or cor >= STRAY_COR:
        return False
    return placer.hf_floor(hist, r) > NOISY_HF * hf_ref


def too_fast(
    placer: QrsPlacer,
    hist: History,
    look: int,
    shapes: Sequence[FloatArray],
    rr_min: int,
    held: Held,
    c: int,
    placed: Placed,
    margin: float = 0.0,
) -> bool:
    """True if candidate ``c`` (placement ``placed``) follows ``held`` closer than
    ``rr_min`` (faster than a heart beats: one of the two is no beat) and is more like
    the recent ``shapes`` than ``held`` is."""
    if c - held[0] >= rr_min or not shapes:
        return False
    a = placer.correlation(hist, held[3][0], held[0] + look, shapes)
    b = placer.correlation(hist, placed[0], c + look, shapes)
    return a is not None and b is not None and b > a + margin


def typical(
    placer: QrsPlacer,
    hist: History,
    look: int,
    shapes: Sequence[FloatArray],
    rr_min: int,
    last_c: int | None,
    c: int,
    placed: Placed,
) -> bool:
    """True if candidate ``c`` comes no faster than a heart beats (``rr_min`` after the
    last beat ``last_c``) and its shape correlates with one of the recent ``shapes`` at
    TYPICAL_COR or more: a beat even where noise raised the MWI threshold over it."""
    if not shapes or (last_c is not None and c - last_c < rr_min):
        return False
    cor = placer.correlation(hist, placed[0], c + look, shapes)
    return cor is not None and cor >= TYPICAL_COR
