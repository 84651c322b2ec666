"""Hypothesis strategies for the config fuzz tests: mutated seed protocols and profiles.

Three families:

- :func:`byte_mutations`: a seed file's bytes with inserts, deletes, flips, control
  characters, NUL, invalid UTF-8 and junk;
- :func:`yaml_mutations`: the same files with YAML-level damage made as text (duplicate
  keys, anchors and aliases, recursive aliases, alias bombs, deep nesting, wrong types);
- :func:`protocol_dicts`: whole protocols built from the seed protocols with values
  drawn inside, on and just outside each field's allowed range (read from the models
  themselves, so a new field is fuzzed without touching this file).

The number of examples is ``VRTHERAPY_FUZZ_EXAMPLES`` (default: :func:`examples`).
"""

from __future__ import annotations

import datetime
import math
import os
import re
import types
import typing
from pathlib import Path
from typing import Any

import annotated_types
import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from biosignals.units import parse_duration
from engine.protocol import Protocol, seed_patients, seed_protocols
from therapies.controllers import CONTROLLERS

SEEDS: list[Path] = [*seed_protocols(), *seed_patients()]
PROTOCOLS: list[Path] = seed_protocols()
PREFIX = re.compile(r"^(?P<path>.+?):(?:(?P<line>\d+):)?(?:\d+:)? ")


def examples(default: int) -> int:
    """How many examples a fuzz test runs (``VRTHERAPY_FUZZ_EXAMPLES`` overrides)."""
    return int(os.environ.get("VRTHERAPY_FUZZ_EXAMPLES", default))


def fuzz_settings(default: int) -> settings:
    """Hypothesis settings: no deadline (a shared 2-core machine), no example database."""
    return settings(
        max_examples=examples(default),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ------------------------------------------------------------------ byte mutations
CONTROL = [b"\x00", b"\x0c", b"\x1b", b"\x7f", b"\x08", b"\x0b", b"\x01", b"\xef\xbf\xbe"]
INVALID_UTF8 = [b"\xff", b"\xfe\xfe", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\x80"]
SYNTAX = [b"\t", b":", b"- ", b"{", b"}", b"[", b"]", b"&a ", b"*a", b"!!", b"? ", b"\n  ", b"'"]


@st.composite
def byte_mutations(draw: st.DrawFn, seeds: list[Path] = SEEDS) -> tuple[Path, bytes]:
    """A seed file and its bytes, damaged by 1-6 byte-level edits."""
    seed = draw(st.sampled_from(seeds))
    data = bytearray(seed.read_bytes())
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        ops = ["text", "text", "binary", "delete", "delete", "flip", "control", "utf8"]
        op = draw(st.sampled_from([*ops, "syntax", "syntax", "syntax"]))
        if op == "text":
            data[at:at] = draw(st.text(min_size=1, max_size=16)).encode("utf-8")
        elif op == "binary":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 200))]
        elif op == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 6))  # bit 7 would mostly break UTF-8
        elif op == "control":
            data[at:at] = draw(st.sampled_from(CONTROL))
        elif op == "utf8":
            data[at:at] = draw(st.sampled_from(INVALID_UTF8))
        else:
            data[at:at] = draw(st.sampled_from(SYNTAX))
    return seed, bytes(data)


# ------------------------------------------------------------------ YAML mutations
KEY_LINE = re.compile(r"^(\s*)([A-Za-z_]+):(.*)$")


