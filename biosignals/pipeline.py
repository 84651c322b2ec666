"""The per-session feature pipeline: chunks in, feature snapshots out.

One :class:`FeaturePipeline` owns an extractor and a quality monitor per stream role and
the arousal model. Roles:

``heart``
    ECG (mV): R peaks, heart rate, HRV.
``ppg``
    photoplethysmogram (finger, ear, wrist): pulses, heart rate, HRV.
``hr``
    a heart-rate stream already in bpm (chest strap; the inlet converts RR to bpm): the
    median of the last 5 s of plausible values; values outside 30-220 bpm are flagged.
``eda``
    skin conductance (µS): SCL, SCRs and their rate.

Each role's quality monitor knows what a clean signal of that role looks like at a coarse
resolution (:data:`COARSE_RULES`; ``biosignals.quality``, "Quantisation"): a 10-bit EDA may
hold one value for seconds, an ECG in 0.025 mV steps its baseline between beats.

The snapshot's heart rate comes from the best unflagged source, ECG > PPG > HR stream; HRV
from the same source (ECG or PPG).

A therapist may **ignore** a role (:meth:`FeaturePipeline.ignore`: an unplugged sensor
should raise no false alarm): its samples are still checked, its flags still reported as
events, but the snapshot treats it as not streamed: it supplies no feature, its flags do
not count for validity and are left out of ``flags``. The last watched heart-rate source
(and the last watched role) cannot be ignored: without one the heart-rate ceiling could
not be checked, so the signal-loss policy keeps acting instead. :meth:`FeaturePipeline.watch`
takes a role into account again. It is pure: no IO, no clock; the session passes chunks
and the current time. :meth:`FeaturePipeline.update` never raises on bad data (wrong shape
or channel count, NaN, bad timestamps): it raises quality flags instead, and only an
unknown role (a programming error) raises :class:`~biosignals.errors.SignalError`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike

from biosignals._stream import in_order
from biosignals.arousal import ArousalModel, ArousalWeights
from biosignals.ecg import EcgExtractor, HeartBeat
from biosignals.eda import EdaExtractor, SkinResponse
from biosignals.errors import SignalError
from biosignals.features import FeatureSnapshot
from biosignals.hrv import HR_PLAUSIBLE_BPM, HrSmoother, HrvTracker
from biosignals.ppg import PpgExtractor
from biosignals.quality import (
    ARTIFACT,
    FORMAT,
    IMPLAUSIBLE,
    OUT_OF_RANGE,
    BurstRules,
    CoarseRules,
    QualityEvent,
    QualityMonitor,
    active_flags,
)
from biosignals.roles import BEAT_ROLES, HEART_ROLES, ROLE_NAMES

__all__ = [
    "COARSE_RULES",
    "EDA_PLAUSIBLE_US",
    "FeaturePipeline",
    "PipelineOutput",
]

HR_PLAUSIBLE = HR_PLAUSIBLE_BPM
EDA_PLAUSIBLE_US = (0.05, 60.0)
_RR_MIN_S = 60.0 / HR_PLAUSIBLE_BPM[1]
_NO_BEAT_S = 60.0 / HR_PLAUSIBLE_BPM[0] + 0.5  # slowest plausible RR + decision delay
_FAST_HOLD_S = 3.0  # an RR < 60/220 s keeps "implausible" up for 3 s of beats
_HRV_WINDOWS = (60.0, 10.0)

Extractor = EcgExtractor | PpgExtractor | EdaExtractor | HrSmoother


@dataclass
class PipelineOutput:
    """What one chunk produced: beats (ECG or PPG), skin responses, quality flag changes."""

    beats: list[HeartBeat] = field(default_factory=list)
    responses: list[SkinResponse] = field(default_factory=list)
    quality: list[QualityEvent] = field(default_factory=list)


# Quantisation-aware flatline/clipping per role (biosignals.quality, "Quantisation"):
# ECG/PPG must move with every beat (>= 30 bpm: 2 s apart), so a coarse one is flat after
# 2.5 s within +-1 step; EDA may rest within one step for as long as a 0.1 uS/min drift
# takes to cross it (600 s per uS of step), at least 4 s, at most 60 s.
COARSE_RULES: Mapping[str, CoarseRules] = MappingProxyType(
    {
        "heart": CoarseRules(step=0.010, hold=2.5, band_after=2.5),
        "ppg": CoarseRules(fraction=1e-3, hold=2.5, band_after=2.5),
        "eda": CoarseRules(step=0.0005, hold=4.0, hold_per_unit=600.0, hold_max=60.0),
    }
)


# Wide-band bursts (muscle, motion): activity 4x its clean level and, for ECG, 0.3 of
# the QRS's block range (noise small beside the QRS harms no beat); for PPG, as large as
# the upstroke's (a smooth pulse's median block is a good part of it).
BURST_RULES: Mapping[str, BurstRules] = MappingProxyType(
    {"heart": BurstRules(peak_fraction=0.3), "ppg": BurstRules(peak_fraction=1.0)}
)


def _monitor(
    role: str,
    rate: float,
    dropout_after: float | None,
    device_range: tuple[float, float] | None = None,
) -> QualityMonitor:
    if role == "hr":
        return QualityMonitor(
            role,
            rate,
            dropout_after=dropout_after,
            flatline_after=0.0,
            clip_samples=0,
            value_range=HR_PLAUSIBLE_BPM,
            range_flag=IMPLAUSIBLE,
            rate_check=False,  # one value per beat: the nominal rate is only indicative
        )
    if role == "eda":
        return QualityMonitor(
            role,
            rate,
            dropout_after=dropout_after,
            clip_samples=max(4, round(0.3 * rate)),
            device_range=device_range,
            value_range=EDA_PLAUSIBLE_US,
            range_flag=OUT_OF_RANGE,
            coarse=COARSE_RULES[role],
        )
    return QualityMonitor(
        role,
        rate,
        dropout_after=dropout_after,
        device_range=device_range,
        coarse=COARSE_RULES[role],
        burst=BURST_RULES.get(role),
    )


def _device_ranges(
    ranges: dict[str, tuple[float, float]], rates: dict[str, float]
) -> dict[str, tuple[float, float]]:
    """``device_ranges`` checked: roles with a clipping check, finite limits, low < high."""
    out = {}
    for role, limits in ranges.items():
        if role not in rates or role == "hr":
            allowed = ", ".join(r for r in rates if r != "hr") or "none"
            raise SignalError(
                f"device_ranges: role {role!r} has no clipping check here; allowed: {allowed}"
            )
        low, high = (float(v) for v in limits)
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise SignalError(
                f"device_ranges.{role}: limits must be finite with low < high, got {limits!r}"
            )
        out[role] = (low, high)
    return out


def _coerce(role: str, samples: ArrayLike, timestamps: ArrayLike) -> tuple[np.ndarray, ...]:
    """One channel of float64 samples and their timestamps, or SignalError saying why not."""
    try:
        x = np.asarray(samples, dtype=np.float64)
        t = np.asarray(timestamps, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SignalError(f"{role}: samples and timestamps must be numeric ({exc})") from exc
    if x.ndim == 2 and 1 in x.shape and t.ndim == 1 and x.size == t.size:
        x = x.reshape(-1)
    if x.ndim != 1 or t.ndim != 1:
        raise SignalError(
            f"{role}: expected one channel (n,) or (n, 1) and timestamps (n,), got shapes "
            f"{x.shape} and {t.shape}"
        )
    if x.size != t.size:
        raise SignalError(f"{role}: {x.size} samples but {t.size} timestamps")
    return x, t


def _time_hint(timestamps: ArrayLike) -> float | None:
    """Newest finite timestamp in an unusable chunk, if there is one."""
    try:
        t = np.asarray(timestamps, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return None
    t = t[np.isfinite(t)]
    return float(t.max()) if t.size else None


class FeaturePipeline:
    """Extractors, quality monitors, HRV and arousal for the roles a protocol streams.

    Parameters
    ----------
    rates : dict of str to float
        Nominal sampling rate (Hz) per role, e.g. ``{"heart": 500.0, "eda": 32.0}``; the
        ``hr`` role may be 0 (irregular).
    scr_threshold_us : float
        Minimum SCR amplitude (µS).
    dropout_after : float, optional
        Seconds without samples before a stream is flagged as dropped; default per role
        (:func:`biosignals.quality.default_dropout_after`).
    weights : ArousalWeights, optional
        Arousal weights and spans.
    hr_smoothing : float
        Seconds of an ``hr`` stream's values whose median is its heart rate.
    device_ranges : dict of str to (float, float), optional
        Per role, the values the device sends at its ADC's limits (in the role's unit);
        samples pinned there (within one resolution step) are ``clipping`` after the
        usual short run, also on coarse streams.

    Raises
    ------
    SignalError
        On an unknown role or a sampling rate the role's extractor cannot use.
    """

    def __init__(
        self,
        rates: dict[str, float],
        *,
        scr_threshold_us: float = 0.01,
        dropout_after: float | None = None,
        weights: ArousalWeights | None = None,
        hr_smoothing: float = 5.0,
        device_ranges: dict[str, tuple[float, float]] | None = None,
    ) -> None:
        unknown = sorted(set(rates) - set(ROLE_NAMES))
        if unknown:
            raise SignalError(f"unknown stream role(s) {unknown}; allowed: {', '.join(ROLE_NAMES)}")
        self.rates = dict(rates)
        self.ecg = EcgExtractor(rates["heart"]) if "heart" in rates else None
        self.ppg = PpgExtractor(rates["ppg"]) if "ppg" in rates else None
        self.hr_stream = HrSmoother(hr_smoothing) if "hr" in rates else None
        self.eda = EdaExtractor(rates["eda"], scr_threshold_us) if "eda" in rates else None
        if "hr" in rates and not (math.isfinite(rates["hr"]) and rates["hr"] >= 0.0):
            raise SignalError(f"hr: sampling rate must be >= 0 (0: irregular), got {rates['hr']}")
        self.hrv: dict[str, HrvTracker] = {
            role: HrvTracker(max(_HRV_WINDOWS)) for role in BEAT_ROLES if role in rates
        }
        limits = _device_ranges(device_ranges or {}, rates)
        self.monitors = {
            role: _monitor(role, rate, dropout_after, limits.get(role))
            for role, rate in rates.items()
        }
        self.arousal = ArousalModel(weights)
        sources = {"heart": self.ecg, "ppg": self.ppg, "hr": self.hr_stream}
        self._heart_sources = [
            (role, self.monitors[role], sources[role]) for role in HEART_ROLES if role in rates
        ]
        self._ignored: frozenset[str] = frozenset()
        self.errors: dict[str, str] = {}  # last bad-input message per role
        self._last_time: dict[str, float] = {}
        self._last_beat: dict[str, float] = {}
        self._fast_until: dict[str, float] = {}

    # ------------------------------------------------------------------ input
    def update(self, role: str, samples: ArrayLike, timestamps: ArrayLike) -> PipelineOutput:
        """Feed one chunk of ``role``'s samples; return beats/responses/quality changes.

        Bad data (wrong shape or channel count, non-numeric values, NaN, non-finite or
        backward timestamps) never raises: it is repaired where possible and flagged.

        Raises
        ------
        SignalError
            Only if ``role`` is not one this pipeline was built for.
        """
        monitor = self.monitors.get(role)
        if monitor is None:
            raise SignalError(
                f"stream role {role!r} is not in this pipeline (has {', '.join(self.monitors)})"
            )
        out = PipelineOutput()
        try:
            x, t = _coerce(role, samples, timestamps)
        except SignalError as exc:
            self._bad_input(role, str(exc), _time_hint(timestamps))
            out.quality = monitor.drain_events()
            return out
        if not t.size:  # nothing arrived (e.g. a slow stream in a fast frame)
            out.quality = monitor.drain_events()
            return out
        if in_order(t, self._last_time.get(role)):
            self._last_time[role] = float(t[-1])  # the usual chunk: nothing to repair
        else:
            keep = np.isfinite(t)
            if not keep.all():
                x, t = x[keep], t[keep]
                message = f"{role}: {int(np.count_nonzero(~keep))} non-finite timestamps"
                self._bad_input(role, message, float(t[0]) if t.size else None)
            if x.size == 0:
                out.quality = monitor.drain_events()
                return out
            t = self._monotonic(role, t)
        flagged_before, raised = monitor.flagged, monitor.raised
        monitor.update_checked(x, t)  # x, t: 1-D float64, as many, in order
        faulty = flagged_before or monitor.raised != raised or monitor.flagged
        self._extract(role, x, t, out, faulty)
        out.quality = monitor.drain_events()
        return out

    def _bad_input(self, role: str, message: str, when: float | None) -> None:
        self.errors[role] = message
        if when is None:
            when = self._last_time.get(role, 0.0)
        self.monitors[role].flag_value(FORMAT, True, when)

    def _monotonic(self, role: str, t: np.ndarray) -> np.ndarray:
        """Timestamps that never go back (a jittery device clock must not stop the session)."""
        last = self._last_time.get(role, -np.inf)
        fixed = np.maximum.accumulate(np.maximum(t, last))
        self._last_time[role] = float(fixed[-1])
        return fixed

    def _extract(
        self, role: str, x: np.ndarray, t: np.ndarray, out: PipelineOutput, faulty: bool
    ) -> None:
        try:
            # x and t are checked (float64, 1-D, in order): the extractors need not again
            if role == "eda" and self.eda is not None:
                out.responses = self.eda.update_checked(x, t)
                for art in self.eda.drain_artifacts():  # motion artefacts
                    when = art.start if art.end is None else art.end
                    self.monitors[role].flag_value(ARTIFACT, art.end is None, when)
            elif role == "hr" and self.hr_stream is not None:
                self.hr_stream.update(x, t)
            elif role == "heart" and self.ecg is not None:
                out.beats = self.ecg.update_checked(x, t)
                for when in self.ecg.drain_artifacts():  # extra QRS-like complexes
                    until = max(self._fast_until.get(role, -math.inf), when + _FAST_HOLD_S)
                    self._fast_until[role] = until
                    self.monitors[role].flag_value(IMPLAUSIBLE, True, when)
            elif role == "ppg" and self.ppg is not None:
                out.beats = self.ppg.update_checked(x, t)
        except SignalError as exc:  # defensive: inputs were validated above
            self._bad_input(role, str(exc), float(t[0]))
            return
        if out.beats or (faulty and role in self.hrv):  # else nothing to do
            self._on_beats(role, out.beats, faulty)

    def _on_beats(self, role: str, beats: list[HeartBeat], faulty: bool) -> None:
        monitor, hrv = self.monitors[role], self.hrv[role]
        if faulty:
            hrv.interrupt()  # beats around a fault never enter HRV
        elif beats:
            hrv.update(beats)
        for beat in beats:
            self._last_beat[role] = beat.time
            if beat.rr is not None and beat.rr < _RR_MIN_S:
                self._fast_until[role] = beat.time + _FAST_HOLD_S
            too_fast = beat.time < self._fast_until.get(role, -math.inf)
            monitor.flag_value(IMPLAUSIBLE, too_fast, beat.time)

    def check(self, now: float) -> list[QualityEvent]:
        """Time-based checks at ``now`` (dropout, no heart beat for > 2.5 s); flag changes."""
        events: list[QualityEvent] = []
        for role, monitor in self.monitors.items():
            monitor.check(now)
            last = self._last_beat.get(role)
            if last is not None and now - last > _NO_BEAT_S:
                monitor.flag_value(IMPLAUSIBLE, True, last + 60.0 / HR_PLAUSIBLE_BPM[0])
            events.extend(monitor.drain_events())
        return events

    # ------------------------------------------------------------------ ignoring
    @property
    def ignored(self) -> frozenset[str]:
        """Roles the snapshot disregards (see the module docstring)."""
        return self._ignored

    def ignore(self, role: str) -> None:
        """Disregard ``role`` in snapshots until :meth:`watch` (see the module docstring).

        Raises
        ------
        SignalError
            ``role`` is not in this pipeline, or it is the last watched heart-rate source
            or the last watched role.
        """
        self._known(role)
        watched = [r for r in self.monitors if r not in self._ignored and r != role]
        hearts = [r for r in HEART_ROLES if r in watched]
        if role in HEART_ROLES and not hearts:
            raise SignalError(
                f"{role} is the last heart-rate source watched: the heart-rate ceiling needs "
                "one (the signal-loss policy acts while it is lost)"
            )
        if not watched:
            raise SignalError(f"{role} is the last stream watched: a session needs one")
        self._ignored = self._ignored | {role}

    def watch(self, role: str) -> None:
        """Take ``role`` into account again (a no-op when it is watched)."""
        self._known(role)
        self._ignored = self._ignored - {role}

    def _known(self, role: str) -> None:
        if role not in self.monitors:
            raise SignalError(
                f"stream role {role!r} is not in this session (roles: {', '.join(self.monitors)})"
            )

    # ------------------------------------------------------------------ output
    def _heart(self) -> tuple[float | None, str | None]:
        """Heart rate from the best unflagged, watched source, and that source's role."""
        for role, monitor, source in self._heart_sources:
            if monitor.flagged or role in self._ignored:
                continue
            value = None if source is None else source.heart_rate
            if value is not None:
                return value, role
        return None, None

    def snapshot(self, now: float, *, with_hrv: bool = True) -> FeatureSnapshot:
        """Current features; invalid while a streamed feature group has no clean source.

        The heart group (``heart``/``ppg``/``hr``) is valid when one of its sources is
        unflagged and has a heart rate; the skin group (``eda``) when its stream is
        unflagged and has a level. The snapshot is valid when every group streamed is.
        ``with_hrv=False`` leaves the HRV fields ``None`` (per-frame safety checks do not
        need them; the controller's ticks and progress lines do).
        """
        hr, source = self._heart()
        hrv = self.hrv.get(source or "") if with_hrv else None
        hrv_values: list[float | None] = [None] * 4
        if hrv is not None:
            hrv_values = [v for w in _HRV_WINDOWS for v in hrv.rmssd_sdnn(w)]
        ignored = self._ignored
        heart_ok = source is not None or not any(
            r in self.monitors and r not in ignored for r in HEART_ROLES
        )
        scl = scr_rate = None
        eda_ok = True
        if self.eda is not None and "eda" not in ignored:
            level = self.eda.scl
            eda_ok = not self.monitors["eda"].flagged and level is not None
            if eda_ok:
                scl = level
                scr_rate = self.eda.scr_rate(now, self.arousal.weights.scr_window)
        monitors = self.monitors
        if ignored:
            monitors = {r: m for r, m in monitors.items() if r not in ignored}
        flags = active_flags(monitors.values())
        valid = bool(self.monitors) and heart_ok and eda_ok
        reason = "" if valid else "no clean source: " + (",".join(flags) or "no data yet")
        detail = self.arousal.evaluate(now, hr, scl, scr_rate, valid=valid, reason=reason)
        return FeatureSnapshot(
            now,
            hr,
            scl,
            scr_rate,
            detail.index,
            valid,
            flags,
            rmssd_ms=hrv_values[0],
            sdnn_ms=hrv_values[1],
            rmssd_10s_ms=hrv_values[2],
            sdnn_10s_ms=hrv_values[3],
            hr_source=source,
            arousal_detail=detail,
        )

    def collect_baseline(self, snapshot: FeatureSnapshot) -> None:
        """Use a (valid) snapshot taken during the baseline period."""
        if snapshot.valid:
            self.arousal.collect(snapshot.hr_bpm, snapshot.scl_us, snapshot.scr_rate)
