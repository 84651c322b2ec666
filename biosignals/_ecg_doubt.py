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
"""

from __future__ import annotations

from collections.abc import Iterable

from biosignals._ecg_place import Placed, QrsPlacer
from biosignals._stream import FloatArray, History

Held = tuple[int, float, float, Placed]  # candidate, MWI, slope, placement
REGULAR = (0.88, 1.1)  # the next beat this far from the last (x RR2) is where the rhythm predicts
ON_TIME = 1.03  # the next beat no later than this (x RR2) after the last is not delayed
SPLIT_BIG = 1.0  # a held beat smaller than it (x its amplitude), or any if it is on time, ...
SPLIT_HF = 0.5  # ... with less than half its QRS edges ...
SPLIT_COR = 0.3  # ... or this much less like the recent beats' shape is no beat
STRAY_COR = 0.4  # a premature beat less like the recent beats' shape than this ...
NOISY_HF = 0.08  # ... in this much QRS-edge-band noise (x their QRS edges) is noise


def less_like(
    placer: QrsPlacer,
    hist: History,
    look: int,
    shapes: Iterable[FloatArray],
    held: Held,
    c: int,
    placed: Placed,
    on_time: bool = False,
) -> bool:
    """True if ``held`` is smaller than candidate ``c`` (placement ``placed``), or ``c``
    is ``on_time``, and ``held`` is less like a beat: under SPLIT_HF of its QRS edges, or
    a correlation with the recent ``shapes`` SPLIT_COR below its (``look``: samples known
    after a candidate)."""
    if held[3][1] >= SPLIT_BIG * placed[1] and not on_time:
        return False
    if held[3][2] < SPLIT_HF * placed[2]:
        return True
    a = placer.correlation(hist, held[3][0], held[0] + look, shapes)
    b = placer.correlation(hist, placed[0], c + look, shapes)
    return a is not None and b is not None and b - a >= SPLIT_COR


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
