"""Sales orders, continuity orders, their lines and history, and the look-ups by number."""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from continuity import keyset, models
from continuity.errors import ContinuityError
from resolvers import orders
from schema.access import Grant, node_grant
from schema.catalog import PaymentSchedule, Product
from schema.common import Money, present_amounts, query_error
from schema.connections import Connection, QueryPager, RelationPager, connection
from schema.context import Info
from schema.customers import Address, Customer, PaymentMethod
from schema.direct import UNKNOWN, direct
from schema.enums import (
    BillingMode,
    CancelReason,
    ContinuityLineStatus,
    ContinuityOrderStatus,
    EventAction,
    HistoryAction,
    SalesLineKind,
    SalesOrderStatus,
    TimelineKind,
)
from schema.ids import decode_optional, encode_id
from schema.inputs import check_arguments, one_of
from schema.nodes import Entity, entity, present
from schema.payments import Payment
from schema.programs import Program, ProgramVersion

if TYPE_CHECKING:
    from schema.fulfilment import ChildOrder

BY_ID = keyset.Ordering(("id",))
LINES = keyset.Relation(
    models.ContinuityLine,
    "continuity_order_id",
    keyset.Ordering(("planned_ship_date", "event_number", "repeat_index", "item_seq")),
    # each line's SKU, read with its page (``ContinuityLine.sku`` answers without an await)
    keyset.Joined("LEFT JOIN product p ON p.id = t.product_id", ("p.sku",)),
)
ORDER_PAYMENTS = keyset.Relation(models.Payment, "continuity_order_id", BY_ID)
SALES_PAYMENTS = keyset.Relation(models.Payment, "sales_order_id", BY_ID)
HISTORY = keyset.Relation(models.OrderHistoryEntry, "continuity_order_id", BY_ID)

#: Ids inside history details, shown as the global ids of the objects they name.
DETAIL_IDS = {"ship_to_id": "Address", "payment_method_id": "PaymentMethod", "payment": "Payment"}


async def _order(info: Info, order_id: int) -> ContinuityOrder:
    return present(await ContinuityOrder.load(info, order_id))


async def _currency(info: Info, order_id: int) -> str:
    return (await _order(info, order_id))._row.currency


#: A line whose SKU was not read with its page (it is loaded when asked for).
_NOT_READ = object()


@entity(models.ContinuityLine, owner="continuity_order__customer_id")
@strawberry.type(description="One planned occurrence of one event item of a continuity order.")
class ContinuityLine(Entity):
    id: relay.NodeID[int]
    event_number: int = strawberry.field(description="The program event it ships.")
    repeat_index: int = strawberry.field(
        description="0 for the event's first shipment, 1.. for its repeats."
    )
    action: EventAction = strawberry.field(description="The event's action.")
    quantity: int = strawberry.field(description="How many ship.")
    planned_ship_date: datetime.date = strawberry.field(description="When it is planned to ship.")
    status: ContinuityLineStatus = strawberry.field(description="Where it is in its life.")
    _row: strawberry.Private[models.ContinuityLine]
    _currency: strawberry.Private[str | None]
    #: The item's SKU when the page read it with its products (``_NOT_READ`` otherwise).
    _sku: strawberry.Private[str | object | None] = _NOT_READ

    @classmethod
    def from_row(
        cls, row: models.ContinuityLine, currency: str | None = None, sku: object = _NOT_READ
    ) -> ContinuityLine:
        return cls(
            id=row.id,
            event_number=row.event_number,
            repeat_index=row.repeat_index,
            action=row.action,
            quantity=row.quantity,
            planned_ship_date=row.planned_ship_date,
            status=row.status,
            _row=row,
            _currency=currency,
            _sku=sku,
        )

    def _money(self, info: Info, minor: int) -> Money | Awaitable[Money]:
        """Without an await when the currency is known (an order's lines page): an async
        field costs the executor a task per row, most of a list's time."""
        if self._currency is not None:
            return Money.of(minor, self._currency)

        async def load() -> Money:
            self._currency = await _currency(info, self._row.continuity_order_id)
            return Money.of(minor, self._currency)

        return load()

    @strawberry.field(description="The unit price.", graphql_type=Money)
    def price(self, info: Info) -> Money | Awaitable[Money]:
        return self._money(info, self._row.price_minor)

    @strawberry.field(description="Unit price × quantity.", graphql_type=Money)
    def amount(self, info: Info) -> Money | Awaitable[Money]:
        return self._money(info, self._row.price_minor * self._row.quantity)

    @strawberry.field(
        description="The item's SKU; null on a skip event's line.", graphql_type=str | None
    )
    def sku(self, info: Info) -> str | Awaitable[str | None] | None:
        if self._sku is not _NOT_READ:
            return cast(str | None, self._sku)

        async def load() -> str | None:
            product = await Product.load(info, self._row.product_id)
            return product.sku if product else None

        return load()

    @strawberry.field(description="The item; null on a skip event's line.")
    async def product(self, info: Info) -> Product | None:
        return await Product.load(info, self._row.product_id)

    @strawberry.field(description="The child order it ships on, once released.")
    async def child_order(
        self, info: Info
    ) -> Annotated[ChildOrder, strawberry.lazy("schema.fulfilment")] | None:
        from schema.fulfilment import ChildOrder

        return await ChildOrder.load(info, self._row.child_order_id)

    @strawberry.field(description="The continuity order it belongs to.")
    async def continuity_order(
        self, info: Info
    ) -> Annotated[ContinuityOrder, strawberry.lazy("schema.orders")]:
        return await _order(info, self._row.continuity_order_id)


