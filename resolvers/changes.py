"""Changes to a continuity order after placement (docs/CHANGES.md): each checks that the caller
may see the order (another customer's order is reported exactly like a missing one) and that an
agent gave a reason, then calls its one domain function in ``continuity.orders``."""

from __future__ import annotations

import datetime

from continuity import models
from continuity.enums import CancelReason
from continuity.orders import cancel, changes, pause
from resolvers.scope import require_agent_reason, require_order
from resolvers.session import Session, billing_rules

ORDER_FIELD = ["input", "orderId"]


async def _allowed(session: Session, order_id: int, reason: str | None) -> None:
    await require_order(session.caller, order_id, ORDER_FIELD)
    require_agent_reason(session.caller, reason)


async def skip_shipment(
    session: Session, order_id: int, event_number: int, repeat_index: int, reason: str | None
) -> models.ContinuityOrder:
    await _allowed(session, order_id, reason)
    return await changes.skip_shipment(
        order_id,
        event_number,
        repeat_index,
        today=session.today,
        actor=session.actor,
        rules=billing_rules(session),
        gateway=session.gateway,
        reason=reason,
    )


async def pause_order(
    session: Session, order_id: int, until: datetime.date | None, reason: str | None
) -> models.ContinuityOrder:
    await _allowed(session, order_id, reason)
    return await pause.pause_order(
        order_id, until=until, today=session.today, actor=session.actor, reason=reason
    )


async def resume_order(
    session: Session, order_id: int, reason: str | None
) -> models.ContinuityOrder:
    await _allowed(session, order_id, reason)
    return await pause.resume_order(
        order_id, today=session.today, actor=session.actor, reason=reason
    )


async def change_ship_to(
    session: Session, order_id: int, address_id: int, reason: str | None
) -> models.ContinuityOrder:
    await _allowed(session, order_id, reason)
    return await changes.change_ship_to(order_id, address_id, actor=session.actor, reason=reason)


async def change_payment_method(
    session: Session, order_id: int, payment_method_id: int, reason: str | None
) -> models.ContinuityOrder:
    await _allowed(session, order_id, reason)
    return await changes.change_payment_method(
        order_id, payment_method_id, today=session.today, actor=session.actor, reason=reason
    )


async def swap_item(
    session: Session, order_id: int, from_sku: str, to_sku: str, reason: str | None
) -> models.ContinuityOrder:
    await _allowed(session, order_id, reason)
    return await changes.swap_item(
        order_id, from_sku, to_sku, today=session.today, actor=session.actor, reason=reason
    )


async def change_quantity(
    session: Session, order_id: int, quantity: int, reason: str | None
) -> models.ContinuityOrder:
    await _allowed(session, order_id, reason)
    return await changes.change_quantity(
        order_id, quantity, today=session.today, actor=session.actor, reason=reason
    )


async def cancel_order(
    session: Session, order_id: int, reason_code: CancelReason, reason: str | None
) -> models.ContinuityOrder:
    await _allowed(session, order_id, reason)
    return await cancel.cancel_order(
        order_id,
        reason_code=reason_code,
        today=session.today,
        actor=session.actor,
        rules=billing_rules(session),
        gateway=session.gateway,
        reason=reason,
    )
