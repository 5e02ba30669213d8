"""YAML text to plain Python data plus the position of every value and key.

PyYAML's constructors apply YAML 1.1 (``NO`` becomes ``False``, ``2026-03-01`` a ``date``,
``012`` an octal 10, duplicate keys silently keep the last). We compose the node tree with
libyaml and build the values ourselves, closer to YAML 1.2: only ``true``/``false`` are
booleans, only decimal digits are integers, dates stay text until a date field parses them.
Every value and key node is remembered by its location tuple (``("events", 2, "repeat")``) so
that any later error, from pydantic or from the cross-file checks, points at the exact node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

import yaml

from rules.errors import RuleError

assert yaml.__with_libyaml__, "PyYAML was built without libyaml: rule loading would be ~4x slower"

Loc = tuple[str | int, ...]

#: Rule files are hand-written and small; a bigger file is a mistake, not a catalog.
MAX_FILE_BYTES: Final = 16 * 1024 * 1024
#: Rule files nest four or five levels; a deeper tree is garbage (or an attack).
MAX_DEPTH: Final = 32

_TAG = "tag:yaml.org,2002:"
_STR: Final = _TAG + "str"
_INT: Final = _TAG + "int"
_FLOAT: Final = _TAG + "float"
_BOOL: Final = _TAG + "bool"
_NULL: Final = _TAG + "null"
_TIMESTAMP: Final = _TAG + "timestamp"
_VALUE: Final = _TAG + "value"
_MAP: Final = _TAG + "map"
_SEQ: Final = _TAG + "seq"

_DECIMAL_INT: Final = re.compile(r"[-+]?[0-9]+")
_SPECIAL_FLOATS: Final = {
    ".inf": float("inf"),
    "+.inf": float("inf"),
    "-.inf": float("-inf"),
    ".nan": float("nan"),
}


class _Invalid:
    """Stands in for a value that already has an error, so that nothing reports it twice."""

    _instance: _Invalid | None = None

    def __new__(cls) -> _Invalid:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Final = _Invalid()


@dataclass(slots=True)
class Document:
    """One parsed rule file: its data and where each part of it was written."""

    path: str
    data: dict[str, Any]
    nodes: dict[Loc, Any] = field(default_factory=dict)  # loc -> yaml Mark of the value
    keys: dict[Loc, Any] = field(default_factory=dict)  # loc -> yaml Mark of its key
    #: Model locations whose YAML spelling differs, e.g. ("events", 0, "gap") -> (..., "every").
    aliases: dict[Loc, Loc] = field(default_factory=dict)

    def position(self, loc: Loc, *, key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of the node at ``loc``, or of the nearest enclosing node."""
        marks = self.keys if key and loc in self.keys else self.nodes
        while loc not in marks and loc:
            loc = loc[:-1]
            marks = self.nodes
        mark = marks.get(loc)
        return (1, 1) if mark is None else (mark.line + 1, mark.column + 1)

    def error(self, loc: Loc, message: str, *, key: bool = False) -> RuleError:
        line, column = self.position(loc, key=key)
        return RuleError(self.path, line, column, with_location(loc, message))


def with_location(loc: Loc, message: str) -> str:
    return f"{'.'.join(str(part) for part in loc)}: {message}" if loc else message


