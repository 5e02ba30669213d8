"""Child orders, the ordinary orders that ship and are invoiced, and the fulfilment system's
callbacks."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from continuity import keyset, models
from continuity.errors import ContinuityError
from continuity.fulfilment import Shipment
from resolvers import fulfilment, orders
from resolvers.fulfilment import ChildOrderFilter
from schema.common import (
    INPUT,
    USER_ERRORS,
    Money,
    UserError,
    at_input,
    postal_fields,
    query_error,
    user_errors,
)
from schema.connections import Connection, QueryPager, connection
from schema.context import Info
from schema.enums import ChildOrderPaymentState, ChildOrderStatus, PaymentKind, PaymentStatus
from schema.idempotency import idempotent, key_field
from schema.ids import decode_id, decode_optional
from schema.inputs import check_arguments, check_input, one_of
from schema.nodes import Entity, entity, present

if TYPE_CHECKING:
    from schema.customers import PaymentMethod
    from schema.orders import ContinuityOrder
    from schema.programs import Program

BY_ID = keyset.Ordering(("id",))

CHILD_ORDER_ID = "The child order's global id."


@strawberry.type(
    description="Where a child order ships, as copied onto it when it was created: a later "
    "change of the order's ship-to affects later child orders only."
)
class ShipTo:
    name: str = strawberry.field(description="Who receives the parcel.")
    line1: str = strawberry.field(description="Street and number.")
    line2: str | None = strawberry.field(description="More of the address, if any.")
    city: str = strawberry.field(description="The city.")
    region: str | None = strawberry.field(description="State, province or county, if any.")
    postal_code: str = strawberry.field(description="The postal code.")
    country: str = strawberry.field(description="ISO 3166 two-letter country code.")

    @classmethod
    def from_row(cls, row: models.Address) -> ShipTo:
        return cls(**postal_fields(row))


@strawberry.type(
    description="How to reach the customer of a child order (a carrier asks for a phone "
    "number): what a warehouse sees of a customer, nothing more."
)
class ChildOrderContact:
    account_number: str = strawberry.field(description="The customer's account number.")
    name: str = strawberry.field(description="The customer's name.")
    email: str | None = strawberry.field(description="The customer's e-mail address, if any.")
    phone: str | None = strawberry.field(description="The customer's phone number, if any.")


@strawberry.type(description="One item of a child order: what to pick and what it is worth.")
class ChildOrderItem:
    sku: str = strawberry.field(description="The item's SKU.")
    name: str = strawberry.field(description="The item's name.")
    quantity: int = strawberry.field(description="How many ship.")
    unit_price: Money = strawberry.field(description="The price of one.")
    amount: Money = strawberry.field(description="Unit price × quantity.")
    event_number: int = strawberry.field(description="The program event it ships.")
    repeat_index: int = strawberry.field(
        description="0 for the event's first shipment, 1.. for its repeats."
    )
    planned_ship_date: datetime.date = strawberry.field(
        description="When its continuity line was planned to ship."
    )


@strawberry.type(
    description="One payment of a child order (its shipment charge, an authorization, the "
    "capture at invoicing), without the card: what fulfilment needs to know it is paid."
)
class ChildOrderPayment:
    kind: PaymentKind = strawberry.field(description="Charge, authorization or refund.")
    status: PaymentStatus = strawberry.field(description="Where it is in its life.")
    amount: Money = strawberry.field(description="The amount.")
    due_date: datetime.date = strawberry.field(description="When it is (or was) due.")
    attempts: int = strawberry.field(description="Attempts made so far.")
    created_at: datetime.datetime = strawberry.field(description="When it was created.")


def payment_state(rows: list[models.Payment]) -> ChildOrderPaymentState:
    """One word for a child order's payments: what a warehouse checks before it ships."""
    kept = [row for row in rows if row.kind is not PaymentKind.REFUND]
    if not kept:
        return ChildOrderPaymentState.PREPAID
    if any(
        row.kind is PaymentKind.CHARGE and row.status is PaymentStatus.SUCCEEDED for row in kept
    ):
        return ChildOrderPaymentState.PAID
    if any(row.status is PaymentStatus.SUCCEEDED for row in kept):
        return ChildOrderPaymentState.AUTHORIZED
    if all(row.status is PaymentStatus.CANCELLED for row in kept):
        return ChildOrderPaymentState.VOID
    if any(row.status is PaymentStatus.FAILED for row in kept):
        return ChildOrderPaymentState.FAILED
    return ChildOrderPaymentState.PENDING


