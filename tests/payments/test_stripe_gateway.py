"""``StripeGateway`` (the real SDK) against the stand-in: what Stripe receives, and how each of
its answers becomes an outcome."""

from __future__ import annotations

import pytest

from continuity.payments.gateway import (
    AUTHENTICATION_REQUIRED,
    CardDetails,
    ChargeRequest,
    GatewayOutcome,
    UnknownPaymentMethod,
)
from continuity.payments.stripe_gateway import StripeGateway
from continuity.payments.webhooks import GatewayEventKind, WebhookRejected
from tests.payments.conftest import API_KEY, WEBHOOK_SECRET, signed_event
from tests.payments.standin import StripeStandIn


def _request(token: str, key: str, **overrides: object) -> ChargeRequest:
    values: dict[str, object] = {
        "token": token,
        "customer": "cus_saved",
        "amount_minor": 1999,
        "currency": "EUR",
        "idempotency_key": key,
        "off_session": True,
        "metadata": {"continuity_order": "CO-1", "continuity_payment": "7"},
    }
    values.update(overrides)
    return ChargeRequest(**values)  # type: ignore[arg-type]


async def test_a_charge_is_one_confirmed_payment_intent(
    standin: StripeStandIn, stripe_gateway: StripeGateway
) -> None:
    card = standin.saved_card()
    result = await stripe_gateway.charge(_request(card, "CO-1:up-front#1"))
    assert (result.outcome, result.reference) == (GatewayOutcome.APPROVED, "pi_0002")
    [sent] = standin.posts("/v1/payment_intents")
    assert sent.headers["idempotency-key"] == "CO-1:up-front#1"
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert sent.form == {
        "amount": "1999",
        "currency": "eur",
        "customer": "cus_saved",
        "payment_method": card,
        "confirm": "true",
        "off_session": "true",
        "capture_method": "automatic",
        "automatic_payment_methods[enabled]": "true",
        "automatic_payment_methods[allow_redirects]": "never",
        "metadata[continuity_order]": "CO-1",
        "metadata[continuity_payment]": "7",
        "expand[0]": "latest_charge",
    }
    # on session (the customer is there): no off_session flag at all
    await stripe_gateway.charge(_request(card, "k2", off_session=False))
    assert "off_session" not in standin.posts("/v1/payment_intents")[1].form


async def test_an_authorization_is_captured_once(
    standin: StripeStandIn, stripe_gateway: StripeGateway
) -> None:
    card = standin.saved_card()
    held = await stripe_gateway.authorize(_request(card, "CH-1:auth#1", amount_minor=2450))
    assert held.outcome is GatewayOutcome.APPROVED
    assert held.expires_at is not None
    [sent] = standin.posts("/v1/payment_intents")
    assert (sent.form["capture_method"], sent.form["off_session"]) == ("manual", "true")
    assert standin.intents[held.reference or ""]["status"] == "requires_capture"
    captured = await stripe_gateway.capture(
        reference=held.reference or "",
        amount_minor=2450,
        currency="EUR",
        idempotency_key="CH-1:capture#1",
    )
    assert (captured.outcome, captured.reference) == (GatewayOutcome.APPROVED, held.reference)
    [capture] = standin.posts(f"/v1/payment_intents/{held.reference}/capture")
    assert capture.form == {"amount_to_capture": "2450"}
    assert capture.headers["idempotency-key"] == "CH-1:capture#1"
    # a lapsed hold cannot be captured: declined, so the next attempt charges the card
    other = await stripe_gateway.authorize(_request(card, "CH-2:auth#1"))
    standin.expire(other.reference or "")
    lapsed = await stripe_gateway.capture(
        reference=other.reference or "", amount_minor=1999, currency="EUR", idempotency_key="x"
    )
    assert (lapsed.outcome, lapsed.code) == (
        GatewayOutcome.DECLINED,
        "payment_intent_unexpected_state",
    )


@pytest.mark.parametrize(
    ("card", "outcome", "code"),
    [
        ("pm_card_chargeDeclined", GatewayOutcome.DECLINED, "generic_decline"),
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            GatewayOutcome.DECLINED,
            "insufficient_funds",
        ),
        ("pm_card_authenticationRequired", GatewayOutcome.ACTION_REQUIRED, AUTHENTICATION_REQUIRED),
    ],
)
async def test_card_errors_are_declines_or_need_the_customer(
    standin: StripeStandIn,
    stripe_gateway: StripeGateway,
    card: str,
    outcome: GatewayOutcome,
    code: str,
) -> None:
    result = await stripe_gateway.charge(_request(standin.saved_card(card), "k"))
    assert (result.outcome, result.code) == (outcome, code)
    assert result.reference in standin.intents  # the failed PaymentIntent, kept


async def test_on_session_authentication_is_required_action(
    standin: StripeStandIn, stripe_gateway: StripeGateway
) -> None:
    card = standin.saved_card("pm_card_authenticationRequired")
    result = await stripe_gateway.charge(_request(card, "k", off_session=False))
    assert (result.outcome, result.code) == (
        GatewayOutcome.ACTION_REQUIRED,
        AUTHENTICATION_REQUIRED,
    )
    assert standin.intents[result.reference or ""]["status"] == "requires_action"


