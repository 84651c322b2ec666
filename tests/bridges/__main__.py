"""``python -m bridges SNIPPET --lsl-config CFG --ready FILE``: publish one emulated bridge.

Runs in its own process, like the real app: liblsl is pointed at ``CFG`` (a test gives
each run its own ports, so it sees only its own streams), the emulator's truth starts
now, and once every outlet exists ``FILE`` receives ``{"t0": ..., "seed": ...}`` (the
test rebuilds the truth from it). Publishes until SIGTERM/SIGINT or ``--duration``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Publish until told to stop; 0 when stopped cleanly, 1 if publishing failed."""
    p = argparse.ArgumentParser(prog="python -m bridges")
    p.add_argument("snippet")
    p.add_argument("--lsl-config", type=Path, required=True)
    p.add_argument("--ready", type=Path, required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--duration", type=float, default=300.0)
    args = p.parse_args(argv)

    from biosignals import lsl

    lsl.configure(args.lsl_config)
    pylsl = lsl.import_pylsl()
    from bridges import make_bridge
    from bridges.base import BridgeRunner
    from bridges.truth import Truth

    t0 = pylsl.local_clock()
    truth = Truth(t0, args.seed)
    bridge = make_bridge(args.snippet, truth, args.seed, time.time() - pylsl.local_clock())
    runner = BridgeRunner(bridge, pylsl)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    runner.start()
    tmp = args.ready.with_suffix(".tmp")
    tmp.write_text(json.dumps({"t0": t0, "seed": args.seed, "pid": os.getpid()}))
    os.replace(tmp, args.ready)
    stop.wait(args.duration)
    try:
        runner.stop()
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(json.dumps(runner.pushed), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