@entity(models.ChildOrder, owner="customer_id")
@strawberry.type(
    description="The ordinary order that ships and is invoiced, made from a continuity order's "
    "due lines: everything a warehouse needs to ship it."
)
class ChildOrder(Entity):
    id: relay.NodeID[int]
    number: str = strawberry.field(description="The number people quote (`CH-…`).")
    status: ChildOrderStatus = strawberry.field(description="Where it is in its life.")
    consolidated: bool = strawberry.field(
        description="Several missed shipments of a late order, shipped together."
    )
    total: Money = strawberry.field(
        description="What its shipment is charged (0 for a prepaid order's child order)."
    )
    created_for: datetime.date = strawberry.field(
        description="The business date of the run that created it."
    )
    planned_ship_date: datetime.date = strawberry.field(
        description="When the warehouse should ship it: its first line's planned date, or "
        "the date it was created for when its lines are overdue."
    )
    created_at: datetime.datetime = strawberry.field(description="When it was created.")
    shipped_at: datetime.datetime | None = strawberry.field(description="When it shipped.")
    invoiced_at: datetime.datetime | None = strawberry.field(description="When it was invoiced.")
    carrier: str | None = strawberry.field(description="Who carries it, as the warehouse said.")
    tracking_number: str | None = strawberry.field(
        description="The carrier's tracking number, as the warehouse said."
    )
    invoice_number: str | None = strawberry.field(
        description="The invoice the fulfilment system issued for it."
    )
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
            planned_ship_date=row.planned_ship_date or row.created_for,
            created_at=row.created_at,
            shipped_at=row.shipped_at,
            invoiced_at=row.invoiced_at,
            carrier=row.carrier,
            tracking_number=row.tracking_number,
            invoice_number=row.invoice_number,
            _row=row,
        )

    async def _order_row(self, info: Info) -> models.ContinuityOrder:
        row = await info.context.loaders.row(models.ContinuityOrder).load(
            self._row.continuity_order_id
        )
        assert row is not None  # a foreign key
        return row

    @strawberry.field(
        description="The continuity order it ships for; null for a caller who may not read "
        "continuity orders (the fulfilment system)."
    )
    async def continuity_order(
        self, info: Info
    ) -> Annotated[ContinuityOrder, strawberry.lazy("schema.orders")] | None:
        from schema.orders import ContinuityOrder

        return await ContinuityOrder.load(info, self._row.continuity_order_id)

    @strawberry.field(
        description="The number of the continuity order it ships for (`CO-…`), for whoever "
        "reads the child order."
    )
    async def continuity_order_number(self, info: Info) -> str:
        return (await self._order_row(info)).number

    @strawberry.field(description="The program it ships for.")
    async def program(self, info: Info) -> Annotated[Program, strawberry.lazy("schema.programs")]:
        from schema.programs import Program

        return present(await Program.load(info, (await self._order_row(info)).program_id))

    @strawberry.field(
        description="Where it ships, as copied when it was created (an address change "
        "affects later child orders only)."
    )
    async def ship_to(self, info: Info) -> ShipTo:
        row = await info.context.loaders.row(models.Address).load(self._row.ship_to_id)
        assert row is not None  # a foreign key
        return ShipTo.from_row(row)

    @strawberry.field(
        description="The card it is billed to, as copied when it was created; null for a "
        "caller who may not read cards (the fulfilment system)."
    )
    async def payment_method(
        self, info: Info
    ) -> Annotated[PaymentMethod, strawberry.lazy("schema.customers")] | None:
        from schema.customers import PaymentMethod

        return await PaymentMethod.load(info, self._row.payment_method_id)

    @strawberry.field(description="Who receives it, and how to reach them.")
    async def contact(self, info: Info) -> ChildOrderContact:
        row = await info.context.loaders.row(models.Customer).load(self._row.customer_id)
        assert row is not None  # a foreign key
        return ChildOrderContact(
            account_number=row.account_number, name=row.name, email=row.email, phone=row.phone
        )

    @strawberry.field(description="What to pick, in line order (a few per child order).")
    async def items(self, info: Info) -> list[ChildOrderItem]:
        currency = self._row.currency
        rows = await info.context.loaders.lines_by_child_order.load(self._row.id)
        return [
            ChildOrderItem(
                sku=r.product.sku,
                name=r.product.name,
                quantity=r.quantity,
                unit_price=Money.of(r.price_minor, currency),
                amount=Money.of(r.price_minor * r.quantity, currency),
                event_number=r.continuity_line.event_number,
                repeat_index=r.continuity_line.repeat_index,
                planned_ship_date=r.continuity_line.planned_ship_date,
            )
            for r in rows
        ]

    @strawberry.field(
        description="Whether it is paid: PREPAID (the order was paid up front or by "
        "installments), AUTHORIZED or PAID may ship."
    )
    async def payment_state(self, info: Info) -> ChildOrderPaymentState:
        return payment_state(await info.context.loaders.payments_by_child_order.load(self._row.id))

    @strawberry.field(
        description="Its payments, oldest first (a shipment charge or authorization, renewals, "
        "the capture at invoicing): a handful per child order."
    )
    async def payments(self, info: Info) -> list[ChildOrderPayment]:
        rows = await info.context.loaders.payments_by_child_order.load(self._row.id)
        return [
            ChildOrderPayment(
                kind=r.kind,
                status=r.status,
                amount=Money.of(r.amount_minor, r.currency),
                due_date=r.due_date,
                attempts=r.attempts,
                created_at=r.created_at,
            )
            for r in rows
        ]