def _nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def _bomb(levels: int, width: int) -> str:
    lines = ["b0: &b0 [x, x, x]"]
    for i in range(1, levels + 1):
        lines.append(f"b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


WRONG = ["abc", "[1, 2]", "{a: 1}", "true", "null", "-1", "0", "1e400", ".nan", "-.inf", "''",
         "99999999999999999999999", "!!binary aGk=", "2024-13-45", "!!int x", "!foo bar",
         "*nowhere", "&a", "? [a]", "1" * 5000]  # fmt: skip


@st.composite
def yaml_mutations(draw: st.DrawFn, seeds: list[Path] = SEEDS) -> tuple[Path, bytes]:
    """A seed file and its text with YAML-level damage (see the module docstring)."""
    seed = draw(st.sampled_from(seeds))
    lines = seed.read_text(encoding="utf-8").splitlines()
    keyed = [i for i, line in enumerate(lines) if KEY_LINE.match(line)]
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.sampled_from(keyed)) if keyed else 0
        match = KEY_LINE.match(lines[i]) if keyed and i < len(lines) else None
        indent, key = (match.group(1), match.group(2)) if match else ("", "x")
        op = draw(st.sampled_from(["dup", "wrong", "deep", "alias", "loop", "bomb", "merge"]))
        if op == "dup":  # the same key again, a few lines later in the same block
            value = draw(st.sampled_from(["1", "0", "abc", "150", "[]", "{}"]))
            lines.insert(min(len(lines), i + draw(st.integers(1, 3))), f"{indent}{key}: {value}")
        elif op == "wrong":
            lines[i] = f"{indent}{key}: {draw(st.sampled_from(WRONG))}"
        elif op == "deep":
            lines[i] = f"{indent}{key}: {_nested(draw(st.integers(1, 200)))}"
        elif op == "alias":
            lines[i] = f"{indent}{key}: &v{i} {match.group(3).split('#')[0] if match else '1'}"
            lines.append(f"extra{i}: *v{i}")
        elif op == "loop":
            lines[i] = f"{indent}{key}: &l{i} [*l{i}]"
        elif op == "bomb":
            lines[0:0] = _bomb(draw(st.integers(1, 9)), draw(st.integers(2, 12))).splitlines()
        else:
            lines[0:0] = ["base: &base {max_heart_rate: 140}"]
            lines.append(f"{key}: {{<<: *base, {key}: 1}}")
    return seed, ("\n".join(lines) + "\n").encode("utf-8")


# ------------------------------------------------------------------ protocol dicts
def _bounds(info: FieldInfo) -> tuple[float | None, float | None]:
    lo = hi = None
    for m in info.metadata:
        if isinstance(m, annotated_types.Ge | annotated_types.Gt):
            lo = m.ge if isinstance(m, annotated_types.Ge) else m.gt
        if isinstance(m, annotated_types.Le | annotated_types.Lt):
            hi = m.le if isinstance(m, annotated_types.Le) else m.lt
    return lo, hi


def _is_duration(info: FieldInfo) -> bool:
    return any(getattr(m, "func", None) is parse_duration for m in info.metadata)


