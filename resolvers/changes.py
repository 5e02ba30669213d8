"""Changes to a continuity order after placement: parse the ids, call the domain, map its
errors to ``userErrors``. The policies live in ``continuity.orders`` (docs/CHANGES.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import strawberry

from continuity import models
from continuity.errors import ContinuityError
from continuity.orders import cancel, changes, pause
from resolvers.access import check_order_visible, require_agent_reason
from resolvers.context import Info
from resolvers.errors import parse_id, user_errors
from resolvers.inputs import check_input
from resolvers.orders import billing_rules
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
from schema.common import UserError
from schema.orders import ContinuityOrder


class _Payload(Protocol):
    def __init__(
        self, *, continuity_order: ContinuityOrder | None, user_errors: list[UserError]
    ) -> None: ...


P = TypeVar("P", bound=_Payload)


ORDER_FIELD = ["input", "orderId"]


class _Input(Protocol):
    order_id: strawberry.ID
    reason: str | None


async def _apply(
    info: Info,
    payload: type[P],
    data: _Input,
    change: Callable[[int], Awaitable[models.ContinuityOrder]],
) -> P:
    """Check the input's bounds, that the caller may see the order (another customer's order
    is reported exactly like a missing one) and an agent's reason; then change the order."""
    try:
        check_input(data, ["input"])
        caller = info.context.caller
        order_id = parse_id(data.order_id, ORDER_FIELD)
        await check_order_visible(caller, order_id, ORDER_FIELD)
        require_agent_reason(caller, data.reason)
        order = await change(order_id)
    except ContinuityError as error:
        return payload(continuity_order=None, user_errors=user_errors(error))
    return payload(continuity_order=ContinuityOrder.from_row(order), user_errors=[])


async def resolve_skip_shipment(info: Info, data: SkipShipmentInput) -> SkipShipmentPayload:
    return await _apply(
        info,
        SkipShipmentPayload,
        data,
        lambda order_id: changes.skip_shipment(
            order_id,
            data.event_number,
            data.repeat_index,
            today=info.context.today,
            actor=info.context.actor,
            rules=billing_rules(info),
            gateway=info.context.gateway,
            reason=data.reason,
        ),
    )


async def resolve_pause_order(info: Info, data: PauseOrderInput) -> PauseOrderPayload:
    return await _apply(
        info,
        PauseOrderPayload,
        data,
        lambda order_id: pause.pause_order(
            order_id,
            until=data.until,
            today=info.context.today,
            actor=info.context.actor,
            reason=data.reason,
        ),
    )


async def resolve_resume_order(info: Info, data: ResumeOrderInput) -> ResumeOrderPayload:
    return await _apply(
        info,
        ResumeOrderPayload,
        data,
        lambda order_id: pause.resume_order(
            order_id,
            today=info.context.today,
            actor=info.context.actor,
            reason=data.reason,
        ),
    )


async def resolve_change_ship_to(info: Info, data: ChangeShipToInput) -> ChangeShipToPayload:
    return await _apply(
        info,
        ChangeShipToPayload,
        data,
        lambda order_id: changes.change_ship_to(
            order_id,
            parse_id(data.address_id, ["input", "addressId"]),
            actor=info.context.actor,
            reason=data.reason,
        ),
    )


async def resolve_change_payment_method(
    info: Info, data: ChangePaymentMethodInput
) -> ChangePaymentMethodPayload:
    return await _apply(
        info,
        ChangePaymentMethodPayload,
        data,
        lambda order_id: changes.change_payment_method(
            order_id,
            parse_id(data.payment_method_id, ["input", "paymentMethodId"]),
            today=info.context.today,
            actor=info.context.actor,
            reason=data.reason,
        ),
    )


async def resolve_swap_item(info: Info, data: SwapItemInput) -> SwapItemPayload:
    return await _apply(
        info,
        SwapItemPayload,
        data,
        lambda order_id: changes.swap_item(
            order_id,
            data.from_sku,
            data.to_sku,
            today=info.context.today,
            actor=info.context.actor,
            reason=data.reason,
        ),
    )


async def resolve_change_quantity(info: Info, data: ChangeQuantityInput) -> ChangeQuantityPayload:
    return await _apply(
        info,
        ChangeQuantityPayload,
        data,
        lambda order_id: changes.change_quantity(
            order_id,
            data.quantity,
            today=info.context.today,
            actor=info.context.actor,
            reason=data.reason,
        ),
    )


async def resolve_cancel_order(info: Info, data: CancelOrderInput) -> CancelOrderPayload:
    return await _apply(
        info,
        CancelOrderPayload,
        data,
        lambda order_id: cancel.cancel_order(
            order_id,
            reason_code=data.reason_code,
            today=info.context.today,
            actor=info.context.actor,
            rules=billing_rules(info),
            gateway=info.context.gateway,
            reason=data.reason,
        ),
    )
