"""Declines are retried every retry_days, then the order goes on payment hold until paid."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from tortoise.context import TortoiseContext

from continuity.customers import PaymentMethodInput, add_payment_method
from continuity.enums import (
    CancelReason,
    ContinuityOrderStatus,
    PaymentKind,
    PaymentPurpose,
    PaymentStatus,
)
from continuity.jobs import JobEnv, batch
from continuity.jobs.child_orders import create_child_orders
from continuity.jobs.claims import CLAIM_LEASE, claim_payments, due
from continuity.jobs.payments import process_payments
from continuity.models import (
    ChildOrder,
    ContinuityOrder,
    JobRun,
    Notification,
    OrderHistoryEntry,
    Payment,
)
from continuity.orders.cancel import cancel_order
from continuity.orders.changes import change_payment_method, skip_shipment
from continuity.orders.placement import BillingRules
from continuity.payments.gateway import ChargeRequest, GatewayResult, TestGateway
from tests.jobs.world import buyer, open_business, order

pytestmark = pytest.mark.db

DAY0 = date(2027, 1, 10)
RULES = BillingRules(repeat_threshold=3, retry_days=2, reauthorization_limit=3)


async def test_a_claim_holds_its_payment_for_the_lease_then_it_is_due_again(
    db: TortoiseContext, rules_dir: Path
) -> None:
    """The claim's time, written in SQL, is what the due filter compares against the lease."""
    gateway = TestGateway()
    rules = await open_business(rules_dir, retry_days=2)
    bob = await buyer("BOB", today=DAY0, token="tok_insufficient_funds")
    await order(bob, "VITREFILL", DAY0, rules, gateway)
    await create_child_orders(DAY0, env=JobEnv(gateway=gateway))
    charge = await Payment.get(purpose=PaymentPurpose.SHIPMENT)  # declined: retried on day 2
    retry_on = DAY0 + timedelta(days=2)
    run = await JobRun.first()
    assert run is not None
    claimed = await claim_payments([charge.id], retry_on, run.id)
    assert [(p.id, p.status, p.claimed_by_run_id) for p in claimed] == [
        (charge.id, PaymentStatus.PENDING, run.id)
    ]
    stored = await Payment.get(id=charge.id)
    assert (stored.status, stored.claimed_by_run_id) == (PaymentStatus.PENDING, run.id)
    assert stored.last_attempt_at == claimed[0].last_attempt_at
    at = stored.last_attempt_at
    assert at is not None
    within, after = at + CLAIM_LEASE - timedelta(seconds=1), at + CLAIM_LEASE + timedelta(seconds=1)
    assert not await Payment.filter(due(retry_on, within), id=charge.id).exists()
    assert await Payment.filter(due(retry_on, after), id=charge.id).exists()
    assert await claim_payments([charge.id], retry_on, run.id) == []  # held by the claim


async def test_retries_then_hold_then_a_new_card_releases_it(
    db: TortoiseContext, rules_dir: Path
) -> None:
    gateway = TestGateway()
    rules = await open_business(rules_dir, retry_days=2, reauthorization_limit=2)
    bob = await buyer("BOB", today=DAY0, token="tok_insufficient_funds")
    placed = await order(bob, "VITREFILL", DAY0, rules, gateway)
    order_id = placed.continuity_orders[0].id
    env = JobEnv(gateway=gateway)
    await create_child_orders(DAY0, env=env)
    charge = await Payment.get(purpose=PaymentPurpose.SHIPMENT)
    assert (charge.status, charge.attempts, charge.next_retry_on) == (
        PaymentStatus.DECLINED,
        1,
        DAY0 + timedelta(days=2),
    )
    # nothing to retry before the retry date
    quiet = await process_payments(DAY0 + timedelta(days=1), env=env)
    assert quiet.counts == {}
    await process_payments(DAY0 + timedelta(days=2), env=env)
    await process_payments(DAY0 + timedelta(days=4), env=env)
    charge = await Payment.get(id=charge.id)
    assert (charge.status, charge.attempts, charge.failure_code) == (
        PaymentStatus.FAILED,
        3,
        "insufficient_funds",
    )
    held = await ContinuityOrder.get(id=order_id)
    assert held.status is ContinuityOrderStatus.PAYMENT_HOLD
    assert (
        await OrderHistoryEntry.filter(continuity_order_id=order_id, action="payment_hold").count()
        == 1
    )
    # on hold: the next refill is not released
    before = await ChildOrder.all().count()
    await create_child_orders(DAY0 + timedelta(days=30), env=env)
    assert await ChildOrder.all().count() == before
    # the customer gives a new card: the failed charge is retried on it and the hold lifts
    card = await add_payment_method(
        bob.customer_id,
        PaymentMethodInput(
            gateway_token="tok_visa", brand="visa", last4="1111", exp_month=1, exp_year=2030
        ),
        today=DAY0,
    )
    held.payment_method_id = card.id
    await held.save()
    run = await process_payments(DAY0 + timedelta(days=31), env=env)
    assert run.counts["moved_to_new_card"] == 1
    charge = await Payment.get(id=charge.id)
    assert (charge.status, charge.attempts, charge.payment_method_id) == (
        PaymentStatus.SUCCEEDED,
        4,
        card.id,
    )
    assert (await ContinuityOrder.get(id=order_id)).status is ContinuityOrderStatus.ACTIVE
    # (with authorize_child_orders the shipment is authorized: held, captured when invoiced)
    assert (charge.kind, gateway.moved_minor) == (PaymentKind.AUTHORIZATION, 0)


