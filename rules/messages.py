"""Pydantic's errors rewritten for merchandisers, at the YAML node they concern.

Pydantic says "Input should be a valid integer"; a merchandiser needs to hear that ``1.5`` is not
a whole number or that ``yes`` is not how to write a boolean here. The YAML keys of each mapping
are listed here too: they drive the "did you mean" suggestions and are the reference the docs
follow.
"""

from __future__ import annotations

import difflib
from typing import Any, Final, Literal

from pydantic_core import ErrorDetails

from rules.errors import RuleError
from rules.jsonschema import catalog_schema, keys_by_location, program_schema, schedules_schema
from rules.values import RULE_ID_PATTERN, SKU_PATTERN, is_yaml11_boolean
from rules.yamlmarks import INVALID, Document, Loc

FileKind = Literal["catalog", "schedules", "program"]

#: The keys each mapping accepts, by file kind and location (list indexes written ``*``): the
#: editor schemas' own properties, so that editors and the loader know the same keys.
YAML_KEYS: Final[dict[FileKind, dict[Loc, tuple[str, ...]]]] = {
    "catalog": keys_by_location(catalog_schema()),
    "schedules": keys_by_location(schedules_schema()),
    "program": keys_by_location(program_schema()),
}
PROGRAM_KEYS: Final = YAML_KEYS["program"][()]
EVENT_KEYS: Final = YAML_KEYS["program"][("events", "*")]
GAP_KEYS: Final = YAML_KEYS["program"][("cadence",)]


def allowed_keys(kind: FileKind, parent: Loc) -> tuple[str, ...]:
    pattern = tuple("*" if isinstance(part, int) else part for part in parent)
    return YAML_KEYS[kind].get(pattern, ())


def unknown_key_message(key: str, allowed: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown key (did you mean {close[0]!r}?)"
    return f"unknown key (expected one of: {', '.join(allowed)})" if allowed else "unknown key"


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, tuple):
        return "a list"
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    return repr(value)


def _describe(error: ErrorDetails) -> str:
    kind, value, ctx = error["type"], error["input"], error.get("ctx", {})
    if kind == "string_type":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return f'must be text: quote it, e.g. "{value}"'
        if isinstance(value, bool):
            return "must be text: quote it (unquoted true/false are booleans in YAML)"
        return f"must be text, not {_type_name(value)}"
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern") == SKU_PATTERN:
            return (
                f"{value!r} is not a valid SKU: use A-Z, 0-9, '.', '_' and '-', "
                "starting with a letter or digit, at most 64 characters"
            )
        if ctx.get("pattern") == RULE_ID_PATTERN:
            return (
                f"{value!r} is not a valid id: use a-z, 0-9 and '-', "
                "starting with a letter or digit, at most 63 characters"
            )
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"is too long (at most {ctx.get('max_length')} characters)"
    if kind == "bool_type":
        if is_yaml11_boolean(value):
            return f"must be true or false ({value!r} is not accepted: write true or false)"
        return f"must be true or false, not {_type_name(value)}"
    if kind == "int_type":
        return f"must be a whole number, not {_type_name(value)}"
    if kind == "greater_than":
        return f"must be greater than {ctx.get('gt')}"
    if kind == "greater_than_equal":
        return "must not be negative" if ctx.get("ge") == 0 else f"must be at least {ctx['ge']}"
    if kind in ("less_than_equal", "less_than"):
        return f"must be at most {ctx.get('le', ctx.get('lt'))}"
    if kind == "literal_error":
        return f"must be {ctx.get('expected')}, not {_type_name(value)}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be a mapping (key: value), not {_type_name(value)}"
    if kind == "too_long":
        return f"has {ctx.get('actual_length')} entries: at most {ctx.get('max_length')}"
    if kind in ("tuple_type", "list_type"):
        return f"must be a list, not {_type_name(value)}"
    return error["msg"]


def _resolve_alias(doc: Document, loc: Loc) -> Loc:
    for end in range(len(loc), 0, -1):
        target = doc.aliases.get(loc[:end])
        if target is not None:
            return target
    return loc


def pydantic_errors(
    doc: Document,
    kind: FileKind,
    errors: list[ErrorDetails],
    *,
    prefix: Loc = (),
    limit: int | None = None,
) -> tuple[list[RuleError], list[RuleError]]:
    """Map pydantic errors to rule errors: (field errors, model-invariant errors).

    Errors about a value that the YAML walk already refused are dropped, so nothing is
    reported twice. Mapping stops a little past ``limit`` errors: the caller lists no more.
    """
    field_errors: list[RuleError] = []
    invariant_errors: list[RuleError] = []
    missing: dict[Loc, list[str]] = {}
    for error in errors:
        if limit is not None and len(field_errors) + len(invariant_errors) + len(missing) > limit:
            break
        if error["input"] is INVALID:
            continue
        loc = _resolve_alias(doc, (*prefix, *error["loc"]))
        kind_name = error["type"]
        if kind_name == "missing":
            parent = loc[:-1]
            while parent not in doc.nodes and parent:
                parent = parent[:-1]
            missing.setdefault(parent, []).append(repr(str(loc[-1])))
            continue
        if kind_name == "extra_forbidden" and loc in doc.keys:
            message = unknown_key_message(str(loc[-1]), allowed_keys(kind, loc[:-1]))
            field_errors.append(doc.error(loc, message, key=True))
            continue
        while loc not in doc.nodes and loc:
            loc = loc[:-1]
        rule_error = doc.error(loc, _describe(error))
        if kind_name == "rule_invariant":
            invariant_errors.append(rule_error)
        else:
            field_errors.append(rule_error)
    for parent, names in missing.items():
        plural = "s" if len(names) > 1 else ""
        field_errors.append(doc.error(parent, f"missing required key{plural} {', '.join(names)}"))
    return field_errors, invariant_errors
