"""Sales orders, continuity orders and their lines, payments and history."""

from __future__ import annotations

import datetime
from typing import Annotated, cast

import strawberry
from strawberry.scalars import JSON

from continuity import models
from resolvers.context import Info
from schema.catalog import PaymentSchedule
from schema.common import Money, UserError
from schema.customers import Address, Customer, PaymentMethod
from schema.enums import (
    BillingMode,
    ChildOrderStatus,
    ContinuityLineStatus,
    ContinuityOrderStatus,
    EventAction,
    PaymentKind,
    PaymentPurpose,
    PaymentStatus,
    SalesLineKind,
    SalesOrderStatus,
)
from schema.pagination import PageInfo
from schema.programs import Program, ProgramVersion


@strawberry.type(
    description="A charge or a refund, and what it pays for: its child order, installment, or "
    "the charge and the skipped occurrence a refund gives back."
)
class Payment:
    id: strawberry.ID
    kind: PaymentKind
    purpose: PaymentPurpose
    status: PaymentStatus
    amount: Money
    due_date: datetime.date
    installment_number: int | None
    attempts: int
    next_retry_on: datetime.date | None
    failure_code: str | None
    created_at: datetime.datetime
    event_number: int | None = strawberry.field(
        description="A refund of a skipped occurrence: its event number."
    )
    repeat_index: int | None = strawberry.field(
        description="A refund of a skipped occurrence: its repeat (0 for the first shipment)."
    )
    _child_order_id: strawberry.Private[int | None]
    _refund_of_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: models.Payment) -> Payment:
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=row.kind,
            purpose=row.purpose,
            status=row.status,
            amount=Money.of(row.amount_minor, row.currency),
            due_date=row.due_date,
            installment_number=row.installment_number,
            attempts=row.attempts,
            next_retry_on=row.next_retry_on,
            failure_code=row.failure_code,
            created_at=row.created_at,
            event_number=row.event_number,
            repeat_index=row.repeat_index,
            _child_order_id=row.child_order_id,
            _refund_of_id=row.refund_of_id,
        )

    @strawberry.field(
        description="The child order a shipment charge pays for (or whose charge a refund "
        "gives back)."
    )
    async def child_order(
        self, info: Info
    ) -> Annotated[ChildOrder, strawberry.lazy("schema.orders")] | None:
        if self._child_order_id is None:
            return None
        return ChildOrder.from_row(
            await info.context.loaders.child_order_by_id.load(self._child_order_id)
        )

    @strawberry.field(description="A refund: the charge it gives money back from.")
    async def refund_of(self, info: Info) -> Payment | None:
        if self._refund_of_id is None:
            return None
        return Payment.from_row(await info.context.loaders.payment_by_id.load(self._refund_of_id))


@strawberry.type(description="One change to an order: who, when, what and why.")
class HistoryEntry:
    id: strawberry.ID
    at: datetime.datetime
    actor: str
    action: str
    reason: str | None
    details: JSON

    @classmethod
    def from_row(cls, row: models.OrderHistoryEntry) -> HistoryEntry:
        return cls(
            id=strawberry.ID(str(row.id)),
            at=row.at,
            actor=row.actor,
            action=row.action,
            reason=row.reason,
            details=cast(JSON, row.details),
        )


@strawberry.type(description="The ordinary order that ships and is invoiced.")
class ChildOrder:
    id: strawberry.ID
    number: str
    status: ChildOrderStatus
    consolidated: bool
    total: Money
    created_for: datetime.date
    shipped_at: datetime.datetime | None
    invoiced_at: datetime.datetime | None

    @classmethod
    def from_row(cls, row: models.ChildOrder) -> ChildOrder:
        return cls(
            id=strawberry.ID(str(row.id)),
            number=row.number,
            status=row.status,
            consolidated=row.consolidated,
            total=Money.of(row.total_minor, row.currency),
            created_for=row.created_for,
            shipped_at=row.shipped_at,
            invoiced_at=row.invoiced_at,
        )