def _line_column(text: str, index: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


def _decode(path: str, raw: bytes) -> tuple[str | None, RuleError | None]:
    if len(raw) > MAX_FILE_BYTES:
        message = f"file is too large ({len(raw)} bytes; at most {MAX_FILE_BYTES})"
        return None, RuleError(path, 1, 1, message)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        before = raw[: exc.start].decode("utf-8", errors="replace")
        line, column = _line_column(before, len(before))
        bad = raw[exc.start : exc.start + 1].hex()
        message = f"file is not valid UTF-8 (byte 0x{bad}); save it as UTF-8"
        return None, RuleError(path, line, column, message)


def _yaml_error(path: str, text: str, exc: yaml.YAMLError) -> RuleError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line, column = (1, 1) if mark is None else (mark.line + 1, mark.column + 1)
        message = f"YAML syntax error: {exc.problem or exc.context}"
        if exc.problem == "but found another document":
            return RuleError(path, line, column, f"{message}: a rule file holds one document")
        if exc.problem and exc.context:
            context = exc.context
            if exc.context_mark is not None:
                where = f"line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1}"
                context = f"{context} started at {where}"
            message = f"{message} ({context})"
        return RuleError(path, line, column, message)
    if isinstance(exc, yaml.reader.ReaderError):
        line, column = _line_column(text, min(exc.position, len(text)))
        return RuleError(path, line, column, f"unreadable character: {exc.reason}")
    return RuleError(path, 1, 1, f"YAML error: {exc}")


def _alias_errors(path: str, text: str) -> list[RuleError]:
    """Find aliases, which the composed tree no longer shows (it shares the anchored node).

    Aliases are refused because a few nested ones expand to billions of nodes; the event scan
    only runs when the text contains a ``*`` at all.
    """
    errors: list[RuleError] = []
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            if isinstance(event, yaml.AliasEvent):
                mark = event.start_mark
                line, column = (1, 1) if mark is None else (mark.line + 1, mark.column + 1)
                message = (
                    f"aliases (*{event.anchor}) are not allowed in rule files: write the value out"
                )
                errors.append(RuleError(path, line, column, message))
    except yaml.YAMLError as exc:
        errors.append(_yaml_error(path, text, exc))
    return errors


class _Builder:
    """Builds Python values from nodes, recording marks and collecting node-level errors."""

    __slots__ = ("doc", "errors")

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.errors: list[RuleError] = []

    def fail(self, loc: Loc, message: str, *, key: bool = False) -> _Invalid:
        self.errors.append(self.doc.error(loc, message, key=key))
        return INVALID

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        self.doc.nodes[loc] = node.start_mark
        tag = node.tag
        if isinstance(node, yaml.ScalarNode):
            value: str = node.value
            if tag in (_STR, _TIMESTAMP, _VALUE):
                return value
            if tag == _INT:
                return int(value) if _DECIMAL_INT.fullmatch(value) else value
            if tag == _NULL:
                return None
            if tag == _BOOL:
                lowered = value.lower()
                return lowered == "true" if lowered in ("true", "false") else value
            if tag == _FLOAT:
                return _float(value)
        elif len(loc) >= MAX_DEPTH:
            return self.fail(loc, "nested too deeply")
        elif isinstance(node, yaml.MappingNode) and tag == _MAP:
            return self._mapping(node, loc)
        elif isinstance(node, yaml.SequenceNode) and tag == _SEQ:
            return tuple(self.build(item, (*loc, index)) for index, item in enumerate(node.value))
        short = tag.replace(_TAG, "!!", 1) if tag.startswith(_TAG) else tag
        return self.fail(loc, f"unsupported YAML tag {short!r}")

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[str, Any]:
        result: dict[str, Any] = {}
        keys = self.doc.keys
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                mark = key_node.start_mark
                message = with_location(loc, "a key must be a plain word, not a list or a mapping")
                self.errors.append(
                    RuleError(self.doc.path, mark.line + 1, mark.column + 1, message)
                )
                continue
            name: str = key_node.value
            child = (*loc, name)
            if name in result:
                line, column = self.doc.position(child, key=True)
                message = f"duplicate key (first written at line {line}, column {column})"
                self.errors.append(
                    RuleError(
                        self.doc.path,
                        key_node.start_mark.line + 1,
                        key_node.start_mark.column + 1,
                        with_location(child, message),
                    )
                )
                continue
            keys[child] = key_node.start_mark
            result[name] = self.build(value_node, child)
        return result


def _float(text: str) -> float | str:
    special = _SPECIAL_FLOATS.get(text.lower())
    if special is not None:
        return special
    try:
        return float(text.replace("_", ""))
    except ValueError:
        return text  # a YAML 1.1 sexagesimal float such as 1:30.5; it stays text


def parse_document(path: str, raw: bytes) -> tuple[Document | None, list[RuleError]]:
    """Parse one rule file whose top level must be a mapping.

    Returns the document (``None`` when nothing usable could be read) and the errors found so far;
    a document returned with errors holds :data:`INVALID` where a value was refused.
    """
    text, decode_error = _decode(path, raw)
    if text is None:
        return None, [decode_error] if decode_error else []
    if "*" in text:
        alias_errors = _alias_errors(path, text)
        if alias_errors:
            return None, alias_errors
    try:
        root = yaml.compose(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError as exc:
        return None, [_yaml_error(path, text, exc)]
    if root is None or (isinstance(root, yaml.ScalarNode) and root.tag == _NULL and not root.value):
        return None, [RuleError(path, 1, 1, "the file is empty: expected a mapping of keys")]
    if not isinstance(root, yaml.MappingNode) or root.tag != _MAP:
        mark = root.start_mark
        message = "the top level must be a mapping of keys (key: value), not a list or a value"
        return None, [RuleError(path, mark.line + 1, mark.column + 1, message)]
    doc = Document(path, {})
    builder = _Builder(doc)
    doc.data = builder.build(root, ())
    return doc, builder.errors