def _inner(annotation: Any) -> Any:
    """``X | None`` -> ``X``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _number(lo: float | None, hi: float | None, integer: bool) -> st.SearchStrategy[Any]:
    """Values on, just inside, just outside and far from the range [lo, hi]."""
    lo_, hi_ = (lo if lo is not None else -1e6), (hi if hi is not None else 1e6)
    eps = 1 if integer else max(1e-9, (hi_ - lo_) * 1e-6)
    picks = [lo_, hi_, lo_ - eps, hi_ + eps, lo_ + eps, hi_ - eps, 0, -1, 1e12, -1e12, 1e-12]
    inside = st.integers(math.ceil(lo_), math.floor(hi_)) if integer else st.floats(lo_, hi_)
    values = st.one_of(st.sampled_from(picks), *[inside] * 6)
    return values.map(lambda v: round(v) if integer and math.isfinite(v) else v)


ROLES = ["heart", "eda", "ppg", "hr", "resp", "ecg"]
STEP = st.fixed_dictionaries({"intensity": st.floats(-0.1, 1.1)}, optional={"label": st.text()})
SPECIAL: dict[str, st.SearchStrategy[Any]] = {
    "streams": st.lists(st.sampled_from(ROLES), max_size=3),
    "hierarchy": st.one_of(
        st.lists(STEP, max_size=8),
        st.lists(st.floats(0.0, 1.0), min_size=1, max_size=8, unique=True).map(
            lambda xs: [{"intensity": x} for x in sorted(xs)]
        ),
    ),
}


def value_for(loc: tuple[str, ...], info: FieldInfo) -> st.SearchStrategy[Any]:
    """Values for one field: mostly well-typed near its range, sometimes the wrong type."""
    annotation = _inner(info.annotation)
    wrong = st.sampled_from(["abc", [1], {"a": 1}, None, True, float("nan"), float("inf")])
    if loc[-1] in SPECIAL:
        return st.one_of(SPECIAL[loc[-1]], SPECIAL[loc[-1]], wrong)
    if typing.get_origin(annotation) is typing.Literal:
        good = st.sampled_from([*typing.get_args(annotation), "bogus"])
    elif annotation is bool:
        good = st.sampled_from([True, False, "yes"])
    elif annotation in (int, float):
        lo, hi = _bounds(info)
        good = _number(lo, hi, annotation is int)
        if _is_duration(info):
            good = st.one_of(good, good.map(lambda v: f"{v}s"), good.map(lambda v: f"{v}ms"))
    elif typing.get_origin(annotation) is tuple and len(typing.get_args(annotation)) == 2:
        pair = st.lists(st.floats(-0.2, 1.2), min_size=2, max_size=2)
        good = st.one_of(
            pair.map(sorted), pair.map(sorted), pair, st.lists(st.floats(), max_size=3)
        )
    elif annotation is datetime.datetime:
        good = st.datetimes(timezones=st.just(datetime.UTC)).map(lambda d: d.isoformat())
    elif annotation is str:
        good = st.text(max_size=20)
    else:
        return wrong
    return st.one_of(*[good] * 9, wrong)


def _model_at(model: type[BaseModel], name: str) -> type[BaseModel] | None:
    annotation = _inner(model.model_fields[name].annotation)
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def leaves(
    model: type[BaseModel], skip: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], FieldInfo]]:
    """Every scalar-ish field under ``model`` (nested models walked), with its path."""
    out: list[tuple[tuple[str, ...], FieldInfo]] = []
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        sub = _model_at(model, name)
        if sub is not None:
            out.extend(((name, *loc), i) for loc, i in leaves(sub))
        else:
            out.append(((name,), info))
    return out


CONSENT = {"streams": ["heart", "eda"], "purpose": "treatment", "retention_days": 365}
BLOCKS = {("consent",): CONSENT}
"""Blocks with required fields: a mutation inside one starts from a complete block."""


def _set(data: dict[str, Any], loc: tuple[str, ...], value: Any) -> None:
    for i, part in enumerate(loc[:-1]):
        child = data.get(part)
        if not isinstance(child, dict):
            child = data[part] = dict(BLOCKS.get(loc[: i + 1], {}))
        data = child
    data[loc[-1]] = value


@st.composite
def protocol_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """A seed protocol with 1-3 fields set to values near (or outside) their ranges."""
    data = yaml.safe_load(draw(st.sampled_from(PROTOCOLS)).read_text(encoding="utf-8"))
    kind = data["controller"].get("kind", "exposure")
    fields = [(("controller", *loc), i) for loc, i in leaves(CONTROLLERS[kind][0], ("kind",))]
    fields += leaves(Protocol, ("controller", "streams", "protocol", "scene", "title"))
    if draw(st.booleans()):
        data["consent"] = dict(CONSENT)
    if draw(st.integers(0, 4)) == 0:  # other stream roles (the dry-run uses the twin's own)
        roles = draw(
            st.lists(st.sampled_from(["heart", "eda", "ppg", "hr"]), min_size=1, unique=True)
        )
        data["streams"] = {role: {"type": role.upper()} for role in roles}
    if draw(st.integers(0, 3)) == 0:  # the usual short test baseline, so sims stay short
        data["baseline"] = draw(st.sampled_from(["20s", "10s", "30s", 15, 9.99]))
    for _ in range(draw(st.integers(1, 3))):
        loc, info = draw(st.sampled_from(fields))
        _set(data, loc, draw(value_for(loc, info)))
    return data
