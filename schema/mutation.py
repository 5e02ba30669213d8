"""The root Mutation type: every change the API makes. Each returns a payload with
``userErrors``; a mutation that reports errors has written nothing."""

from __future__ import annotations

import strawberry

from resolvers.context import Info
from resolvers.customers import resolve_add_payment_method, resolve_create_customer
from resolvers.orders import resolve_place_sales_order
from resolvers.rules import resolve_reload_rules
from schema.customers import (
    AddPaymentMethodInput,
    AddPaymentMethodPayload,
    CreateCustomerInput,
    CreateCustomerPayload,
)
from schema.orders import PlaceSalesOrderInput, PlaceSalesOrderPayload
from schema.rules import ReloadRulesPayload


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

    @strawberry.mutation(description="A customer with its addresses.")
    async def create_customer(
        self, info: Info, input: CreateCustomerInput
    ) -> CreateCustomerPayload:
        return await resolve_create_customer(info, input)

    @strawberry.mutation(description="A card on file, as a gateway token (never a card number).")
    async def add_payment_method(
        self, info: Info, input: AddPaymentMethodInput
    ) -> AddPaymentMethodPayload:
        return await resolve_add_payment_method(info, input)

    @strawberry.mutation(
        description=(
            "Ordinary lines are charged at once; each parent-product line becomes a continuity "
            "order with its lines and billing."
        )
    )
    async def place_sales_order(
        self, info: Info, input: PlaceSalesOrderInput
    ) -> PlaceSalesOrderPayload:
        return await resolve_place_sales_order(info, input)