@direct("ContinuityLine", "sku")
def _known_sku(line: Any) -> Any:
    """The SKU read with the line's page, without a resolver call (``schema/direct.py``)."""
    if isinstance(line, ContinuityLine) and line._sku is not _NOT_READ:
        return line._sku
    return UNKNOWN


@direct("ContinuityLine", "price")
def _known_price(line: Any) -> Any:
    """The price when the line's page knew its order's currency (``schema/direct.py``)."""
    if isinstance(line, ContinuityLine) and line._currency is not None:
        return Money.of(line._row.price_minor, line._currency)
    return UNKNOWN


def _present_ids(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            key: (
                encode_id(DETAIL_IDS[key], item)
                if key in DETAIL_IDS and isinstance(item, int)
                else _present_ids(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_present_ids(item) for item in value]
    return value


@entity(models.OrderHistoryEntry, owner="continuity_order__customer_id")
@strawberry.type(description="One change to an order: who, when, what and why.")
class HistoryEntry(Entity):
    id: relay.NodeID[int]
    at: datetime.datetime = strawberry.field(description="When it happened.")
    actor: str = strawberry.field(
        description="Who did it: `<role>:<token name>` (`agent:alice`) or `job:<job>`."
    )
    action: HistoryAction = strawberry.field(description="What happened.")
    reason: str | None = strawberry.field(description="Why, in the actor's words.")
    _row: strawberry.Private[models.OrderHistoryEntry]
    _currency: strawberry.Private[str | None]

    @classmethod
    def from_row(cls, row: models.OrderHistoryEntry, currency: str | None = None) -> HistoryEntry:
        return cls(
            id=row.id,
            at=row.at,
            actor=row.actor,
            action=HistoryAction(row.action),
            reason=row.reason,
            _row=row,
            _currency=currency,
        )

    @strawberry.field(
        description="What changed, per action (docs/CHANGES.md): `before`/`after` values; "
        "amounts as `{amount, currencyCode}`, objects by global id."
    )
    async def details(self, info: Info) -> JSON:
        currency = self._currency or await _currency(info, self._row.continuity_order_id)
        return cast(JSON, _present_ids(present_amounts(self._row.details, currency)))

    @strawberry.field(description="The continuity order it belongs to.")
    async def continuity_order(
        self, info: Info
    ) -> Annotated[ContinuityOrder, strawberry.lazy("schema.orders")]:
        return await _order(info, self._row.continuity_order_id)


@strawberry.type(description="One line of a sales order.")
class SalesOrderLine:
    line_number: int = strawberry.field(description="1, 2, … in the order.")
    kind: SalesLineKind = strawberry.field(description="An ordinary item or a parent product.")
    quantity: int = strawberry.field(description="How many.")
    unit_price: Money = strawberry.field(description="The price of one.")
    amount: Money = strawberry.field(description="Unit price × quantity.")
    _product_id: strawberry.Private[int]

    @strawberry.field(description="The product's SKU.")
    async def sku(self, info: Info) -> str:
        return present(await Product.load(info, self._product_id)).sku

    @strawberry.field(description="The product.")
    async def product(self, info: Info) -> Product:
        return present(await Product.load(info, self._product_id))


@entity(models.SalesOrder, owner="customer_id")
@strawberry.type(
    description="An order as placed: ordinary lines, and parent-product lines that each "
    "became a continuity order."
)
class SalesOrder(Entity):
    id: relay.NodeID[int]
    number: str = strawberry.field(description="The order number people quote (`SO-…`).")
    status: SalesOrderStatus = strawberry.field(
        description="Follows its continuity orders: CLOSED once they have all ended, "
        "CANCELLED when they were all cancelled."
    )
    order_date: datetime.date = strawberry.field(description="The business date it was placed.")
    total: Money = strawberry.field(description="The ordinary lines, charged at placement.")
    placed_by: str = strawberry.field(description="Who placed it (`agent:alice`).")
    placed_at: datetime.datetime = strawberry.field(description="When it was placed.")
    _row: strawberry.Private[models.SalesOrder]

    @classmethod
    def from_row(cls, row: models.SalesOrder) -> SalesOrder:
        return cls(
            id=row.id,
            number=row.number,
            status=row.status,
            order_date=row.order_date,
            total=Money.of(row.total_minor, row.currency),
            placed_by=row.placed_by,
            placed_at=row.placed_at,
            _row=row,
        )

    @strawberry.field(description="Who ordered.")
    async def customer(self, info: Info) -> Customer:
        return present(await Customer.load(info, self._row.customer_id))

    @strawberry.field(description="Its lines, in order (at most 50).")
    async def lines(self, info: Info) -> list[SalesOrderLine]:
        rows = await info.context.loaders.sales_lines_by_order.load(self._row.id)
        currency = self._row.currency
        return [
            SalesOrderLine(
                line_number=r.line_number,
                kind=r.kind,
                quantity=r.quantity,
                unit_price=Money.of(r.unit_price_minor, currency),
                amount=Money.of(r.amount_minor, currency),
                _product_id=r.product_id,
            )
            for r in rows
        ]

    @strawberry.field(
        description="The continuity orders its parent-product lines became (one per line)."
    )
    async def continuity_orders(
        self, info: Info
    ) -> list[Annotated[ContinuityOrder, strawberry.lazy("schema.orders")]]:
        rows = await info.context.loaders.continuity_orders_by_sales_order.load(self._row.id)
        return [ContinuityOrder.from_row(row) for row in rows]

    @connection(Connection[Payment], description="Payments of its ordinary lines, oldest first.")
    def payments(self) -> RelationPager[models.Payment, Payment]:
        return RelationPager(SALES_PAYMENTS, self.id, Payment.from_row)


@entity(models.ContinuityOrder, owner="customer_id")
@strawberry.type(description="A customer's enrolment in a program: the parent order.")
class ContinuityOrder(Entity):
    id: relay.NodeID[int]
    number: str = strawberry.field(description="The order number people quote (`CO-…`).")
    status: ContinuityOrderStatus = strawberry.field(description="Where it is in its life.")
    start_date: datetime.date = strawberry.field(description="When its first event is planned.")
    first_event_number: int = strawberry.field(description="The event it started at.")
    quantity: int = strawberry.field(description="Multiplies every event quantity.")
    billing_mode: BillingMode = strawberry.field(description="How it is billed.")
    total: Money | None = strawberry.field(
        description="Prepaid orders (up front, installments): the amount billed; null for "
        "orders billed per shipment."
    )
    paused_until: datetime.date | None = strawberry.field(
        description="Paused: the date it resumes by itself, if any."
    )
    cancel_reason: CancelReason | None = strawberry.field(description="Cancelled: why.")
    created_at: datetime.datetime = strawberry.field(description="When it was placed.")
    closed_at: datetime.datetime | None = strawberry.field(description="When it ended.")
    _row: strawberry.Private[models.ContinuityOrder]

    @classmethod
    def from_row(cls, row: models.ContinuityOrder) -> ContinuityOrder:
        prepaid = row.billing_mode is not BillingMode.PER_SHIPMENT
        return cls(
            id=row.id,
            number=row.number,
            status=row.status,
            start_date=row.start_date,
            first_event_number=row.first_event_number,
            quantity=row.quantity,
            billing_mode=row.billing_mode,
            total=Money.of(row.total_minor, row.currency) if prepaid else None,
            paused_until=row.paused_until,
            cancel_reason=CancelReason(row.cancel_reason) if row.cancel_reason else None,
            created_at=row.created_at,
            closed_at=row.closed_at,
            _row=row,
        )

    @strawberry.field(description="Who ordered.")
    async def customer(self, info: Info) -> Customer:
        return present(await Customer.load(info, self._row.customer_id))

    @strawberry.field(description="The program, with its live version's settings.")
    async def program(self, info: Info) -> Program:
        return present(await Program.load(info, self._row.program_id))

    @strawberry.field(description="The version the order follows (until a continuity update).")
    async def program_version(self, info: Info) -> ProgramVersion:
        return present(await ProgramVersion.load(info, self._row.program_version_id))

    @strawberry.field(description="Installment orders: their payment schedule.")
    async def payment_schedule(self, info: Info) -> PaymentSchedule | None:
        return await PaymentSchedule.load(info, self._row.payment_schedule_id)

    @strawberry.field(description="Where its child orders ship.")
    async def ship_to(self, info: Info) -> Address:
        return present(await Address.load(info, self._row.ship_to_id))

    @strawberry.field(description="The card it is billed to.")
    async def payment_method(self, info: Info) -> PaymentMethod:
        return present(await PaymentMethod.load(info, self._row.payment_method_id))

    @strawberry.field(description="The sales order that placed it.")
    async def sales_order(self, info: Info) -> SalesOrder:
        return present(await SalesOrder.load(info, self._row.sales_order_id))

    @connection(Connection[ContinuityLine], description="Planned lines, in shipping order.")
    def lines(self) -> RelationPager[models.ContinuityLine, ContinuityLine]:
        currency = self._row.currency
        return RelationPager(
            LINES, self.id, lambda row, sku: ContinuityLine.from_row(row, currency, sku)
        )

    @connection(Connection[Payment], description="Its payments, oldest first.")
    def payments(self) -> RelationPager[models.Payment, Payment]:
        return RelationPager(ORDER_PAYMENTS, self.id, Payment.from_row)

    @connection(Connection[HistoryEntry], description="Every change, oldest first.")
    def history(self) -> RelationPager[models.OrderHistoryEntry, HistoryEntry]:
        currency = self._row.currency
        return RelationPager(HISTORY, self.id, lambda row: HistoryEntry.from_row(row, currency))

    @strawberry.field(
        description="Everything that happened to the order in one list, newest first: its "
        "history, child orders, payments and notifications (those the caller may read). "
        "Page back with `before` (the `at` of the last entry seen)."
    )
    async def timeline(
        self,
        info: Info,
        last: Annotated[int, strawberry.argument(description="How many entries, 1 to 200.")] = 50,
        before: Annotated[
            datetime.datetime | None,
            strawberry.argument(description="Only entries older than this time."),
        ] = None,
    ) -> list[TimelineEntry]:
        caller = info.context.caller
        kinds = frozenset(
            kind
            for kind, type_name in TIMELINE_TYPES.items()
            if caller is not None and node_grant(type_name, caller.role) is not Grant.NO
        )
        try:
            before = orders.timeline_bounds(last, before)
        except ContinuityError as error:
            raise query_error(error) from None
        # batched: a page of orders with their timelines is one query per kind
        items = await info.context.loaders.timelines.load((self.id, last, before, kinds))
        return [TimelineEntry(at=i.at, kind=i.kind, summary=i.summary, _pk=i.pk) for i in items]


#: The object behind each kind of timeline entry.
TIMELINE_TYPES = {
    TimelineKind.HISTORY: "HistoryEntry",
    TimelineKind.CHILD_ORDER: "ChildOrder",
    TimelineKind.PAYMENT: "Payment",
    TimelineKind.NOTIFICATION: "Notification",
}


@strawberry.type(description="One thing that happened to an order, in its timeline.")
class TimelineEntry:
    at: datetime.datetime = strawberry.field(description="When it happened (was recorded).")
    kind: TimelineKind = strawberry.field(description="What it is about.")
    summary: str = strawberry.field(
        description="One line for people: what, who, how much, which status."
    )
    _pk: strawberry.Private[int]

    @strawberry.field(
        description="The object itself (a HistoryEntry, ChildOrder, Payment or Notification)."
    )
    async def node(self, info: Info) -> relay.Node | None:
        from schema.nodes import ENTITIES

        cls = ENTITIES[TIMELINE_TYPES[self.kind]][0]
        return await cls.load(info, self._pk)


@strawberry.type
class OrderQueries:
    @strawberry.field(
        description="One sales order, by its global id or its number (give one); null when "
        "there is none or it is not the caller's."
    )
    async def sales_order(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Its global id.")
        ] = None,
        number: Annotated[
            str | None, strawberry.argument(description="Its number (`SO-…`).")
        ] = None,
    ) -> SalesOrder | None:
        try:
            one_of(id=id, number=number)
            check_arguments(number=number)
            if number is not None:
                row = await orders.sales_order_by_number(info.context, number)
                return SalesOrder.from_row(row) if row else None
            return await SalesOrder.load(info, decode_optional(id, "SalesOrder", ["id"]))
        except ContinuityError as error:
            raise query_error(error) from None

    @strawberry.field(
        description="One continuity order, by its global id or its number (give one); null "
        "when there is none or it is not the caller's."
    )
    async def continuity_order(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Its global id.")
        ] = None,
        number: Annotated[
            str | None, strawberry.argument(description="Its number (`CO-…`).")
        ] = None,
    ) -> ContinuityOrder | None:
        try:
            one_of(id=id, number=number)
            check_arguments(number=number)
            if number is not None:
                row = await orders.continuity_order_by_number(info.context, number)
                return ContinuityOrder.from_row(row) if row else None
            return await ContinuityOrder.load(info, decode_optional(id, "ContinuityOrder", ["id"]))
        except ContinuityError as error:
            raise query_error(error) from None

    @connection(
        Connection[ContinuityOrder],
        description="Continuity orders the caller may see, oldest first, filtered.",
    )
    def continuity_orders(
        self,
        info: Info,
        customer_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this customer's.")
        ] = None,
        program_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this program's.")
        ] = None,
        status: Annotated[
            ContinuityOrderStatus | None, strawberry.argument(description="Only in this status.")
        ] = None,
    ) -> QueryPager[models.ContinuityOrder, ContinuityOrder]:
        try:
            query = orders.continuity_orders(
                info.context,
                customer_id=decode_optional(customer_id, "Customer", ["customerId"]),
                program_id=decode_optional(program_id, "Program", ["programId"]),
                status=status,
            )
        except ContinuityError as error:
            raise query_error(error) from None
        return QueryPager(query, BY_ID, ContinuityOrder.from_row)
