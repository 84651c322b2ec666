"""Load YAML into frozen pydantic models with errors that name file:line:field.

Every config file (protocols, patient profiles) goes through :func:`load_model`, so a
therapist always gets ``protocol.yaml:14: controller.kind: 'expo' is not one of exposure``
instead of a traceback; the bytes are read by :func:`engine.safeyaml.read_yaml` (size,
depth and alias limits, duplicate keys, control characters).

Every pydantic ``ValidationError`` is turned into text here, whether the values came
from a file (:func:`format_validation_error`: ``file:line: field: ...``) or from the
command line (:func:`describe_validation_error`: ``--duration 20s: ...``): one sentence
per problem naming the field, the value and what is allowed, never pydantic's own dump.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ValidationError
from pydantic.fields import FieldInfo

from biosignals.errors import FieldValueError
from biosignals.units import parse_duration
from engine.errors import ProtocolError
from engine.safeyaml import Loc, field_name, read_yaml

__all__ = [
    "allowed_fields",
    "describe_validation_error",
    "field_name",
    "format_validation_error",
    "load_model",
    "problems",
    "read_yaml",
]

ModelT = TypeVar("ModelT", bound=BaseModel)


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete classes inside Optional/Union/list/tuple/dict/Annotated annotations."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, tuple, dict, Sequence):
        found: list[Any] = []
        for arg in typing.get_args(annotation):
            found.extend(_unwrap(arg))
        return found
    return [annotation]


def _models_at(model: type[BaseModel], loc: Loc) -> tuple[list[Any], list[FieldInfo]]:
    """The classes that may be at ``loc`` and the fields that lead there (last = at loc)."""
    current: list[Any] = [model]
    infos: list[FieldInfo] = []
    for part in loc:
        if isinstance(part, int):
            continue
        following: list[Any] = []
        for cls in current:
            if isinstance(cls, type) and issubclass(cls, BaseModel) and part in cls.model_fields:
                infos.append(cls.model_fields[part])
                following.extend(_unwrap(cls.model_fields[part].annotation))
        if following:
            current = following
    return current, infos


def _is_duration(model: type[BaseModel] | None, loc: Loc) -> bool:
    """Whether the field at ``loc`` is a :data:`~biosignals.units.Duration` (seconds)."""
    if model is None or not loc:
        return False
    _, infos = _models_at(model, loc)
    return bool(infos) and any(
        isinstance(m, BeforeValidator) and m.func is parse_duration for m in infos[-1].metadata
    )


def allowed_fields(model: type[BaseModel], loc: Loc) -> list[str]:
    """Field names allowed in the mapping at ``loc`` (walking the model's annotations)."""
    current, _ = _models_at(model, loc)
    names: list[str] = []
    for cls in current:
        if isinstance(cls, type) and issubclass(cls, BaseModel):
            names.extend(n for n in cls.model_fields if n not in names)
    return names


def _line_for(loc: Loc, lines: dict[Loc, int]) -> int | None:
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


_SHOW = 60
MAX_PROBLEMS = 20
"""Most problems listed for one file; the rest are counted."""


def show_value(value: Any) -> str:
    """A value for a message: short, never a whole structure."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "an empty value"
    text = repr(value)
    return text if len(text) <= _SHOW else text[:_SHOW] + "..."


_TYPES = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "string": "text",
    "dict": "a mapping of fields",
    "model": "a mapping of fields",
    "model_attributes": "a mapping of fields",
    "list": "a list",
    "tuple": "a list",
    "datetime": "a date and time with a timezone",
}
_BOUNDS = {
    "greater_than": ("gt", "greater than"),
    "greater_than_equal": ("ge", "at least"),
    "less_than": ("lt", "less than"),
    "less_than_equal": ("le", "at most"),
}


def _bound(kind: str, ctx: dict[str, Any], value: Any, seconds: bool) -> str:
    key, words = _BOUNDS[kind]
    limit = ctx.get(key)
    if seconds and isinstance(limit, int | float) and isinstance(value, int | float):
        return f"must be {words} {limit:g} s, got {value:g} s"
    shown = f"{limit:g}" if isinstance(limit, float) else str(limit)
    return f"must be {words} {shown}, got {show_value(value)}"


def _kind_message(kind: str, ctx: dict[str, Any], got: str) -> str | None:
    """Messages for pydantic's built-in checks (None: not one of them)."""
    for prefix, what in _TYPES.items():
        if kind.startswith(prefix + "_") and kind.removeprefix(prefix + "_") in (
            "type",
            "parsing",
            "from_float",
            "parsing_size",
            "attributes_type",
        ):
            return f"must be {what}, got {got}"
    if kind == "finite_number":
        return f"must be a finite number, got {got}"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters, got {got}"
    if kind == "string_too_short":
        if ctx.get("min_length") == 1:
            return "must not be empty"
        return f"must be at least {ctx.get('min_length')} characters, got {got}"
    if kind == "string_pattern_mismatch":
        return f"{got} does not match the pattern {ctx.get('pattern')}"
    if kind in ("too_short", "too_long"):
        words = "at least" if kind == "too_short" else "at most"
        limit = ctx.get("min_length" if kind == "too_short" else "max_length")
        return f"must have {words} {limit} item(s), got {ctx.get('actual_length')}"
    return None


def _message(model: type[BaseModel] | None, error: Any) -> str:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    loc = tuple(error["loc"])
    if kind == "extra_forbidden":
        allowed = ", ".join(allowed_fields(model, loc[:-1])) if model is not None else ""
        return f"unknown field; allowed here: {allowed}" if allowed else "unknown field"
    if kind == "missing":
        return "required field is missing"
    if kind in ("literal_error", "enum"):
        expected = str(ctx.get("expected", "")).replace(" or ", ", ").replace("'", "")
        return f"{show_value(value)} is not one of {expected}"
    if kind in ("value_error", "assertion_error"):
        return str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind in _BOUNDS:
        return _bound(kind, ctx, value, _is_duration(model, loc))
    found = _kind_message(kind, ctx, show_value(value))
    if found is not None:
        return found
    return f"{str(error['msg']).removeprefix('Input ')}, got {show_value(value)}"


_UNION_TAGS = {"str", "int", "float", "bool", "list", "dict", "none", "tuple"}


def _field_loc(loc: Loc) -> Loc:
    """``loc`` without pydantic's union-member tags (``literal['a']``, ``int``, ...)."""
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in _UNION_TAGS)))


