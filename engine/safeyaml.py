"""Read a YAML config file safely, whatever its bytes: data plus the line of every field.

Protocols and patient profiles come from therapists' editors, e-mail attachments and USB
sticks, so :func:`read_yaml` must turn *any* file into either data or one
:class:`~engine.errors.ProtocolError` whose message starts with ``file:line:`` (or
``file:`` where no line applies), in bounded time and memory. The limits:

- **size**: at most :data:`MAX_BYTES` (1 MiB; the largest shipped protocol is under 4 KB);
- **text**: UTF-8 (a bad byte is named with its line:column); no control characters
  other than tab, newline and carriage return (named with line:column, e.g. a form feed
  or NUL pasted from a word processor);
- **nesting**: at most :data:`MAX_DEPTH` levels of mappings/lists, counted *after*
  aliases are expanded (a protocol needs about five);
- **anchors and aliases** are allowed (``&defaults`` / ``*defaults`` / ``<<: *defaults``
  save repetition in long hierarchies), but bounded: at most :data:`MAX_ALIASES` alias
  uses per file, an alias may not refer to the anchor it is inside (``loop: &l [*l]``
  would be an endless structure), and the document *with every alias expanded* may hold
  at most :data:`MAX_VALUES` values. The last rule stops a "billion laughs" file (nine
  aliases of nine aliases of ... a few KB that expand to 10^9 values) before anything
  walks the expansion: the sizes are summed while the file is composed, each anchor's
  size computed once. The line map never descends into an alias (an error inside an
  aliased block is reported at the alias's line);
- **duplicate keys** are an error naming both lines
  (``file:12: safety.max_heart_rate: duplicate key (first at line 9)``): YAML's "last one
  wins" would let a second ``max_heart_rate:`` silently replace the first. Keys merged
  in with ``<<:`` may be overridden, as YAML intends.

Only PyYAML's pure-Python ``SafeLoader`` is used (no arbitrary objects); the libyaml
composer is avoided because it recurses in C without a depth limit.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

import yaml

from engine.errors import ProtocolError

__all__ = [
    "MAX_ALIASES",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_VALUES",
    "Loc",
    "field_name",
    "read_yaml",
]

Loc = tuple[str | int, ...]
MAX_BYTES = 1024 * 1024
"""Largest config file read (bytes)."""
MAX_DEPTH = 32
"""Deepest nesting of mappings/lists, aliases expanded."""
MAX_ALIASES = 100
"""Most alias uses (``*name``) in one file."""
MAX_VALUES = 10_000
"""Most values (scalars, mappings, lists; mapping keys count) with aliases expanded. The
largest shipped protocol has 116; PyYAML's pure-Python composer needs about 0.1 ms per
value on a busy 2-core machine, so this also bounds the time (about a second)."""

_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
"""What YAML 1.1 (and PyYAML's reader) refuses: control characters, NUL, U+FFFE/FFFF."""
_CHAR_NAMES = {0: "NUL", 8: "backspace", 11: "vertical tab", 12: "form feed", 27: "escape"}
_MERGE_TAG = "tag:yaml.org,2002:merge"
_SHOW = 60


class _Refused(yaml.YAMLError):
    """A limit of this module was exceeded at ``mark``."""

    def __init__(self, mark: yaml.Mark, message: str) -> None:
        super().__init__(message)
        self.mark, self.message = mark, message


def field_name(loc: Loc) -> str:
    """``('safety', 'max_heart_rate')`` -> ``'safety.max_heart_rate'``; a part with
    invisible or control characters is quoted (``'safety\\u200b'``) so it shows."""
    parts = (str(p) if isinstance(p, int) or p.isprintable() else repr(p) for p in loc)
    return ".".join(parts) or "(top level)"


def _show(text: str) -> str:
    """``text`` quoted and cut to a readable length."""
    return repr(text if len(text) <= _SHOW else text[:_SHOW] + "...")


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader composing with the limits of the module docstring."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.depth = 0
        self.values = 0
        self.deepest = 0
        self.aliases = 0
        self.open_anchors: set[str] = set()
        self.extent: dict[int, tuple[int, int]] = {}  # id(anchored node) -> (values, height)
        self.alias_lines: dict[tuple[int, int], int] = {}  # (id(list node), index) -> line

    def _grow(self, values: int, depth: int, mark: yaml.Mark) -> None:
        self.values += values
        self.deepest = max(self.deepest, depth)
        if depth > MAX_DEPTH:
            raise _Refused(mark, f"nested deeper than {MAX_DEPTH} levels (aliases expanded)")
        if self.values > MAX_VALUES:
            raise _Refused(
                mark,
                f"more than {MAX_VALUES} values, aliases expanded (a config file has a few "
                "hundred)",
            )

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        """Compose one node, counting its expanded size, depth and alias uses."""
        if self.check_event(yaml.AliasEvent):
            return self._alias(parent, index)
        event = self.peek_event()  # type: ignore[no-untyped-call]  # PyYAML is untyped
        anchor = event.anchor
        self.depth += 1
        before, deepest_before = self.values, self.deepest
        self.deepest = 0
        self._grow(1, self.depth, event.start_mark)
        if anchor is not None:
            self.open_anchors.add(anchor)
        node = super().compose_node(parent, index)
        if anchor is not None:
            self.open_anchors.discard(anchor)
            self.extent[id(node)] = (self.values - before, self.deepest - self.depth + 1)
        self.deepest = max(deepest_before, self.deepest)
        self.depth -= 1
        return node

    def _alias(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        """An alias: its anchor's node, counted at its expanded size and height."""
        event = self.peek_event()  # type: ignore[no-untyped-call]  # PyYAML is untyped
        self.aliases += 1
        if self.aliases > MAX_ALIASES:
            raise _Refused(event.start_mark, f"more than {MAX_ALIASES} aliases")
        if event.anchor in self.open_anchors:
            raise _Refused(
                event.start_mark,
                f"alias *{event.anchor} is inside its own anchor &{event.anchor} "
                "(an endless structure)",
            )
        node = super().compose_node(parent, index)  # raises for an undefined alias
        values, height = self.extent[id(node)]
        self._grow(values, self.depth + height, event.start_mark)
        if isinstance(parent, yaml.SequenceNode):
            self.alias_lines[(id(parent), int(index))] = event.start_mark.line + 1
        return node


def _position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of character ``offset`` in ``text``."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _decode(path: Path, data: bytes) -> str:
    """``data`` as text; bad UTF-8 and control characters are named with line:column."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        good = data[: exc.start].decode("utf-8", errors="replace")
        line, col = _position(good, len(good))
        raise ProtocolError(
            f"{path}:{line}:{col}: byte 0x{data[exc.start]:02x} is not UTF-8 text "
            "(save the file as UTF-8)"
        ) from None
    bad = _NON_PRINTABLE.search(text)
    if bad is not None:
        line, col = _position(text, bad.start())
        code = ord(bad.group())
        name = _CHAR_NAMES.get(code) or unicodedata.name(bad.group(), "control character")
        raise ProtocolError(
            f"{path}:{line}:{col}: character U+{code:04X} ({name}) is not allowed in YAML "
            "(only printable text, tabs and line breaks)"
        )
    return text


def _read_bytes(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ProtocolError(f"{path}: file not found") from None
    except OSError as exc:
        raise ProtocolError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    if len(data) > MAX_BYTES:
        raise ProtocolError(
            f"{path}: file is larger than {MAX_BYTES // 1024} KiB; a config file is a few KB"
        )
    return data


class _Walk:
    """One pass over the composed nodes: scalars constructed (errors get their line), the
    line of every field, duplicate keys. Aliased nodes are met once and never re-entered."""

    def __init__(self, path: Path, loader: _BoundedLoader) -> None:
        self.path, self.loader = path, loader
        self.lines: dict[Loc, int] = {}
        self._seen: set[int] = set()

    def node(self, node: yaml.Node, loc: Loc) -> None:
        if id(node) in self._seen:
            return
        self._seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            self._scalar(node, loc)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                line = self.loader.alias_lines.get((id(node), i), item.start_mark.line + 1)
                self.lines[(*loc, i)] = line
                self.node(item, (*loc, i))
        elif isinstance(node, yaml.MappingNode):
            self._mapping(node, loc)

    def _scalar(self, node: yaml.ScalarNode, loc: Loc) -> Any:
        if node.tag == _MERGE_TAG:
            return None
        try:
            return self.loader.construct_object(node)
        except yaml.MarkedYAMLError:
            raise
        except Exception as exc:  # PyYAML's scalar constructors raise ValueError & co
            field = field_name(loc)
            tag = node.tag.rsplit(":", 1)[-1]
            raise ProtocolError(
                f"{self.path}:{node.start_mark.line + 1}: {field}: {_show(node.value)} "
                f"cannot be read as {tag} ({exc})"
            ) from None

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> None:
        first: dict[Any, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            key: Any = None
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE_TAG:
                key = self._scalar(key_node, loc)
                child = (*loc, str(key))
                if key in first:
                    raise ProtocolError(
                        f"{self.path}:{line}: {field_name(child)}: duplicate "
                        f"key (first at line {first[key]})"
                    )
                first[key] = line
            else:
                self.node(key_node, loc)
                child = (*loc, str(key_node.value) if key_node.tag != _MERGE_TAG else "<<")
            self.lines.setdefault(child, line)
            self.node(value_node, child)


def _compose(path: Path, text: str) -> tuple[Any, dict[Loc, int]]:
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        walk = _Walk(path, loader)
        walk.node(node, ())
        return loader.construct_document(node), walk.lines
    finally:
        loader.dispose()


def read_yaml(path: str | Path) -> tuple[Any, dict[Loc, int]]:
    """Parse ``path`` and return its data and a map from field path to 1-based line.

    Raises
    ------
    ProtocolError
        For any problem (see the module docstring); the message starts with ``file:line:``,
        or ``file:`` when no line applies.
    """
    path = Path(path)
    text = _decode(path, _read_bytes(path))
    try:
        return _compose(path, text)
    except _Refused as exc:
        raise ProtocolError(f"{path}:{exc.mark.line + 1}: {exc.message}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ProtocolError(f"{where}: YAML syntax error: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:  # e.g. the reader's own checks (already done above)
        raise ProtocolError(f"{path}: YAML syntax error: {exc}") from None
