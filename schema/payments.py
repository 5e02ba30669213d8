"""Payments: every charge, authorization and refund of an order."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from continuity import models
from schema.common import Money
from schema.context import Info
from schema.enums import PaymentFailureCode, PaymentKind, PaymentPurpose, PaymentStatus
from schema.nodes import Entity, entity, present

if TYPE_CHECKING:
    from schema.customers import PaymentMethod
    from schema.fulfilment import ChildOrder
    from schema.orders import ContinuityOrder, SalesOrder


@entity(models.Payment, owner="payment_method__customer_id")
@strawberry.type(
    description="One charge, authorization or refund, with its attempts, and what it pays for: "
    "its child order, installment, or the charge and the skipped occurrence a refund gives back."
)
class Payment(Entity):
    id: relay.NodeID[int]
    kind: PaymentKind = strawberry.field(description="Charge, authorization or refund.")
    purpose: PaymentPurpose = strawberry.field(description="What it pays (or refunds).")
    status: PaymentStatus = strawberry.field(description="Where it is in its life.")
    amount: Money = strawberry.field(description="The amount, in the order's currency.")
    due_date: datetime.date = strawberry.field(description="When it is (or was) due.")
    installment_number: int | None = strawberry.field(
        description="Installments: its 1-based number in the order's payment schedule."
    )
    event_number: int | None = strawberry.field(
        description="A refund of a skipped occurrence: its event number."
    )
    repeat_index: int | None = strawberry.field(
        description="A refund of a skipped occurrence: its repeat (0 for the first shipment)."
    )
    attempts: int = strawberry.field(description="Attempts made so far.")
    next_retry_on: datetime.date | None = strawberry.field(
        description="Declined: the date of the next attempt."
    )
    failure_code: PaymentFailureCode | None = strawberry.field(
        description="Why the last attempt did not go through."
    )
    gateway_failure_code: str | None = strawberry.field(
        description="The gateway's own code for the last failure, for support."
    )
    created_at: datetime.datetime = strawberry.field(description="When it was created.")
    gateway_reference: str | None = strawberry.field(
        description="The payment gateway's object (Stripe: the PaymentIntent `pi_…`), to look "
        "it up in the provider's dashboard."
    )
    authorization_expires_at: datetime.datetime | None = strawberry.field(
        description="An authorization's hold lapses then (it is renewed before, or the card "
        "is charged when the child order is invoiced)."
    )
    _row: strawberry.Private[models.Payment]

    @classmethod
    def from_row(cls, row: models.Payment) -> Payment:
        return cls(
            id=row.id,
            kind=row.kind,
            purpose=row.purpose,
            status=row.status,
            amount=Money.of(row.amount_minor, row.currency),
            due_date=row.due_date,
            installment_number=row.installment_number,
            event_number=row.event_number,
            repeat_index=row.repeat_index,
            attempts=row.attempts,
            next_retry_on=row.next_retry_on,
            failure_code=PaymentFailureCode.of(row.failure_code),
            gateway_failure_code=row.failure_code,
            created_at=row.created_at,
            gateway_reference=row.gateway_reference,
            authorization_expires_at=row.authorization_expires_at,
            _row=row,
        )

    @strawberry.field(description="The continuity order it belongs to, if any.")
    async def continuity_order(
        self, info: Info
    ) -> Annotated[ContinuityOrder, strawberry.lazy("schema.orders")] | None:
        from schema.orders import ContinuityOrder

        return await ContinuityOrder.load(info, self._row.continuity_order_id)

    @strawberry.field(description="The sales order it belongs to, if any.")
    async def sales_order(
        self, info: Info
    ) -> Annotated[SalesOrder, strawberry.lazy("schema.orders")] | None:
        from schema.orders import SalesOrder

        return await SalesOrder.load(info, self._row.sales_order_id)

    @strawberry.field(
        description="The child order a shipment payment pays for (or whose charge a refund "
        "gives back)."
    )
    async def child_order(
        self, info: Info
    ) -> Annotated[ChildOrder, strawberry.lazy("schema.fulfilment")] | None:
        from schema.fulfilment import ChildOrder

        return await ChildOrder.load(info, self._row.child_order_id)

    @strawberry.field(description="A refund: the charge it gives money back from.")
    async def refund_of(self, info: Info) -> Payment | None:
        return await Payment.load(info, self._row.refund_of_id)

    @strawberry.field(description="The card it is (or was) charged to.")
    async def payment_method(
        self, info: Info
    ) -> Annotated[PaymentMethod, strawberry.lazy("schema.customers")]:
        from schema.customers import PaymentMethod

        return present(await PaymentMethod.load(info, self._row.payment_method_id))
