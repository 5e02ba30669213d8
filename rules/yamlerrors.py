"""YAML syntax errors in plain words, at the place a person has to fix.

libyaml reports where it gave up, in its grammar's words: an unclosed quote is "found unexpected
end of stream" at the end of the file, a key without its colon is "mapping values are not
allowed in this context" on the *next* line. A merchandiser needs the opening quote, the line
that lacks the colon, and the tab that should be spaces. The common mistakes are recognised
here; anything else keeps libyaml's words (with where its context started).
"""

from __future__ import annotations

import re
from typing import Any, Final

import yaml

from rules.limits import MAX_DEPTH

_PREFIX: Final = "YAML syntax error: "
_TAB: Final = "a tab character: indent with spaces, not tabs"
_MISSING_COLON: Final = "missing ':' after the key (write key: value)"
_COLON_IN_VALUE: Final = "a ': ' inside a value: put the whole value in quotes"
#: ``key: value`` on one line: the value, without a trailing comment.
_KEY_VALUE: Final = re.compile(r"\s*(?:-\s+)?[^\s:#][^:#]*:\s+(?P<value>[^#]*?)\s*(?:#.*)?")
_QUOTE_NAMES: Final = {'"': "double quote", "'": "single quote"}
#: A line holding only a key and its colon (the line after one that lost its colon).
_KEY_LINE: Final = re.compile(r"\s*(?:-\s+)?[A-Za-z_][\w-]*\s*:(?:\s|$)")
_LEAD: Final = re.compile(r"\s*(?:-\s+)?")
_BARE_WORDS: Final = re.compile(r"\s*(?:-\s+)?[A-Za-z_][\w-]*(?:[ \t]+[^\s:#][^:#]*)?\s*(?:#.*)?")

Explained = tuple[int, int, str]
#: libyaml's limit for a key written without ``?``.
_LONGEST_KEY: Final = 1024


def _char_at(lines: list[str], line: int, column: int) -> str:
    """The character at a 1-based (line, column), or '' past the end."""
    if 1 <= line <= len(lines) and 1 <= column <= len(lines[line - 1]):
        return lines[line - 1][column - 1]
    return ""


def _previous_content_line(lines: list[str], line: int) -> int | None:
    """The 1-based number of the last non-blank, non-comment line before ``line``."""
    for number in range(line - 1, 0, -1):
        stripped = lines[number - 1].strip()
        if stripped and not stripped.startswith("#"):
            return number
    return None


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" "))


def _unclosed_quote(lines: list[str], line: int, column: int) -> Explained:
    quote = _char_at(lines, line, column)
    name = _QUOTE_NAMES.get(quote, "quote")
    message = f"this quoted value is never closed: add the closing {name} ({quote or '?'})"
    return line, column, _PREFIX + message


def _runaway_quote(last: Any, problem_line: int, lines: list[str]) -> Explained | None:
    """The error comes right after a quoted value that ran over several lines: most likely
    its closing quote is missing and the next quote in the file closed it instead."""
    if last is None or last.style not in _QUOTE_NAMES:
        return None
    start, end = last.start_mark, last.end_mark
    if end.line == start.line or end.line + 1 != problem_line:
        return None
    line, column = start.line + 1, start.column + 1
    quote = _char_at(lines, line, column)
    name = _QUOTE_NAMES.get(quote, "quote")
    message = (
        f"this quoted value runs on to line {end.line + 1}: "
        f"is its closing {name} ({quote}) missing?"
    )
    return line, column, _PREFIX + message


def _text_after_quote(last: Any, problem_line: int, lines: list[str]) -> Explained | None:
    """``did not find expected ','`` right after a quoted value on the same line: the quote
    that closed it was meant to open the next value, so the value's own closing quote is
    missing (``{name: "Club, price: "0.00"}``)."""
    if last is None or last.style not in _QUOTE_NAMES or last.end_mark.line + 1 != problem_line:
        return None
    line, column = last.start_mark.line + 1, last.start_mark.column + 1
    quote = _char_at(lines, line, column)
    name = _QUOTE_NAMES.get(quote, "quote")
    message = (
        f"the quoted value opened here ends at column {last.end_mark.column} and text follows "
        f"it: is its closing {name} ({quote}) missing?"
    )
    return line, column, _PREFIX + message


def _mapping_value(lines: list[str], line: int, column: int) -> Explained:
    """``mapping values are not allowed here``: a key above lost its colon (its words ran on
    into this line's key), or this value holds a ': '."""
    text = lines[line - 1] if 1 <= line <= len(lines) else ""
    previous = _previous_content_line(lines, line)
    if previous is not None and _KEY_LINE.match(text):
        above = lines[previous - 1]
        if _BARE_WORDS.fullmatch(above) and _indent(above) <= _indent(text):
            key_column = len(_LEAD.match(above).group()) + 1  # type: ignore[union-attr]
            return previous, key_column, _PREFIX + _MISSING_COLON
    pair = _KEY_VALUE.fullmatch(text)
    if pair is None or not pair["value"]:
        return line, column, _PREFIX + _COLON_IN_VALUE
    value = pair["value"]
    quoted = f"'{value}'" if '"' in value and "'" not in value else f'"{value}"'
    return line, column, f"{_PREFIX}{_COLON_IN_VALUE}: {quoted}"


def explain(text: str, exc: yaml.YAMLError, last_scalar: Any) -> Explained:
    """(line, column, message) for a YAML error, in plain words where the mistake is known."""
    lines = text.split("\n")
    if isinstance(exc, yaml.reader.ReaderError):
        line, column = line_column(text, min(exc.position, len(text)))
        return line, column, f"unreadable character: {exc.reason}"
    if not isinstance(exc, yaml.MarkedYAMLError):
        return 1, 1, f"YAML error: {exc}"
    problem, context = exc.problem or "", exc.context or ""
    mark = exc.problem_mark or exc.context_mark
    line, column = (1, 1) if mark is None else (mark.line + 1, mark.column + 1)
    if "tab" in problem or (
        "cannot start any token" in problem and _char_at(lines, line, column) == "\t"
    ):
        return line, column, _PREFIX + _TAB
    if problem.startswith("exceeded maximum nesting depth"):
        message = f"nested more than {MAX_DEPTH} levels deep (the limit for a rule file)"
        return line, column, message
    context_mark = exc.context_mark
    if (
        context == "while scanning a quoted scalar"
        and context_mark is not None
        and problem.startswith(("found unexpected end of stream", "found unexpected document"))
    ):
        return _unclosed_quote(lines, context_mark.line + 1, context_mark.column + 1)
    if problem == "could not find expected ':'" and context_mark is not None:
        key_line, key_column = context_mark.line + 1, context_mark.column + 1
        if mark is not None and mark.index - context_mark.index > _LONGEST_KEY:
            return key_line, key_column, f"{_PREFIX}a key longer than {_LONGEST_KEY:,} characters"
        return key_line, key_column, _PREFIX + _MISSING_COLON
    runaway = _runaway_quote(last_scalar, line, lines)
    if runaway is not None:
        return runaway
    if problem.startswith("did not find expected ','"):
        after_quote = _text_after_quote(last_scalar, line, lines)
        if after_quote is not None:
            return after_quote
    if problem.startswith("mapping values are not allowed"):
        return _mapping_value(lines, line, column)
    message = _PREFIX + (problem or context)
    if problem and context:
        where = ""
        if context_mark is not None:
            where = f" started at line {context_mark.line + 1}, column {context_mark.column + 1}"
        message = f"{message} ({context}{where})"
    return line, column, message


def line_column(text: str, index: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1