@strawberry.type(description="One planned occurrence of one event item.")
class ContinuityLine:
    id: strawberry.ID
    event_number: int
    repeat_index: int = strawberry.field(description="0 for an event's first shipment.")
    action: EventAction
    quantity: int
    price: Money
    amount: Money
    planned_ship_date: datetime.date
    status: ContinuityLineStatus
    _product_id: strawberry.Private[int | None]
    _child_order_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: models.ContinuityLine, currency: str) -> ContinuityLine:
        return cls(
            id=strawberry.ID(str(row.id)),
            event_number=row.event_number,
            repeat_index=row.repeat_index,
            action=row.action,
            quantity=row.quantity,
            price=Money.of(row.price_minor, currency),
            amount=Money.of(row.price_minor * row.quantity, currency),
            planned_ship_date=row.planned_ship_date,
            status=row.status,
            _product_id=row.product_id,
            _child_order_id=row.child_order_id,
        )

    @strawberry.field(description="Null on a skip event's line.")
    async def sku(self, info: Info) -> str | None:
        if self._product_id is None:
            return None
        return (await info.context.loaders.product_by_id.load(self._product_id)).sku

    @strawberry.field
    async def child_order(self, info: Info) -> ChildOrder | None:
        if self._child_order_id is None:
            return None
        row = await info.context.loaders.child_order_by_id.load(self._child_order_id)
        return ChildOrder.from_row(row)


@strawberry.type(description="A customer's enrolment in a program.")
class ContinuityOrder:
    id: strawberry.ID
    number: str
    status: ContinuityOrderStatus
    start_date: datetime.date
    first_event_number: int
    quantity: int = strawberry.field(description="Multiplies every event quantity.")
    billing_mode: BillingMode
    total: Money = strawberry.field(description="Up-front orders: the amount billed.")
    paused_until: datetime.date | None
    cancel_reason: str | None
    created_at: datetime.datetime
    closed_at: datetime.datetime | None
    _row: strawberry.Private[models.ContinuityOrder]

    @classmethod
    def from_row(cls, row: models.ContinuityOrder) -> ContinuityOrder:
        return cls(
            id=strawberry.ID(str(row.id)),
            number=row.number,
            status=row.status,
            start_date=row.start_date,
            first_event_number=row.first_event_number,
            quantity=row.quantity,
            billing_mode=row.billing_mode,
            total=Money.of(row.total_minor, row.currency),
            paused_until=row.paused_until,
            cancel_reason=row.cancel_reason,
            created_at=row.created_at,
            closed_at=row.closed_at,
            _row=row,
        )

    @strawberry.field
    async def customer(self, info: Info) -> Customer:
        return Customer.from_row(
            await info.context.loaders.customer_by_id.load(self._row.customer_id)
        )

    @strawberry.field(description="The program, with its live version's settings.")
    async def program(self, info: Info) -> Program:
        row = await info.context.loaders.program_by_id.load(self._row.program_id)
        return await Program.build(row, info)

    @strawberry.field(description="The version the order follows (until a continuity update).")
    async def program_version(self, info: Info) -> ProgramVersion:
        row = await info.context.loaders.version_by_id.load(self._row.program_version_id)
        return ProgramVersion.from_row(row)

    @strawberry.field
    async def payment_schedule(self, info: Info) -> PaymentSchedule | None:
        if self._row.payment_schedule_id is None:
            return None
        row = await info.context.loaders.schedule_by_id.load(self._row.payment_schedule_id)
        return PaymentSchedule.from_row(row)

    @strawberry.field
    async def ship_to(self, info: Info) -> Address:
        return Address.from_row(await info.context.loaders.address_by_id.load(self._row.ship_to_id))

    @strawberry.field
    async def payment_method(self, info: Info) -> PaymentMethod:
        row = await info.context.loaders.payment_method_by_id.load(self._row.payment_method_id)
        return PaymentMethod.from_row(row)

    @strawberry.field
    async def sales_order(
        self, info: Info
    ) -> Annotated[SalesOrder, strawberry.lazy("schema.orders")]:
        row = await info.context.loaders.sales_order_by_id.load(self._row.sales_order_id)
        return SalesOrder.from_row(row)

    @strawberry.field(description="Materialized lines, in shipping order.")
    async def lines(self, info: Info) -> list[ContinuityLine]:
        rows = await info.context.loaders.lines_by_continuity_order.load(self._row.id)
        return [ContinuityLine.from_row(row, self._row.currency) for row in rows]

    @strawberry.field
    async def payments(self, info: Info) -> list[Payment]:
        rows = await info.context.loaders.payments_by_continuity_order.load(self._row.id)
        return [Payment.from_row(row) for row in rows]

    @strawberry.field(description="Every change, oldest first.")
    async def history(self, info: Info) -> list[HistoryEntry]:
        rows = await info.context.loaders.history_by_continuity_order.load(self._row.id)
        return [HistoryEntry.from_row(row) for row in rows]


