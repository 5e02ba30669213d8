"""Every money path on Stripe (the real SDK, the stand-in on loopback): what Stripe receives
and what each outcome does to our rows, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from tortoise.context import TortoiseContext

from continuity.enums import (
    CancelReason,
    ChildOrderStatus,
    ContinuityOrderStatus,
    PaymentKind,
    PaymentPurpose,
    PaymentStatus,
)
from continuity.fulfilment import invoice_child_order, mark_child_order_shipped
from continuity.jobs import JobEnv
from continuity.jobs.child_orders import create_child_orders
from continuity.jobs.payments import CLAIM_LEASE, process_payments
from continuity.models import (
    ChildOrder,
    ContinuityOrder,
    Notification,
    OrderHistoryEntry,
    Payment,
    PaymentMethod,
)
from continuity.orders.cancel import cancel_order
from continuity.payments.gateway import ChargeRequest, GatewayResult
from continuity.payments.stripe_gateway import StripeGateway
from tests.jobs.world import Buyer, buyer, open_business, order
from tests.payments.standin import StripeStandIn

pytestmark = pytest.mark.db

DAY0 = date(2027, 1, 10)
REFILL = 2450  # VITREFILL: one 30-day supply
GIFT_BOX_TOTAL, FIRST_BOX = 12900, 2150


async def _stripe_buyer(
    account: str, standin: StripeStandIn, gateway: StripeGateway, card: str = "pm_card_visa"
) -> Buyer:
    """A customer whose card was saved at Stripe (Elements + a SetupIntent, in real life)."""
    token = standin.saved_card(card, customer=f"cus_{account}")
    return await buyer(account, token=token, today=DAY0, gateway=gateway)


async def test_a_card_is_described_by_stripe(
    db: TortoiseContext, rules_dir: Path, standin: StripeStandIn, stripe_gateway: StripeGateway
) -> None:
    await open_business(rules_dir)
    ada = await _stripe_buyer("ADA", standin, stripe_gateway, "pm_card_mastercard")
    card = await PaymentMethod.get(id=ada.card_id)
    # the typed "visa 4242 12/2035" of the helper are ignored: Stripe's details win
    assert (card.brand, card.last4, card.exp_month, card.exp_year, card.gateway_customer) == (
        "mastercard",
        "4444",
        12,
        2034,
        "cus_ADA",
    )


async def test_placement_charges_on_session_with_our_key_and_metadata(
    db: TortoiseContext, rules_dir: Path, standin: StripeStandIn, stripe_gateway: StripeGateway
) -> None:
    rules = await open_business(rules_dir)
    ada = await _stripe_buyer("ADA", standin, stripe_gateway)
    placed = await order(ada, "GIFTBOX6", DAY0, rules, stripe_gateway)
    gift = placed.continuity_orders[0]
    payment = await Payment.get(continuity_order_id=gift.id)
    [sent] = standin.posts("/v1/payment_intents")
    assert sent.headers["idempotency-key"] == f"{gift.number}:up-front#1"
    token = (await PaymentMethod.get(id=ada.card_id)).gateway_token
    assert sent.form == {
        "amount": str(GIFT_BOX_TOTAL),
        "currency": "usd",
        "customer": "cus_ADA",
        "payment_method": token,
        "confirm": "true",
        "capture_method": "automatic",
        "automatic_payment_methods[enabled]": "true",
        "automatic_payment_methods[allow_redirects]": "never",
        "expand[0]": "latest_charge",
        "metadata[continuity_payment]": str(payment.id),
        "metadata[attempt_key]": f"{gift.number}:up-front#1",
        "metadata[purpose]": "up_front",
        "metadata[sales_order]": placed.sales_order.number,
        "metadata[continuity_order]": gift.number,
    }  # the agent is on the phone with the customer: not off_session
    intent = standin.intents[payment.gateway_reference or ""]
    assert (payment.status, intent["amount_received"]) == (PaymentStatus.SUCCEEDED, 12900)


async def test_a_child_order_is_authorized_when_created_and_captured_when_invoiced(
    db: TortoiseContext, rules_dir: Path, standin: StripeStandIn, stripe_gateway: StripeGateway
) -> None:
    rules = await open_business(rules_dir)  # authorize_child_orders: true
    ada = await _stripe_buyer("ADA", standin, stripe_gateway)
    await order(ada, "VITREFILL", DAY0, rules, stripe_gateway)
    run = await create_child_orders(DAY0, env=JobEnv(gateway=stripe_gateway))
    assert (run.counts["authorized"], run.counts["authorized_amount_minor:USD"]) == (1, REFILL)
    child = await ChildOrder.get()
    hold = await Payment.get(child_order_id=child.id)
    [sent] = standin.posts("/v1/payment_intents")
    assert sent.headers["idempotency-key"] == f"{child.number}:auth#1"
    assert (sent.form["amount"], sent.form["capture_method"], sent.form["off_session"]) == (
        str(REFILL),
        "manual",
        "true",
    )
    assert (sent.form["metadata[child_order]"], sent.form["metadata[purpose]"]) == (
        child.number,
        "shipment",
    )
    intent = standin.intents[hold.gateway_reference or ""]
    assert (hold.kind, hold.status, child.status) == (
        PaymentKind.AUTHORIZATION,
        PaymentStatus.SUCCEEDED,
        ChildOrderStatus.AUTHORIZED,
    )
    capture_before = intent["latest_charge"]["payment_method_details"]["card"]["capture_before"]
    assert hold.authorization_expires_at == datetime.fromtimestamp(capture_before, UTC)
    assert intent["status"] == "requires_capture"  # held, not taken
    await mark_child_order_shipped(child.id, actor="warehouse")
    await invoice_child_order(child.id, actor="warehouse", gateway=stripe_gateway, today=DAY0)
    [capture] = standin.posts(f"/v1/payment_intents/{intent['id']}/capture")
    assert capture.form == {"amount_to_capture": str(REFILL)}
    assert capture.headers["idempotency-key"] == f"{child.number}:capture#1"
    charge = await Payment.get(child_order_id=child.id, kind=PaymentKind.CHARGE)
    assert (charge.status, charge.gateway_reference, intent["amount_received"]) == (
        PaymentStatus.SUCCEEDED,
        intent["id"],
        REFILL,
    )
    told = await Notification.filter(event_type="payment_succeeded")
    assert {n.payload["payment_id"] for n in told} == {charge.id}  # the hold is not "paid"


async def test_holds_are_renewed_before_they_lapse_and_a_lapsed_one_is_charged(
    db: TortoiseContext, rules_dir: Path, standin: StripeStandIn, stripe_gateway: StripeGateway
) -> None:
    rules = await open_business(rules_dir)
    ada = await _stripe_buyer("ADA", standin, stripe_gateway)
    await order(ada, "VITREFILL", DAY0, rules, stripe_gateway)
    env = JobEnv(gateway=stripe_gateway)
    await create_child_orders(DAY0, env=env)
    child = await ChildOrder.get()
    first = await Payment.get(child_order_id=child.id)
    # a week later the hold lapses within a day: the payments job authorizes again
    soon = datetime.now(UTC) + timedelta(hours=3)
    await Payment.filter(id=first.id).update(authorization_expires_at=soon)
    run = await process_payments(DAY0 + timedelta(days=6), env=env)
    assert (run.counts["authorizations_renewed"], run.counts["authorized"]) == (1, 1)
    second = await Payment.get(idempotency_key=f"{child.number}:auth-2")
    assert second.status is PaymentStatus.SUCCEEDED
    assert standin.posts("/v1/payment_intents")[-1].headers["idempotency-key"] == (
        f"{child.number}:auth-2#1"
    )
    again = await process_payments(DAY0 + timedelta(days=6), env=env)
    assert "authorizations_renewed" not in again.counts  # the new hold is good for a week
    # both lapse (the job did not run): marked expired, and the invoice charges the card
    past = datetime.now(UTC) - timedelta(minutes=1)
    await Payment.filter(child_order_id=child.id).update(authorization_expires_at=past)
    for hold in (first, second):
        standin.expire(hold.gateway_reference or "")
    await mark_child_order_shipped(child.id, actor="warehouse")
    await invoice_child_order(child.id, actor="warehouse", gateway=stripe_gateway, today=DAY0)
    charge = await Payment.get(child_order_id=child.id, kind=PaymentKind.CHARGE)
    sent = standin.posts("/v1/payment_intents")[-1]
    assert (sent.headers["idempotency-key"], sent.form["capture_method"]) == (
        f"{child.number}:capture#1",
        "automatic",
    )
    assert sent.form["off_session"] == "true"
    assert (charge.status, charge.gateway_reference) == (
        PaymentStatus.SUCCEEDED,
        standin.intents[charge.gateway_reference or ""]["id"],
    )
    assert not standin.posts(f"/v1/payment_intents/{first.gateway_reference}/capture")


async def test_declines_are_retried_then_the_order_is_held(
    db: TortoiseContext, rules_dir: Path, standin: StripeStandIn, stripe_gateway: StripeGateway
) -> None:
    rules = await open_business(rules_dir, retry_days=2, reauthorization_limit=1)
    bob = await _stripe_buyer(
        "BOB", standin, stripe_gateway, "pm_card_chargeDeclinedInsufficientFunds"
    )
    placed = await order(bob, "VITREFILL", DAY0, rules, stripe_gateway)
    env = JobEnv(gateway=stripe_gateway)
    run = await create_child_orders(DAY0, env=env)
    assert run.counts["declined"] == 1
    hold = await Payment.get(purpose=PaymentPurpose.SHIPMENT)
    assert (hold.status, hold.attempts, hold.failure_code, hold.next_retry_on) == (
        PaymentStatus.DECLINED,
        1,
        "insufficient_funds",
        DAY0 + timedelta(days=2),
    )
    failed = await Notification.get(event_type="payment_failed", channel="email")
    assert (failed.payload["failure_code"], failed.payload["final"]) == (
        "insufficient_funds",
        False,
    )
    await process_payments(DAY0 + timedelta(days=2), env=env)
    hold = await Payment.get(id=hold.id)
    assert (hold.status, hold.attempts) == (PaymentStatus.FAILED, 2)
    keys = [r.headers["idempotency-key"] for r in standin.posts("/v1/payment_intents")]
    assert keys == [f"{hold.idempotency_key}#1", f"{hold.idempotency_key}#2"]
    held = await ContinuityOrder.get(id=placed.continuity_orders[0].id)
    assert held.status is ContinuityOrderStatus.PAYMENT_HOLD
    assert await Notification.filter(event_type="payment_hold").count() == 1


async def test_a_card_needing_authentication_holds_the_order_and_asks_the_customer(
    db: TortoiseContext, rules_dir: Path, standin: StripeStandIn, stripe_gateway: StripeGateway
) -> None:
    rules = await open_business(rules_dir, reauthorization_limit=3)
    cy = await _stripe_buyer("CY", standin, stripe_gateway, "pm_card_authenticationRequired")
    placed = await order(cy, "VITREFILL", DAY0, rules, stripe_gateway)
    env = JobEnv(gateway=stripe_gateway)
    run = await create_child_orders(DAY0, env=env)
    assert (run.counts["action_required"], run.counts["payment_holds"]) == (1, 1)
    hold = await Payment.get(purpose=PaymentPurpose.SHIPMENT)
    # no retries: off session, the card cannot pass without its holder
    assert (hold.status, hold.attempts, hold.failure_code, hold.next_retry_on) == (
        PaymentStatus.FAILED,
        1,
        "authentication_required",
        None,
    )
    held = await ContinuityOrder.get(id=placed.continuity_orders[0].id)
    assert held.status is ContinuityOrderStatus.PAYMENT_HOLD
    entry = await OrderHistoryEntry.get(continuity_order_id=held.id, action="payment_hold")
    assert entry.reason == "the card needs the customer's authentication"
    asked = await Notification.get(event_type="payment_action_required", channel="email")
    assert asked.recipient == "cy@example.com"
    assert (asked.payload["hold"], asked.payload["gateway_reference"]) == (
        True,
        hold.gateway_reference,
    )
    assert await Notification.filter(event_type="payment_hold").count() == 0
    await process_payments(DAY0 + timedelta(days=2), env=env)
    assert len(standin.posts("/v1/payment_intents")) == 1  # not tried again on its own


async def _an_installment_due(
    rules_dir: Path, standin: StripeStandIn, gateway: StripeGateway
) -> Payment:
    rules = await open_business(rules_dir)
    ada = await _stripe_buyer("ADA", standin, gateway)
    placed = await order(ada, "WINECLUB12", DAY0, rules, gateway, payment_schedule="three-monthly")
    return await Payment.get(
        continuity_order_id=placed.continuity_orders[0].id, installment_number=2
    )


async def test_an_unknown_outcome_is_asked_again_with_the_same_key(
    db: TortoiseContext, rules_dir: Path, standin: StripeStandIn, stripe_gateway: StripeGateway
) -> None:
    second = await _an_installment_due(rules_dir, standin, stripe_gateway)
    env = JobEnv(gateway=stripe_gateway)
    standin.fail_next(2, status=503)  # the request and the SDK's retry
    run = await process_payments(second.due_date, env=env)
    assert run.counts["unknown"] == 1
    assert "declined" not in run.counts
    unknown = await Payment.get(id=second.id)
    assert (unknown.status, unknown.attempts, unknown.failure_code) == (
        PaymentStatus.UNKNOWN,
        0,
        "gateway_http_503",
    )
    assert unknown.last_attempt_at is not None  # recorded, not left claimed
    order_row = await ContinuityOrder.get(id=second.continuity_order_id)
    assert order_row.status is ContinuityOrderStatus.ACTIVE  # never a decline
    assert await Notification.filter(event_type="payment_failed").count() == 0
    # the next run, whatever its date, asks again with the same key
    again = await process_payments(second.due_date - timedelta(days=20), env=env)
    assert again.counts["charged"] == 1
    paid = await Payment.get(id=second.id)
    assert (paid.status, paid.attempts) == (PaymentStatus.SUCCEEDED, 1)
    keys = [r.headers["idempotency-key"] for r in standin.posts("/v1/payment_intents")][1:]
    assert keys == [f"{second.idempotency_key}#1"] * 3


async def test_a_lost_answer_is_replayed_by_stripe_not_charged_again(
    db: TortoiseContext, rules_dir: Path, standin: StripeStandIn, stripe_gateway: StripeGateway
) -> None:
    second = await _an_installment_due(rules_dir, standin, stripe_gateway)
    env = JobEnv(gateway=stripe_gateway)
    standin.lose_next(2)  # Stripe charges; the answer (and the retry's) never arrives
    await process_payments(second.due_date, env=env)
    assert (await Payment.get(id=second.id)).status is PaymentStatus.UNKNOWN
    await process_payments(second.due_date + timedelta(days=1), env=env)
    paid = await Payment.get(id=second.id)
    intents = [i for i in standin.intents.values() if i["metadata"]["installment"] == "2"]
    assert len(intents) == 1
    assert (paid.status, paid.gateway_reference) == (PaymentStatus.SUCCEEDED, intents[0]["id"])


class _Crash(BaseException):
    """The process dies (not an exception anyone handles)."""


class _DiesAfterStripe(StripeGateway):
    """Stripe takes the money, then the process dies before the database write."""

    async def charge(self, request: ChargeRequest) -> GatewayResult:
        await super().charge(request)
        raise _Crash


async def test_a_crash_between_stripe_and_the_database_charges_once(
    db: TortoiseContext, rules_dir: Path, standin: StripeStandIn, stripe_gateway: StripeGateway
) -> None:
    second = await _an_installment_due(rules_dir, standin, stripe_gateway)
    dying = _DiesAfterStripe("sk_test_continuity", api_base=standin.url, max_network_retries=0)
    with pytest.raises(_Crash):
        await process_payments(second.due_date, env=JobEnv(gateway=dying))
    await dying.aclose()
    claimed = await Payment.get(id=second.id)
    assert (claimed.status, claimed.attempts) == (PaymentStatus.PENDING, 0)
    # the restarted process runs again once the claim's lease is over
    await Payment.filter(id=second.id).update(
        last_attempt_at=datetime.now(UTC) - CLAIM_LEASE - timedelta(seconds=1)
    )
    await process_payments(second.due_date, env=JobEnv(gateway=stripe_gateway))
    paid = await Payment.get(id=second.id)
    posts = [r for r in standin.posts("/v1/payment_intents") if "installment-2" in str(r.headers)]
    assert [r.headers["idempotency-key"] for r in posts] == [f"{second.idempotency_key}#1"] * 2
    intents = [i for i in standin.intents.values() if i["metadata"]["installment"] == "2"]
    assert len(intents) == 1  # one PaymentIntent ...
    assert (paid.status, paid.attempts, paid.gateway_reference) == (
        PaymentStatus.SUCCEEDED,
        1,
        intents[0]["id"],
    )  # ... one charge
    assert await Payment.filter(continuity_order_id=second.continuity_order_id).count() == 3


async def test_cancel_refunds_exactly_on_the_original_payment_intent(
    db: TortoiseContext, rules_dir: Path, standin: StripeStandIn, stripe_gateway: StripeGateway
) -> None:
    rules = await open_business(rules_dir)
    ada = await _stripe_buyer("ADA", standin, stripe_gateway)
    gift = (await order(ada, "GIFTBOX6", DAY0, rules, stripe_gateway)).continuity_orders[0]
    await create_child_orders(DAY0, env=JobEnv(gateway=stripe_gateway))  # the first box ships
    paid = await Payment.get(continuity_order_id=gift.id, kind=PaymentKind.CHARGE)
    await cancel_order(
        gift.id,
        reason_code=CancelReason.CUSTOMER_REQUEST,
        today=DAY0,
        actor="agent:9",
        rules=rules,
        gateway=stripe_gateway,
    )
    refund = await Payment.get(continuity_order_id=gift.id, kind=PaymentKind.REFUND)
    [sent] = standin.posts("/v1/refunds")
    assert sent.headers["idempotency-key"] == f"{gift.number}:refund#1"
    assert (sent.form["payment_intent"], sent.form["amount"]) == (
        paid.gateway_reference,
        str(GIFT_BOX_TOTAL - FIRST_BOX),
    )
    assert sent.form["metadata[continuity_payment]"] == str(refund.id)
    assert (refund.status, refund.gateway_reference, refund.amount_minor) == (
        PaymentStatus.SUCCEEDED,
        paid.gateway_reference,
        10750,
    )
    [made] = standin.refunds.values()
    assert made["amount"] == 10750
