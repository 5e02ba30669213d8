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


async def _child_order(child_order_id: int) -> ChildOrder:
    child = await ChildOrder.get_or_none(id=child_order_id)
    if child is None:
        raise NotFound("no such child order", field=["input", "childOrderId"])
    return child


async def mark_child_order_shipped(child_order_id: int, *, actor: str) -> ChildOrder:
    async with in_transaction():
        child = await _child_order(child_order_id)
        if child.status is not ChildOrderStatus.AUTHORIZED:
            raise Conflict(
                f"child order {child.number} is {child.status.value}: only a paid child order "
                "can ship",
                field=["input", "childOrderId"],
            )
        child.status = ChildOrderStatus.SHIPPED
        child.shipped_at = datetime.now(UTC)
        await child.save(update_fields=["status", "shipped_at"])
        await record(
            child.continuity_order_id,
            "child_order_shipped",
            actor=actor,
            details={"child_order": child.number},
        )
    return child


async def invoice_child_order(child_order_id: int, *, actor: str) -> ChildOrder:
    async with in_transaction():
        child = await _child_order(child_order_id)
        if child.status is not ChildOrderStatus.SHIPPED:
            raise Conflict(
                f"child order {child.number} is {child.status.value}: only a shipped child "
                "order can be invoiced",
                field=["input", "childOrderId"],
            )
        child.status = ChildOrderStatus.INVOICED
        child.invoiced_at = datetime.now(UTC)
        await child.save(update_fields=["status", "invoiced_at"])
        await record(
            child.continuity_order_id,
            "child_order_invoiced",
            actor=actor,
            details={"child_order": child.number},
        )
    return child