async def test_no_answer_is_unknown_and_the_same_key_gets_the_truth(
    standin: StripeStandIn, stripe_gateway: StripeGateway
) -> None:
    card = standin.saved_card()
    standin.fail_next(2, status=500)  # the SDK's one retry fails too
    first = await stripe_gateway.charge(_request(card, "CO-1:up-front#1"))
    assert (first.outcome, first.code) == (GatewayOutcome.UNKNOWN, "gateway_http_500")
    standin.lose_next(2)  # Stripe charges, the answers are lost (twice: the SDK retries)
    second = await stripe_gateway.charge(_request(card, "CO-1:up-front#1"))
    assert (second.outcome, second.code) == (GatewayOutcome.UNKNOWN, "gateway_unreachable")
    third = await stripe_gateway.charge(_request(card, "CO-1:up-front#1"))
    assert third.outcome is GatewayOutcome.APPROVED
    keys = {r.headers["idempotency-key"] for r in standin.posts("/v1/payment_intents")}
    assert keys == {"CO-1:up-front#1"}
    assert len(standin.posts("/v1/payment_intents")) == 5
    assert len(standin.intents) == 1  # Stripe moved the money once


async def test_a_connection_refused_is_unknown() -> None:
    gateway = StripeGateway(API_KEY, api_base="http://127.0.0.1:9", max_network_retries=0)
    result = await gateway.charge(_request("pm_x", "k"))
    assert (result.outcome, result.code) == (GatewayOutcome.UNKNOWN, "gateway_unreachable")
    await gateway.aclose()


async def test_refunds_are_exact_to_the_cent_with_their_own_keys(
    standin: StripeStandIn, stripe_gateway: StripeGateway
) -> None:
    paid = await stripe_gateway.charge(_request(standin.saved_card(), "k", amount_minor=12900))
    reference = paid.reference or ""
    refunded = await stripe_gateway.refund(
        reference=reference,
        amount_minor=10751,
        currency="EUR",
        idempotency_key="CO-1:refund#1",
        metadata={"continuity_payment": "9"},
    )
    assert (refunded.outcome, refunded.reference) == (GatewayOutcome.APPROVED, reference)
    [sent] = standin.posts("/v1/refunds")
    assert sent.form == {
        "payment_intent": reference,
        "amount": "10751",
        "reason": "requested_by_customer",
        "metadata[continuity_payment]": "9",
    }
    assert sent.headers["idempotency-key"] == "CO-1:refund#1"
    too_much = await stripe_gateway.refund(
        reference=reference,
        amount_minor=2150,
        currency="EUR",
        idempotency_key="CO-1:refund-2#1",
        metadata={},
    )
    assert (too_much.outcome, too_much.code) == (
        GatewayOutcome.DECLINED,
        "charge_already_refunded",
    )


async def test_cards_are_described_by_stripe(
    standin: StripeStandIn, stripe_gateway: StripeGateway
) -> None:
    card = standin.saved_card("pm_card_mastercard", customer="cus_42")
    assert await stripe_gateway.describe_card(card) == CardDetails(
        "mastercard", "4444", 12, 2034, "cus_42"
    )
    assert [r.path for r in standin.requests] == [f"/v1/payment_methods/{card}"]
    with pytest.raises(UnknownPaymentMethod):
        await stripe_gateway.describe_card("pm_missing")


def test_webhooks_are_verified_with_the_secret(stripe_gateway: StripeGateway) -> None:
    item = {
        "id": "pi_1",
        "object": "payment_intent",
        "amount": 1999,
        "amount_received": 1999,
        "currency": "eur",
        "metadata": {"continuity_payment": "12", "attempt_key": "CO-1:up-front#2"},
    }
    body, headers = signed_event("payment_intent.succeeded", item, event_id="evt_1")
    event = stripe_gateway.verify_webhook(body, {"stripe-signature": headers["Stripe-Signature"]})
    assert (event.kind, event.reference, event.payment_id, event.attempt) == (
        GatewayEventKind.PAYMENT_SUCCEEDED,
        "pi_1",
        12,
        2,
    )
    assert (event.amount_minor, event.currency) == (1999, "EUR")
    forged, forged_headers = signed_event(
        "payment_intent.succeeded", item, event_id="e", secret="whsec_other"
    )
    for payload, signature in (
        (forged, forged_headers["Stripe-Signature"]),  # another secret
        (body.replace(b"1999", b"9999"), headers["Stripe-Signature"]),  # tampered
        (body, ""),  # missing
    ):
        with pytest.raises(WebhookRejected):
            stripe_gateway.verify_webhook(payload, {"stripe-signature": signature})
    without = StripeGateway(API_KEY, api_base="http://127.0.0.1:9")
    with pytest.raises(WebhookRejected):
        without.verify_webhook(body, {"stripe-signature": headers["Stripe-Signature"]})
    assert WEBHOOK_SECRET.startswith("whsec_")


def test_the_key_is_never_shown() -> None:
    gateway = StripeGateway("sk_live_secret", api_base="http://127.0.0.1:9")
    assert "sk_live_secret" not in repr(gateway)
    assert not gateway.test_mode