def _merged(errors: list[Any]) -> list[Any]:
    """One error per field: a union's literal alternatives become one list of values; a
    :class:`~biosignals.errors.FieldValueError` moves to the field it names."""
    by_loc: dict[Loc, Any] = {}
    for error in errors:
        loc = _field_loc(tuple(error["loc"]))
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, FieldValueError):
            loc = (*loc, *cause.field)
        error = {**error, "loc": loc}
        first = by_loc.get(loc)
        if first is None:
            by_loc[loc] = error
        elif first["type"] == error["type"] == "literal_error":
            expected = f"{first['ctx']['expected']}, {error['ctx']['expected']}"
            by_loc[loc] = {**first, "ctx": {"expected": expected}}
    return list(by_loc.values())


def problems(exc: ValidationError, model: type[BaseModel] | None = None) -> list[tuple[Loc, str]]:
    """Each problem of ``exc`` as (field path, one sentence: the value and what is allowed).

    Parameters
    ----------
    exc
        A pydantic validation error.
    model
        The model validated (to list the allowed fields for an unknown one).
    """
    return [(tuple(e["loc"]), _message(model, e)) for e in _merged(exc.errors())]


def _joined(lines: list[str]) -> str:
    if len(lines) > MAX_PROBLEMS:
        more = len(lines) - MAX_PROBLEMS
        lines = [*lines[:MAX_PROBLEMS], f"... and {more} more problem(s)"]
    return "\n".join(lines)


def format_validation_error(
    path: Path, model: type[BaseModel], exc: ValidationError, lines: dict[Loc, int]
) -> str:
    """One line per problem: ``file:line: field.path: what is wrong``."""
    out = []
    for loc, message in problems(exc, model):
        line = _line_for(loc, lines)
        where = f"{path}:{line}" if line is not None else str(path)
        out.append(f"{where}: {field_name(loc)}: {message}")
    return _joined(out)


def describe_validation_error(
    exc: ValidationError,
    model: type[BaseModel] | None = None,
    *,
    name: Callable[[Loc], str] = field_name,
) -> str:
    """One line per problem for values that did not come from a file: ``name: what``.

    Parameters
    ----------
    exc
        The validation error.
    model
        The model validated.
    name
        How to name a field for the reader, e.g. the command-line option that set it
        (``('retention_days',)`` -> ``'--consent-retention-days'``); ``""`` when the
        message needs no name (the caller has named the option already).
    """
    out = []
    for loc, message in problems(exc, model):
        label = name(loc)
        out.append(f"{label}: {message}" if label else message)
    return _joined(out)


def load_model(path: str | Path, model: type[ModelT], *, what: str = "file") -> ModelT:
    """Read YAML ``path`` into ``model``; every problem raises :class:`ProtocolError`.

    Parameters
    ----------
    path
        YAML file.
    model
        A (frozen) pydantic model class.
    what
        What the file is, for the message when its top level is not a mapping.
    """
    path = Path(path)
    data, lines = read_yaml(path)
    if not isinstance(data, dict):
        raise ProtocolError(
            f"{path}:1: a {what} must be a YAML mapping of fields, got {show_value(data)}"
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ProtocolError(format_validation_error(path, model, exc, lines)) from None