async def test_installments_are_billed_ahead_and_charged_when_due(
    db: TortoiseContext, rules_dir: Path
) -> None:
    gateway = TestGateway()
    rules = await open_business(rules_dir, on_account_bill_days=7)
    ada = await buyer("ADA", today=DAY0)
    placed = await order(ada, "WINECLUB12", DAY0, rules, gateway, payment_schedule="three-monthly")
    env = JobEnv(gateway=gateway)
    second = await Payment.get(
        continuity_order_id=placed.continuity_orders[0].id, installment_number=2
    )
    assert second.due_date == date(2027, 2, 10)
    await process_payments(date(2027, 2, 2), env=env)
    assert await Notification.filter(event_type="installment_bill").count() == 0
    run = await process_payments(date(2027, 2, 3), env=env)
    assert run.counts == {"bills_issued": 1}
    bill = await Notification.get(event_type="installment_bill")
    assert bill.payload["installment"] == 2
    again = await process_payments(date(2027, 2, 4), env=env)
    assert again.counts == {}  # one bill per installment
    paid = await process_payments(date(2027, 2, 10), env=env)
    assert paid.counts["charged"] == 1
    assert (await Payment.get(id=second.id)).status is PaymentStatus.SUCCEEDED


class _CancellingGateway(TestGateway):
    """Approves the charge, but the customer cancels while the call is in flight."""

    order_id = 0

    async def charge(self, request: ChargeRequest) -> GatewayResult:
        await cancel_order(
            self.order_id,
            reason_code=CancelReason.CUSTOMER_REQUEST,
            today=DAY0,
            actor="customer",
            rules=RULES,
            gateway=self,
        )
        return await super().charge(request)


async def test_a_cancel_during_the_gateway_call_is_refunded(
    db: TortoiseContext, rules_dir: Path
) -> None:
    """An installment is being charged when the customer cancels (the cancel marks it
    cancelled meanwhile): the charge that went through is kept on record and refunded."""
    gateway = _CancellingGateway()
    rules = await open_business(rules_dir)
    ada = await buyer("ADA", today=DAY0)
    placed = await order(
        ada, "WINECLUB12", DAY0, rules, TestGateway(), payment_schedule="three-monthly"
    )
    gateway.order_id = placed.continuity_orders[0].id
    first, second = await Payment.filter(
        continuity_order_id=gateway.order_id, installment_number__in=[1, 2]
    ).order_by("installment_number")
    await process_payments(second.due_date, env=JobEnv(gateway=gateway))
    second = await Payment.get(id=second.id)
    # the money moved before the cancel was seen: the charge is recorded as it happened ...
    assert second.status is PaymentStatus.SUCCEEDED
    # ... and a refund of it is queued (and sent by the same run, as a due payment)
    late = await Payment.get(idempotency_key=f"{second.idempotency_key}:refund-late")
    assert (late.kind, late.status, late.amount_minor) == (
        PaymentKind.REFUND,
        PaymentStatus.SUCCEEDED,
        second.amount_minor,
    )
    # the cancel refunded the first installment, the late refund the second: nothing kept
    assert gateway.moved_minor == -first.amount_minor


