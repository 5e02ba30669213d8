"""Changes to a continuity order after placement: parse the ids, call the domain, map its
errors to ``userErrors``. The policies live in ``continuity.orders`` (docs/CHANGES.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from continuity import models
from continuity.errors import ContinuityError
from continuity.orders import cancel, changes, pause
from resolvers.context import Info
from resolvers.errors import parse_id, user_errors
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


async def _apply(payload: type[P], change: Callable[[], Awaitable[models.ContinuityOrder]]) -> P:
    try:
        order = await change()
    except ContinuityError as error:
        return payload(continuity_order=None, user_errors=user_errors(error))
    return payload(continuity_order=ContinuityOrder.from_row(order), user_errors=[])


def _order_id(value: str) -> int:
    return parse_id(value, ["input", "orderId"])


async def resolve_skip_shipment(info: Info, data: SkipShipmentInput) -> SkipShipmentPayload:
    return await _apply(
        SkipShipmentPayload,
        lambda: changes.skip_shipment(
            _order_id(data.order_id),
            data.event_number,
            data.repeat_index,
            actor=info.context.actor,
            reason=data.reason,
        ),
    )


async def resolve_pause_order(info: Info, data: PauseOrderInput) -> PauseOrderPayload:
    return await _apply(
        PauseOrderPayload,
        lambda: pause.pause_order(
            _order_id(data.order_id),
            until=data.until,
            today=info.context.today,
            actor=info.context.actor,
            reason=data.reason,
        ),
    )


async def resolve_resume_order(info: Info, data: ResumeOrderInput) -> ResumeOrderPayload:
    return await _apply(
        ResumeOrderPayload,
        lambda: pause.resume_order(
            _order_id(data.order_id),
            today=info.context.today,
            actor=info.context.actor,
            reason=data.reason,
        ),
    )


async def resolve_change_ship_to(info: Info, data: ChangeShipToInput) -> ChangeShipToPayload:
    return await _apply(
        ChangeShipToPayload,
        lambda: changes.change_ship_to(
            _order_id(data.order_id),
            parse_id(data.address_id, ["input", "addressId"]),
            actor=info.context.actor,
            reason=data.reason,
        ),
    )


async def resolve_change_payment_method(
    info: Info, data: ChangePaymentMethodInput
) -> ChangePaymentMethodPayload:
    return await _apply(
        ChangePaymentMethodPayload,
        lambda: changes.change_payment_method(
            _order_id(data.order_id),
            parse_id(data.payment_method_id, ["input", "paymentMethodId"]),
            today=info.context.today,
            actor=info.context.actor,
            reason=data.reason,
        ),
    )


async def resolve_swap_item(info: Info, data: SwapItemInput) -> SwapItemPayload:
    return await _apply(
        SwapItemPayload,
        lambda: changes.swap_item(
            _order_id(data.order_id),
            data.from_sku,
            data.to_sku,
            actor=info.context.actor,
            reason=data.reason,
        ),
    )


async def resolve_change_quantity(info: Info, data: ChangeQuantityInput) -> ChangeQuantityPayload:
    return await _apply(
        ChangeQuantityPayload,
        lambda: changes.change_quantity(
            _order_id(data.order_id),
            data.quantity,
            actor=info.context.actor,
            reason=data.reason,
        ),
    )


async def resolve_cancel_order(info: Info, data: CancelOrderInput) -> CancelOrderPayload:
    return await _apply(
        CancelOrderPayload,
        lambda: cancel.cancel_order(
            _order_id(data.order_id),
            reason_code=data.reason_code,
            today=info.context.today,
            actor=info.context.actor,
            rules=billing_rules(info),
            gateway=info.context.gateway,
            reason=data.reason,
        ),
    )
