"""The root Mutation type: every change the API makes. Each returns a payload with
``userErrors``; a mutation that reports errors has written nothing."""

from __future__ import annotations

import strawberry

from resolvers.changes import (
    resolve_cancel_order,
    resolve_change_payment_method,
    resolve_change_quantity,
    resolve_change_ship_to,
    resolve_pause_order,
    resolve_resume_order,
    resolve_skip_shipment,
    resolve_swap_item,
)
from resolvers.context import Info
from resolvers.customers import resolve_add_payment_method, resolve_create_customer
from resolvers.jobs import (
    resolve_invoice,
    resolve_mark_shipped,
    resolve_run_job,
    resolve_substitute_product,
    resolve_update_start_date,
)
from resolvers.notifications import resolve_redeliver_notification
from resolvers.orders import resolve_place_sales_order
from resolvers.rules import resolve_reload_rules
from schema.changes import (
    CancelOrderInput,
    CancelOrderPayload,
    ChangePaymentMethodInput,
    ChangePaymentMethodPayload,
    ChangeQuantityInput,
    ChangeQuantityPayload,
    ChangeShipToInput,
    ChangeShipToPayload,
    PauseOrderInput,
    PauseOrderPayload,
    ResumeOrderInput,
    ResumeOrderPayload,
    SkipShipmentInput,
    SkipShipmentPayload,
    SwapItemInput,
    SwapItemPayload,
)
from schema.customers import (
    AddPaymentMethodInput,
    AddPaymentMethodPayload,
    CreateCustomerInput,
    CreateCustomerPayload,
)
from schema.jobs import (
    ChildOrderInput,
    ChildOrderPayload,
    RunJobInput,
    RunJobPayload,
    SubstituteProductInput,
    SubstituteProductPayload,
    UpdateStartDateInput,
    UpdateStartDatePayload,
)
from schema.notifications import RedeliverNotificationPayload
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

    @strawberry.mutation(
        description=(
            "Skip one pending occurrence (event, repeat) of a continuity order: it never ships "
            "and is never billed (a prepaid order gets its amount refunded at once); later "
            "dates do not move."
        )
    )
    async def skip_shipment(self, info: Info, input: SkipShipmentInput) -> SkipShipmentPayload:
        return await resolve_skip_shipment(info, input)

    @strawberry.mutation(
        description="Pause an active continuity order, until resumed or until a date."
    )
    async def pause_order(self, info: Info, input: PauseOrderInput) -> PauseOrderPayload:
        return await resolve_pause_order(info, input)

    @strawberry.mutation(
        description=(
            "Resume a paused continuity order today: overdue pending shipments are re-planned "
            "from today, keeping the program's gaps (nothing dropped, nothing bunched)."
        )
    )
    async def resume_order(self, info: Info, input: ResumeOrderInput) -> ResumeOrderPayload:
        return await resolve_resume_order(info, input)

    @strawberry.mutation(description="Ship the order's future child orders to another address.")
    async def change_ship_to(self, info: Info, input: ChangeShipToInput) -> ChangeShipToPayload:
        return await resolve_change_ship_to(info, input)

    @strawberry.mutation(
        description=(
            "Bill the order to another card; its charges not yet taken move to the new card."
        )
    )
    async def change_payment_method(
        self, info: Info, input: ChangePaymentMethodInput
    ) -> ChangePaymentMethodPayload:
        return await resolve_change_payment_method(info, input)

    @strawberry.mutation(
        description=(
            "Ship another item instead of fromSku on every future occurrence of the order, held "
            "as a line or planned later (per-shipment orders pay the new item's catalog price; "
            "prepaid orders keep their price)."
        )
    )
    async def swap_item(self, info: Info, input: SwapItemInput) -> SwapItemPayload:
        return await resolve_swap_item(info, input)

    @strawberry.mutation(
        description="Change the order's quantity (per-shipment orders): every future occurrence "
        "follows, held as a line or planned later."
    )
    async def change_quantity(
        self, info: Info, input: ChangeQuantityInput
    ) -> ChangeQuantityPayload:
        return await resolve_change_quantity(info, input)

    @strawberry.mutation(
        description=(
            "Cancel a continuity order: pending lines are cancelled, unpaid installments "
            "cancelled, and what was prepaid for unshipped occurrences refunded."
        )
    )
    async def cancel_order(self, info: Info, input: CancelOrderInput) -> CancelOrderPayload:
        return await resolve_cancel_order(info, input)

    @strawberry.mutation(description="Run one maintenance job now (or ALL: the daily chain).")
    async def run_job(self, info: Info, input: RunJobInput) -> RunJobPayload:
        return await resolve_run_job(info, input)

    @strawberry.mutation(description="Fulfilment: a paid child order left the warehouse.")
    async def mark_child_order_shipped(
        self, info: Info, input: ChildOrderInput
    ) -> ChildOrderPayload:
        return await resolve_mark_shipped(info, input)

    @strawberry.mutation(description="Fulfilment: a shipped child order was invoiced.")
    async def invoice_child_order(self, info: Info, input: ChildOrderInput) -> ChildOrderPayload:
        return await resolve_invoice(info, input)

    @strawberry.mutation(
        description="Move the start date of chosen orders (new date or days to add); all or "
        "none; dryRun shows the changes and writes nothing."
    )
    async def update_start_date(
        self, info: Info, input: UpdateStartDateInput
    ) -> UpdateStartDatePayload:
        return await resolve_update_start_date(info, input)

    @strawberry.mutation(
        description="Ship another item instead of one on every future occurrence of chosen "
        "orders; all or none; dryRun shows the changes and writes nothing."
    )
    async def substitute_product(
        self, info: Info, input: SubstituteProductInput
    ) -> SubstituteProductPayload:
        return await resolve_substitute_product(info, input)

    @strawberry.mutation(
        description="Send a notification again (sent, failed or dead): it becomes PENDING, due "
        "now, with a fresh attempt budget. Webhooks keep the same event id."
    )
    async def redeliver_notification(
        self, info: Info, id: strawberry.ID
    ) -> RedeliverNotificationPayload:
        return await resolve_redeliver_notification(info, str(id))
