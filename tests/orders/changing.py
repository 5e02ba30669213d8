"""Helpers for the tests of changes after placement: place an order, release lines as the
child-order job would, and snapshot everything a change may write."""

from __future__ import annotations

from datetime import date
from typing import Any

from continuity.enums import ContinuityLineStatus
from continuity.models import ContinuityLine, ContinuityOrder, OrderHistoryEntry, Payment
from continuity.orders.placement import OrderLineInput, SalesOrderInput, place_sales_order
from continuity.payments.gateway import TestGateway
from tests.orders.fixtures import RULES, TODAY, Buyer


async def place(
    buyer: Buyer,
    sku: str,
    *,
    quantity: int = 1,
    order_date: date = TODAY,
    start: date | None = None,
    schedule: str | None = None,
    gateway: TestGateway | None = None,
) -> ContinuityOrder:
    placed = await place_sales_order(
        SalesOrderInput(
            buyer.customer.id,
            buyer.address.id,
            buyer.card.id,
            (OrderLineInput(sku, quantity, start, schedule),),
        ),
        order_date=order_date,
        actor="agent:1",
        rules=RULES,
        gateway=gateway or TestGateway(),
    )
    return placed.continuity_orders[0]


async def release(order: ContinuityOrder, event: int, repeat: int = 0) -> None:
    """Mark an occurrence as on a child order (what the child-order job does)."""
    updated = await ContinuityLine.filter(
        continuity_order_id=order.id, event_number=event, repeat_index=repeat
    ).update(status=ContinuityLineStatus.RELEASED)
    assert updated


async def lines(order: ContinuityOrder) -> list[ContinuityLine]:
    return await ContinuityLine.filter(continuity_order_id=order.id).order_by(
        "event_number", "repeat_index", "item_seq"
    )


async def pending_dates(order: ContinuityOrder) -> list[tuple[int, int, date]]:
    return [
        (ln.event_number, ln.repeat_index, ln.planned_ship_date)
        for ln in await lines(order)
        if ln.status is ContinuityLineStatus.PENDING and ln.item_seq == 0
    ]


async def snapshot(order_id: int) -> dict[str, Any]:
    """Every row a change may write, without timestamps."""
    order = await ContinuityOrder.get(id=order_id)
    return {
        "order": {
            name: getattr(order, name)
            for name in (
                "status",
                "paused_until",
                "cancel_reason",
                "closed_at",
                "quantity",
                "ship_to_id",
                "payment_method_id",
                "anchor_date",
                "anchor_event_number",
                "anchor_repeat_index",
            )
        },
        "lines": [
            (
                ln.event_number,
                ln.repeat_index,
                ln.item_seq,
                ln.status,
                ln.product_id,
                ln.quantity,
                ln.price_minor,
                ln.planned_ship_date,
            )
            for ln in await ContinuityLine.filter(continuity_order_id=order_id).order_by("id")
        ],
        "payments": [
            (p.kind, p.status, p.payment_method_id, p.amount_minor, p.idempotency_key)
            for p in await Payment.filter(continuity_order_id=order_id).order_by("id")
        ],
        "history": await OrderHistoryEntry.filter(continuity_order_id=order_id).count(),
    }


async def last_history(order: ContinuityOrder) -> OrderHistoryEntry:
    entry = await OrderHistoryEntry.filter(continuity_order_id=order.id).order_by("-id").first()
    assert entry is not None
    return entry
