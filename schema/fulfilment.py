"""Child orders, the ordinary orders that ship and are invoiced, and the fulfilment system's
callbacks."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from continuity import models
from continuity.errors import ContinuityError
from resolvers import fulfilment, orders
from schema.common import INPUT, USER_ERRORS, Money, UserError, at_input, query_error, user_errors
from schema.context import Info
from schema.enums import ChildOrderStatus
from schema.idempotency import idempotent, key_field
from schema.ids import decode_id, decode_optional
from schema.inputs import check_arguments, check_input, one_of
from schema.nodes import Entity, entity

if TYPE_CHECKING:
    from schema.orders import ContinuityOrder

CHILD_ORDER_ID = "The child order's global id."


@entity(models.ChildOrder, owner="customer_id")
@strawberry.type(
    description="The ordinary order that ships and is invoiced, made from a continuity order's "
    "due lines."
)
class ChildOrder(Entity):
    id: relay.NodeID[int]
    number: str = strawberry.field(description="The number people quote (`CH-…`).")
    status: ChildOrderStatus = strawberry.field(description="Where it is in its life.")
    consolidated: bool = strawberry.field(
        description="Several missed shipments of a late order, shipped together."
    )
    total: Money = strawberry.field(description="What its items are worth.")
    created_for: datetime.date = strawberry.field(
        description="The business date of the run that created it."
    )
    shipped_at: datetime.datetime | None = strawberry.field(description="When it shipped.")
    invoiced_at: datetime.datetime | None = strawberry.field(description="When it was invoiced.")
    _row: strawberry.Private[models.ChildOrder]

    @classmethod
    def from_row(cls, row: models.ChildOrder) -> ChildOrder:
        return cls(
            id=row.id,
            number=row.number,
            status=row.status,
            consolidated=row.consolidated,
            total=Money.of(row.total_minor, row.currency),
            created_for=row.created_for,
            shipped_at=row.shipped_at,
            invoiced_at=row.invoiced_at,
            _row=row,
        )

    @strawberry.field(
        description="The continuity order it ships for; null for a caller who may not read "
        "continuity orders (the fulfilment system)."
    )
    async def continuity_order(
        self, info: Info
    ) -> Annotated[ContinuityOrder, strawberry.lazy("schema.orders")] | None:
        from schema.orders import ContinuityOrder

        return await ContinuityOrder.load(info, self._row.continuity_order_id)


@strawberry.input(description="A child order that left the warehouse.")
class MarkChildOrderShippedInput:
    child_order_id: strawberry.ID = strawberry.field(description=CHILD_ORDER_ID)
    idempotency_key: str | None = key_field()


@strawberry.type(description="The result of markChildOrderShipped.")
class MarkChildOrderShippedPayload:
    child_order: ChildOrder | None = strawberry.field(description="The shipped child order.")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.input(description="A shipped child order that was invoiced.")
class InvoiceChildOrderInput:
    child_order_id: strawberry.ID = strawberry.field(description=CHILD_ORDER_ID)
    idempotency_key: str | None = key_field()


@strawberry.type(description="The result of invoiceChildOrder.")
class InvoiceChildOrderPayload:
    child_order: ChildOrder | None = strawberry.field(description="The invoiced child order.")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


FIELD = ["input", "childOrderId"]


@idempotent(MarkChildOrderShippedPayload)
async def mark_child_order_shipped(
    info: Info, input: Annotated[MarkChildOrderShippedInput, INPUT]
) -> MarkChildOrderShippedPayload:
    try:
        check_input(input, ["input"])
        row = await fulfilment.mark_shipped(
            info.context, decode_id(input.child_order_id, "ChildOrder", FIELD)
        )
    except ContinuityError as error:
        return MarkChildOrderShippedPayload(
            child_order=None, user_errors=user_errors(at_input(error))
        )
    return MarkChildOrderShippedPayload(child_order=ChildOrder.from_row(row), user_errors=[])


@idempotent(InvoiceChildOrderPayload)
async def invoice_child_order(
    info: Info, input: Annotated[InvoiceChildOrderInput, INPUT]
) -> InvoiceChildOrderPayload:
    try:
        check_input(input, ["input"])
        row = await fulfilment.invoice(
            info.context, decode_id(input.child_order_id, "ChildOrder", FIELD)
        )
    except ContinuityError as error:
        return InvoiceChildOrderPayload(child_order=None, user_errors=user_errors(at_input(error)))
    return InvoiceChildOrderPayload(child_order=ChildOrder.from_row(row), user_errors=[])


@strawberry.type
class FulfilmentQueries:
    @strawberry.field(
        description="One child order, by its global id or its number (give one); null when "
        "there is none or the caller may not see it."
    )
    async def child_order(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Its global id.")
        ] = None,
        number: Annotated[
            str | None, strawberry.argument(description="Its number (`CH-…`).")
        ] = None,
    ) -> ChildOrder | None:
        try:
            one_of(id=id, number=number)
            check_arguments(number=number)
            if number is not None:
                row = await orders.child_order_by_number(info.context, number)
                return ChildOrder.from_row(row) if row else None
            return await ChildOrder.load(info, decode_optional(id, "ChildOrder", ["id"]))
        except ContinuityError as error:
            raise query_error(error) from None


@strawberry.type
class FulfilmentMutations:
    mark_child_order_shipped: MarkChildOrderShippedPayload = strawberry.mutation(
        resolver=mark_child_order_shipped,
        description="Fulfilment: a paid child order left the warehouse.",
    )
    invoice_child_order: InvoiceChildOrderPayload = strawberry.mutation(
        resolver=invoice_child_order, description="Fulfilment: a shipped child order was invoiced."
    )
