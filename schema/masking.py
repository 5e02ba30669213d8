"""Errors the client may see, and the ones it must not.

Our own errors (``query_error``, pagination, access) and graphql-core's parse, validation and
coercion errors say only what the caller sent wrong: they pass unchanged. Anything else is an
unexpected exception whose message may hold SQL, file paths or data: the client gets
``Internal error (request id …)`` with ``extensions.code = INTERNAL`` and the ``requestId``,
and the log gets the real exception under the same request id.

Every error leaves with an ``extensions.code`` (``finished``): validation errors bring theirs
(``schema/validation.py``), syntax errors get ``GRAPHQL_PARSE_FAILED``, refused variable values
``BAD_USER_INPUT``. ``LoggingSchema`` applies it to everything ``execute`` (HTTP) and
``stream`` (websocket) return, so an exception that escaped an extension's hook, outside
``MaskErrors``' reach, is masked as well.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextlib import aclosing
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import MaskErrors
from strawberry.schema.schema import StreamResult
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

log = logging.getLogger("continuity.errors")


def is_unexpected(error: GraphQLError) -> bool:
    """True when the error comes from an exception we did not raise on purpose."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


def request_id_of(execution_context: ExecutionContext | None) -> str:
    context = getattr(execution_context, "context", None)
    return str(getattr(context, "request_id", None) or "-")


def masked(error: GraphQLError, request_id: str) -> GraphQLError:
    """What the client sees of an unexpected error: the request id, nothing else."""
    return GraphQLError(
        message=f"Internal error (request id {request_id})",
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions={"code": "INTERNAL", "requestId": request_id},
    )


def finished(error: GraphQLError, request_id: str) -> GraphQLError:
    """The error as it leaves: masked when unexpected, and always with ``extensions.code``
    (validation errors have theirs from ``schema.validation``; what is left without one is a
    syntax error or a refused variable value)."""
    if is_unexpected(error):
        return masked(error, request_id)
    if not (error.extensions or {}).get("code"):
        code = "GRAPHQL_PARSE_FAILED" if isinstance(error, GraphQLSyntaxError) else "BAD_USER_INPUT"
        error.extensions = {**(error.extensions or {}), "code": code}
    return error


class MaskInternalErrors(MaskErrors):
    """``MaskErrors`` whose message and extensions carry the request id."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return masked(error, request_id_of(self.execution_context))


class LoggingSchema(strawberry.Schema):
    """Logs unexpected errors with their request id and traceback (before ``MaskErrors`` hides
    them); the caller's own mistakes are routine and logged at debug level.

    ``execute`` (every query and mutation over HTTP) never runs a subscription (those stream
    over the websocket: over POST one answered a 500), and its result's errors all pass
    ``finished``: an exception that escaped an extension hook (outside ``MaskErrors``' reach)
    is masked too. Outside development, graphql-core's "Did you mean …?" suggestions are
    off in variable values as well (``schema.validation`` hides them in documents)."""

    def __init__(self, *args: Any, development: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.development = development

    def _get_custom_context_kwargs(
        self, operation_extensions: dict[str, Any] | None = None, *, sync: bool = False
    ) -> dict[str, Any]:
        kwargs = super()._get_custom_context_kwargs(operation_extensions, sync=sync)
        return {**kwargs, "hide_suggestions": not self.development}

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        allowed = set(allowed_operation_types or (OperationType.QUERY, OperationType.MUTATION))
        result = await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed - {OperationType.SUBSCRIPTION},
            operation_extensions,
        )
        if result.errors:
            request_id = str(getattr(context_value, "request_id", None) or "-")
            result.errors = [finished(error, request_id) for error in result.errors]
        return result

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> StreamResult:
        """What ``execute`` does to errors, for every result a websocket operation yields."""
        results = await super().stream(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            operation_extensions,
            allowed_operation_types,
        )
        request_id = str(getattr(context_value, "request_id", None) or "-")

        async def finishing() -> StreamResult:
            async with aclosing(results):
                async for result in results:
                    if isinstance(result, ExecutionResult) and result.errors:
                        result.errors = [finished(e, request_id) for e in result.errors]
                    yield result

        return finishing()

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        request_id = request_id_of(execution_context)
        for error in errors:
            if is_unexpected(error):
                original: Any = error.original_error
                log.error(
                    "request %s: unexpected error at %s: %r",
                    request_id,
                    ".".join(str(p) for p in error.path or ()) or "-",
                    original,
                    exc_info=(type(original), original, original.__traceback__),
                )
            else:
                log.debug("request %s: %s", request_id, error.message)
