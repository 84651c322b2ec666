"""Load YAML into frozen pydantic models with errors that name file:line:field.

Every config file (protocols, patient profiles) goes through :func:`load_model`, so a
therapist always gets ``protocol.yaml:14: controller.kind: 'expo' is not one of exposure``
instead of a traceback.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from engine.errors import ProtocolError

ModelT = TypeVar("ModelT", bound=BaseModel)
Loc = tuple[str | int, ...]


def _node_lines(node: yaml.Node, path: Loc, lines: dict[Loc, int]) -> None:
    """Record the 1-based line of every mapping value and sequence item under ``node``."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*path, str(key_node.value))
            lines[child] = key_node.start_mark.line + 1
            _node_lines(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines[child] = item.start_mark.line + 1
            _node_lines(item, child, lines)


def read_yaml(path: Path) -> tuple[Any, dict[Loc, int]]:
    """Parse ``path`` and return its data and a map from field path to line number."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProtocolError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"{path}: cannot read file ({exc})") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ProtocolError(f"{where}: YAML syntax error: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise ProtocolError(f"{path}: YAML syntax error: {exc}") from None
    finally:
        loader.dispose()
    lines: dict[Loc, int] = {}
    if node is not None:
        _node_lines(node, (), lines)
    return data, lines


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


def allowed_fields(model: type[BaseModel], loc: Loc) -> list[str]:
    """Field names allowed in the mapping at ``loc`` (walking the model's annotations)."""
    current: list[Any] = [model]
    for part in loc:
        if isinstance(part, int):
            continue
        following: list[Any] = []
        for cls in current:
            if isinstance(cls, type) and issubclass(cls, BaseModel) and part in cls.model_fields:
                following.extend(_unwrap(cls.model_fields[part].annotation))
        if following:
            current = following
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


def _message(model: type[BaseModel], error: Any) -> str:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    loc = tuple(error["loc"])
    if kind == "extra_forbidden":
        allowed = ", ".join(allowed_fields(model, loc[:-1]))
        return f"unknown field; allowed here: {allowed}"
    if kind == "missing":
        return "required field is missing"
    if kind in ("literal_error", "enum"):
        expected = str(ctx.get("expected", "")).replace(" or ", ", ").replace("'", "")
        return f"{value!r} is not one of {expected}"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


_UNION_TAGS = {"str", "int", "float", "bool", "list", "dict", "none", "tuple"}


def _field_loc(loc: Loc) -> Loc:
    """``loc`` without pydantic's union-member tags (``literal['a']``, ``int``, ...)."""
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in _UNION_TAGS)))


def _merged(errors: list[Any]) -> list[Any]:
    """One error per field: a union's literal alternatives become one list of values."""
    by_loc: dict[Loc, Any] = {}
    for error in errors:
        loc = _field_loc(tuple(error["loc"]))
        error = {**error, "loc": loc}
        first = by_loc.get(loc)
        if first is None:
            by_loc[loc] = error
        elif first["type"] == error["type"] == "literal_error":
            expected = f"{first['ctx']['expected']}, {error['ctx']['expected']}"
            by_loc[loc] = {**first, "ctx": {"expected": expected}}
    return list(by_loc.values())


def format_validation_error(
    path: Path, model: type[BaseModel], exc: ValidationError, lines: dict[Loc, int]
) -> str:
    """One line per problem: ``file:line: field.path: what is wrong``."""
    out = []
    for error in _merged(exc.errors()):
        loc = tuple(error["loc"])
        line = _line_for(loc, lines)
        where = f"{path}:{line}" if line is not None else str(path)
        field = ".".join(str(p) for p in loc) or "(top level)"
        out.append(f"{where}: {field}: {_message(model, error)}")
    return "\n".join(out)


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
        raise ProtocolError(f"{path}:1: a {what} must be a YAML mapping of fields, got {data!r}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ProtocolError(format_validation_error(path, model, exc, lines)) from None
