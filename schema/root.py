"""The GraphQL schema: the root types with their limits and caches."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

from schema.mutation import Mutation
from schema.query import Query

MAX_QUERY_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 5000


def _extensions() -> list[Callable[[], SchemaExtension]]:
    # Factories, not instances: a shared instance is not safe across concurrent requests.
    return [
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        lambda: QueryDepthLimiter(max_depth=MAX_QUERY_DEPTH),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
    ]


def build_schema(*, development: bool = False) -> strawberry.Schema:
    """The schema; outside development, field suggestions (which leak the schema) are off."""
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=_extensions(),
        config=StrawberryConfig(disable_field_suggestions=not development),
    )


schema = build_schema()