async def test_a_skip_before_the_up_front_charge_is_paid_is_refunded_once_it_is(
    db: TortoiseContext, rules_dir: Path
) -> None:
    """The refund of a skipped box waits for the charge it gives back from, then goes out in
    the run that took the charge; a second run for the date changes nothing."""
    gateway = TestGateway()
    rules = await open_business(rules_dir)
    bob = await buyer("BOB", today=DAY0, token="tok_decline")
    placed = await order(bob, "GIFTBOX6", DAY0, rules, gateway, start_date=DAY0)
    gift = placed.continuity_orders[0]
    await skip_shipment(gift.id, 2, 0, today=DAY0, actor="web", rules=RULES, gateway=gateway)
    charge = await Payment.get(continuity_order_id=gift.id, purpose=PaymentPurpose.UP_FRONT)
    [refund] = await Payment.filter(continuity_order_id=gift.id, kind=PaymentKind.REFUND)
    assert (refund.status, refund.refund_of_id, refund.amount_minor) == (
        PaymentStatus.SCHEDULED,
        charge.id,
        2150,
    )
    assert gateway.moved_minor == 0
    env = JobEnv(gateway=gateway)
    await process_payments(DAY0 + timedelta(days=2), env=env)  # declined again: still waits
    assert (await Payment.get(id=refund.id)).status is PaymentStatus.SCHEDULED
    card = await add_payment_method(
        bob.customer_id,
        PaymentMethodInput(
            gateway_token="tok_visa", brand="visa", last4="1111", exp_month=1, exp_year=2031
        ),
        today=DAY0,
    )
    await change_payment_method(gift.id, card.id, today=DAY0 + timedelta(days=3), actor="web")
    run = await process_payments(DAY0 + timedelta(days=3), env=env)
    assert run.counts["refunds_due"] == 1
    assert (await Payment.get(id=charge.id)).status is PaymentStatus.SUCCEEDED
    assert (await Payment.get(id=refund.id)).status is PaymentStatus.SUCCEEDED
    assert gateway.moved_minor == 12900 - 2150
    again = await process_payments(DAY0 + timedelta(days=3), env=env)
    assert "charged" not in again.counts
    assert "refunds_due" not in again.counts


async def test_a_cancel_voids_a_refund_still_waiting_for_its_charge(
    db: TortoiseContext, rules_dir: Path
) -> None:
    gateway = TestGateway()
    rules = await open_business(rules_dir)
    bob = await buyer("BOB", today=DAY0, token="tok_decline")
    placed = await order(bob, "GIFTBOX6", DAY0, rules, gateway, start_date=DAY0)
    gift = placed.continuity_orders[0]
    await skip_shipment(gift.id, 2, 0, today=DAY0, actor="web", rules=RULES, gateway=gateway)
    await cancel_order(
        gift.id,
        reason_code=CancelReason.CUSTOMER_REQUEST,
        today=DAY0,
        actor="web",
        rules=RULES,
        gateway=gateway,
    )
    payments = await Payment.filter(continuity_order_id=gift.id).order_by("id")
    assert [(p.kind, p.status) for p in payments] == [
        (PaymentKind.CHARGE, PaymentStatus.CANCELLED),
        (PaymentKind.REFUND, PaymentStatus.CANCELLED),
    ]
    assert gateway.moved_minor == 0


async def test_an_installment_skip_is_refunded_from_what_was_paid(
    db: TortoiseContext, rules_dir: Path
) -> None:
    gateway = TestGateway()
    rules = await open_business(rules_dir)
    ada = await buyer("ADA", today=date(2026, 3, 10))
    placed = await order(
        ada, "WINECLUB12", date(2026, 3, 10), rules, gateway, payment_schedule="three-monthly"
    )
    wine = placed.continuity_orders[0]
    await skip_shipment(
        wine.id, 4, 0, today=date(2026, 3, 10), actor="web", rules=RULES, gateway=gateway
    )
    first = await Payment.get(continuity_order_id=wine.id, installment_number=1)
    [refund] = await Payment.filter(continuity_order_id=wine.id, kind=PaymentKind.REFUND)
    assert (refund.status, refund.refund_of_id, refund.amount_minor, refund.event_number) == (
        PaymentStatus.SUCCEEDED,
        first.id,
        4200,  # two whites at 21.00
        4,
    )
    assert gateway.moved_minor == 16000 - 4200


async def test_the_gateways_answer_is_not_counted_as_holding_the_database(
    db: TortoiseContext, rules_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch loop sizes SQLite's batches by how long a step holds the database; a batch
    of charges waits for the gateway with no transaction open, and counting that wait shrank
    the batches to what the gateway answers in BATCH_SECONDS."""
    rules = await open_business(rules_dir, retry_days=2, reauthorization_limit=3)
    bob = await buyer("BOB", today=DAY0, token="tok_insufficient_funds")
    await order(bob, "VITREFILL", DAY0, rules, TestGateway())
    await create_child_orders(DAY0, env=JobEnv(gateway=TestGateway()))
    sized: list[float] = []
    next_size = batch.next_size

    def spy(current: int, largest: int, items: int, seconds: float, limit: float | None) -> int:
        sized.append(seconds)
        return next_size(current, largest, items, seconds, limit)

    monkeypatch.setattr(batch, "next_size", spy)
    slow = TestGateway(latency=0.5)
    run = await process_payments(DAY0 + timedelta(days=2), env=JobEnv(gateway=slow))
    assert run.counts["declined"] == 1  # the retry reached the gateway, which took 0.5 s
    assert slow.calls == 1
    assert len(sized) == 1
    assert sized[0] < 0.4
