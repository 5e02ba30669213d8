"""The GraphQL schema: root query and mutation types, limits and caches."""

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

from resolvers.catalog import (
    resolve_call_center_parameters,
    resolve_payment_schedules,
    resolve_products,
)
from resolvers.context import Info
from resolvers.programs import resolve_program, resolve_programs
from resolvers.rules import resolve_reload_rules
from schema.catalog import CallCenterParameters, PaymentSchedule, Product
from schema.enums import ProductKind
from schema.programs import Program
from schema.rules import ReloadRulesPayload


@strawberry.type
class Query:
    @strawberry.field(description="Programs by id; `active` filters on the active flag.")
    async def programs(self, info: Info, active: bool | None = None) -> list[Program]:
        return await resolve_programs(info, active)

    @strawberry.field(description="One program by its id in the rule files.")
    async def program(self, info: Info, id: strawberry.ID) -> Program | None:
        return await resolve_program(info, str(id))

    @strawberry.field
    async def products(
        self, kind: ProductKind | None = None, active: bool | None = None
    ) -> list[Product]:
        return await resolve_products(kind, active)

    @strawberry.field
    async def payment_schedules(self) -> list[PaymentSchedule]:
        return await resolve_payment_schedules()

    @strawberry.field
    async def call_center_parameters(self) -> CallCenterParameters:
        return await resolve_call_center_parameters()


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description=(
            "Validate every rule file and sync programs, products and schedules in one "
            "transaction; with dryRun, only report what would change."
        )
    )
    async def reload_rules(self, info: Info, dry_run: bool = False) -> ReloadRulesPayload:
        return await resolve_reload_rules(info, dry_run)


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
