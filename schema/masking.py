"""Errors the client may see, and the ones it must not.

Our own errors (``query_error``, pagination, access) and graphql-core's parse, validation and
coercion errors say only what the caller sent wrong: they pass unchanged. Anything else is an
unexpected exception whose message may hold SQL, file paths or data: the client gets
``Internal error (request id …)`` with ``extensions.code = INTERNAL`` and the ``requestId``,
and the log gets the real exception under the same request id.
"""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.types import ExecutionContext

log = logging.getLogger("continuity.errors")


def is_unexpected(error: GraphQLError) -> bool:
    """True when the error comes from an exception we did not raise on purpose."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


def request_id_of(execution_context: ExecutionContext | None) -> str:
    context = getattr(execution_context, "context", None)
    return str(getattr(context, "request_id", None) or "-")


class MaskInternalErrors(MaskErrors):
    """``MaskErrors`` whose message and extensions carry the request id."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = request_id_of(self.execution_context)
        return GraphQLError(
            message=f"Internal error (request id {request_id})",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions={"code": "INTERNAL", "requestId": request_id},
        )


class LoggingSchema(strawberry.Schema):
    """Logs unexpected errors with their request id and traceback (before ``MaskErrors`` hides
    them); the caller's own mistakes are routine and logged at debug level."""

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
