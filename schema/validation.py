"""Validating a document: graphql-core's rules, without suggestions outside development, every
error with ``extensions.code = GRAPHQL_VALIDATION_FAILED``.

It replaces Strawberry's validation step (and its ``ValidationCache``) because that step cannot
hide graphql-core's "Did you mean …?" suggestions, which name the schema's enum values,
arguments, types and input fields to a caller who may not introspect it. It also orders the
work so that no rule meets what it cannot handle:

1. numeric literals over ``MAX_LITERAL_DIGITS`` digits are refused first (graphql-core turns
   literals into ``int`` while validating, and Python refuses 4,300+ digits with a
   ``ValueError``);
2. the specification's rules;
3. only for a document that passed them, our limits (depth, aliases: ``QueryDepthLimiter``
   looks fragments up by name and raised ``KeyError('Nope')`` on an unknown one).

Both passes are cached by document (the parser cache hands back the same document for the same
text), like Strawberry's ``ValidationCache``; ours also by its rules, which are the same classes
every request (``schema/root.py``, ``LIMIT_RULES``). The caches know a document by identity
(``_Same``): graphql-core's nodes are frozen dataclasses whose hash walks the whole tree, every
node and location, twice a request (a placement's document: ~7 µs each time).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FloatValueNode,
    GraphQLError,
    GraphQLSchema,
    IntValueNode,
    ValidationRule,
    specified_rules,
    validate,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

#: The most digits a number written in a document may have (an Int has at most 10).
MAX_LITERAL_DIGITS = 32
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
SUGGESTION = re.compile(r"\s*Did you mean .*\?$", re.DOTALL)
STANDARD_RULES: tuple[type[ASTValidationRule], ...] = (
    *specified_rules,
    MaybeNullValidationRule,
    OneOfInputValidationRule,
)


class BoundedLiteralsRule(ValidationRule):
    """Refuses numbers too long to be any value of the schema."""

    def _check(self, node: IntValueNode | FloatValueNode) -> None:
        if sum(char.isdigit() for char in node.value) > MAX_LITERAL_DIGITS:
            self.report_error(
                GraphQLError(
                    f"a number of more than {MAX_LITERAL_DIGITS} digits", node, extensions={}
                )
            )

    def enter_int_value(self, node: IntValueNode, *_args: Any) -> None:
        self._check(node)

    def enter_float_value(self, node: FloatValueNode, *_args: Any) -> None:
        self._check(node)


def _coded(errors: list[GraphQLError], hide_suggestions: bool) -> list[GraphQLError]:
    for error in errors:
        if hide_suggestions:  # what hide_suggestions leaves: "Did you mean 'node { ... }'?"
            error.message = SUGGESTION.sub("", error.message)
        if not (error.extensions or {}).get("code"):
            error.extensions = {**(error.extensions or {}), "code": VALIDATION_FAILED}
    return errors


class _Same:
    """A document as a cache key by identity. The cache holds the key, so the document lives
    and its ``id`` is not reused while the entry does. Two equal documents parsed apart are
    two entries with the same errors."""

    __slots__ = ("document",)

    def __init__(self, document: DocumentNode) -> None:
        self.document = document

    def __hash__(self) -> int:
        return id(self.document)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.document is self.document


@lru_cache(maxsize=256)
def _specified_errors(
    schema: GraphQLSchema, same: _Same, hide_suggestions: bool
) -> tuple[GraphQLError, ...]:
    document = same.document
    for passes in ((BoundedLiteralsRule,), STANDARD_RULES):
        errors = validate(schema, document, passes, hide_suggestions=hide_suggestions)
        if errors:
            return tuple(_coded(list(errors), hide_suggestions))
    return ()


@lru_cache(maxsize=256)
def _rule_errors(
    schema: GraphQLSchema,
    same: _Same,
    rules: tuple[type[ASTValidationRule], ...],
    hide_suggestions: bool,
) -> tuple[GraphQLError, ...]:
    return tuple(
        _coded(
            list(validate(schema, same.document, rules, hide_suggestions=hide_suggestions)),
            hide_suggestions,
        )
    )


def validate_document(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: tuple[type[ASTValidationRule], ...],
    hide_suggestions: bool,
) -> list[GraphQLError]:
    """The document's errors under the specification's rules, then under ``rules`` (ours),
    each pass cached by document (and rules): the rules only read the document."""
    same = _Same(document)
    errors = list(_specified_errors(schema, same, hide_suggestions))
    if errors or not rules:
        return errors
    return list(_rule_errors(schema, same, rules, hide_suggestions))


class Validation(SchemaExtension):
    """Strawberry's validation step, as above; suggestions only in ``development``."""

    def __init__(self, *, development: bool = False) -> None:
        self.development = development

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            ours = tuple(rule for rule in context.validation_rules if rule not in STANDARD_RULES)
            context.pre_execution_errors = validate_document(
                context.schema._schema, document, ours, not self.development
            )
        yield
