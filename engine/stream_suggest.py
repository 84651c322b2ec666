"""``vrtherapy streams --suggest``: a ready ``streams:`` block for a protocol (pure).

Two steps, so the command reads data only from the streams it proposes:

1. :func:`plan_roles` picks, per role, the best channel of the visible streams (or of one
   chosen stream) from descriptions alone (:mod:`engine.stream_detect`).
2. :func:`propose` turns each pick plus a few seconds of its data
   (:mod:`engine.stream_facts`) into a :class:`Proposal`: predicates, channel, ``signal:``
   settings and the reasons; :func:`render_yaml` prints them as YAML that
   :func:`engine.protocol.load_protocol` accepts, with the reasons as comments.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from biosignals.errors import StreamError
from engine.stream_detect import LOOKS_LIKE, ROLES, ChannelMatch, best_matches, detect_channels
from engine.stream_facts import DataSample, Settings, timing_settings, unit_settings
from engine.stream_listing import StreamEntry, describe_entry, rate_text

__all__ = ["Pick", "Proposal", "plan_roles", "propose", "render_yaml", "suggestion_dict"]

#: source_ids that bridges hard-code, identical for every device (PolarBand2lsl uses
#: pylsl's example value ``myuid2424``): they cannot tell two devices apart.
SHARED_SOURCE_ID = re.compile(r"^myuidw?\d*$", re.IGNORECASE)
_MAX_ALTERNATIVES = 3
_WIDTH = 92


@dataclass(frozen=True, slots=True)
class Pick:
    """The channel chosen for one role, and the other channels that would also fit."""

    role: str
    entry: StreamEntry
    match: ChannelMatch
    others: tuple[tuple[StreamEntry, ChannelMatch], ...] = ()


@dataclass(frozen=True, slots=True)
class Proposal:
    """One role's ``streams:`` entry and why each setting was chosen."""

    role: str
    entry: StreamEntry
    predicates: dict[str, str]
    channel: str | int
    signal: Settings
    notes: tuple[str, ...] = field(default=())

    def selector(self) -> dict[str, Any]:
        """The entry as the protocol's ``streams.<role>`` mapping."""
        return {**self.predicates, "channel": self.channel, "signal": dict(self.signal)}


def _labels(entry: StreamEntry, limit: int = 6) -> str:
    meta = entry.meta
    if entry.is_string:
        return "a string (marker) stream"
    labels = [x for x in meta.channel_labels if x]
    shown = ", ".join(labels[:limit]) + (", ..." if len(labels) > limit else "")
    n = meta.channel_count
    what = f"labels {shown}" if labels else "no labels"
    return f"{n} channel{'s' if n != 1 else ''}, {what}, {rate_text(meta.nominal_srate)}"


def _seen(entries: Sequence[StreamEntry], limit: int = 10) -> str:
    if not entries:
        return "no streams at all"
    parts = [f"{describe_entry(e)} ({_labels(e)})" for e in entries[:limit]]
    more = f"; and {len(entries) - limit} more" if len(entries) > limit else ""
    return "; ".join(parts) + more


def _problems(pairs: Sequence[tuple[StreamEntry, ChannelMatch]]) -> str:
    bad = [(e, m) for e, m in pairs if m.problem][:_MAX_ALTERNATIVES]
    return "".join(
        f"; [{e.number}] channel {_channel_name(e, m.index)!r} would fit but {m.problem}"
        for e, m in bad
    )


def _nothing_fits(role: str, entries: Sequence[StreamEntry], pairs: list[Any]) -> StreamError:
    if len(entries) == 1:
        e = entries[0]
        roles = sorted({m.role for m in detect_channels(e) if not m.problem})
        other = f"; it looks like {', '.join(roles)}: try --suggest auto" if roles else ""
        return StreamError(
            f"{describe_entry(e)} has no channel for role {role!r} (looked for "
            f"{LOOKS_LIKE[role]}); it has {_labels(e)}{_problems(pairs)}{other}"
        )
    return StreamError(
        f"no visible stream has a channel for role {role!r} (looked for {LOOKS_LIKE[role]})"
        f"{_problems(pairs)}; seen: {_seen(entries)}"
    )


def plan_roles(entries: Sequence[StreamEntry], role: str) -> list[Pick]:
    """The best channel per role among ``entries`` (``role`` one of the roles or ``auto``).

    Raises
    ------
    StreamError
        If nothing fits: one sentence naming what was looked for and what was seen.
    """
    if len(entries) == 1 and entries[0].is_string:
        raise StreamError(
            f"{describe_entry(entries[0])} is a string (marker) stream: no role can read it"
        )
    wanted = ROLES if role == "auto" else (role,)
    picks: list[Pick] = []
    for r in wanted:
        pairs = best_matches(list(entries), r)
        usable = [p for p in pairs if not p[1].problem]
        if usable:
            picks.append(Pick(r, usable[0][0], usable[0][1], tuple(usable[1:])))
        elif role != "auto":
            raise _nothing_fits(r, entries, pairs)
    if not picks:
        raise StreamError(
            "no visible stream has a channel for any role (heart: ECG, ppg: PPG/BVP, "
            f"hr: heart rate/RR, eda: EDA/GSR); seen: {_seen(entries)}"
        )
    return picks


def _channel_name(entry: StreamEntry, index: int) -> str:
    return entry.meta.channel_labels[index] or f"#{index}"


def _channel_setting(entry: StreamEntry, index: int) -> str | int:
    """The label when it names the channel uniquely, else the index."""
    labels = entry.meta.channel_labels
    label = labels[index]
    return label if label and labels.count(label) == 1 else index


