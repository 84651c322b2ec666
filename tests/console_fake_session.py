"""A fake live session that follows docs/console.md sections 1 and 2 to the letter, for the
console's tests (until the real session publishes; then the tests can run against it).

It publishes real LSL outlets with the contract's names, types, formats, ``source_id``
(``vrtherapy-<what>-SID``) and ``<desc><vrtherapy_session>SID</vrtherapy_session>``, the
session info in the status stream's description, writes the pairing file
``<runtime>/sessions/SID.json`` (0600, folder 0700), and reads the console's
``vrtherapy-commands-SID`` stream, resolved in a background thread. It checks each command
like the contract says — with its own code, not the console's, so a console that signs
wrongly fails here — and answers each with a marker: ``{"event": "command", ...,
"applied", "result"}`` or ``{"event": "command_rejected", "reason", "id"}``.

Run it alone to try the console by hand::

    python tests/console_fake_session.py [--thumbnail] [--seconds 600]
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import os
import secrets
import struct
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from waiting import ticks

from biosignals.lsl import import_pylsl

HIERARCHY = [
    (0.10, "ground floor window"),
    (0.25, "first floor balcony"),
    (0.40, "third floor balcony"),
    (0.55, "rooftop with railing"),
    (0.70, "rooftop edge"),
    (0.85, "glass floor"),
]
SCENE_EVENTS = ("gust_of_wind", "look_down")
ROLES = ("heart", "eda")
KINDS = (
    "step_up", "step_down", "hold", "resume", "stop", "ask_prompt", "answer_prompt",
    "note", "scene_event", "ignore_stream", "watch_stream",
)  # fmt: skip
NEEDS = {
    "ask_prompt": ("prompt",),
    "answer_prompt": ("prompt", "value"),
    "note": ("text",),
    "scene_event": ("event",),
    "ignore_stream": ("role",),
    "watch_stream": ("role",),
}
KEYS = {"v", "sid", "id", "ts", "kind", "operator", "prompt", "value", "text", "event", "role"}


def _thumbnail(width: int = 64, height: int = 36) -> str:
    """A small PNG data URL (sky over a rooftop): the thumbnail stream's payload."""
    rows = b"".join(
        b"\0"
        + bytes(
            c
            for x in range(width)
            for c in (
                (60, 60, 70) if y > height * 0.7 and abs(x - width / 2) < width / 3
                else (120 + y * 3, 160 + y * 2, 230)
            )
        )
        for y in range(height)
    )  # fmt: skip

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
    return "data:image/png;base64," + base64.b64encode(png + chunk(b"IEND", b"")).decode()


PIXEL = _thumbnail()


def _stream(pylsl: Any, name: str, kind: str, n: int, fmt: str, sid: str) -> Any:
    info = pylsl.StreamInfo(name, kind, n, pylsl.IRREGULAR_RATE, fmt, f"{name}-{sid}")
    info.desc().append_child_value("vrtherapy_session", sid)
    return info


