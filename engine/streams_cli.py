"""``vrtherapy streams``: list the LSL streams visible here; ``--suggest`` a streams: block.

The LSL side lives here (discovery, full descriptions, a few seconds of data); what to
show and what to propose is pure (:mod:`engine.stream_listing`,
:mod:`engine.stream_detect`, :mod:`engine.stream_facts`, :mod:`engine.stream_suggest`).
Discovery goes through :func:`biosignals.lsl.import_pylsl`, so it stays on this machine
unless ``--lsl-config`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from biosignals.errors import StreamError
from biosignals.lsl import import_pylsl
from engine.stream_detect import ROLES
from engine.stream_facts import DataSample
from engine.stream_listing import (
    StreamEntry,
    describe_entry,
    entry_dict,
    entry_from_xml,
    format_listing,
    number_entries,
)
from engine.stream_suggest import Pick, plan_roles, propose, render_yaml, suggestion_dict

__all__ = ["add_streams_parser", "cmd_streams", "discover", "read_samples"]

DEFAULT_WAIT_S = 2.0
READ_S = 2.0
"""Seconds of data ``--suggest`` reads from each proposed stream."""
_INFO_TIMEOUT_S = 2.0
_PULL_TIMEOUT_S = 0.05


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 < value <= 600.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds in (0, 600]")
    return value


def add_streams_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``streams`` subcommand to ``sub`` (from ``add_subparsers``)."""
    p: argparse.ArgumentParser = sub.add_parser(
        "streams",
        help="list the LSL streams visible here; --suggest a protocol's streams: block",
        description="Lists every LSL stream visible on this machine (type, name, source_id, "
        "rate, format, channels with labels and units, host), marker streams included. "
        "With --suggest ROLE it reads a few seconds of the matching stream and prints a "
        "ready streams: block for a protocol, with the reasons as comments.",
    )
    p.add_argument(
        "--wait",
        type=_seconds,
        default=DEFAULT_WAIT_S,
        metavar="SECONDS",
        help=f"how long to listen for streams (default: {DEFAULT_WAIT_S:g})",
    )
    p.add_argument(
        "--suggest",
        choices=(*ROLES, "auto"),
        metavar="ROLE",
        help=f"print a streams: block for one role ({', '.join(ROLES)}) or every role "
        "detected (auto)",
    )
    p.add_argument(
        "--stream",
        metavar="N|NAME",
        help="only this stream: its number in the listing, or its name or source_id",
    )
    p.add_argument(
        "--all-channels",
        action="store_true",
        help="list every channel of very wide streams (more than 64 channels)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    return p


def _full_xml(info: Any) -> tuple[str, bool]:
    """The stream's full description (with ``<desc>``) without subscribing to its data;
    the short one from discovery if the outlet does not answer in time."""
    pylsl = import_pylsl()
    inlet = pylsl.StreamInlet(info, max_buflen=1, processing_flags=pylsl.proc_none)
    try:
        return inlet.info(timeout=_INFO_TIMEOUT_S).as_xml(), True
    except (pylsl.util.TimeoutError, pylsl.util.LostError):
        return info.as_xml(), False
    finally:
        inlet.close_stream()


def discover(wait: float) -> tuple[list[StreamEntry], dict[str, Any]]:
    """Every stream visible within ``wait`` s, numbered, and their infos by uid."""
    pylsl = import_pylsl()
    infos = {info.uid(): info for info in pylsl.resolve_streams(wait_time=wait)}
    if not infos:
        return [], {}
    with ThreadPoolExecutor(max_workers=min(8, len(infos))) as pool:
        described = list(pool.map(_full_xml, infos.values()))
    entries = number_entries(entry_from_xml(xml, full=full) for xml, full in described)
    return entries, infos


def read_samples(infos: Sequence[Any], seconds: float) -> dict[str, DataSample]:
    """About ``seconds`` of data from each stream (read side by side), by uid."""
    pylsl = import_pylsl()
    inlets = {}
    for info in infos:
        inlet = pylsl.StreamInlet(info, max_buflen=max(2, int(seconds) + 2))
        try:
            inlet.info(timeout=_INFO_TIMEOUT_S)  # a pull without it could wait for good
            inlet.open_stream(timeout=_INFO_TIMEOUT_S)
        except (pylsl.util.TimeoutError, pylsl.util.LostError):
            inlet.close_stream()
            continue
        inlets[info.uid()] = inlet
    chunks: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {uid: [] for uid in inlets}
    deadline = pylsl.local_clock() + seconds
    try:
        live = dict(inlets)
        while live and pylsl.local_clock() < deadline:
            for uid, inlet in list(live.items()):
                try:
                    data, ts = inlet.pull_chunk(
                        timeout=_PULL_TIMEOUT_S, max_samples=4096, as_numpy=True
                    )
                except pylsl.util.LostError:  # gone: keep what arrived
                    del live[uid]
                    continue
                if len(ts):
                    chunks[uid].append((np.asarray(data, dtype=np.float64), np.asarray(ts)))
    finally:
        for inlet in inlets.values():
            inlet.close_stream()
    lsl_now, unix_now = pylsl.local_clock(), time.time()
    out = {}
    for uid, parts in chunks.items():
        width = inlets[uid].channel_count
        values = np.concatenate([v for v, _ in parts]) if parts else np.zeros((0, width))
        stamps = np.concatenate([t for _, t in parts]) if parts else np.zeros(0)
        out[uid] = DataSample(values.reshape(-1, width), stamps, seconds, lsl_now, unix_now)
    return out


def select_stream(entries: Sequence[StreamEntry], wanted: str) -> StreamEntry:
    """The stream ``--stream`` names: a listing number, else a name, else a source_id.

    Raises
    ------
    StreamError
        If it matches nothing, or several streams (listed with their numbers).
    """
    if wanted.isdigit():
        found = [e for e in entries if e.number == int(wanted)]
    else:
        found = [e for e in entries if e.meta.name == wanted] or [
            e for e in entries if e.meta.source_id == wanted
        ]
    if len(found) == 1:
        return found[0]
    if not found:
        numbers = f"1..{len(entries)}" if entries else "none"
        raise StreamError(
            f"--stream {wanted!r} matches no visible stream (numbers {numbers}; or give a "
            "name or source_id as listed by vrtherapy streams)"
        )
    which = "; ".join(describe_entry(e) for e in found)
    raise StreamError(
        f"--stream {wanted!r} matches {len(found)} streams ({which}); give its number instead"
    )


def _suggest(
    args: argparse.Namespace,
    candidates: list[StreamEntry],
    everything: list[StreamEntry],
    infos: dict[str, Any],
) -> tuple[str, dict[str, Any]]:
    picks: list[Pick] = plan_roles(candidates, args.suggest)
    uids = list(dict.fromkeys(p.entry.uid for p in picks))
    samples = read_samples([infos[u] for u in uids], READ_S)
    proposals = [propose(p, everything, samples.get(p.entry.uid)) for p in picks]
    command = f"vrtherapy streams --suggest {args.suggest}"
    if args.stream:
        command += f" --stream {args.stream}"
    text = render_yaml(proposals, command, READ_S)
    return text, suggestion_dict(proposals, text)


def cmd_streams(args: argparse.Namespace) -> int:
    """Run ``vrtherapy streams``; errors propagate as VrTherapyError (exit 2)."""
    everything, infos = discover(args.wait)
    entries = everything
    if args.stream is not None:
        entries = [select_stream(everything, args.stream)]
    if args.suggest is None:
        if args.json:
            doc = {"waited_s": args.wait, "streams": [entry_dict(e) for e in entries]}
            print(json.dumps(doc, indent=2))
        else:
            text = format_listing(entries, args.wait, args.all_channels, len(everything))
            print(text, end="")
        return 0
    if not entries:
        raise StreamError(
            f"no LSL streams visible on this machine within {args.wait:g} s, so nothing to "
            "suggest from; wait longer (--wait) or widen discovery (--lsl-config FILE)"
        )
    text, suggestion = _suggest(args, entries, everything, infos)
    if args.json:
        doc = {
            "waited_s": args.wait,
            "streams": [entry_dict(e) for e in entries],
            "suggestion": suggestion,
        }
        print(json.dumps(doc, indent=2))
    else:
        print(text, end="")
    return 0
