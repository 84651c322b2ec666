"""What a live session tells a therapist console (docs/console.md, part 1): the status
object, the features row at each tick, the session's static facts, thumbnails.

:func:`session_info` is the static part (protocol, scene, hierarchy, window, prompt kinds,
scene events, roles and their streams, participant, start), put once in the status
stream's description. :class:`SessionStatus` runs beside a :class:`~engine.session.Session`
that was given a :class:`~engine.session_types.StatusSink`: after every frame it counts
frames (late ones too), pushes the features row at each session tick, and the status
object at each controller tick and whenever the state, step, hold, prompt, ignored roles
or a stream's status changed; when the protocol allows it, a thumbnail of the view every
``1 / thumbnail_fps`` s (read back here, encoded on a worker thread:
:mod:`engine.thumbnail`). Building the status reads the session; it changes nothing, so
what is recorded is the same with or without a console.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from biosignals.features import FeatureSnapshot
from engine.protocol import Protocol
from engine.session_types import SessionState, StatusSink
from engine.thumbnail import ThumbnailWorker
from therapies.prompts import KINDS

if TYPE_CHECKING:
    from engine.session import Session

__all__ = ["LATE_FACTOR", "SessionStatus", "feature_row", "session_info", "stream_states"]

LATE_FACTOR = 1.5
"""A frame is late when it comes more than this many frame periods after the previous one
(headsets: when the runtime says so)."""


def session_info(
    protocol: Protocol,
    *,
    sid: str,
    scene_events: Sequence[str],
    roles: Mapping[str, Mapping[str, Any]],
    participant: str,
    started: str,
) -> dict[str, Any]:
    """The session's static facts for the status stream's description (docs/console.md).

    ``roles``: per stream role, the stream it reads (``name``, ``type``, ``source_id``,
    ``channel``); ``started``: ISO 8601 UTC.
    """
    cfg = protocol.controller
    levels = cfg.levels()
    return {
        "sid": sid,
        "protocol": protocol.protocol,
        "title": protocol.title,
        "scene": protocol.scene,
        "duration_s": protocol.duration,
        "baseline_s": protocol.baseline,
        "controller": cfg.kind,
        "tick_s": cfg.tick,
        "hierarchy": [
            {"step": i + 1, "intensity": level, "label": cfg.label(i)}
            for i, level in enumerate(levels)
        ],
        "window": list(cfg.arousal_window),
        "max_heart_rate": protocol.safety.max_heart_rate,
        "prompt_kinds": [k for k in KINDS if getattr(protocol.prompts, k) is not None],
        "scene_events": list(scene_events),
        "roles": {role: dict(stream) for role, stream in roles.items()},
        "participant": participant,
        "started": started,
        "thumbnail": protocol.console.thumbnail,
    }


def feature_row(snap: FeatureSnapshot) -> list[float]:
    """``heart_rate, scl, scr_rate, arousal, rmssd, valid`` (NaN where unknown)."""
    values = (snap.hr_bpm, snap.scl_us, snap.scr_rate, snap.arousal, snap.rmssd_ms)
    return [math.nan if v is None else float(v) for v in values] + [float(snap.valid)]


def stream_states(session: Session) -> dict[str, dict[str, Any]]:
    """Per role: ``{"status": ok|stale|flagged|ignored, "flags": [...]}``."""
    pipeline = session.pipeline
    out: dict[str, dict[str, Any]] = {}
    for role, monitor in pipeline.monitors.items():
        flags = list(monitor.active)
        if role in pipeline.ignored:
            status = "ignored"
        elif monitor.last_sample_time is None or "dropout" in flags:
            status = "stale"
        else:
            status = "flagged" if flags else "ok"
        out[role] = {"status": status, "flags": flags}
    return out


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 4)


class SessionStatus:
    """Publishes ``session``'s status to ``sink`` (see the module docstring).

    Parameters
    ----------
    session
        The session (read only).
    sink
        Where the status, features and thumbnails go.
    thumbnail_fps
        Thumbnails per second (0: none; only where the sink takes them and the display
        draws).
    """

    def __init__(self, session: Session, sink: StatusSink, thumbnail_fps: float = 0.0) -> None:
        self.session, self.sink = session, sink
        self._key: tuple[Any, ...] | None = None
        self._controller_tick: float | None = None
        self._frames = self._late = 0
        self._since_status = 0
        self._last_frame: float | None = None
        self._last_status: float | None = None
        self._rate: float | None = None
        self._thumbs: ThumbnailWorker | None = None
        self._next_thumb = math.inf if thumbnail_fps <= 0 else -math.inf
        self._thumb_period = 0.0
        if thumbnail_fps > 0 and sink.thumbnail and session.display.capabilities.draws:
            self._thumbs = ThumbnailWorker(sink.push_thumbnail)
            self._thumb_period = 1.0 / thumbnail_fps

    def after_frame(self, now: float, session_tick: bool) -> None:
        """A frame was presented at ``now``: count it, publish what is due."""
        s = self.session
        self._frame(now)
        if session_tick:
            self.sink.push_features(feature_row(s.features), now)
        controller_tick = s.safety.last_tick
        ticked = controller_tick is not None and controller_tick != self._controller_tick
        self._controller_tick = controller_tick
        key = self._state_key()
        if key != self._key or ticked or (session_tick and s.state is SessionState.BASELINE):
            self.publish(now, key)
        if self._thumbs is not None and now >= self._next_thumb:
            period = self._thumb_period
            late = now - self._next_thumb
            self._next_thumb = now + period if late > period else self._next_thumb + period
            self._thumbs.offer(s.display.read_pixels(), now)

    def _frame(self, now: float) -> None:
        late = False
        xr = self.session.display.last_frame
        if xr is not None:
            late = bool(xr.late)
        elif self._last_frame is not None:
            late = now - self._last_frame > LATE_FACTOR * self.session.frame_period
        self._last_frame = now
        self._frames += 1
        self._since_status += 1
        self._late += late

    def _state_key(self) -> tuple[Any, ...]:
        s = self.session
        prompt = s.prompts.open
        flags = tuple((m.flagged, m.last_sample_time is None) for m in s.pipeline.monitors.values())
        return (
            s.state,
            s.safety.controller.step,
            s.safety.held_by,
            None if prompt is None else (prompt.kind, prompt.asked_at),
            s.pipeline.ignored,
            flags,
        )

    def publish(self, now: float, key: tuple[Any, ...] | None = None) -> None:
        """Push the status object now."""
        self._key = key if key is not None else self._state_key()
        if self._last_status is not None and now > self._last_status:
            self._rate = self._since_status / (now - self._last_status)
        self._last_status, self._since_status = now, 0
        self.sink.push_status(self.build(now), now)

    def build(self, now: float) -> dict[str, Any]:
        """The status object (docs/console.md): every key present, ``None`` where unknown."""
        s = self.session
        ctl, cfg = s.safety.controller, s.protocol.controller
        elapsed = max(0.0, now - s.started_at) if s.state is not SessionState.CREATED else 0.0
        step = ctl.step
        prompt = s.prompts.open
        return {
            "sid": self.sink.session_id,
            "time": now,
            "elapsed_s": round(elapsed, 3),
            "remaining_s": round(max(0.0, s.protocol.duration - elapsed), 3),
            "state": s.state.value,
            "step": None if step is None else step + 1,
            "steps_total": len(cfg.levels()),
            "label": None if step is None else cfg.label(step),
            "intensity": _number(s.intensity),
            "target": _number(ctl.target),
            "held_by": s.safety.held_by,
            "arousal": _number(s.features.arousal),
            "window": list(cfg.arousal_window),
            "next": self._next(now),
            "safety": self._safety(),
            "prompt": None
            if prompt is None
            else {"kind": prompt.kind, "open_since": prompt.asked_at},
            "streams": stream_states(s),
            "frames": {"late": self._late, "rate": _number(self._rate)},
        }

    def _next(self, now: float) -> str | None:
        s = self.session
        if s.state is SessionState.BASELINE:
            left = max(0.0, s.started_at + s.protocol.baseline - now)
            return f"baseline: the controller starts in {left:.0f} s"
        if s.state is not SessionState.ACTIVE:
            return None
        if s.safety.held_by is not None:
            return f"held by {s.safety.held_by}: no controller decision until resumed"
        tick = s.safety.last_tick
        return s.safety.controller.explain_next(now if tick is None else tick, s.features)

    def _safety(self) -> str | None:
        s = self.session
        if s.state is SessionState.ACTIVE:
            return s.safety.explain_next(s.features)
        if s.state is SessionState.BASELINE:
            hr = s.features.hr_bpm
            ceiling = s.protocol.safety.max_heart_rate
            now = "unknown" if hr is None else f"{hr:.0f}"
            return (
                f"exposure does not start if the baseline heart rate is {ceiling:.0f} bpm or "
                f"more (now {now})"
            )
        return None

    def close(self) -> None:
        """Stop the thumbnail worker (idempotent)."""
        if self._thumbs is not None:
            self._thumbs.close()
            self._thumbs = None
