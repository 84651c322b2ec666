"""What a device really sends -> the units a role works in; and its timestamps -> LSL clock.

Device bridges are messy: the same skin conductance can arrive as microsiemens, nanosiemens,
skin *resistance* in kilohms or raw ADC counts; an ECG as microvolts, millivolts or counts;
heart rate as beats per minute or as RR intervals. A protocol describes what one stream
really sends with :class:`SignalSettings` (no code changes per device), and
:func:`plan_conversion` turns that, plus the unit the stream declares in its ``<desc>``,
into a :class:`Conversion` that maps values to the role's canonical unit:

* ECG -> ``mV``; EDA -> ``uS``; heart rate / RR content -> ``bpm``; PPG -> ``""`` (no
  physical unit: only ``scale``/``offset`` are applied and the declared unit is ignored).
* Resistance ``R`` becomes conductance ``1/R`` (``kOhm`` -> ``1000 / R`` uS); RR intervals
  become ``60 / RR[s]`` bpm. Non-positive or non-finite ``R`` / ``RR`` give NaN (the
  quality layer sees the bad sample; nothing is silently clamped).
* Raw counts: ``physical = (value - offset) * scale`` with ``unit: counts`` means the scaled
  value *is* in the role's unit. For any other unit, ``scale``/``offset`` are applied first
  and the result is then converted from ``unit``.

Timestamps: :func:`unix_to_lsl_offset` and :func:`looks_like_unix` support streams stamped
with ``time.time()`` instead of ``pylsl.local_clock``; :class:`Dejitter` re-times bunched
per-packet timestamps of a regular stream to its nominal rate, causally.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator
from scipy.signal import lfilter

from biosignals.errors import StreamError

__all__ = [
    "ACCEPTED_UNITS",
    "Conversion",
    "Dejitter",
    "SignalSettings",
    "TimestampMapper",
    "Unit",
    "convert",
    "looks_like_unix",
    "parse_unit",
    "plan_conversion",
    "unix_to_lsl_offset",
]

Unit = Literal["mV", "uV", "V", "uS", "nS", "S", "kOhm", "Ohm", "MOhm", "counts", "bpm", "ms", "s"]
"""Units a device may really send (the ``unit`` setting, besides ``"auto"``)."""


class SignalSettings(BaseModel):
    """What one stream really sends; the protocol's per-stream ``signal:`` block.

    Parameters
    ----------
    unit
        Unit of the values after ``scale``/``offset``. ``"auto"``: the unit the stream
        declares in ``<desc><channels><channel><unit>``; if it declares none, the role's
        own unit. Set it explicitly when the declared unit is wrong or unknown.
    scale, offset
        ``physical = (value - offset) * scale``, applied before the unit conversion; with
        ``unit: counts`` the result is taken to be in the role's unit.
    clock
        ``"lsl"``: timestamps are on the sender's ``pylsl.local_clock`` (liblsl's clock
        offset estimate, ``time_correction()``, is added). ``"unix"``: they are
        ``time.time()`` values and are mapped to the local LSL clock by
        ``local_clock() - time.time()``, measured at each pull.
        ``"auto"`` (default): decided on the first samples (closer to the Unix clock than
        to the LSL clock -> ``unix``), then fixed for the session. LSL clock values are
        seconds since the machine started, Unix values ~1.7e9, so the choice is safe.
    dejitter
        Re-time samples of a *regular* stream to its nominal rate (for bridges that stamp
        every sample of a radio packet with one time). Causal; see :class:`Dejitter`.
    dejitter_tau
        Smoothing time constant of the dejitter fit in seconds (default 10). The spacing of
        re-timed samples ripples by about ``packet duration / (2 * tau)``; device clock
        drift is followed with a lag of ``drift * tau``.
    content
        ``"waveform"`` (ECG/PPG/EDA samples), or heart rate from HR-only devices on an
        irregular stream: ``"hr_bpm"`` (beats per minute), ``"rr_ms"`` / ``"rr_s"`` (RR
        intervals, converted to bpm at the beat's timestamp).
    range
        ``[low, high]``: the values the device sends at its ADC's limits, in the role's
        unit (after conversion), e.g. BITalino EDA ``[0, 24.976]``. Samples pinned there
        raise ``clipping`` after the usual short run, also on low-resolution streams
        (without it, a coarse stream pinned at its top is flagged after the role's longer
        hold; see :mod:`biosignals.quality`). Not for heart-rate content.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    unit: Unit | Literal["auto"] = "auto"
    scale: float = 1.0
    offset: float = 0.0
    clock: Literal["lsl", "unix", "auto"] = "auto"
    dejitter: bool = False
    content: Literal["waveform", "hr_bpm", "rr_ms", "rr_s"] = "waveform"
    dejitter_tau: float = Field(default=10.0, gt=0.0, le=60.0)
    range: tuple[float, float] | None = None

    @field_validator("range")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not (
            math.isfinite(value[0]) and math.isfinite(value[1]) and value[0] < value[1]
        ):
            raise ValueError(f"{list(value)!r} is not [low, high] with finite low < high")
        return value

    @field_validator("scale", "offset")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        return value

    @field_validator("scale")
    @classmethod
    def _nonzero(cls, value: float) -> float:
        if value == 0.0:
            raise ValueError("scale must not be 0")
        return value


_ALIASES: dict[str, Unit] = {
    "mV": "mV", "mv": "mV", "millivolt": "mV", "millivolts": "mV",
    "uV": "uV", "uv": "uV", "\u00b5V": "uV", "\u03bcV": "uV", "microvolt": "uV",
    "microvolts": "uV",
    "V": "V", "v": "V", "volt": "V", "volts": "V",
    "uS": "uS", "\u00b5S": "uS", "\u03bcS": "uS", "microsiemens": "uS", "micro siemens": "uS",
    "nS": "nS", "nanosiemens": "nS",
    "S": "S", "siemens": "S",
    "kOhm": "kOhm", "kohm": "kOhm", "kohms": "kOhm", "k\u03a9": "kOhm", "k\u2126": "kOhm",
    "kiloohm": "kOhm", "kiloohms": "kOhm", "kilohm": "kOhm", "kilohms": "kOhm",
    "Ohm": "Ohm", "ohm": "Ohm", "ohms": "Ohm", "\u03a9": "Ohm", "\u2126": "Ohm",
    "MOhm": "MOhm", "M\u03a9": "MOhm", "M\u2126": "MOhm", "megohm": "MOhm",
    "megohms": "MOhm", "megaohm": "MOhm", "megaohms": "MOhm",
    "counts": "counts", "count": "counts", "raw": "counts", "adc": "counts",
    "a.u.": "counts", "au": "counts", "arbitrary": "counts",
    "bpm": "bpm", "BPM": "bpm", "beats/min": "bpm", "1/min": "bpm", "beats per minute": "bpm",
    "ms": "ms", "msec": "ms", "millisecond": "ms", "milliseconds": "ms",
    "s": "s", "sec": "s", "second": "s", "seconds": "s",
}  # fmt: skip
# Case-insensitive fallback only for spelled-out words: "mS"/"ms", "MOhm"/"mOhm" differ.
_WORDS: dict[str, Unit] = {k.lower(): v for k, v in _ALIASES.items() if len(k) > 3}

#: Accepted spellings, for messages and documentation.
ACCEPTED_UNITS: tuple[str, ...] = tuple(_ALIASES)

_FAMILIES: dict[str, dict[str, float]] = {
    "voltage": {"V": 1.0, "mV": 1e-3, "uV": 1e-6},
    "conductance": {"S": 1.0, "uS": 1e-6, "nS": 1e-9},
    "resistance": {"Ohm": 1.0, "kOhm": 1e3, "MOhm": 1e6},
    "rate": {"bpm": 1.0},
    "interval": {"s": 1.0, "ms": 1e-3},
}
_CONTENT_UNIT: dict[str, Unit] = {"hr_bpm": "bpm", "rr_ms": "ms", "rr_s": "s"}


def _family(unit: str) -> tuple[str, float] | None:
    for name, members in _FAMILIES.items():
        if unit in members:
            return name, members[unit]
    return None


def parse_unit(text: str, *, stream: str = "stream") -> Unit | None:
    """Canonical unit of a declared unit string, ``None`` when nothing is declared.

    Parameters
    ----------
    text
        The ``<unit>`` text from the stream's description (any accepted spelling).
    stream
        Stream name for the error message.

    Raises
    ------
    StreamError
        For an unknown unit: names the stream, the unit found, the accepted units and
        the protocol setting that overrides it.
    """
    cleaned = text.strip()
    if not cleaned:
        return None
    found = _ALIASES.get(cleaned) or _WORDS.get(cleaned.lower())
    if found is None:
        raise StreamError(
            f"stream {stream!r} declares unit {cleaned!r}, which vrtherapy does not know; "
            f"accepted: {', '.join(ACCEPTED_UNITS)}. Set the protocol's "
            f"streams.<role>.signal.unit to what the device really sends"
        )
    return found


@dataclass(frozen=True, slots=True)
class Conversion:
    """A resolved value mapping: ``linear`` ``(x - offset) * gain`` or ``reciprocal``
    ``numerator / ((x - offset) * gain)`` (non-positive denominators -> NaN)."""

    kind: Literal["linear", "reciprocal"]
    offset: float
    gain: float
    numerator: float
    source: str
    target: str

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """Apply to an array (float64 out; the input is not modified)."""
        x = (np.asarray(values, dtype=np.float64) - self.offset) * self.gain
        if self.kind == "linear":
            return x
        out = np.full(x.shape, np.nan)
        ok = np.isfinite(x) & (x > 0.0)
        out[ok] = self.numerator / x[ok]
        return out

    def describe(self) -> str:
        """Short text for logs and reports, e.g. ``"uV -> mV"``."""
        return f"{self.source or 'unitless'} -> {self.target or 'unitless'}"


def _mismatch(stream: str, source: str, target: str) -> StreamError:
    return StreamError(
        f"stream {stream!r}: values in {source!r} cannot be converted to {target!r}; if the "
        f"declared unit is wrong, set the protocol's streams.<role>.signal.unit "
        f"(one of {', '.join(sorted({u for f in _FAMILIES.values() for u in f}))}, counts)"
    )


def plan_conversion(
    role_unit: str, settings: SignalSettings, declared_unit: str, *, stream: str = "stream"
) -> Conversion:
    """Resolve how one stream's values become the role's unit (done once, at open).

    Parameters
    ----------
    role_unit
        The role's canonical unit: ``"mV"`` (ECG), ``"uS"`` (EDA), ``"bpm"`` (heart
        rate), or ``""`` for unitless signals (PPG). Content ``hr_bpm``/``rr_*`` always
        targets ``"bpm"``.
    settings
        What the device really sends.
    declared_unit
        The channel's ``<unit>`` text from the stream description (may be ``""``).
    stream
        Stream name for error messages.

    Raises
    ------
    StreamError
        Unknown declared unit, or a unit that cannot become the role's unit.
    """
    target = "bpm" if settings.content != "waveform" else role_unit
    if target and _family(target) is None:
        raise StreamError(f"stream {stream!r}: {target!r} is not a role unit (mV, uS, bpm)")
    source: str | None
    if settings.unit != "auto":
        source = settings.unit
    elif settings.content != "waveform":
        source = _CONTENT_UNIT[settings.content]
    elif not target:
        source = None  # unitless role: whatever the stream declares is irrelevant
    else:
        source = parse_unit(declared_unit, stream=stream) or target
    base = Conversion("linear", settings.offset, settings.scale, 1.0, source or "", target)
    if not target or source in (None, "counts", target):
        return base
    src, dst = _family(str(source)), _family(target)
    if src is None or dst is None:
        raise _mismatch(stream, str(source), target)
    if src[0] == dst[0]:
        return Conversion("linear", settings.offset, settings.scale * src[1] / dst[1], 1.0,
                          str(source), target)  # fmt: skip
    if (src[0], dst[0]) == ("resistance", "conductance"):
        numerator = 1.0 / (src[1] * dst[1])
    elif (src[0], dst[0]) == ("interval", "rate"):
        numerator = 60.0 / src[1]
    else:
        raise _mismatch(stream, str(source), target)
    return Conversion("reciprocal", settings.offset, settings.scale, numerator, str(source), target)


def convert(
    values: np.ndarray,
    role_unit: str,
    settings: SignalSettings,
    declared_unit: str,
    *,
    stream: str = "stream",
) -> np.ndarray:
    """Convert ``values`` to the role's unit in one call (see :func:`plan_conversion`).

    Examples: uV -> mV divides by 1000; kOhm resistance ``R`` -> ``1000 / R`` uS (``R <= 0``
    -> NaN); RR in ms -> ``60000 / RR`` bpm.
    """
    return plan_conversion(role_unit, settings, declared_unit, stream=stream)(values)


def unix_to_lsl_offset(
    local_clock: Callable[[], float], wall_clock: Callable[[], float] = time.time
) -> float:
    """Seconds to add to a ``time.time()`` stamp to put it on the LSL clock.

    The wall clock is read between two LSL clock reads and the midpoint is used.
    """
    before = local_clock()
    wall = wall_clock()
    after = local_clock()
    return 0.5 * (before + after) - wall


def looks_like_unix(stamps: np.ndarray, lsl_now: float, unix_now: float) -> bool:
    """Whether timestamps are nearer the Unix clock than the LSL clock (``clock: auto``)."""
    if stamps.size == 0:
        return False
    mid = float(np.median(stamps))
    return mid > 1e9 and abs(mid - unix_now) < abs(mid - lsl_now)


class Dejitter:
    """Causal re-timing of a regular stream to its nominal rate.

    Each sample ``k`` of a segment gets ``anchor + k / rate + o_k``, where ``o_k`` is an
    exponential moving average (time constant ``tau`` seconds) of the residuals
    ``stamp_k - (anchor + k / rate)``. Bunched per-packet stamps (a sawtooth residual) so
    become evenly spaced, placed at the packets' *mean* stamp: with stamps taken when a
    packet arrives, results are late by about half a packet; clock drift of the device is
    followed with a lag of ``drift * tau``. For the first ``rate * tau`` samples of a
    segment the estimate is the running mean of the residuals (fast, unbiased start). A
    residual further than ``reset_after`` seconds from the estimate (a real gap, or a
    jump back) starts a new segment at that sample, so gaps are kept, not smoothed over.
    Chunking does not change the result.

    Parameters
    ----------
    rate
        Nominal sampling rate in Hz (> 0).
    tau
        Smoothing time constant in seconds (spacing ripple ~ ``packet / (2 * tau)``).
    reset_after
        Residual (seconds) beyond which a new segment starts.
    """

    def __init__(self, rate: float, tau: float = 10.0, reset_after: float = 0.5) -> None:
        if not rate > 0:
            raise StreamError(f"dejitter needs a nominal sampling rate > 0, got {rate}")
        self.rate, self.tau, self.reset_after = float(rate), float(tau), float(reset_after)
        self._alpha = 1.0 - math.exp(-1.0 / (self.rate * self.tau))
        self._anchor = 0.0
        self._k = 0
        self._o = 0.0
        self._sum = 0.0
        self._warmup = math.ceil(1.0 / self._alpha)
        self._started = False

    def apply(self, stamps: np.ndarray) -> np.ndarray:
        """Re-timed copy of a chunk of timestamps (float64, same shape)."""
        s = np.asarray(stamps, dtype=np.float64)
        out = np.empty_like(s)
        i = 0
        while i < s.size:
            if not self._started:
                self._anchor, self._k, self._o, self._sum = float(s[i]), 0, 0.0, 0.0
                self._started = True
            idx = self._k + np.arange(s.size - i, dtype=np.float64)
            resid = s[i:] - (self._anchor + idx / self.rate)
            bad = np.flatnonzero(np.abs(resid - self._o) > self.reset_after)
            m = int(bad[0]) if bad.size else resid.size
            if m == 0:
                self._started = False
                continue
            out[i : i + m] = self._anchor + idx[:m] / self.rate + self._smooth(resid[:m])
            self._k, i = self._k + m, i + m
        return out

    def _smooth(self, resid: np.ndarray) -> np.ndarray:
        """Running mean for the first ``1/alpha`` samples of a segment, then the EMA."""
        warm = min(max(self._warmup - self._k, 0), resid.size)
        smooth = np.empty_like(resid)
        if warm:
            sums = self._sum + np.cumsum(resid[:warm])
            smooth[:warm] = sums / (self._k + 1 + np.arange(warm))
            self._sum, self._o = float(sums[-1]), float(smooth[warm - 1])
        if warm < resid.size:
            a = self._alpha
            smooth[warm:], _ = lfilter([a], [1.0, a - 1.0], resid[warm:], zi=[(1.0 - a) * self._o])
            self._o = float(smooth[-1])
        return smooth


class TimestampMapper:
    """Puts one stream's timestamps on the local LSL clock, per :class:`SignalSettings`.

    Parameters
    ----------
    settings
        ``clock`` and ``dejitter`` are used.
    nominal_srate
        The stream's nominal rate (dejittering needs > 0).
    reset_after
        Gap threshold in seconds (dejittering restarts after larger steps).
    local_clock
        ``pylsl.local_clock``.
    stream
        Stream name for messages.
    wall_clock
        ``time.time`` (injectable for tests).
    """

    def __init__(
        self,
        settings: SignalSettings,
        nominal_srate: float,
        reset_after: float,
        local_clock: Callable[[], float],
        *,
        stream: str = "stream",
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if settings.dejitter and nominal_srate <= 0:
            raise StreamError(
                f"stream {stream!r} is irregular (rate 0); signal.dejitter needs a nominal rate"
            )
        self.clock = settings.clock
        self._unix: bool | None = {"lsl": False, "unix": True}.get(settings.clock)
        self._local_clock, self._wall_clock = local_clock, wall_clock
        self._dejitter = (
            Dejitter(nominal_srate, settings.dejitter_tau, reset_after)
            if settings.dejitter
            else None
        )
        self.last_offset: float | None = None
        """Seconds added to the sender's stamps at the last :meth:`apply` (``None`` before)."""

    @property
    def unix(self) -> bool | None:
        """Whether stamps are taken as Unix time (``None`` until ``auto`` has decided)."""
        return self._unix

    def apply(self, stamps: np.ndarray, correction: Callable[[], float]) -> np.ndarray:
        """Map a chunk of raw (sender-clock) stamps; ``correction()`` gives liblsl's
        current offset from the sender's LSL clock to ours (``time_correction``)."""
        if self._unix is None:
            self._unix = looks_like_unix(stamps, self._local_clock(), self._wall_clock())
        offset = (
            unix_to_lsl_offset(self._local_clock, self._wall_clock) if self._unix else correction()
        )
        self.last_offset = offset
        stamps = stamps + offset
        if self._dejitter is not None:
            stamps = self._dejitter.apply(stamps)
        return stamps
