"""What the fulfilment system reports: a child order shipped, then invoiced.

Only a paid, authorized (or prepaid) child order may ship: ``AUTHORIZED`` → ``SHIPPED`` →
``INVOICED``. Invoicing captures the money an authorization holds (``authorize_child_orders``:
``continuity.payments.authorizations``) and lets the close job close the continuity lines.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from continuity.enums import ChildOrderStatus
from continuity.errors import Conflict, NotFound
from continuity.models import ChildOrder, Payment
from continuity.orders.history import record
from continuity.parameters import load_call_center_parameters
from continuity.payments.authorizations import capture_on_invoice
from continuity.payments.charges import attempt_payment
from continuity.payments.gateway import PaymentGateway

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
    also: Callable[[ChildOrder, BaseDBAsyncClient], Awaitable[None]] | None = None,
) -> ChildOrder:
    """One step of the child order's life, locked, with its history entry (and ``also``, what
    the step writes besides, in the same transaction)."""
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
        if also is not None:
            await also(child, conn)
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


async def invoice_child_order(
    child_order_id: int, *, actor: str, gateway: PaymentGateway, today: date
) -> ChildOrder:
    """Invoice a shipped child order; an authorized one is captured (after the commit: a
    capture that fails is retried by the payments job like any charge, the invoice stands)."""
    captures: list[Payment] = []

    async def capture(child: ChildOrder, conn: BaseDBAsyncClient) -> None:
        payment = await capture_on_invoice(child, today, conn)
        if payment is not None:
            captures.append(payment)

    child = await _advance(
        child_order_id,
        actor=actor,
        required=ChildOrderStatus.SHIPPED,
        refusal="only a shipped child order can be invoiced",
        to=ChildOrderStatus.INVOICED,
        stamp="invoiced_at",
        action="child_order_invoiced",
        also=capture,
    )
    if captures:
        params = await load_call_center_parameters()
        for payment in captures:
            await attempt_payment(
                payment,
                gateway,
                today=today,
                retry_days=params.retry_days,
                reauthorization_limit=params.reauthorization_limit,
                actor=actor,
                off_session=True,
            )
    return child
