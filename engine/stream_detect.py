"""Which protocol role each channel of a stream could fill, from its description alone.

Evidence, strongest first: the channel's label (``ECG``, ``ECGBIT1``, ``ECG LL-RA``,
``EDABITREV2``, ``GSR Skin Resistance``, ``PPG Infrared``, ``BVP``, ``heart_rate``,
``RR``, ``IBI`` ...) scores 3 (4 for a preferred variant: ECG lead II, PPG infrared); its
declared unit (``bpm``, a conductance or resistance) or the stream's own type/name
(``ECG``, ``GSR``, ``bvp``, ``RR`` ...) scores 2 on a one-channel stream, 1 otherwise. A
role the engine could not run at the stream's rate (the role's extractor refuses it) keeps
its match with a ``problem``, so messages can say why it was not proposed. String (marker)
streams match nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from biosignals.conversion import parse_unit
from biosignals.ecg import EcgExtractor
from biosignals.eda import EdaExtractor
from biosignals.errors import SignalError, StreamError
from biosignals.ppg import PpgExtractor
from biosignals.roles import ROLE_NAMES
from engine.stream_listing import StreamEntry

__all__ = ["ROLES", "ChannelMatch", "Hint", "best_matches", "detect_channels", "rate_problem"]

ROLES: tuple[str, ...] = ROLE_NAMES
"""The protocol's stream roles, in the protocol's order."""

Hint = Literal["", "resistance", "hr_bpm", "rr"]
"""What a label says beyond the role: skin resistance, or heart rate vs RR intervals."""

#: What each role looks like, for messages ("nothing fits").
LOOKS_LIKE: dict[str, str] = {
    "heart": "labels like ECG, ECG1, ECGBIT1, ECG LL-RA, ExG or stream type ECG",
    "ppg": "labels like PPG, PPG1, PPG Infrared, BVP or stream type PPG/BVP",
    "hr": "labels like HR, heart_rate, RR, IBI, unit bpm, or stream type HR/RR/IBI",
    "eda": "labels like EDA, EDABITREV2, GSR, skin conductance/resistance or type EDA/GSR",
}

_COUNTERS = {"nseq", "seq", "counter", "timestamp", "time", "index", "sample", "packet"}
_RESP = {"resp", "respiration", "breathing", "br"}
_NOT_SIGNAL = {"range", "status", "quality", "flag", "gain", "confidence", "conf", "noise",
               "amplitude", "variability"}  # fmt: skip
_TYPE_ROLES: dict[str, tuple[str, Hint]] = {
    "ecg": ("heart", ""), "ekg": ("heart", ""),
    "ppg": ("ppg", ""), "bvp": ("ppg", ""),
    "eda": ("eda", ""), "gsr": ("eda", ""),
    "hr": ("hr", "hr_bpm"), "heartrate": ("hr", "hr_bpm"),
    "rr": ("hr", "rr"), "ibi": ("hr", "rr"), "rri": ("hr", "rr"),
}  # fmt: skip
_PREFIX_TYPES = ("ecg", "ekg", "ppg", "bvp", "eda", "gsr")


@dataclass(frozen=True, slots=True)
class ChannelMatch:
    """One channel that could fill one role.

    Parameters
    ----------
    role
        ``heart``, ``ppg``, ``hr`` or ``eda``.
    index
        Channel index in the stream.
    score
        4: the label names the preferred variant (ECG lead II ``LL-RA``, PPG infrared);
        3: the label says so; 2: unit or stream type on a one-channel stream; 1: weak.
    why
        Short reason for comments, e.g. ``"label 'ECGBIT1' names ECG"``.
    hint
        Skin resistance, or heart rate (``hr_bpm``) vs RR intervals (``rr``).
    problem
        Why the session could not use it (e.g. a rate the role's extractor refuses).
    """

    role: str
    index: int
    score: int
    why: str
    hint: Hint = ""
    problem: str = ""


def _words(text: str) -> list[str]:
    """Lower-case letter runs: ``"ECG LL-RA"`` -> ``["ecg", "ll", "ra"]``,
    ``"ECGBIT1"`` -> ``["ecgbit"]``, ``"heart_rate"`` -> ``["heart", "rate"]``."""
    return re.findall(r"[a-z]+", text.lower())


def _label_role(label: str) -> tuple[str, int, str, Hint] | None:
    """(role, score, what it names, hint) from a channel label, or None."""
    words = _words(label)
    joined = "".join(words)
    if not words or set(words) & (_COUNTERS | _RESP | _NOT_SIGNAL):
        return None
    if {"hr", "bpm"} & set(words) or "heartrate" in joined or "pulserate" in joined:
        return "hr", 3, "heart rate", "hr_bpm"
    if {"rr", "rri", "ibi", "nn"} & set(words) or "interval" in joined or "interbeat" in joined:
        return "hr", 3, "RR / inter-beat intervals", "rr"
    if "rtor" in joined:
        return "hr", 1, "R-to-R values", "rr"
    if any(w.startswith(("ecg", "ekg")) for w in words):
        lead2 = "llra" in joined  # lead II: usually the tallest R wave
        return "heart", 4 if lead2 else 3, "ECG (lead II)" if lead2 else "ECG", ""
    if any(w.startswith("exg") for w in words):
        return "heart", 2, "ExG (a biopotential lead, often ECG)", ""
    if any(w.startswith(("ppg", "bvp", "pleth")) for w in words) or "photopleth" in joined:
        if {"ambient", "amb"} & set(words):
            return "ppg", 1, "PPG (ambient light)", ""
        if {"infrared", "ir"} & set(words):
            return "ppg", 4, "PPG (infrared)", ""
        return "ppg", 3, "PPG", ""
    resistance = "resist" in joined
    if (
        any(w.startswith(("eda", "gsr")) for w in words)
        or {"sc", "scl", "edr"} & set(words)
        or any(k in joined for k in ("skinconductance", "skinresistance", "electrodermal"))
        or "galvanic" in joined
    ):
        what = "skin resistance" if resistance else "EDA / skin conductance"
        return "eda", 3, what, "resistance" if resistance else ""
    return None


def _unit_role(unit: str) -> tuple[str, str, Hint] | None:
    """(role, what, hint) from a declared unit: bpm, conductance or resistance."""
    try:
        parsed = parse_unit(unit)
    except StreamError:
        return None
    if parsed == "bpm":
        return "hr", "bpm", "hr_bpm"
    if parsed in ("uS", "nS", "S"):
        return "eda", "a conductance", ""
    if parsed in ("kOhm", "Ohm", "MOhm"):
        return "eda", "a resistance", "resistance"
    return None


def rate_problem(role: str, rate: float) -> str:
    """Why ``role`` cannot run at ``rate`` Hz ("" if it can): the role's own extractor
    decides (heart rate content runs at any rate)."""
    extractor = {"heart": EcgExtractor, "ppg": PpgExtractor, "eda": EdaExtractor}.get(role)
    if extractor is None:
        return ""
    try:
        extractor(rate)
    except SignalError:
        what = "irregular" if rate <= 0 else f"{rate:g} Hz"
        return f"the stream is {what}, which {extractor.__name__} refuses (see its docs)"
    return ""


def _stream_role(entry: StreamEntry) -> tuple[str, str, Hint] | None:
    """(role, why, hint) from the stream's type, else its name (E4 forwarders: 'gsr')."""
    for field, value in (("type", entry.meta.type), ("name", entry.meta.name)):
        joined = "".join(_words(value))
        found = _TYPE_ROLES.get(joined) or next(
            (_TYPE_ROLES[k] for k in _PREFIX_TYPES if joined.startswith(k)), None
        )  # "PPGInfrared", "ECGStream"
        if found is not None:
            return found[0], f"stream {field} {value!r}", found[1]
    return None


def detect_channels(entry: StreamEntry) -> list[ChannelMatch]:
    """Every (channel, role) the stream's description suggests, best first per channel.

    A channel gets at most one role: its label's, else its unit's; channels with no
    evidence of their own take the stream type's role (the first such channel).
    """
    meta = entry.meta
    if entry.is_string:
        return []
    single = meta.channel_count == 1
    found: list[ChannelMatch] = []
    for i, (label, unit) in enumerate(zip(meta.channel_labels, meta.channel_units, strict=True)):
        by_label = _label_role(label)
        if by_label is not None:
            role, score, what, hint = by_label
            found.append(ChannelMatch(role, i, score, f"label {label!r} names {what}", hint))
            continue
        by_unit = _unit_role(unit) if not set(_words(label)) & _COUNTERS else None
        if by_unit is not None:
            role, what, hint = by_unit
            why = f"declared unit {unit!r} is {what}"
            found.append(ChannelMatch(role, i, 2 if single else 1, why, hint))
    by_stream = _stream_role(entry)
    if by_stream is not None and not any(m.role == by_stream[0] for m in found):
        taken = {m.index for m in found}
        free = [
            i
            for i, label in enumerate(meta.channel_labels)
            if i not in taken and not set(_words(label)) & _COUNTERS
        ]
        if free:
            role, why, hint = by_stream
            found.append(ChannelMatch(role, free[0], 2 if single else 1, why, hint))
    return [_with_problem(m, meta.nominal_srate) for m in found]


def _with_problem(match: ChannelMatch, rate: float) -> ChannelMatch:
    problem = rate_problem(match.role, rate)
    if not problem and match.hint == "rr" and rate > 2.0:
        problem = (
            f"RR content on a regular {rate:g} Hz stream: RR streams carry one value per "
            "beat; values that repeat between beats (e.g. App-Zephyr's ZephyrRtoR) are not "
            "RR intervals"
        )
    if not problem:
        return match
    return ChannelMatch(match.role, match.index, match.score, match.why, match.hint, problem)


def best_matches(entries: list[StreamEntry], role: str) -> list[tuple[StreamEntry, ChannelMatch]]:
    """Every channel of ``entries`` that could fill ``role``, best first: usable before
    unusable, then higher score, then listing order and channel order."""
    pairs = [(e, m) for e in entries for m in detect_channels(e) if m.role == role]
    pairs.sort(key=lambda p: (bool(p[1].problem), -p[1].score, p[0].number, p[1].index))
    return pairs
