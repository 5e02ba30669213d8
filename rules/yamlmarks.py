"""YAML text to plain Python data plus the position of every value and key, within bounds.

PyYAML's constructors apply YAML 1.1 (``NO`` becomes ``False``, ``2026-03-01`` a ``date``,
``012`` an octal 10, duplicate keys silently keep the last), and its composer builds the whole
node tree before anyone can look at it: a 16 MB list costs gigabytes. So we read libyaml's
*event* stream and build the values ourselves, one event at a time, closer to YAML 1.2: only
``true``/``false`` are booleans, only decimal digits are integers, dates stay text until a date
field parses them. Every bound of :mod:`rules.limits` is checked as the events arrive, so a
hostile file is refused at the first value past a bound, before it costs more; aliases are
refused where they stand, never expanded. Every value and key is remembered by its location
tuple (``("events", 2, "repeat")``) so that any later error, from pydantic or from the
cross-file checks, points at the exact node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

import yaml

from rules.errors import RuleError
from rules.limits import (
    MAX_DEPTH,
    MAX_ENTRIES,
    MAX_FILE_BYTES,
    MAX_INT_DIGITS,
    MAX_NODES,
    MAX_SCALAR_CHARS,
)
from rules.yamlerrors import explain, line_column

assert yaml.__with_libyaml__, "PyYAML was built without libyaml: rule loading would be ~4x slower"

Loc = tuple[str | int, ...]
#: A 1-based (line, column).
Position = tuple[int, int]

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
#: Tags a plain scalar may resolve to, first match wins (YAML 1.1's, as PyYAML resolves them).
_IMPLICIT: Final = yaml.resolver.Resolver.yaml_implicit_resolvers

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
    #: The file relative to the rules directory, the name messages use for it.
    name: str = ""
    nodes: dict[Loc, Position] = field(default_factory=dict)  # loc -> position of the value
    keys: dict[Loc, Position] = field(default_factory=dict)  # loc -> position of its key
    #: Model locations whose YAML spelling differs, e.g. ("events", 0, "gap") -> (..., "every").
    aliases: dict[Loc, Loc] = field(default_factory=dict)

    def position(self, loc: Loc, *, key: bool = False) -> Position:
        """1-based (line, column) of the node at ``loc``, or of the nearest enclosing node."""
        marks = self.keys if key and loc in self.keys else self.nodes
        while loc not in marks and loc:
            loc = loc[:-1]
            marks = self.nodes
        return marks.get(loc, (1, 1))

    def error(self, loc: Loc, message: str, *, key: bool = False) -> RuleError:
        line, column = self.position(loc, key=key)
        return RuleError(self.path, line, column, with_location(loc, message))


def with_location(loc: Loc, message: str) -> str:
    return f"{'.'.join(str(part) for part in loc)}: {message}" if loc else message


def _decode(path: str, raw: bytes) -> tuple[str | None, RuleError | None]:
    if len(raw) > MAX_FILE_BYTES:
        message = (
            f"file is too large ({len(raw):,} bytes; a rule file is at most {MAX_FILE_BYTES:,})"
        )
        return None, RuleError(path, 1, 1, message)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        before = raw[: exc.start].decode("utf-8", errors="replace")
        line, column = line_column(before, len(before))
        bad = raw[exc.start : exc.start + 1].hex()
        message = f"file is not valid UTF-8 (byte 0x{bad}); save it as UTF-8"
        return None, RuleError(path, line, column, message)


def _at(mark: Any) -> Position:
    return (mark.line + 1, mark.column + 1)


class _TooBig(Exception):
    """A parse bound was crossed: reading stops here, the file is refused with this error."""

    def __init__(self, error: RuleError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(slots=True)
class _Frame:
    """A list or mapping being built. ``key`` is the mapping key whose value comes next
    (``None``: a key comes next); ``keep`` is False for a collection that is read only to be
    thrown away (under a refused tag, a duplicate key, or in a key)."""

    loc: Loc
    items: list[Any] | dict[str, Any]
    keep: bool
    key: str | None = None
    skip_value: bool = False
    is_key: bool = False
    #: ``items`` is a dict (a mapping), asked for every value read.
    is_map: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.is_map = isinstance(self.items, dict)


class _Builder:
    """Builds Python values from events, recording positions and collecting node-level errors."""

    __slots__ = ("aliases", "doc", "errors", "last_scalar", "stack")

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.errors: list[RuleError] = []
        self.aliases: list[RuleError] = []
        self.stack: list[_Frame] = []
        #: Syntax errors are explained with the last value read before them.
        self.last_scalar: Any = None

    def fail(self, loc: Loc, at: Position, message: str) -> _Invalid:
        self.errors.append(RuleError(self.doc.path, *at, with_location(loc, message)))
        return INVALID

    def too_big(self, loc: Loc, at: Position, message: str) -> _TooBig:
        return _TooBig(RuleError(self.doc.path, *at, with_location(loc, message)))

    def run(self, loader: Any) -> Any:
        """Consume the events of one document from libyaml; return the root value.

        The loop runs once per event, ~90 times a program file: what it reads each time is
        held in locals (the stack, the positions, the event classes)."""
        root: Any = INVALID
        documents = 0
        get_event = loader.get_event
        stack = self.stack
        nodes = self.doc.nodes
        count = 0
        while (event := get_event()) is not None:
            kind = type(event)
            if kind is _MAPPING_END or kind is _SEQUENCE_END:
                frame = stack.pop()
                value = frame.items if frame.is_map else tuple(frame.items)
                if not stack:
                    root = value
                elif frame.is_key:
                    stack[-1].skip_value = True  # the value of a refused key goes too
                else:
                    self._place(value if frame.keep else INVALID)
                continue
            if kind not in _NODE_EVENTS:
                if kind is _DOCUMENT_START:
                    documents += 1
                    if documents > 1:
                        message = (
                            "YAML syntax error: but found another document: "
                            "a rule file holds one document"
                        )
                        raise _TooBig(RuleError(self.doc.path, *_at(event.start_mark), message))
                continue
            count += 1
            mark = event.start_mark
            at = (mark.line + 1, mark.column + 1)
            if count > MAX_NODES:
                message = f"the file has more than {MAX_NODES:,} values (the limit per rule file)"
                raise _TooBig(RuleError(self.doc.path, *at, message))
            if not stack:
                if kind is not _MAPPING_START or event.tag not in (None, "!", _MAP):
                    message = (
                        "the top level must be a mapping of keys (key: value), "
                        "not a list or a value"
                    )
                    if kind is _SCALAR and event.implicit[0] and not event.value:
                        message, at = "the file is empty: expected a mapping of keys", (1, 1)
                    raise _TooBig(RuleError(self.doc.path, *at, message))
                stack.append(_Frame((), {}, keep=True))
                nodes[()] = at
                continue
            top = stack[-1]
            if top.is_map:
                if top.key is None and not top.skip_value:
                    self._key(top, event, kind, at)
                    continue
                loc = (*top.loc, top.key if top.key is not None else "")
            else:
                if len(top.items) >= MAX_ENTRIES:
                    raise self.too_many(top.loc, at)
                loc = (*top.loc, len(top.items))
            keep = top.keep and not top.skip_value
            if keep:
                nodes[loc] = at
            if kind is _SCALAR:
                self.last_scalar = event
                self._place(self._scalar(event, loc, at) if keep else INVALID)
            elif kind is _ALIAS:
                self._alias(event, at)
                self._place(INVALID)
            else:
                self._open(event, kind, loc, at, keep)
        return root

    def too_many(self, loc: Loc, at: Position) -> _TooBig:
        message = f"more than {MAX_ENTRIES:,} entries (the limit per list or mapping)"
        return self.too_big(loc, at, message)

    def _place(self, value: Any) -> None:
        """Put a finished value into the collection on top of the stack."""
        top = self.stack[-1]
        if isinstance(top.items, list):
            top.items.append(value)
        elif top.skip_value:
            top.skip_value = False
        else:
            assert top.key is not None
            if top.keep:
                top.items[top.key] = value
            top.key = None

    def _open(self, event: Any, kind: type, loc: Loc, at: Position, keep: bool) -> None:
        if len(self.stack) >= MAX_DEPTH:
            message = f"nested more than {MAX_DEPTH} levels deep (the limit for a rule file)"
            raise self.too_big(loc, at, message)
        mapping = kind is yaml.MappingStartEvent
        expected = _MAP if mapping else _SEQ
        if keep and event.tag not in (None, "!", expected):
            self.fail(loc, at, f"unsupported YAML tag {_short(event.tag)!r}")
            keep = False
        self.stack.append(_Frame(loc, {} if mapping else [], keep=keep))

    def _key(self, top: _Frame, event: Any, kind: type, at: Position) -> None:
        assert isinstance(top.items, dict)
        if kind is not yaml.ScalarEvent:
            # The key is discarded, then the value that belongs to it.
            if kind is yaml.AliasEvent:
                self._alias(event, at)
                top.skip_value = True
                return
            if top.keep:
                message = "a key must be a plain word, not a list or a mapping"
                self.errors.append(RuleError(self.doc.path, *at, with_location(top.loc, message)))
            self.stack.append(_Frame(top.loc, [], keep=False, is_key=True))
            return
        self.last_scalar = event
        if len(top.items) >= MAX_ENTRIES:
            raise self.too_many(top.loc, at)
        name: str = event.value
        child = (*top.loc, name)
        if len(name) > MAX_SCALAR_CHARS:
            message = f"a key of {len(name):,} characters (at most {MAX_SCALAR_CHARS:,})"
            raise self.too_big(top.loc, at, message)
        if top.keep and name in top.items:
            line, column = self.doc.keys[child]
            message = f"duplicate key (first written at line {line}, column {column})"
            self.fail(child, at, message)
            top.skip_value = True
            return
        if top.keep:
            self.doc.keys[child] = at
        top.key = name

    def _alias(self, event: Any, at: Position) -> None:
        message = f"aliases (*{event.anchor}) are not allowed in rule files: write the value out"
        self.aliases.append(RuleError(self.doc.path, *at, message))

    def _scalar(self, event: Any, loc: Loc, at: Position) -> Any:
        value: str = event.value
        if len(value) > MAX_SCALAR_CHARS:
            return self.fail(
                loc, at, f"a value of {len(value):,} characters (at most {MAX_SCALAR_CHARS:,})"
            )
        tag = event.tag
        if tag is None or tag == "!":
            if not event.implicit[0]:
                return value  # quoted: always text
            if value[:1] not in _IMPLICIT:
                return value  # a plain word: no YAML 1.1 type starts this way
            tag = _INT if value.isdigit() and value.isascii() else _resolve(value)
        if tag in (_STR, _TIMESTAMP, _VALUE):
            return value
        if tag == _INT:
            if not _DECIMAL_INT.fullmatch(value):
                return value
            if len(value.lstrip("+-")) > MAX_INT_DIGITS:
                return self.fail(loc, at, f"{value[:20]}… is too large a number")
            return int(value)
        if tag == _NULL:
            return None
        if tag == _BOOL:
            lowered = value.lower()
            return lowered == "true" if lowered in ("true", "false") else value
        if tag == _FLOAT:
            return _float(value)
        return self.fail(loc, at, f"unsupported YAML tag {_short(tag)!r}")


_SCALAR: Final = yaml.ScalarEvent
_ALIAS: Final = yaml.AliasEvent
_MAPPING_START: Final = yaml.MappingStartEvent
_SEQUENCE_START: Final = yaml.SequenceStartEvent
_MAPPING_END: Final = yaml.MappingEndEvent
_SEQUENCE_END: Final = yaml.SequenceEndEvent
_DOCUMENT_START: Final = yaml.DocumentStartEvent
_NODE_EVENTS: Final = frozenset({_SCALAR, _MAPPING_START, _SEQUENCE_START, _ALIAS})


def _short(tag: str) -> str:
    return tag.replace(_TAG, "!!", 1) if tag.startswith(_TAG) else tag


def _resolve(value: str) -> str:
    for tag, pattern in _IMPLICIT.get(value[:1] if value else "", ()):
        if pattern.match(value):
            return str(tag)
    return _STR


def _float(text: str) -> float | str:
    special = _SPECIAL_FLOATS.get(text.lower())
    if special is not None:
        return special
    try:
        return float(text.replace("_", ""))
    except ValueError:
        return text  # a YAML 1.1 sexagesimal float such as 1:30.5; it stays text


def parse_document(
    path: str, raw: bytes, name: str = ""
) -> tuple[Document | None, list[RuleError]]:
    """Parse one rule file whose top level must be a mapping; ``name`` is how messages about
    other files refer to it (the path relative to the rules directory).

    Returns the document (``None`` when nothing usable could be read) and the errors found so far;
    a document returned with errors holds :data:`INVALID` where a value was refused.
    """
    text, decode_error = _decode(path, raw)
    if text is None:
        return None, [decode_error] if decode_error else []
    doc = Document(path, {}, name or path)
    builder = _Builder(doc)
    loader = yaml.CSafeLoader(text)
    try:
        root = builder.run(loader)
    except _TooBig as exc:
        return None, [*builder.aliases, exc.error]
    except yaml.YAMLError as exc:
        line, column, message = explain(text, exc, builder.last_scalar)
        return None, [*builder.aliases, RuleError(path, line, column, message)]
    finally:
        loader.dispose()
    if builder.aliases:
        return None, builder.aliases
    if root is INVALID:
        return None, [RuleError(path, 1, 1, "the file is empty: expected a mapping of keys")]
    doc.data = root
    return doc, builder.errors
