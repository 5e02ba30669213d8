"""Changes to a continuity order after placement (docs/CHANGES.md): one input, one payload and
one mutation each.

Every input names the order (``orderId``) and takes an optional ``reason`` (at most 500
characters, required of agents) recorded in the order's history; every payload returns the
changed order, or ``userErrors`` and no change.
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable
from typing import Annotated, Protocol, TypeVar

import strawberry

from continuity import models
from continuity.errors import ContinuityError
from resolvers import changes
from schema.common import INPUT, USER_ERRORS, UserError, at_input, user_errors
from schema.context import Info
from schema.enums import CancelReason
from schema.idempotency import idempotent, key_field
from schema.ids import decode_id
from schema.inputs import check_input
from schema.orders import ContinuityOrder

REASON = "Why, for the order's history (at most 500 characters); agents must give one."
ORDER_ID = "The continuity order's global id."
CHANGED = "The changed order."


@strawberry.input(description="One planned occurrence to skip.")
class SkipShipmentInput:
    order_id: strawberry.ID = strawberry.field(description=ORDER_ID)
    event_number: int = strawberry.field(description="The occurrence's event.")
    repeat_index: int = strawberry.field(
        default=0, description="0 for the event's first shipment, 1.. for its repeats."
    )
    reason: str | None = strawberry.field(default=None, description=REASON)
    idempotency_key: str | None = key_field()


@strawberry.type(description="The result of skipShipment.")
class SkipShipmentPayload:
    continuity_order: ContinuityOrder | None = strawberry.field(description=CHANGED)
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.input(description="An order to pause.")
class PauseOrderInput:
    order_id: strawberry.ID = strawberry.field(description=ORDER_ID)
    until: datetime.date | None = strawberry.field(
        default=None,
        description="Resume automatically on this date (after today); null = until resumed.",
    )
    reason: str | None = strawberry.field(default=None, description=REASON)
    idempotency_key: str | None = key_field()


@strawberry.type(description="The result of pauseOrder.")
class PauseOrderPayload:
    continuity_order: ContinuityOrder | None = strawberry.field(description=CHANGED)
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.input(description="A paused order to resume today.")
class ResumeOrderInput:
    order_id: strawberry.ID = strawberry.field(description=ORDER_ID)
    reason: str | None = strawberry.field(default=None, description=REASON)
    idempotency_key: str | None = key_field()


@strawberry.type(description="The result of resumeOrder.")
class ResumeOrderPayload:
    continuity_order: ContinuityOrder | None = strawberry.field(description=CHANGED)
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.input(description="Another address for the order's future shipments.")
class ChangeShipToInput:
    order_id: strawberry.ID = strawberry.field(description=ORDER_ID)
    address_id: strawberry.ID = strawberry.field(description="One of the customer's addresses.")
    reason: str | None = strawberry.field(default=None, description=REASON)
    idempotency_key: str | None = key_field()


@strawberry.type(description="The result of changeShipTo.")
class ChangeShipToPayload:
    continuity_order: ContinuityOrder | None = strawberry.field(description=CHANGED)
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.input(description="Another card for the order.")
class ChangePaymentMethodInput:
    order_id: strawberry.ID = strawberry.field(description=ORDER_ID)
    payment_method_id: strawberry.ID = strawberry.field(
        description="One of the customer's cards, active and not expired."
    )
    reason: str | None = strawberry.field(default=None, description=REASON)
    idempotency_key: str | None = key_field()


@strawberry.type(description="The result of changePaymentMethod.")
class ChangePaymentMethodPayload:
    continuity_order: ContinuityOrder | None = strawberry.field(description=CHANGED)
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.input(description="Another item instead of one, on every future shipment.")
class SwapItemInput:
    order_id: strawberry.ID = strawberry.field(description=ORDER_ID)
    from_sku: str = strawberry.field(description="The item the order ships now.")
    to_sku: str = strawberry.field(description="An active catalog item in the order's currency.")
    reason: str | None = strawberry.field(default=None, description=REASON)
    idempotency_key: str | None = key_field()


@strawberry.type(description="The result of swapItem.")
class SwapItemPayload:
    continuity_order: ContinuityOrder | None = strawberry.field(description=CHANGED)
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.input(description="A new quantity for the order.")
class ChangeQuantityInput:
    order_id: strawberry.ID = strawberry.field(description=ORDER_ID)
    quantity: int = strawberry.field(description="1 to 1000; multiplies every event quantity.")
    reason: str | None = strawberry.field(default=None, description=REASON)
    idempotency_key: str | None = key_field()


@strawberry.type(description="The result of changeQuantity.")
class ChangeQuantityPayload:
    continuity_order: ContinuityOrder | None = strawberry.field(description=CHANGED)
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


@strawberry.input(description="An order to cancel, and why.")
class CancelOrderInput:
    order_id: strawberry.ID = strawberry.field(description=ORDER_ID)
    reason_code: CancelReason = strawberry.field(description="Why, as a code.")
    reason: str | None = strawberry.field(
        default=None, description="Why, in words, for the order's history; required with OTHER."
    )
    idempotency_key: str | None = key_field()


@strawberry.type(description="The result of cancelOrder.")
class CancelOrderPayload:
    continuity_order: ContinuityOrder | None = strawberry.field(description=CHANGED)
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


class _Input(Protocol):
    order_id: strawberry.ID


class _Payload(Protocol):
    def __init__(
        self, *, continuity_order: ContinuityOrder | None, user_errors: list[UserError]
    ) -> None: ...


P = TypeVar("P", bound=_Payload)
ORDER_FIELD = ["input", "orderId"]


async def _change(
    payload: type[P],
    data: _Input,
    change: Callable[[int], Awaitable[models.ContinuityOrder]],
) -> P:
    """Check the input, read the order's id, make the change; the order or the errors."""
    try:
        check_input(data, ["input"])
        order = await change(decode_id(data.order_id, "ContinuityOrder", ORDER_FIELD))
    except ContinuityError as error:
        return payload(continuity_order=None, user_errors=user_errors(at_input(error)))
    return payload(continuity_order=ContinuityOrder.from_row(order), user_errors=[])


