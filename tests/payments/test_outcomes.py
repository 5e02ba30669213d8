"""The outcomes' rules on the built-in test gateway (no configuration): unknown answers, a
capture that fails, and money that turns out taken after a cancel."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from tortoise.context import TortoiseContext

from continuity.enums import CancelReason, PaymentKind, PaymentStatus
from continuity.fulfilment import invoice_child_order, mark_child_order_shipped
from continuity.jobs import JobEnv
from continuity.jobs.child_orders import create_child_orders
from continuity.jobs.payments import process_payments
from continuity.models import ChildOrder, Payment
from continuity.orders.cancel import cancel_order
from continuity.payments.gateway import TestGateway
from tests.jobs.world import buyer, open_business, order

pytestmark = pytest.mark.db

DAY0 = date(2027, 1, 10)


async def test_an_unknown_answer_is_asked_again_with_the_same_key(
    db: TortoiseContext, rules_dir: Path
) -> None:
    gateway = TestGateway()
    rules = await open_business(rules_dir)
    ada = await buyer("ADA", today=DAY0)
    placed = await order(ada, "WINECLUB12", DAY0, rules, gateway, payment_schedule="three-monthly")
    second = await Payment.get(
        continuity_order_id=placed.continuity_orders[0].id, installment_number=2
    )
    env = JobEnv(gateway=gateway)
    gateway.outage = True
    run = await process_payments(second.due_date, env=env)
    assert run.counts["unknown"] == 1
    row = await Payment.get(id=second.id)
    assert (row.status, row.attempts, row.next_retry_on) == (PaymentStatus.UNKNOWN, 0, None)
    gateway.outage = False
    await process_payments(second.due_date, env=env)
    row = await Payment.get(id=second.id)
    assert (row.status, row.attempts) == (PaymentStatus.SUCCEEDED, 1)
    assert gateway.requests[-1] == ("charge", f"{second.idempotency_key}#1", True)
    assert gateway.moved_minor == 2 * second.amount_minor


async def test_a_prepaid_charge_found_paid_after_the_cancel_is_refunded(
    db: TortoiseContext, rules_dir: Path
) -> None:
    gateway = TestGateway()
    rules = await open_business(rules_dir)
    ada = await buyer("ADA", today=DAY0)
    placed = await order(ada, "WINECLUB12", DAY0, rules, gateway, payment_schedule="three-monthly")
    wine = placed.continuity_orders[0]
    second = await Payment.get(continuity_order_id=wine.id, installment_number=2)
    gateway.outage = True
    await process_payments(second.due_date, env=JobEnv(gateway=gateway))
    gateway.outage = False
    await cancel_order(
        wine.id,
        reason_code=CancelReason.CUSTOMER_REQUEST,
        today=second.due_date,
        actor="agent:1",
        rules=rules,
        gateway=gateway,
    )
    # the cancel refunded what was known to be paid; the unknown charge is not cancelled
    # (the money may have moved) and is asked again ...
    assert (await Payment.get(id=second.id)).status is PaymentStatus.UNKNOWN
    await process_payments(second.due_date + timedelta(days=1), env=JobEnv(gateway=gateway))
    assert (await Payment.get(id=second.id)).status is PaymentStatus.SUCCEEDED
    # ... and, paid for a cancelled order, given back by the same run
    late = await Payment.get(idempotency_key=f"{second.idempotency_key}:refund-late")
    assert (late.kind, late.status, late.amount_minor) == (
        PaymentKind.REFUND,
        PaymentStatus.SUCCEEDED,
        second.amount_minor,
    )
    assert gateway.moved_minor == 0


async def test_a_capture_that_fails_charges_the_card_at_the_retry(
    db: TortoiseContext, rules_dir: Path
) -> None:
    gateway = TestGateway()
    rules = await open_business(rules_dir, retry_days=2)
    ada = await buyer("ADA", today=DAY0)
    await order(ada, "VITREFILL", DAY0, rules, gateway)
    await create_child_orders(DAY0, env=JobEnv(gateway=gateway))
    child = await ChildOrder.get()
    hold = await Payment.get(child_order_id=child.id, kind=PaymentKind.AUTHORIZATION)
    gateway.expire(hold.gateway_reference or "")  # the provider let it lapse early
    await mark_child_order_shipped(child.id, actor="warehouse")
    await invoice_child_order(child.id, actor="warehouse", gateway=gateway, today=DAY0)
    capture = await Payment.get(child_order_id=child.id, kind=PaymentKind.CHARGE)
    assert (capture.status, capture.failure_code, capture.next_retry_on) == (
        PaymentStatus.DECLINED,
        "authorization_expired",
        DAY0 + timedelta(days=2),
    )
    assert (capture.gateway_reference, capture.authorization_expires_at) == (None, None)
    await process_payments(DAY0 + timedelta(days=2), env=JobEnv(gateway=gateway))
    capture = await Payment.get(id=capture.id)
    assert capture.status is PaymentStatus.SUCCEEDED
    assert [r[:2] for r in gateway.requests[-2:]] == [
        ("capture", f"{child.number}:capture#1"),
        ("charge", f"{child.number}:capture#2"),
    ]
    assert gateway.moved_minor == capture.amount_minor
