"""The GraphQL schema: the root types with their limits and caches."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig

from schema import connections, direct
from schema.access import AccessControl
from schema.cost import QueryCost
from schema.idempotency import IdempotentResponses
from schema.masking import LoggingSchema, MaskInternalErrors
from schema.mutation import Mutation
from schema.notifications import Subscription
from schema.query import Query
from schema.validation import Validation

MAX_QUERY_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 5000


def _extensions(development: bool = False) -> list[Callable[[], SchemaExtension]]:
    # Factories, not instances: a shared instance is not safe across concurrent requests.
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: ParserCache(maxsize=256),
        lambda: Validation(development=development),
        lambda: QueryDepthLimiter(max_depth=MAX_QUERY_DEPTH),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        AccessControl,
        QueryCost,
        IdempotentResponses,
        MaskInternalErrors,
    ]
    if not development:
        extensions.append(DisableIntrospection)
    return extensions


def build_schema(*, development: bool = False) -> strawberry.Schema:
    """The schema; outside development, introspection and every "Did you mean" suggestion
    (which leak the schema) are off (``schema/validation.py``). Every operation passes the
    access check (``schema/access.py``) and unexpected errors are masked
    (``schema/masking.py``)."""
    built = LoggingSchema(
        development=development,
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=_extensions(development),
        config=StrawberryConfig(disable_field_suggestions=not development),
    )
    direct.install(built)
    connections.install(built)
    return built


schema = build_schema()
