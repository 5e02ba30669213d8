"""Turning domain errors into mutation payload ``userErrors``."""

from __future__ import annotations

from graphql import GraphQLError

from continuity.errors import ContinuityError, ErrorCode, NotFound
from schema.common import UserError


def user_errors(error: ContinuityError) -> list[UserError]:
    return [UserError.from_error(error)]


def parse_id(value: str, field: list[str]) -> int:
    """A numeric id from the API; anything else names no object."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise NotFound(f"no object with id {value!r}", field=field) from None
    if not 0 < number < 2**31:  # ids are 32-bit columns: PostgreSQL refuses larger numbers
        raise NotFound(f"no object with id {value!r}", field=field)
    return number


def query_error(error: ContinuityError) -> GraphQLError:
    """Queries have no payload: their bad input is a GraphQL error with the same code."""
    return GraphQLError(
        error.message,
        extensions={"code": error.code.value, "field": list(error.field or [])},
    )


__all__ = ["ErrorCode", "parse_id", "query_error", "user_errors"]