@idempotent(SkipShipmentPayload)
async def skip_shipment(
    info: Info, input: Annotated[SkipShipmentInput, INPUT]
) -> SkipShipmentPayload:
    return await _change(
        SkipShipmentPayload,
        input,
        lambda order_id: changes.skip_shipment(
            info.context, order_id, input.event_number, input.repeat_index, input.reason
        ),
    )


@idempotent(PauseOrderPayload)
async def pause_order(info: Info, input: Annotated[PauseOrderInput, INPUT]) -> PauseOrderPayload:
    return await _change(
        PauseOrderPayload,
        input,
        lambda order_id: changes.pause_order(info.context, order_id, input.until, input.reason),
    )


@idempotent(ResumeOrderPayload)
async def resume_order(info: Info, input: Annotated[ResumeOrderInput, INPUT]) -> ResumeOrderPayload:
    return await _change(
        ResumeOrderPayload,
        input,
        lambda order_id: changes.resume_order(info.context, order_id, input.reason),
    )


@idempotent(ChangeShipToPayload)
async def change_ship_to(
    info: Info, input: Annotated[ChangeShipToInput, INPUT]
) -> ChangeShipToPayload:
    async def change(order_id: int) -> models.ContinuityOrder:
        address = decode_id(input.address_id, "Address", ["input", "addressId"])
        return await changes.change_ship_to(info.context, order_id, address, input.reason)

    return await _change(ChangeShipToPayload, input, change)


@idempotent(ChangePaymentMethodPayload)
async def change_payment_method(
    info: Info, input: Annotated[ChangePaymentMethodInput, INPUT]
) -> ChangePaymentMethodPayload:
    async def change(order_id: int) -> models.ContinuityOrder:
        method = decode_id(input.payment_method_id, "PaymentMethod", ["input", "paymentMethodId"])
        return await changes.change_payment_method(info.context, order_id, method, input.reason)

    return await _change(ChangePaymentMethodPayload, input, change)


@idempotent(SwapItemPayload)
async def swap_item(info: Info, input: Annotated[SwapItemInput, INPUT]) -> SwapItemPayload:
    return await _change(
        SwapItemPayload,
        input,
        lambda order_id: changes.swap_item(
            info.context, order_id, input.from_sku, input.to_sku, input.reason
        ),
    )


@idempotent(ChangeQuantityPayload)
async def change_quantity(
    info: Info, input: Annotated[ChangeQuantityInput, INPUT]
) -> ChangeQuantityPayload:
    return await _change(
        ChangeQuantityPayload,
        input,
        lambda order_id: changes.change_quantity(
            info.context, order_id, input.quantity, input.reason
        ),
    )


@idempotent(CancelOrderPayload)
async def cancel_order(info: Info, input: Annotated[CancelOrderInput, INPUT]) -> CancelOrderPayload:
    return await _change(
        CancelOrderPayload,
        input,
        lambda order_id: changes.cancel_order(
            info.context, order_id, input.reason_code, input.reason
        ),
    )


@strawberry.type
class ChangeMutations:
    skip_shipment: SkipShipmentPayload = strawberry.mutation(
        resolver=skip_shipment,
        description="Skip one pending occurrence (event, repeat) of a continuity order: it "
        "never ships and is never billed (a prepaid order gets its amount refunded at once); "
        "later dates do not move.",
    )
    pause_order: PauseOrderPayload = strawberry.mutation(
        resolver=pause_order,
        description="Pause an active continuity order, until resumed or until a date.",
    )
    resume_order: ResumeOrderPayload = strawberry.mutation(
        resolver=resume_order,
        description="Resume a paused continuity order today: overdue pending shipments are "
        "re-planned from today, keeping the program's gaps (nothing dropped, nothing bunched).",
    )
    change_ship_to: ChangeShipToPayload = strawberry.mutation(
        resolver=change_ship_to,
        description="Ship the order's future child orders to another address.",
    )
    change_payment_method: ChangePaymentMethodPayload = strawberry.mutation(
        resolver=change_payment_method,
        description="Bill the order to another card; its charges not yet taken move to the "
        "new card.",
    )
    swap_item: SwapItemPayload = strawberry.mutation(
        resolver=swap_item,
        description="Ship another item instead of fromSku on every future occurrence of the "
        "order, held as a line or planned later (per-shipment orders pay the new item's catalog "
        "price; prepaid orders keep their price).",
    )
    change_quantity: ChangeQuantityPayload = strawberry.mutation(
        resolver=change_quantity,
        description="Change the order's quantity (per-shipment orders): every future "
        "occurrence follows, held as a line or planned later.",
    )
    cancel_order: CancelOrderPayload = strawberry.mutation(
        resolver=cancel_order,
        description="Cancel a continuity order: pending lines are cancelled, unpaid "
        "installments cancelled, and what was prepaid for unshipped occurrences refunded.",
    )
