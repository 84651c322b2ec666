"""How the exposure controller explains what comes next (``explain_next``): its climb rules
turned into words and the tick at which the climb falls if the inputs stay as they are."""

from __future__ import annotations

from typing import TYPE_CHECKING

from therapies.controllers.base import next_tick, seconds
from therapies.controllers.exposure import _SIGNALS, _UNITS, _fmt

if TYPE_CHECKING:
    from therapies.controllers.exposure import ExposureController


class Explainer:
    """What :meth:`ExposureController.explain_next` says, from the controller's state."""

    def __init__(self, ctl: ExposureController, now: float, a: float) -> None:
        self.ctl, self.now, self.a = ctl, now, a
        self.cfg = ctl.config
        self.track = ctl._track
        self.dwell = now - self.track.since

    def at(self, earliest: float, *, strictly: bool = False) -> float:
        """The tick at which a condition reached at ``earliest`` first counts."""
        return next_tick(self.now, self.cfg.tick, earliest, strictly=strictly)

    def settle_from(self) -> float:
        """When the step has lasted ``settle_time`` (no climb before)."""
        return self.track.since + self.cfg.settle_time

    def when(self, tick: float, steady: str) -> str:
        return f"for {seconds(tick - self.now)} s more{steady}"

    def settled(self) -> str:
        """The ``settled`` rule: arousal steady over ``settle_time``."""
        cfg, history = self.cfg, list(self.ctl._history)
        k = 0  # first entry of the longest steady run ending now
        for i in range(len(history) - 1, -1, -1):
            values = [v for _, v in history[i:]]
            if max(values) - min(values) > cfg.settle_tolerance:
                k = i + 1
                break
        first = history[k][0] if history else self.now
        start = max(first, self.track.since) if k == 0 else first
        steady = min(self.now - start, cfg.settle_time)
        tick = self.at(self.settle_from())
        if k > 0:
            tick = max(tick, self.at(history[k - 1][0] + cfg.settle_time, strictly=True))
        hi = cfg.arousal_window[1]
        return (
            f"when arousal stays steady (spread within {cfg.settle_tolerance:.2f}) and at or "
            f"below {hi:.2f} "
            + self.when(tick, f" (steady {seconds(steady)} of {cfg.settle_time:.0f} s)")
        )

    def arousal_drop(self) -> str:
        """The ``habituated`` rule without a block: arousal fell below the step's peak."""
        cfg, a = self.cfg, self.a
        peak = self.ctl._step_peak if self.ctl._step_peak is not None else a
        threshold = peak * (1.0 - cfg.habituation_drop)
        what = (
            f"arousal at or below {threshold:.2f} ({cfg.habituation_drop:.0%} under the step "
            f"peak {peak:.2f}; now {a:.2f})"
        )
        drop = (peak - a) / peak if peak > 0 else 1.0
        if drop < cfg.habituation_drop:
            wait = max(0.0, self.settle_from() - self.now)
            return f"once {what}" + (f", not before {seconds(wait)} s" if wait > 0 else "")
        return f"if {what} " + self.when(self.at(self.settle_from()), "")

    def habituation(self) -> str:
        """A ``habituation`` block: each criterion, and when the climb falls."""
        hab = self.ctl.config.habituation
        assert hab is not None
        parts: list[str] = []
        ready: list[float | None] = []
        for name in hab.criteria():
            text, when = self._criterion(name)
            parts.append(text)
            ready.append(when)
        known = [t for t in ready if t is not None]
        if hab.require == "all":
            due = max(known) if len(known) == len(ready) else None
        else:
            due = min(known) if known else None
        head = "all of" if hab.require == "all" and len(parts) > 1 else "any of"
        text = f"when {head}: " + "; ".join(parts) if len(parts) > 1 else "when " + parts[0]
        if due is None:
            wait = max(0.0, self.settle_from() - self.now)
            return text + (f" (not before {seconds(wait)} s)" if wait > 0 else "")
        tick = max(self.at(self.settle_from()), self.at(due))
        return text + f" - {seconds(tick - self.now)} s more if this holds"

    def _criterion(self, name: str) -> tuple[str, float | None]:
        hab = self.ctl.config.habituation
        assert hab is not None
        track = self.track
        if name == "suds_below":
            last = "none yet" if track.suds is None else str(track.suds)
            met = track.suds is not None and track.suds < (hab.suds_below or 0)
            return f"SUDS below {hab.suds_below} (last on this step: {last})", (
                self.now if met else None
            )
        what, unit = _SIGNALS[name], _UNITS[name]
        if name not in track.peaks:
            return f"{what} falls {getattr(hab, name):.0%} (no {what} yet)", None
        since = track.met_since.get(name)
        if since is not None:
            held = self.now - since
            text = f"{self.ctl._describe(name)}, held {seconds(held)} of {hab.dwell:.0f} s"
            return text, since + hab.dwell
        peak, latest = track.peaks[name], track.last[name]
        fraction = getattr(hab, name)
        if hab.reference == "peak":
            threshold = peak * (1.0 - fraction)
            ref = f"{fraction:.0%} under the step peak {_fmt(name, peak)}{unit}"
        else:
            threshold = peak - fraction * (peak - self.ctl._rest[name])
            ref = f"{fraction:.0%} of its rise from rest {_fmt(name, self.ctl._rest[name])}"
        return (
            f"{what} at or below {_fmt(name, threshold)}{unit} ({ref}; now "
            f"{_fmt(name, latest)}{unit}) for {hab.dwell:.0f} s",
            None,
        )
