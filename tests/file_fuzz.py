"""Hypothesis strategies for fuzzing the parsers of files and messages (not protocols).

Two families, both starting from one valid file or message:

- :func:`damaged_bytes`: its bytes with 1-5 edits (bit flips, truncation anywhere,
  deletes, inserted garbage, control bytes, invalid UTF-8, runs of 0xFF);
- :func:`damaged_json`: a JSON document with 1-4 structural edits at any depth (a key
  removed or duplicated, a value replaced by another type, NaN, +-inf, a huge number, a
  long string, a deeply nested array, two siblings swapped), serialised as text (NaN and
  Infinity as Python's ``json`` writes them), sometimes with byte damage on top.

The number of examples is ``VRTHERAPY_FUZZ_EXAMPLES`` (see :func:`protocol_fuzz.examples`).
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from hypothesis import strategies as st
from protocol_fuzz import CONTROL, INVALID_UTF8, examples, fuzz_settings

__all__ = ["DEEP", "damaged_bytes", "damaged_json", "examples", "fuzz_settings", "one_sentence"]

DEEP = "[" * 3000 + "]" * 3000
"""A JSON array nested deeper than Python's recursion limit (``json.loads`` cannot)."""
_DEEP_MARK = "\x00deep\x00"
WRONG: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    "",
    "x",
    "ü✓",
    [],
    {},
    [1, "a"],
    {"a": 1},
    float("nan"),
    float("inf"),
    -float("inf"),
    1e308,
    -1e308,
    10**40,
    2**63,
    "9" * 400,
    "x" * 5000,
    _DEEP_MARK,
]


@st.composite
def damaged_bytes(
    draw: st.DrawFn, data: bytes, max_edits: int = 5, near: tuple[int, ...] = ()
) -> bytes:
    """``data`` with 1..``max_edits`` byte-level edits (half of them within 1500 bytes after
    one of the offsets ``near``, when given: a large file's headers)."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, max_edits))):
        at = draw(st.integers(0, len(out)))
        if near and draw(st.booleans()):
            at = min(len(out), draw(st.sampled_from(near)) + draw(st.integers(0, 1500)))
        op = draw(st.sampled_from(["flip", "flip", "cut", "delete", "insert", "ctl", "ff"]))
        if op == "flip" and at < len(out):
            out[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del out[at:]
        elif op == "delete":
            del out[at : at + draw(st.integers(1, 64))]
        elif op == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=24))
        elif op == "ctl":
            out[at:at] = draw(st.sampled_from([*CONTROL, *INVALID_UTF8]))
        else:
            out[at:at] = b"\xff" * draw(st.integers(1, 12))
    return bytes(out)


def _paths(obj: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every location in ``obj`` (the root included) as a key/index path."""
    found = [here]
    if isinstance(obj, dict):
        for k, v in obj.items():
            found += _paths(v, (*here, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            found += _paths(v, (*here, i))
    return found


def _parent(obj: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        obj = obj[step]
    return obj


@st.composite
def damaged_json(draw: st.DrawFn, doc: Any, bytes_too: bool = True) -> bytes:
    """``doc`` with structural damage, as UTF-8 JSON text (see the module docstring)."""
    doc = json.loads(json.dumps(doc))
    dup: list[tuple[str, Any]] = []
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(_paths(doc)))
        op = draw(st.sampled_from(["wrong", "wrong", "wrong", "drop", "dup", "swap"]))
        value = copy.deepcopy(draw(st.sampled_from(WRONG)))  # WRONG's lists stay empty
        if not path:
            doc = value if op == "wrong" else doc
            continue
        parent, key = _parent(doc, path), path[-1]
        if op == "wrong":
            parent[key] = value
        elif op == "drop":
            del parent[key]
        elif op == "dup" and isinstance(key, str):
            dup.append((key, value))
        elif op == "swap" and isinstance(parent, list) and len(parent) > 1:
            parent[key], parent[-1] = parent[-1], parent[key]
        elif op == "swap" and isinstance(parent, dict) and len(parent) > 1:
            other = draw(st.sampled_from(sorted(parent)))
            parent[key], parent[other] = parent[other], parent[key]
    text = json.dumps(doc, indent=1)
    text = text.replace(json.dumps(_DEEP_MARK), DEEP)
    for key, value in dup:  # a key given twice: the later one wins in json.loads
        text = re.sub(
            rf"{re.escape(json.dumps(key))}: ",
            lambda m, v=value: f"{m.group(0)}{json.dumps(v)}, {m.group(0)}",
            text,
            count=1,
        )
    data = text.replace(json.dumps(_DEEP_MARK), DEEP).encode("utf-8")
    if bytes_too and draw(st.booleans()):
        data = draw(damaged_bytes(data, max_edits=2))
    return data


SENTENCE = re.compile(r"^[^\n]+$")


def one_sentence(message: str, *names: str) -> bool:
    """``message`` is one line that names each of ``names`` (a file, a field...)."""
    return bool(SENTENCE.match(message)) and all(n in message for n in names)