@dataclass
class FakeSession:
    """A session on real LSL (see the module docstring). ``tick`` is the controller tick and
    ``frame_rate`` the intensity rate, both faster than real, so tests see data soon."""

    runtime: Path
    thumbnail: bool = False
    tick: float = 0.2
    frame_rate: float = 30.0
    sid: str = field(default_factory=lambda: secrets.token_hex(4))
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    step: int = 2
    held_by: str | None = None
    applied: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)
    ignored: set[str] = field(default_factory=set)
    flagged: dict[str, list[str]] = field(default_factory=dict)
    """Roles with a quality flag up (e.g. ``{"eda": ["dropout"]}``): status ``flagged``."""
    on_command: Callable[[dict[str, Any]], None] | None = None

    def __post_init__(self) -> None:
        self._pylsl = import_pylsl()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._inlet: Any = None
        self._seen: set[str] = set()
        self._threads: list[threading.Thread] = []
        self.intensity = HIERARCHY[self.step][0]
        self.state = "active"
        self.prompt: dict[str, Any] | None = None
        self.pairing_file = self.runtime / "sessions" / f"{self.sid}.json"

    # ------------------------------------------------------------------------- set-up
    def info(self) -> dict[str, Any]:
        """The session info object (docs/console.md section 1)."""
        return {
            "sid": self.sid,
            "protocol": "heights-graded",
            "title": "Fear of heights, graded",
            "scene": "heights",
            "duration": 1800.0,
            "baseline": 120.0,
            "hierarchy": [{"intensity": i, "label": label} for i, label in HIERARCHY],
            "window": [0.3, 0.7],
            "prompts": ["suds"],
            "scene_events": [{"name": n, "label": n.replace("_", " ")} for n in SCENE_EVENTS],
            "roles": {"heart": "polar-h10", "eda": "shimmer-gsr"},
            "participant": "P-0042",
            "started": "2026-05-04T09:30:00+00:00",
            "thumbnail": self.thumbnail,
        }

    def start(self) -> FakeSession:
        """Open the outlets, write the pairing file, start publishing."""
        pylsl, sid = self._pylsl, self.sid
        status = _stream(pylsl, "vrtherapy-status", "VrtherapyStatus", 1, "string", sid)
        status.desc().append_child_value("vrtherapy_session_info", json.dumps(self.info()))
        self._out = {
            "intensity": pylsl.StreamOutlet(
                _stream(pylsl, "vrtherapy-intensity", "Intensity", 1, "float32", sid)
            ),
            "markers": pylsl.StreamOutlet(
                _stream(pylsl, "vrtherapy-markers", "Markers", 1, "string", sid)
            ),
            "status": pylsl.StreamOutlet(status),
            "features": pylsl.StreamOutlet(
                _stream(pylsl, "vrtherapy-features", "Features", 6, "float32", sid)
            ),
        }
        if self.thumbnail:
            self._out["thumbnail"] = pylsl.StreamOutlet(
                _stream(pylsl, "vrtherapy-thumbnail", "VrtherapyThumbnail", 1, "string", sid)
            )
        self._write_pairing_file()
        self.started_at = pylsl.local_clock()
        for target in (self._resolve_commands, self._run):
            thread = threading.Thread(target=target, name=f"fake-session-{sid}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _write_pairing_file(self) -> None:
        folder = self.pairing_file.parent
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        body = {
            "sid": self.sid,
            "secret": self.secret.hex(),
            "protocol": "heights-graded",
            "participant": "P-0042",
            "started": "2026-05-04T09:30:00+00:00",
            "pid": os.getpid(),
            "streams": {k: f"vrtherapy-{k}-{self.sid}" for k in ("intensity", "markers")},
        }
        fd = os.open(self.pairing_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(body, f)

    def stop(self) -> None:
        """End the session: remove the pairing file, withdraw every outlet."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self.pairing_file.unlink(missing_ok=True)
        self._out.clear()
        self._inlet = None

    def vanish(self) -> None:
        """Withdraw the streams but leave the pairing file (a hung or killed session)."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._out.clear()

    # ------------------------------------------------------------------------- publishing
    def _resolve_commands(self) -> None:
        pylsl = self._pylsl
        for _ in ticks(self._stop, 0.05):
            found = pylsl.resolve_byprop("source_id", f"vrtherapy-commands-{self.sid}", 1, 0.2)
            if found:
                self._inlet = pylsl.StreamInlet(found[0])
                return

    def _run(self) -> None:
        next_tick = 0.0
        for _ in ticks(self._stop, 1.0 / self.frame_rate):
            now = self._pylsl.local_clock()
            with self._lock:
                self._commands(now)
                self.intensity += (HIERARCHY[self.step][0] - self.intensity) * 0.3
                self._out["intensity"].push_sample([self.intensity], now)
                if now >= next_tick:
                    next_tick = now + self.tick
                    self._publish_tick(now)

    def _publish_tick(self, now: float) -> None:
        elapsed = now - self.started_at + 300.0
        hr = 80.0 + 10.0 * math.sin(elapsed / 7.0) + 20.0 * self.intensity
        scl = 4.0 + 0.5 * math.sin(elapsed / 11.0)
        arousal = 0.2 + 0.5 * self.intensity + 0.04 * math.sin(elapsed / 5.0)
        scr_rate = 2.0 + (elapsed // 6.0) % 3.0  # rises every 6 s: a new SCR on the chart
        rmssd = 42.0 - 8.0 * self.intensity
        self._out["features"].push_sample([hr, scl, scr_rate, arousal, rmssd, 1.0], now)
        self.push_status(now, hr, arousal)
        if "thumbnail" in self._out:
            self._out["thumbnail"].push_sample([PIXEL], now)

    def push_status(self, now: float, hr: float = 90.0, arousal: float = 0.4) -> None:
        """Publish one status object (docs/console.md section 1)."""
        target, label = HIERARCHY[self.step]
        elapsed = now - self.started_at + 300.0
        streams = {role: {"status": "ok", "flags": []} for role in ROLES}
        for role, flags in self.flagged.items():
            streams[role] = {"status": "flagged", "flags": list(flags)}
        for role in self.ignored:
            streams[role] = {"status": "ignored", "flags": self.flagged.get(role, [])}
        status = {
            "sid": self.sid, "time": now, "elapsed_s": elapsed, "remaining_s": 1800.0 - elapsed,
            "state": self.state, "step": self.step, "steps_total": len(HIERARCHY),
            "label": label, "intensity": round(self.intensity, 4), "target": target,
            "held_by": self.held_by, "arousal": arousal, "window": [0.3, 0.7],
            "next": f"climbs to step {self.step + 2} when arousal stays below 0.70 for 18 s more",
            "safety": f"steps down if heart rate exceeds 140 bpm (now {hr:.0f})",
            "prompt": self.prompt, "streams": streams, "frames": {"late": 0, "rate": 89.8},
        }  # fmt: skip
        self._out["status"].push_sample([json.dumps(status)], now)

    def _marker(self, obj: dict[str, Any], now: float) -> None:
        self._out["markers"].push_sample([json.dumps(obj)], now)

    # ------------------------------------------------------------------------- commands
    def _commands(self, now: float) -> None:
        if self._inlet is None:
            return
        samples, _ = self._inlet.pull_chunk(timeout=0.0)
        for (text,) in samples:
            problem, cmd = self._check(text, now)
            if problem is not None:
                cid = cmd.get("id") if isinstance(cmd, dict) else None
                self.rejected.append({"reason": problem, "id": cid, "raw": text})
                self._marker({"event": "command_rejected", "reason": problem, "id": cid}, now)
                continue
            applied, result = self._apply(cmd)
            self.applied.append(cmd)
            marker = {k: cmd[k] for k in ("operator", "id") if cmd.get(k) is not None}
            marker.update(event="command", command=cmd["kind"], source="console")
            marker.update(applied=applied, result=result)
            marker["text"] = f"{cmd['kind']} from {cmd['operator']}: {result}"
            self._marker(marker, now)
            if self.on_command is not None:
                self.on_command(cmd)

    def _check(self, text: str, now: float) -> tuple[str | None, Any]:
        """The contract's checks, in its order; ``(reason, object)``."""
        if len(text.encode("utf-8")) > 4096:
            return "over 4 KiB", {}
        try:
            cmd = json.loads(text)
        except ValueError:
            return "not JSON", {}
        if not isinstance(cmd, dict):
            return "not a JSON object", {}
        if cmd.get("sid") != self.sid:
            return f"for session {cmd.get('sid')!r}", cmd
        body = {k: v for k, v in cmd.items() if k != "mac"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        want = hmac.new(self.secret, canonical.encode("utf-8"), hashlib.sha256).hexdigest()
        if not isinstance(cmd.get("mac"), str) or not hmac.compare_digest(cmd["mac"], want):
            return "bad or missing mac", cmd
        if cmd.get("id") in self._seen:
            return "replayed id", cmd
        self._seen.add(cmd.get("id"))
        if set(body) != KEYS or cmd["kind"] not in KINDS:
            return f"unknown kind {cmd.get('kind')!r} or keys", cmd
        if any(cmd.get(f) is None for f in NEEDS.get(cmd["kind"], ())):
            return f"{cmd['kind']} misses a field", cmd
        if abs(float(cmd["ts"]) - now) > 60.0:
            return "ts more than 60 s from the session's clock", cmd
        return None, cmd

    def _apply(self, cmd: dict[str, Any]) -> tuple[bool, str]:
        kind = cmd["kind"]
        if kind in ("step_up", "step_down"):
            new = min(len(HIERARCHY) - 1, max(0, self.step + (1 if kind == "step_up" else -1)))
            if new == self.step:
                return False, "no change (at the end of the hierarchy)"
            old, self.step = self.step, new
            previous, target = HIERARCHY[old][0], HIERARCHY[new][0]
            reason = f"therapist override by {cmd['operator']}"
            self._marker(  # like a real session: the decision, then the command's marker
                {"event": "intensity", "previous": previous, "target": target, "step": new,
                 "source": "therapist", "reason": reason,
                 "text": f"intensity {previous:.2f} -> {target:.2f} (step {new + 1}, "
                         f"therapist): {reason}"},
                self._pylsl.local_clock(),
            )  # fmt: skip
            return True, f"step {old + 1} -> {new + 1} ({HIERARCHY[new][1]})"
        if kind in ("hold", "resume"):
            self.held_by = cmd["operator"] if kind == "hold" else None
            return True, "held" if kind == "hold" else "resumed"
        if kind == "stop":
            self.state = "aborted"
            return True, "stopping"
        if kind == "ask_prompt":
            self.prompt = {"kind": cmd["prompt"], "open_since": cmd["ts"]}
            return True, f"{cmd['prompt']} asked"
        if kind == "answer_prompt":
            self.prompt = None
            return True, f"{cmd['prompt']} {cmd['value']} recorded"
        if kind == "scene_event":
            if cmd["event"] not in SCENE_EVENTS:
                return False, f"refused: {cmd['event']!r} is not an event of this scene"
            self.fired.append(cmd["event"])
            return True, f"scene event {cmd['event']}"
        if kind in ("ignore_stream", "watch_stream"):
            (self.ignored.add if kind == "ignore_stream" else self.ignored.discard)(cmd["role"])
            return True, f"{cmd['role']} {'ignored' if kind == 'ignore_stream' else 'watched'}"
        return True, f"noted: {cmd['text']}"

    def send_raw(self, text: str) -> None:
        """Publish a marker as the session would (tests of odd markers)."""
        with self._lock:
            self._out["markers"].push_sample([text], self._pylsl.local_clock())


def main() -> None:
    """``python tests/console_fake_session.py``: publish until Ctrl-C."""
    import argparse

    from console.runtime import runtime_dir

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--thumbnail", action="store_true")
    p.add_argument("--seconds", type=float, default=3600.0)
    args = p.parse_args()
    fake = FakeSession(runtime_dir(), thumbnail=args.thumbnail).start()
    print(f"fake session {fake.sid} publishing; vrtherapy console --attach {fake.sid}")
    stop = threading.Event()
    try:
        first = None
        for t in ticks(stop, 1.0):
            first = t if first is None else first
            if t - first > args.seconds:
                break
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
