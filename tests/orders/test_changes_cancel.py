"""Cancelling an order and refunding what was prepaid for unshipped occurrences."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest
from tortoise.context import TortoiseContext

from continuity.enums import (
    CancelReason,
    ContinuityLineStatus,
    ContinuityOrderStatus,
    PaymentKind,
    PaymentPurpose,
    PaymentStatus,
)
from continuity.errors import ContinuityError, ErrorCode
from continuity.models import ContinuityOrder, Payment
from continuity.orders.cancel import cancel_order
from continuity.orders.changes import skip_shipment
from continuity.payments.gateway import TestGateway
from tests.orders.changing import last_history, lines, place, release, snapshot
from tests.orders.fixtures import RULES, TODAY, setup

pytestmark = pytest.mark.db

GIFT_BOX_TOTAL = 12900
FIRST_BOX = 2150  # chocolate 12.00 + tea 9.50 + a free card


async def test_cancel_an_up_front_order_refunds_the_unshipped_boxes(
    db: TortoiseContext, rules_dir: Path
) -> None:
    buyer = await setup(rules_dir)
    gateway = TestGateway()
    order = await place(buyer, "GIFTBOX6", gateway=gateway)
    assert gateway.moved_minor == GIFT_BOX_TOTAL
    await release(order, 1)
    cancelled = await cancel_order(
        order.id,
        reason_code=CancelReason.CUSTOMER_REQUEST,
        today=TODAY,
        actor="agent:9",
        rules=RULES,
        gateway=gateway,
        reason="gift no longer wanted",
    )
    assert gateway.moved_minor == FIRST_BOX
    assert cancelled.status is ContinuityOrderStatus.CANCELLED
    row = await ContinuityOrder.get(id=order.id)
    assert (row.status, row.cancel_reason, row.closed_at) == (
        ContinuityOrderStatus.CANCELLED,
        "customer_request",
        None,
    )
    statuses = [(ln.event_number, ln.status) for ln in await lines(order) if ln.item_seq == 0]
    assert statuses == [
        (1, ContinuityLineStatus.RELEASED),
        *[(n, ContinuityLineStatus.CANCELLED) for n in range(2, 7)],
    ]
    refund = await Payment.get(continuity_order_id=order.id, kind=PaymentKind.REFUND)
    charge = await Payment.get(continuity_order_id=order.id, kind=PaymentKind.CHARGE)
    assert (
        refund.purpose,
        refund.status,
        refund.amount_minor,
        refund.idempotency_key,
        refund.payment_method_id,
    ) == (
        PaymentPurpose.REFUND,
        PaymentStatus.SUCCEEDED,
        GIFT_BOX_TOTAL - FIRST_BOX,
        f"{order.number}:refund",
        buyer.card.id,
    )
    assert charge.status is PaymentStatus.SUCCEEDED
    entry = await last_history(order)
    assert (entry.action, entry.actor, entry.reason) == (
        "cancelled",
        "agent:9",
        "gift no longer wanted",
    )
    assert entry.details == {
        "reason_code": "customer_request",
        "before": {"status": "active"},
        "after": {"status": "cancelled"},
        "lines_cancelled": 9,
        "payments_cancelled": 0,
        "refund_minor": GIFT_BOX_TOTAL - FIRST_BOX,
    }


async def test_cancel_twice_is_refused_and_refunds_once(
    db: TortoiseContext, rules_dir: Path
) -> None:
    buyer = await setup(rules_dir)
    gateway = TestGateway()
    order = await place(buyer, "GIFTBOX6", gateway=gateway)
    await cancel_order(
        order.id,
        reason_code=CancelReason.DUPLICATE,
        today=TODAY,
        actor="web",
        rules=RULES,
        gateway=gateway,
    )
    assert gateway.moved_minor == 0
    before = await snapshot(order.id)
    with pytest.raises(ContinuityError) as caught:
        await cancel_order(
            order.id,
            reason_code=CancelReason.DUPLICATE,
            today=TODAY,
            actor="web",
            rules=RULES,
            gateway=gateway,
        )
    assert (caught.value.code, caught.value.field) == (
        ErrorCode.INVALID_STATE,
        ("input", "orderId"),
    )
    assert gateway.moved_minor == 0
    assert await snapshot(order.id) == before
    assert await Payment.filter(continuity_order_id=order.id, kind=PaymentKind.REFUND).count() == 1


async def test_a_skipped_prepaid_box_is_refunded_at_once_and_not_again_at_cancel(
    db: TortoiseContext, rules_dir: Path
) -> None:
    buyer = await setup(rules_dir)
    gateway = TestGateway()
    order = await place(buyer, "GIFTBOX6", gateway=gateway)
    await skip_shipment(order.id, 2, 0, today=TODAY, actor="web", rules=RULES, gateway=gateway)
    assert gateway.moved_minor == GIFT_BOX_TOTAL - 2150  # box 2 given back at the skip
    [refund] = await Payment.filter(continuity_order_id=order.id, kind=PaymentKind.REFUND)
    charge = await Payment.get(continuity_order_id=order.id, purpose=PaymentPurpose.UP_FRONT)
    assert (refund.status, refund.refund_of_id, refund.event_number, refund.repeat_index) == (
        PaymentStatus.SUCCEEDED,
        charge.id,
        2,
        0,
    )
    await release(order, 1)
    await release(order, 3)
    await cancel_order(
        order.id,
        reason_code=CancelReason.CUSTOMER_REQUEST,
        today=TODAY,
        actor="web",
        rules=RULES,
        gateway=gateway,
    )
    assert gateway.moved_minor == FIRST_BOX + 2400  # boxes 1 and 3 kept, 2 (skipped) refunded
    refunds = await Payment.filter(continuity_order_id=order.id, kind=PaymentKind.REFUND)
    assert sorted(r.amount_minor for r in refunds) == [
        2150,
        GIFT_BOX_TOTAL - FIRST_BOX - 2400 - 2150,
    ]
    statuses = {ln.event_number: ln.status for ln in await lines(order)}
    assert statuses[2] is ContinuityLineStatus.SKIPPED


async def test_cancel_installments_cancels_unpaid_and_refunds_paid(
    db: TortoiseContext, rules_dir: Path
) -> None:
    buyer = await setup(rules_dir)
    gateway = TestGateway()
    order = await place(buyer, "WINECLUB12", order_date=date(2026, 3, 10), gateway=gateway)
    first = await Payment.get(continuity_order_id=order.id, installment_number=1)
    assert gateway.moved_minor == first.amount_minor > 0
    await cancel_order(
        order.id,
        reason_code=CancelReason.OTHER,
        today=date(2026, 3, 12),
        actor="web",
        rules=RULES,
        gateway=gateway,
        reason="changed their mind",
    )
    assert gateway.moved_minor == 0
    payments = await Payment.filter(continuity_order_id=order.id).order_by("id")
    assert [(p.kind, p.installment_number, p.status) for p in payments] == [
        (PaymentKind.CHARGE, 1, PaymentStatus.SUCCEEDED),
        (PaymentKind.CHARGE, 2, PaymentStatus.CANCELLED),
        (PaymentKind.CHARGE, 3, PaymentStatus.CANCELLED),
        (PaymentKind.REFUND, None, PaymentStatus.SUCCEEDED),
    ]
    assert payments[3].amount_minor == first.amount_minor
    assert (await last_history(order)).details["payments_cancelled"] == 2


async def test_installments_shipped_beyond_what_was_paid_refund_nothing(
    db: TortoiseContext, rules_dir: Path
) -> None:
    buyer = await setup(rules_dir)
    gateway = TestGateway()
    order = await place(buyer, "WINECLUB12", order_date=date(2026, 3, 10), gateway=gateway)
    for event in range(3, 8):
        await release(order, event)
    await cancel_order(
        order.id,
        reason_code=CancelReason.CUSTOMER_REQUEST,
        today=date(2026, 8, 1),
        actor="web",
        rules=RULES,
        gateway=gateway,
    )
    assert await Payment.filter(continuity_order_id=order.id, kind=PaymentKind.REFUND).count() == 0
    assert (await last_history(order)).details["refund_minor"] == 0


async def test_cancel_a_per_shipment_order_refunds_nothing(
    db: TortoiseContext, rules_dir: Path
) -> None:
    buyer = await setup(rules_dir)
    gateway = TestGateway()
    order = await place(buyer, "BOOKCLUB", gateway=gateway)
    await ContinuityOrder.filter(id=order.id).update(status=ContinuityOrderStatus.PAUSED)
    await cancel_order(
        order.id,
        reason_code=CancelReason.CUSTOMER_REQUEST,
        today=TODAY,
        actor="web",
        rules=RULES,
        gateway=gateway,
    )
    assert (gateway.calls, gateway.moved_minor) == (0, 0)
    assert await Payment.filter(continuity_order_id=order.id).count() == 0
    statuses = {ln.status for ln in await lines(order)}
    assert statuses == {ContinuityLineStatus.CANCELLED, ContinuityLineStatus.SKIPPED}


async def test_declined_up_front_charge_is_cancelled_not_refunded(
    db: TortoiseContext, rules_dir: Path
) -> None:
    buyer = await setup(rules_dir, token="tok_decline")
    gateway = TestGateway()
    order = await place(buyer, "GIFTBOX6", gateway=gateway)
    await cancel_order(
        order.id,
        reason_code=CancelReason.PAYMENT_FAILED,
        today=TODAY,
        actor="web",
        rules=RULES,
        gateway=gateway,
    )
    payments = await Payment.filter(continuity_order_id=order.id)
    assert [(p.kind, p.status, p.next_retry_on) for p in payments] == [
        (PaymentKind.CHARGE, PaymentStatus.CANCELLED, None)
    ]
    assert gateway.moved_minor == 0


async def test_other_needs_a_reason(db: TortoiseContext, rules_dir: Path) -> None:
    buyer = await setup(rules_dir)
    gateway = TestGateway()
    order = await place(buyer, "GIFTBOX6", gateway=gateway)
    before = await snapshot(order.id)
    with pytest.raises(ContinuityError) as caught:
        await cancel_order(
            order.id,
            reason_code=CancelReason.OTHER,
            today=TODAY,
            actor="web",
            rules=RULES,
            gateway=gateway,
            reason="  ",
        )
    assert (caught.value.code, caught.value.field) == (
        ErrorCode.INVALID_INPUT,
        ("input", "reason"),
    )
    assert await snapshot(order.id) == before
    assert gateway.moved_minor == GIFT_BOX_TOTAL


async def test_concurrent_cancels_refund_once(db: TortoiseContext, rules_dir: Path) -> None:
    buyer = await setup(rules_dir)
    gateway = TestGateway()
    order = await place(buyer, "GIFTBOX6", gateway=gateway)
    outcomes = await asyncio.gather(
        *(
            cancel_order(
                order.id,
                reason_code=CancelReason.CUSTOMER_REQUEST,
                today=TODAY,
                actor=f"agent:{n}",
                rules=RULES,
                gateway=gateway,
            )
            for n in range(2)
        ),
        return_exceptions=True,
    )
    refused = [o for o in outcomes if isinstance(o, ContinuityError)]
    assert [e.code for e in refused] == [ErrorCode.INVALID_STATE]
    assert gateway.moved_minor == 0
    assert await Payment.filter(continuity_order_id=order.id, kind=PaymentKind.REFUND).count() == 1