@strawberry.type
class SalesOrderLine:
    line_number: int
    kind: SalesLineKind
    quantity: int
    unit_price: Money
    amount: Money
    _product_id: strawberry.Private[int]

    @strawberry.field
    async def sku(self, info: Info) -> str:
        return (await info.context.loaders.product_by_id.load(self._product_id)).sku


@strawberry.type
class SalesOrder:
    id: strawberry.ID
    number: str
    status: SalesOrderStatus = strawberry.field(
        description="Follows its continuity orders: CLOSED once they have all ended, "
        "CANCELLED when they were all cancelled."
    )
    order_date: datetime.date
    total: Money = strawberry.field(description="The ordinary lines, charged at placement.")
    placed_by: str
    placed_at: datetime.datetime
    _row: strawberry.Private[models.SalesOrder]

    @classmethod
    def from_row(cls, row: models.SalesOrder) -> SalesOrder:
        return cls(
            id=strawberry.ID(str(row.id)),
            number=row.number,
            status=row.status,
            order_date=row.order_date,
            total=Money.of(row.total_minor, row.currency),
            placed_by=row.placed_by,
            placed_at=row.placed_at,
            _row=row,
        )

    @strawberry.field
    async def customer(self, info: Info) -> Customer:
        return Customer.from_row(
            await info.context.loaders.customer_by_id.load(self._row.customer_id)
        )

    @strawberry.field
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

    @strawberry.field
    async def continuity_orders(self, info: Info) -> list[ContinuityOrder]:
        rows = await info.context.loaders.continuity_orders_by_sales_order.load(self._row.id)
        return [ContinuityOrder.from_row(row) for row in rows]

    @strawberry.field
    async def payments(self, info: Info) -> list[Payment]:
        rows = await info.context.loaders.payments_by_sales_order.load(self._row.id)
        return [Payment.from_row(row) for row in rows]


@strawberry.type
class ContinuityOrderEdge:
    cursor: str
    node: ContinuityOrder


@strawberry.type
class ContinuityOrderConnection:
    edges: list[ContinuityOrderEdge]
    page_info: PageInfo


@strawberry.input
class OrderLineInput:
    sku: str
    quantity: int = 1
    start_date: datetime.date | None = strawberry.field(
        default=None, description="Parent products whose program prompts for a start date."
    )
    payment_schedule: str | None = strawberry.field(
        default=None, description="Parent products billed up front: a schedule id it allows."
    )


@strawberry.input
class PlaceSalesOrderInput:
    customer_id: strawberry.ID
    ship_to_address_id: strawberry.ID
    payment_method_id: strawberry.ID
    lines: list[OrderLineInput]


@strawberry.type
class PlaceSalesOrderPayload:
    sales_order: SalesOrder | None
    continuity_orders: list[ContinuityOrder]
    user_errors: list[UserError]


@strawberry.type
class ShipmentItem:
    sku: str
    quantity: int
    price: Money
    amount: Money


@strawberry.type(description="A future shipment and the charge it will bring.")
class UpcomingShipment:
    event_number: int
    repeat_index: int
    ship_date: datetime.date
    items: list[ShipmentItem]
    amount: Money
    charge: Money = strawberry.field(
        description="Charged when its child order is created (zero when prepaid)."
    )
    materialized: bool = strawberry.field(
        description="Held as continuity lines already (else computed from the program)."
    )


@strawberry.type
class PlannedInstallment:
    number: int
    due_date: datetime.date
    amount: Money


@strawberry.type(description="What an order placed for a start date would ship and bill.")
class ProgramPreview:
    program: Program
    start_date: datetime.date
    first_event_number: int
    finite: bool
    shipments: list[UpcomingShipment]
    up_front_total: Money | None
    installments: list[PlannedInstallment]
