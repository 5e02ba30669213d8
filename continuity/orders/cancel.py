"""Cancelling a continuity order, and refunding what was prepaid for unshipped occurrences.

In one transaction: the order becomes ``CANCELLED`` with its reason, every pending line is
cancelled, charges not taken yet are cancelled (never charged) with the refunds waiting for
them, the refund is recorded as ``Payment(kind=REFUND, status=PENDING)`` rows, and the sales
order follows its continuity orders. After the commit the refunds are attempted against the
gateway (``attempt_payment``); one that fails stays recorded and is retried, never lost.
``closed_at`` is left to the close job.

Refund (up-front and installment orders) = charges succeeded − refunds already recorded
(a skipped occurrence was refunded when it was skipped) − value of the lines that shipped or
are on a child order (``RELEASED``, ``CLOSED``), never below zero
(``continuity.payments.records.settle``). Per-shipment orders are charged per child order, for
what ships: nothing is refunded.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from tortoise.transactions import in_transaction

from continuity.enums import (
    BillingMode,
    CancelReason,
    ContinuityLineStatus,
    ContinuityOrderStatus,
    PaymentStatus,
)
from continuity.errors import InvalidInput
from continuity.models import ContinuityLine, ContinuityOrder, Payment
from continuity.notifications.events import EventType, emit, money
from continuity.orders.changes import clean_reason, locked_order, require_open, save_order
from continuity.orders.history import record
from continuity.orders.placement import BillingRules
from continuity.orders.status import follow_continuity_orders
from continuity.payments.charges import attempt_payment
from continuity.payments.gateway import PaymentGateway
from continuity.payments.records import cancel_refund_key, cancel_unpaid, settle


async def cancel_order(
    order_id: int,
    *,
    reason_code: CancelReason,
    today: date,
    actor: str,
    rules: BillingRules,
    gateway: PaymentGateway,
    reason: str | None = None,
) -> ContinuityOrder:
    """Cancel an open order (active, paused or on payment hold); see the module docstring.

    A second cancel is refused (``INVALID_STATE``) and refunds nothing more. ``OTHER`` needs a
    free-text ``reason``.
    """
    why = clean_reason(reason)
    if reason_code is CancelReason.OTHER and why is None:
        raise InvalidInput("say why when the reason code is OTHER", field=["input", "reason"])
    async with in_transaction() as conn:
        order = await locked_order(order_id, conn)
        require_open(order)
        before = order.status
        stamp = datetime.now(UTC)
        lines_cancelled = (
            await ContinuityLine.filter(
                continuity_order_id=order.id, status=ContinuityLineStatus.PENDING
            )
            .using_db(conn)
            .update(status=ContinuityLineStatus.CANCELLED, updated_at=stamp)
        )
        payments_cancelled = 0
        refunds: list[Payment] = []
        if order.billing_mode is not BillingMode.PER_SHIPMENT:
            payments_cancelled = await cancel_unpaid(conn, order)
            refunds = await settle(conn, order, key=cancel_refund_key(order.number), today=today)
        order.status = ContinuityOrderStatus.CANCELLED
        order.cancel_reason = reason_code.value
        order.paused_until = None
        await save_order(order, ["status", "cancel_reason", "paused_until"], conn)
        await follow_continuity_orders(conn, [order.sales_order_id])
        entry = await record(
            order.id,
            "cancelled",
            actor=actor,
            reason=why,
            details={
                "reason_code": reason_code.value,
                "before": {"status": before.value},
                "after": {"status": order.status.value},
                "lines_cancelled": lines_cancelled,
                "payments_cancelled": payments_cancelled,
                "refund_minor": sum(r.amount_minor for r in refunds),
            },
            using_db=conn,
        )
        await emit(
            order,
            EventType.ORDER_CANCELLED,
            {
                "reason_code": reason_code.value,
                "reason": why,
                "status_before": before.value,
                "lines_cancelled": lines_cancelled,
                "payments_cancelled": payments_cancelled,
                "refund": money(sum(r.amount_minor for r in refunds), order.currency),
                "actor": actor,
            },
            conn=conn,
            discriminator=f"h{entry.id}",
        )
    for refund in refunds:
        if refund.status is not PaymentStatus.PENDING:
            continue
        await attempt_payment(
            refund,
            gateway,
            today=today,
            retry_days=rules.retry_days,
            reauthorization_limit=rules.reauthorization_limit,
            actor=actor,
        )
    return order
