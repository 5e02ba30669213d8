"""GraphQL in ``/metrics``: operations by root field(s) and type, their latency, and their
errors by code (GraphQL errors and the ``userErrors`` of mutation payloads).

A Strawberry extension, added to the schema by ``server.app`` with one line, so the schema
and resolvers know nothing of Prometheus.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from graphql import FieldNode, OperationDefinitionNode
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension

from server.metrics import GRAPHQL_DURATION, GRAPHQL_ERRORS, GRAPHQL_OPERATIONS

#: At most this many root fields name an operation (``programs+viewer``); more end in ``+…``.
_MAX_FIELDS_IN_LABEL = 3


def operation_label(document: Any, operation_name: str | None, schema: Any) -> str:
    """The operation's root fields that exist in the schema, sorted and joined with ``+``:
    bounded by the schema (an operation name is the client's free text, and a field name of an
    invalid document is anything: neither may become a label)."""
    if document is None:
        return "invalid"
    operation = get_operation_ast(document, operation_name)
    if not isinstance(operation, OperationDefinitionNode):
        return "invalid"
    root = schema.get_root_type(operation.operation)
    known = root.fields if root is not None else {}
    names = sorted(
        {
            selection.name.value
            for selection in operation.selection_set.selections
            if isinstance(selection, FieldNode)
        }
    )
    fields = [name for name in names if name in known or name == "__typename"]
    if not fields or len(fields) != len(names):
        return "unknown"
    label = "+".join(fields[:_MAX_FIELDS_IN_LABEL])
    return label + ("+…" if len(fields) > _MAX_FIELDS_IN_LABEL else "")


def _user_error_codes(data: Any) -> Iterator[str]:
    if not isinstance(data, dict):
        return
    for payload in data.values():
        if isinstance(payload, dict):
            for error in payload.get("userErrors") or ():
                if isinstance(error, dict) and error.get("code"):
                    yield str(error["code"])


def _uncoded(error: Any, context: Any) -> str:
    """A code for GraphQL's own errors, which carry none (as Apollo names them)."""
    if context.graphql_document is None:
        return "GRAPHQL_PARSE_FAILED"
    if not error.path:
        return "GRAPHQL_VALIDATION_FAILED"
    return "UNCODED"


class GraphQLMetrics(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        try:
            kind = context.operation_type.value
        except Exception:  # no document: a parse error
            kind = "unknown"
        operation = operation_label(
            context.graphql_document,
            context.operation_name if context.graphql_document is not None else None,
            context.schema._schema,
        )
        GRAPHQL_OPERATIONS.labels(operation, kind).inc()
        GRAPHQL_DURATION.labels(operation).observe(time.perf_counter() - started)
        result = context.result
        if result is None:
            return
        for error in result.errors or ():
            code = (error.extensions or {}).get("code") or _uncoded(error, context)
            GRAPHQL_ERRORS.labels(operation, str(code)).inc()
        for code in _user_error_codes(result.data):
            GRAPHQL_ERRORS.labels(operation, code).inc()