@strawberry.input(description="A child order that left the warehouse.")
class MarkChildOrderShippedInput:
    child_order_id: strawberry.ID = strawberry.field(description=CHILD_ORDER_ID)
    carrier: str | None = strawberry.field(
        default=None, description="Who carries it (`UPS`), up to 64 characters."
    )
    tracking_number: str | None = strawberry.field(
        default=None,
        description="The carrier's tracking number, up to 100 characters: the customer's "
        "shipment notice carries it.",
    )
    shipped_at: datetime.datetime | None = strawberry.field(
        default=None,
        description="When it left (default: now); not in the future, at most a year ago.",
    )
    idempotency_key: str | None = key_field()


@strawberry.type(description="The result of markChildOrderShipped.")
class MarkChildOrderShippedPayload:
    child_order: ChildOrder | None = strawberry.field(description="The shipped child order.")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.input(description="A shipped child order that was invoiced.")
class InvoiceChildOrderInput:
    child_order_id: strawberry.ID = strawberry.field(description=CHILD_ORDER_ID)
    invoice_number: str | None = strawberry.field(
        default=None, description="The fulfilment system's invoice number, up to 64 characters."
    )
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
            info.context,
            decode_id(input.child_order_id, "ChildOrder", FIELD),
            Shipment(
                carrier=input.carrier,
                tracking_number=input.tracking_number,
                shipped_at=input.shipped_at,
            ),
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
            info.context,
            decode_id(input.child_order_id, "ChildOrder", FIELD),
            input.invoice_number,
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

    @connection(
        Connection[ChildOrder],
        description="Child orders the caller may see, oldest first, filtered: what a "
        "warehouse polls (`createdAfter` the last one it saw, or a planned ship date range).",
    )
    def child_orders(
        self,
        info: Info,
        status: Annotated[
            ChildOrderStatus | None, strawberry.argument(description="Only in this status.")
        ] = None,
        program_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this program's.")
        ] = None,
        planned_ship_date_from: Annotated[
            datetime.date | None,
            strawberry.argument(description="Only those planned to ship on or after this date."),
        ] = None,
        planned_ship_date_to: Annotated[
            datetime.date | None,
            strawberry.argument(description="Only those planned to ship on or before this date."),
        ] = None,
        created_after: Annotated[
            datetime.datetime | None,
            strawberry.argument(description="Only those created after this time."),
        ] = None,
        continuity_order_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only those of this continuity order."),
        ] = None,
    ) -> QueryPager[models.ChildOrder, ChildOrder]:
        try:
            query = fulfilment.child_orders(
                info.context,
                ChildOrderFilter(
                    status=status,
                    program_id=decode_optional(program_id, "Program", ["programId"]),
                    planned_from=planned_ship_date_from,
                    planned_to=planned_ship_date_to,
                    created_after=created_after,
                    continuity_order_id=decode_optional(
                        continuity_order_id, "ContinuityOrder", ["continuityOrderId"]
                    ),
                ),
            )
        except ContinuityError as error:
            raise query_error(error) from None
        return QueryPager(query, BY_ID, ChildOrder.from_row)


@strawberry.type
class FulfilmentMutations:
    mark_child_order_shipped: MarkChildOrderShippedPayload = strawberry.mutation(
        resolver=mark_child_order_shipped,
        description="Fulfilment: a paid child order left the warehouse.",
    )
    invoice_child_order: InvoiceChildOrderPayload = strawberry.mutation(
        resolver=invoice_child_order, description="Fulfilment: a shipped child order was invoiced."
    )
