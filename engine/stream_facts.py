"""What a few seconds of a stream's data say about its settings (pure: arrays in, notes out).

``vrtherapy streams --suggest`` reads about two seconds of the chosen stream into a
:class:`DataSample`; the functions here turn it (and the declared unit) into ``signal:``
settings, each with a sentence saying why:

* :func:`timing_settings`: Unix-epoch stamps (``clock: auto`` handles them), bunched
  per-packet stamps (``dejitter: true``), stamps stepping backwards, a measured rate far
  from the nominal one.
* :func:`unit_settings`: the unit (ECG, EDA) or content (heart rate, RR intervals) that
  the declared unit, the label and the value range agree on; a declared unit the values
  contradict (microvolts holding mV) is replaced, with a ``check:`` note.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from biosignals.conversion import looks_like_unix, parse_unit
from biosignals.errors import StreamError
from engine.stream_detect import ChannelMatch, Hint

__all__ = ["DataSample", "Settings", "timing_settings", "unit_settings"]

Settings = dict[str, str | bool]
"""``signal:`` keys and values in the order they are printed."""

_MIN_VALUES = 10
_BUNCHED = 0.3  # share of zero steps that means packets are stamped at once
_VOLT_TO_MV = {"mV": 1.0, "uV": 1e-3, "V": 1e3}
_ECG_OK_MV = (0.05, 50.0)  # a declared unit is kept while the span stays in here
_ECG_LIKELY_MV = (0.1, 20.0)  # another unit is proposed only if the span lands in here
_COND_TO_US = {"uS": 1.0, "nS": 1e-3, "S": 1e6}
_RES_TO_KOHM = {"kOhm": 1.0, "Ohm": 1e-3, "MOhm": 1e3}
_SCL_US = (0.05, 100.0)
_CONTENT_RANGE = {"hr_bpm": (25.0, 250.0), "rr_ms": (250.0, 2500.0), "rr_s": (0.25, 2.5)}
_CONTENT_UNIT = {"hr_bpm": "bpm", "rr_ms": "ms", "rr_s": "s"}


@dataclass(frozen=True, slots=True)
class DataSample:
    """Samples read from one stream for a few seconds.

    Parameters
    ----------
    values
        float64, shape (n, channel_count), as sent.
    stamps
        float64, shape (n,), as sent (the sender's clock, no correction).
    seconds
        How long it listened.
    lsl_now, unix_now
        This machine's LSL and Unix clocks when reading ended.
    """

    values: np.ndarray
    stamps: np.ndarray
    seconds: float
    lsl_now: float
    unix_now: float

    def channel(self, index: int) -> np.ndarray:
        """Finite values of one channel."""
        col = np.asarray(self.values[:, index], dtype=np.float64) if self.values.size else None
        return np.zeros(0) if col is None else col[np.isfinite(col)]


def timing_settings(rate: float, sample: DataSample | None) -> tuple[Settings, list[str]]:
    """``clock`` (always ``auto``) and ``dejitter`` from the stamps, with notes."""
    settings: Settings = {"clock": "auto"}
    if sample is None or sample.stamps.size == 0:
        waited = f" within {sample.seconds:g} s" if sample is not None else ""
        return settings, [
            f"check: no samples arrived{waited}, so clock and dejitter were not checked "
            "against the data (an RR stream may simply have had no beat yet)"
        ]
    stamps = sample.stamps
    if looks_like_unix(stamps, sample.lsl_now, sample.unix_now):
        notes = [
            f"timestamps are Unix time (about {np.median(stamps):.3g} s), not the LSL clock: "
            "clock: auto detects that on the first samples and converts them"
        ]
    else:
        notes = ["timestamps are on the LSL clock (clock: auto keeps them as they are)"]
    if rate <= 0:
        notes.append("irregular stream (one sample per event): dejitter does not apply")
        return settings, notes
    if stamps.size < _MIN_VALUES:
        notes.append(f"only {stamps.size} samples arrived: dejitter not checked")
        return settings, notes
    steps = np.diff(stamps)
    zero = float(np.mean(np.abs(steps) < 0.1 / rate))
    if zero >= _BUNCHED:
        per_packet = stamps.size / max(1, np.unique(stamps).size)
        settings["dejitter"] = True
        notes.append(
            f"{zero:.0%} of consecutive samples share one timestamp (packets of about "
            f"{per_packet:.0f} samples stamped at once): dejitter: true re-times them at "
            f"the nominal {rate:g} Hz"
        )
    back = int(np.sum(steps < -0.1 / rate))
    if back:
        notes.append(
            f"timestamps step backwards {back} times in {sample.seconds:g} s (packets "
            "back-dated by the bridge); the live session takes them in order"
        )
    span = float(stamps[-1] - stamps[0])
    measured = (stamps.size - 1) / span if span > 0 else 0.0
    if measured and abs(measured / rate - 1.0) > 0.1:
        notes.append(
            f"check: about {measured:.3g} samples/s arrived, the stream declares {rate:g} Hz"
        )
    return settings, notes


def _declared(unit: str) -> tuple[str | None, str]:
    """(canonical unit or None, note for an unknown spelling)."""
    try:
        return parse_unit(unit), ""
    except StreamError:
        return None, f"declared unit {unit!r} is not one vrtherapy knows"


def _span(values: np.ndarray) -> float | None:
    if values.size < _MIN_VALUES:
        return None
    low, high = np.percentile(values, [1.0, 99.0])
    span = float(high - low)
    return span if span > 0 else None


def _counts_like(values: np.ndarray) -> bool:
    """Whole numbers in an ADC's range, not all small (a raw, unconverted channel)."""
    if values.size < _MIN_VALUES or not np.all(values == np.round(values)):
        return False
    return bool(values.min() >= 0 and values.max() <= 65535 and np.ptp(values) > 50)


_COUNTS_NOTE = (
    "check: the values look like raw ADC counts: add scale and offset from the sensor's "
    "datasheet (docs/devices.md shows BITalino's); without them heart rate still works "
    "but amplitudes are not in the role's unit"
)


def _within(value: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] <= value <= bounds[1]


def _ecg_unit(declared: str, values: np.ndarray) -> tuple[Settings, list[str]]:
    unit, unknown = _declared(declared)
    span = _span(values)
    notes = [unknown] if unknown else []
    if unit == "counts" or (unit not in _VOLT_TO_MV and _counts_like(values)):
        return {"unit": "counts"}, [*notes, _COUNTS_NOTE]
    if unit in _VOLT_TO_MV and (span is None or _within(span * _VOLT_TO_MV[unit], _ECG_OK_MV)):
        seen = "" if span is None else f"; values span {span:.4g} {unit}, plausible for an ECG"
        return {"unit": unit}, [*notes, f"declared {declared!r}{seen}"]
    likely = [u for u, f in _VOLT_TO_MV.items() if span and _within(span * f, _ECG_LIKELY_MV)]
    if unit in _VOLT_TO_MV and likely:
        return {"unit": likely[0]}, [
            *notes,
            f"check: declared {declared!r}, but the values span {span:.4g}, which as {unit} "
            f"is implausible for an ECG; as {likely[0]} it is: unit set to {likely[0]}. "
            "Compare one R peak with the device's own software",
        ]
    if unit in _VOLT_TO_MV:
        return {"unit": unit}, [
            *notes,
            f"check: values span {span:.4g} {unit}, implausible for an ECG in any voltage unit",
        ]
    guess = likely[0] if likely else "mV"
    why = f"values span {span:.4g}" if span else "no data to tell"
    what = f"declares {declared!r}" if declared else "declares no unit"
    return {"unit": guess}, [*notes, f"check: the channel {what}; {why}: unit {guess} assumed"]


def _to_us(value: float, unit: str) -> float:
    if unit in _COND_TO_US:
        return value * _COND_TO_US[unit]
    kohm = value * _RES_TO_KOHM[unit]
    return 1000.0 / kohm if kohm > 0 else float("nan")


def _eda_unit(declared: str, hint: Hint, values: np.ndarray) -> tuple[Settings, list[str]]:
    unit, unknown = _declared(declared)
    notes = [unknown] if unknown else []
    eda_units = (*_COND_TO_US, *_RES_TO_KOHM)
    if unit == "counts" or (unit not in eda_units and _counts_like(values)):
        return {"unit": "counts"}, [*notes, _COUNTS_NOTE]
    level = float(np.median(values)) if values.size >= _MIN_VALUES else None
    order = [*_RES_TO_KOHM, *_COND_TO_US] if hint == "resistance" else [*_COND_TO_US, *_RES_TO_KOHM]
    first = unit if unit in eda_units else order[0]

    def fits(u: str) -> bool:
        return level is None or _within(_to_us(level, u), _SCL_US)

    chosen = first if fits(first) else next((u for u in order if fits(u)), first)
    what = (
        f"declared {declared!r}"
        if unit in eda_units
        else ("the label says skin resistance" if hint == "resistance" else "no unit declared")
    )
    seen = "" if level is None else f"; median {level:.4g} {chosen}"
    if level is not None and chosen != "uS":
        seen += f" = {_to_us(level, chosen):.3g} uS"
    if chosen in _RES_TO_KOHM:
        seen += " (skin resistance, converted to conductance 1000 / R[kOhm] uS)"
    note = f"{what}{seen}"
    if chosen != first or (unit not in eda_units and level is None):
        note = f"check: {note}; unit {chosen} chosen: compare with the device's own software"
    if level is not None and not fits(chosen):
        note = f"check: {what}; median {level:.4g} is an implausible skin conductance in any unit"
    return {"unit": chosen}, [*notes, note]


def _hr_content(declared: str, hint: Hint, values: np.ndarray) -> tuple[Settings, list[str]]:
    unit, _ = _declared(declared)
    by_unit = {"bpm": "hr_bpm", "ms": "rr_ms", "s": "rr_s"}.get(unit or "")
    level = float(np.median(values)) if values.size else None
    fitting = [c for c, r in _CONTENT_RANGE.items() if level is not None and _within(level, r)]
    guess = by_unit or (
        "hr_bpm" if hint == "hr_bpm" else next((c for c in fitting if c != "hr_bpm"), "rr_ms")
    )
    source = f"declared {declared!r}" if by_unit else "the label"
    if level is None:
        note = f"{source} says {_CONTENT_UNIT[guess]}; no values seen to confirm"
        return {"content": guess}, [note if by_unit else f"check: {note}"]
    if guess in fitting:
        return {"content": guess}, [
            f"{source} says {_CONTENT_UNIT[guess]}; median value {level:.4g}, plausible"
        ]
    chosen = fitting[0] if fitting else guess
    return {"content": chosen}, [
        f"check: {source} suggests {_CONTENT_UNIT[guess]}, but the median value is "
        f"{level:.4g}: content {chosen} chosen; compare with the device's own software"
    ]


def unit_settings(
    role: str, match: ChannelMatch, declared: str, sample: DataSample | None
) -> tuple[Settings, list[str]]:
    """``unit`` (heart, eda) or ``content`` (hr) for one channel, with notes."""
    values = sample.channel(match.index) if sample is not None else np.zeros(0)
    decide: dict[str, Callable[[], tuple[Settings, list[str]]]] = {
        "heart": lambda: _ecg_unit(declared, values),
        "eda": lambda: _eda_unit(declared, match.hint, values),
        "hr": lambda: _hr_content(declared, match.hint, values),
    }
    if role in decide:
        return decide[role]()
    said = f" (declared {declared!r} is ignored)" if declared else ""
    return {}, [f"PPG has no physical unit{said}; the pulse shape is all that counts"]