def choose_predicates(
    entry: StreamEntry, entries: Sequence[StreamEntry]
) -> tuple[dict[str, str], list[str]]:
    """type + name + source_id (unless empty or a shared constant), with notes."""
    m = entry.meta
    preds = {k: v for k, v in (("type", m.type), ("name", m.name)) if v}
    notes: list[str] = []
    if m.source_id and (not SHARED_SOURCE_ID.match(m.source_id) or not preds):
        preds["source_id"] = m.source_id
        notes.append(
            "keep source_id only if the bridge sends the same one at every start (restart "
            "it and list again)"
        )
    elif m.source_id:
        notes.append(
            f"source_id {m.source_id!r} left out: bridges hard-code it (PolarBand2lsl, "
            "pylsl's examples), so it cannot tell two devices apart"
        )
    same = [
        e
        for e in entries
        if all(getattr(e.meta, k) == v for k, v in preds.items()) and e.uid != entry.uid
    ]
    if same:
        which = ", ".join(f"[{e.number}]" for e in same)
        notes.append(
            f"check: {len(same)} other visible stream(s) match these predicates ({which}); "
            "the session takes the smallest (source_id, uid): give each device its own name"
        )
    return preds, notes


def _alternatives(pick: Pick) -> list[str]:
    notes = []
    same = [m for e, m in pick.others if e.uid == pick.entry.uid][:_MAX_ALTERNATIVES]
    if same:
        names = ", ".join(repr(_channel_name(pick.entry, m.index)) for m in same)
        notes.append(f"check: this stream also has {names} for {pick.role}: compare them once")
    other = [(e, m) for e, m in pick.others if e.uid != pick.entry.uid][:_MAX_ALTERNATIVES]
    for e, m in other:
        notes.append(
            f"also possible: {describe_entry(e)} channel {_channel_name(e, m.index)!r} "
            f"(--stream {e.number})"
        )
    return notes


def propose(pick: Pick, entries: Sequence[StreamEntry], sample: DataSample | None) -> Proposal:
    """One role's settings from its pick, the visible streams and the data read."""
    entry, match = pick.entry, pick.match
    meta = entry.meta
    channel = _channel_setting(entry, match.index)
    preds, pred_notes = choose_predicates(entry, entries)
    unit, unit_notes = unit_settings(pick.role, match, meta.channel_units[match.index], sample)
    timing, timing_notes = timing_settings(meta.nominal_srate, sample)
    notes = [
        f"{pick.role}: {describe_entry(entry)}, channel {_channel_name(entry, match.index)!r} "
        f"({match.why}); {rate_text(meta.nominal_srate)}",
        *pred_notes,
        *unit_notes,
        *timing_notes,
        *_alternatives(pick),
    ]
    return Proposal(pick.role, entry, preds, channel, {**unit, **timing}, tuple(notes))


def _escaped(ch: str) -> str:
    """One character inside a YAML double-quoted scalar."""
    o = ord(ch)
    if ch in '"\\':
        return "\\" + ch
    printable = (
        0x20 <= o <= 0x7E
        or (0xA0 <= o <= 0xFFFD and not 0xD800 <= o <= 0xDFFF and o not in (0x2028, 0x2029, 0xFEFF))
        or o >= 0x10000
    )
    if printable:
        return ch
    return f"\\x{o:02x}" if o <= 0xFF else f"\\u{o:04x}"


def _scalar(value: str | int | bool) -> str:
    """A YAML scalar that reads back as exactly ``value`` (quoted only when needed)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    plain = bool(value) and value == value.strip() and "#" not in value
    if plain:
        try:
            plain = yaml.safe_load(f"k: {value}") == {"k": value}
        except yaml.YAMLError:
            plain = False
    return value if plain else '"' + "".join(_escaped(ch) for ch in value) + '"'


def _comment(text: str, indent: str) -> list[str]:
    shown = "".join(ch if ch.isprintable() else "?" for ch in text)
    return textwrap.wrap(
        shown,
        width=_WIDTH,
        initial_indent=f"{indent}# ",
        subsequent_indent=f"{indent}#   ",
        break_on_hyphens=False,
    )


def render_yaml(proposals: Sequence[Proposal], command: str, read_s: float) -> str:
    """The ``streams:`` block with a header and each role's reasons as comments."""
    shared = len({p.entry.uid for p in proposals}) < len(proposals)
    head = [
        f"Suggested by `{command}` from each stream's description and {read_s:g} s of its "
        "data. Paste it as the protocol's streams: block and settle every 'check:' note; "
        "every role listed must be streaming when a session starts (delete the others).",
    ]
    if shared:
        head.append("Several roles read different channels of one stream.")
    lines = [line for text in head for line in _comment(text, "")]
    lines.append("streams:")
    for p in proposals:
        lines += [line for note in p.notes for line in _comment(note, "  ")]
        lines.append(f"  {p.role}:")
        lines += [f"    {k}: {_scalar(v)}" for k, v in p.predicates.items()]
        lines.append(f"    channel: {_scalar(p.channel)}")
        if p.signal:
            lines.append("    signal:")
            lines += [f"      {k}: {_scalar(v)}" for k, v in p.signal.items()]
    return "\n".join(lines) + "\n"


def suggestion_dict(proposals: Sequence[Proposal], text: str) -> dict[str, Any]:
    """The ``--json`` form: the YAML text and, per role, stream number, selector, notes."""
    roles: Mapping[str, Any] = {
        p.role: {"stream": p.entry.number, "selector": p.selector(), "notes": list(p.notes)}
        for p in proposals
    }
    return {"yaml": text, "roles": dict(roles)}
