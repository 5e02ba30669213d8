"""Changes to a continuity order after placement: inputs and payloads (docs/CHANGES.md).

Every input takes an optional ``reason`` (at most 500 characters) recorded in the order's
history; every payload returns the changed order, or ``userErrors`` and no change.
"""

from __future__ import annotations

import datetime

import strawberry

from schema.common import UserError
from schema.enums import CancelReason
from schema.orders import ContinuityOrder

REASON = "Why, for the order's history (at most 500 characters)."


@strawberry.input
class SkipShipmentInput:
    order_id: strawberry.ID
    event_number: int
    repeat_index: int = strawberry.field(
        default=0, description="0 for the event's first shipment, 1.. for its repeats."
    )
    reason: str | None = strawberry.field(default=None, description=REASON)


@strawberry.input
class PauseOrderInput:
    order_id: strawberry.ID
    until: datetime.date | None = strawberry.field(
        default=None,
        description="Resume automatically on this date (after today); null = until resumed.",
    )
    reason: str | None = strawberry.field(default=None, description=REASON)


@strawberry.input
class ResumeOrderInput:
    order_id: strawberry.ID
    reason: str | None = strawberry.field(default=None, description=REASON)


@strawberry.input
class ChangeShipToInput:
    order_id: strawberry.ID
    address_id: strawberry.ID = strawberry.field(description="One of the customer's addresses.")
    reason: str | None = strawberry.field(default=None, description=REASON)


@strawberry.input
class ChangePaymentMethodInput:
    order_id: strawberry.ID
    payment_method_id: strawberry.ID = strawberry.field(
        description="One of the customer's cards, active and not expired."
    )
    reason: str | None = strawberry.field(default=None, description=REASON)


@strawberry.input
class SwapItemInput:
    order_id: strawberry.ID
    from_sku: str
    to_sku: str = strawberry.field(description="An active catalog item in the order's currency.")
    reason: str | None = strawberry.field(default=None, description=REASON)


@strawberry.input
class ChangeQuantityInput:
    order_id: strawberry.ID
    quantity: int = strawberry.field(description="1 to 1000; multiplies every event quantity.")
    reason: str | None = strawberry.field(default=None, description=REASON)


@strawberry.input
class CancelOrderInput:
    order_id: strawberry.ID
    reason_code: CancelReason
    reason: str | None = strawberry.field(
        default=None, description="Why, for the order's history; required with OTHER."
    )


@strawberry.type
class SkipShipmentPayload:
    continuity_order: ContinuityOrder | None
    user_errors: list[UserError]


@strawberry.type
class PauseOrderPayload:
    continuity_order: ContinuityOrder | None
    user_errors: list[UserError]


@strawberry.type
class ResumeOrderPayload:
    continuity_order: ContinuityOrder | None
    user_errors: list[UserError]


@strawberry.type
class ChangeShipToPayload:
    continuity_order: ContinuityOrder | None
    user_errors: list[UserError]


@strawberry.type
class ChangePaymentMethodPayload:
    continuity_order: ContinuityOrder | None
    user_errors: list[UserError]


@strawberry.type
class SwapItemPayload:
    continuity_order: ContinuityOrder | None
    user_errors: list[UserError]


@strawberry.type
class ChangeQuantityPayload:
    continuity_order: ContinuityOrder | None
    user_errors: list[UserError]


@strawberry.type
class CancelOrderPayload:
    continuity_order: ContinuityOrder | None
    user_errors: list[UserError]
