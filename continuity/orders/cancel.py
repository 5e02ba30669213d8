"""Cancelling a continuity order, and refunding what was prepaid for unshipped occurrences.

In one transaction: the order becomes ``CANCELLED`` with its reason, every pending line is
cancelled, installments not yet paid are cancelled (never charged), and the refund is recorded
as ``Payment(kind=REFUND, status=PENDING)`` rows. After the commit the refunds are attempted
against the gateway (``attempt_payment``); one that fails stays recorded and is retried like a
charge, never lost. ``closed_at`` is left to the close job.

Refund (up-front and installment orders) = charges succeeded − refunds already recorded −
value of the lines that shipped or are on a child order (``RELEASED``, ``CLOSED``), never
below zero. Skipped and cancelled lines are therefore refunded. Per-shipment orders are
charged per child order, for what ships: nothing is refunded.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from continuity.enums import (
    BillingMode,
    CancelReason,
    ContinuityLineStatus,
    ContinuityOrderStatus,
    PaymentKind,
    PaymentPurpose,
    PaymentStatus,
)
from continuity.errors import InvalidInput
from continuity.models import ContinuityLine, ContinuityOrder, Payment
from continuity.notifications.events import EventType, emit, money
from continuity.orders.changes import clean_reason, locked_order, require_open, save_order
from continuity.orders.history import record
from continuity.orders.placement import BillingRules
from continuity.payments.charges import attempt_payment
from continuity.payments.gateway import PaymentGateway
from continuity.payments.outcomes import PREPAID  # what a refund gives back from

#: Installments not yet paid: cancelled with the order.
UNPAID = (PaymentStatus.SCHEDULED, PaymentStatus.PENDING, PaymentStatus.DECLINED)
#: Lines the customer has (or is getting): their value is kept.
DELIVERED = (ContinuityLineStatus.RELEASED, ContinuityLineStatus.CLOSED)


async def refundable_minor(order: ContinuityOrder, conn: BaseDBAsyncClient) -> int:
    """What the customer prepaid and has not received (0 for per-shipment orders)."""
    if order.billing_mode is BillingMode.PER_SHIPMENT:
        return 0
    payments = await Payment.filter(continuity_order_id=order.id).using_db(conn)
    paid: int = sum(
        p.amount_minor
        for p in payments
        if p.kind is PaymentKind.CHARGE
        and p.purpose in PREPAID
        and p.status is PaymentStatus.SUCCEEDED
    )
    refunded: int = sum(
        p.amount_minor
        for p in payments
        if p.kind is PaymentKind.REFUND and p.status is not PaymentStatus.CANCELLED
    )
    delivered: int = sum(
        line.quantity * line.price_minor
        for line in await ContinuityLine.filter(
            continuity_order_id=order.id, status__in=DELIVERED
        ).using_db(conn)
    )
    return max(0, paid - refunded - delivered)


async def _record_refunds(
    order: ContinuityOrder, amount: int, today: date, conn: BaseDBAsyncClient
) -> list[Payment]:
    """Refund ``amount`` against the order's succeeded charges, newest first, each refund at
    most its charge (a gateway refunds a charge, by its reference). The first refund's key is
    ``<order>:refund``, the next ones ``<order>:refund-2``, ..."""
    charges = (
        await Payment.filter(
            continuity_order_id=order.id,
            kind=PaymentKind.CHARGE,
            purpose__in=PREPAID,
            status=PaymentStatus.SUCCEEDED,
        )
        .order_by("-id")
        .using_db(conn)
    )
    refunds: list[Payment] = []
    left = amount
    for charge in charges:
        if left <= 0:
            break
        part = min(left, charge.amount_minor)
        left -= part
        suffix = "" if not refunds else f"-{len(refunds) + 1}"
        refunds.append(
            await Payment.create(
                kind=PaymentKind.REFUND,
                purpose=PaymentPurpose.REFUND,
                status=PaymentStatus.PENDING,
                continuity_order_id=order.id,
                sales_order_id=order.sales_order_id,
                payment_method_id=charge.payment_method_id,
                amount_minor=part,
                currency=order.currency,
                due_date=today,
                idempotency_key=f"{order.number}:refund{suffix}",
                # the charge to refund: attempt_payment passes it to gateway.refund
                gateway_reference=charge.gateway_reference,
                using_db=conn,
            )
        )
    return refunds


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
            payments_cancelled = (
                await Payment.filter(
                    continuity_order_id=order.id,
                    kind=PaymentKind.CHARGE,
                    purpose__in=PREPAID,
                    status__in=UNPAID,
                )
                .using_db(conn)
                .update(status=PaymentStatus.CANCELLED, next_retry_on=None, updated_at=stamp)
            )
            amount = await refundable_minor(order, conn)
            refunds = await _record_refunds(order, amount, today, conn)
        order.status = ContinuityOrderStatus.CANCELLED
        order.cancel_reason = reason_code.value
        order.paused_until = None
        await save_order(order, ["status", "cancel_reason", "paused_until"], conn)
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
        await attempt_payment(
            refund,
            gateway,
            today=today,
            retry_days=rules.retry_days,
            reauthorization_limit=rules.reauthorization_limit,
            actor=actor,
        )
    return order
