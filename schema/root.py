"""The GraphQL schema: the root types with their limits and caches."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
)
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_limit_rule
from strawberry.schema.config import StrawberryConfig

from schema import connections, direct
from schema.access import AccessControl
from schema.cost import QueryCost
from schema.execution import ExecutionContext
from schema.idempotency import IdempotentResponses
from schema.masking import LoggingSchema, MaskInternalErrors
from schema.mutation import Mutation
from schema.notifications import Subscription
from schema.query import Query
from schema.validation import Validation

MAX_QUERY_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 5000
#: ``QueryDepthLimiter`` and ``MaxAliasesLimiter``'s rules, made once: those extensions make a
#: new rule class per request, so their pass over the document (an eighth of a placement's CPU)
#: could never be cached; the same classes every time let ``schema/validation.py`` cache it.
LIMIT_RULES = (depth_limit_rule(MAX_QUERY_DEPTH, None), max_aliases_rule(MAX_ALIASES))


def _extensions(development: bool = False) -> list[Callable[[], SchemaExtension]]:
    # Factories, not instances: a shared instance is not safe across concurrent requests.
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: ParserCache(maxsize=256),
        lambda: Validation(development=development),
        lambda: AddValidationRules(list(LIMIT_RULES)),  # depth, then aliases
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
        execution_context_class=ExecutionContext,
    )
    direct.install(built)
    connections.install(built)
    return built


schema = build_schema()
