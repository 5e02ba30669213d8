"""What the fulfilment system reports: a child order shipped, then invoiced.

Only a paid (or prepaid) child order may ship: ``AUTHORIZED`` → ``SHIPPED`` → ``INVOICED``.
Invoicing is what lets the close job close the continuity lines.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from continuity.enums import ChildOrderStatus
from continuity.errors import Conflict, NotFound
from continuity.models import ChildOrder
from continuity.orders.history import record

_FIELD = ["input", "childOrderId"]


async def _advance(
    child_order_id: int,
    *,
    actor: str,
    required: ChildOrderStatus,
    refusal: str,
    to: ChildOrderStatus,
    stamp: str,
    action: str,
) -> ChildOrder:
    """One step of the child order's life, locked, with its history entry."""
    async with in_transaction() as conn:
        child = (
            await ChildOrder.filter(id=child_order_id).select_for_update().using_db(conn).first()
        )
        if child is None:
            raise NotFound("no such child order", field=_FIELD)
        if child.status is not required:
            raise Conflict(
                f"child order {child.number} is {child.status.value}: {refusal}", field=_FIELD
            )
        child.status = to
        setattr(child, stamp, datetime.now(UTC))
        await child.save(update_fields=["status", stamp], using_db=conn)
        await record(
            child.continuity_order_id,
            action,
            actor=actor,
            details={"child_order": child.number},
            using_db=conn,
        )
    return child


async def mark_child_order_shipped(child_order_id: int, *, actor: str) -> ChildOrder:
    return await _advance(
        child_order_id,
        actor=actor,
        required=ChildOrderStatus.AUTHORIZED,
        refusal="only a paid child order can ship",
        to=ChildOrderStatus.SHIPPED,
        stamp="shipped_at",
        action="child_order_shipped",
    )


async def invoice_child_order(child_order_id: int, *, actor: str) -> ChildOrder:
    return await _advance(
        child_order_id,
        actor=actor,
        required=ChildOrderStatus.SHIPPED,
        refusal="only a shipped child order can be invoiced",
        to=ChildOrderStatus.INVOICED,
        stamp="invoiced_at",
        action="child_order_invoiced",
    )
