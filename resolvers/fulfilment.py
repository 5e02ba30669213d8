"""The fulfilment system's callbacks: a child order shipped, then invoiced."""

from __future__ import annotations

from continuity import models
from continuity.fulfilment import invoice_child_order, mark_child_order_shipped
from resolvers.session import Session


async def mark_shipped(session: Session, child_order_id: int) -> models.ChildOrder:
    return await mark_child_order_shipped(child_order_id, actor=session.actor)


async def invoice(session: Session, child_order_id: int) -> models.ChildOrder:
    return await invoice_child_order(
        child_order_id, actor=session.actor, gateway=session.gateway, today=session.today
    )
