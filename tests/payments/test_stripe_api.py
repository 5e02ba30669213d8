"""The service on Stripe over HTTP: GraphQL (cards read from Stripe, orders, invoicing that
captures) and signed webhooks in at ``POST /webhooks/stripe``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from config.settings import Settings
from continuity.models import GatewayEvent, Notification, PaymentMethod
from continuity.payments.stripe_gateway import StripeGateway
from server.app import create_app
from tests.api.customers import ADDRESS, CREATE, place
from tests.api.graphql import gql
from tests.conftest import API_TODAY, as_admin
from tests.payments.conftest import API_KEY, WEBHOOK_SECRET, signed_event
from tests.payments.standin import StripeStandIn

pytestmark = pytest.mark.db

ADD_CARD = """
mutation ($input: AddPaymentMethodInput!) {
  addPaymentMethod(input: $input) {
    paymentMethod { id brand last4 expMonth expYear isDefault }
    userErrors { field code message }
  }
}
"""
ORDER = """
query ($id: ID!) {
  continuityOrder(id: $id) {
    status
    payments(first: 100) {
      nodes { kind purpose status attempts failureCode gatewayReference amount { amount } }
    }
    lines(first: 100) { nodes { childOrder { id status } } }
    history(first: 100) { nodes { action reason details } }
  }
}
"""
GIFT_BOX_TOTAL = 12900


def _app(settings: Settings, standin: StripeStandIn) -> TestClient:
    gateway = StripeGateway(
        API_KEY,
        api_base=standin.url,
        webhook_secret=WEBHOOK_SECRET,
        timeout=2.0,
        max_network_retries=1,
    )
    return TestClient(create_app(settings, gateway=gateway, clock=lambda: API_TODAY))


@pytest.fixture
def stripe_client(settings: Settings, standin: StripeStandIn) -> Iterator[TestClient]:
    with _app(settings, standin) as client:
        yield as_admin(client)


def _customer(
    client: TestClient, standin: StripeStandIn, card: str = "pm_card_visa"
) -> dict[str, str]:
    created = gql(
        client,
        CREATE,
        input={
            "accountNumber": "C-100",
            "name": "Grace Hopper",
            "email": "grace@example.com",
            "addresses": [ADDRESS],
        },
    )["createCustomer"]
    customer = created["customer"]
    token = standin.saved_card(card, customer="cus_grace")
    added = gql(client, ADD_CARD, input={"customerId": customer["id"], "gatewayToken": token})
    assert added["addPaymentMethod"]["userErrors"] == []
    return {
        "customerId": customer["id"],
        "shipToAddressId": customer["addresses"]["nodes"][0]["id"],
        "paymentMethodId": added["addPaymentMethod"]["paymentMethod"]["id"],
    }


def _order(client: TestClient, ids: dict[str, str], sku: str) -> str:
    payload = place(client, ids, {"sku": sku})
    assert payload["userErrors"] == []
    order_id: str = payload["continuityOrders"][0]["id"]
    return order_id


def _payments(client: TestClient, order_id: str) -> list[dict[str, Any]]:
    order = gql(client, ORDER, id=order_id)["continuityOrder"]
    payments: list[dict[str, Any]] = order["payments"]["nodes"]
    return payments


def _webhook(client: TestClient, kind: str, item: dict[str, Any], event_id: str) -> dict[str, Any]:
    body, headers = signed_event(kind, item, event_id=event_id)
    response = client.post("/webhooks/stripe", content=body, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _rows(client: TestClient, model: Any, **where: Any) -> list[Any]:
    async def read() -> list[Any]:
        return list(await model.filter(**where).order_by("id"))

    rows: list[Any] = client.portal.call(read)  # type: ignore[union-attr]
    return rows


# --- cards ------------------------------------------------------------------------------------


def test_add_payment_method_reads_the_card_from_stripe(
    stripe_client: TestClient, standin: StripeStandIn
) -> None:
    created = gql(
        stripe_client, CREATE, input={"accountNumber": "C-1", "name": "Ada", "addresses": [ADDRESS]}
    )["createCustomer"]["customer"]
    token = standin.saved_card("pm_card_mastercard", customer="cus_ada")
    added = gql(
        stripe_client, ADD_CARD, input={"customerId": created["id"], "gatewayToken": token}
    )["addPaymentMethod"]
    assert added["userErrors"] == []
    assert {k: v for k, v in added["paymentMethod"].items() if k != "id"} == {
        "brand": "mastercard",
        "last4": "4444",
        "expMonth": 12,
        "expYear": 2034,
        "isDefault": True,
    }
    assert standin.requests[-1].path == f"/v1/payment_methods/{token}"
    [card] = _rows(stripe_client, PaymentMethod)
    assert (card.gateway_token, card.gateway_customer) == (token, "cus_ada")

    def refused(**fields: Any) -> list[dict[str, Any]]:
        payload = gql(stripe_client, ADD_CARD, input={"customerId": created["id"], **fields})
        errors: list[dict[str, Any]] = payload["addPaymentMethod"]["userErrors"]
        return [{k: e[k] for k in ("field", "code")} for e in errors]

    assert refused(gatewayToken="pm_missing") == [
        {"field": ["input", "gatewayToken"], "code": "INVALID_INPUT"}
    ]
    assert refused(gatewayToken=token, gatewayCustomer="cus_someone_else") == [
        {"field": ["input", "gatewayCustomer"], "code": "INVALID_INPUT"}
    ]
    standin.fail_next(2, status=503)  # Stripe does not answer: nothing is saved
    assert refused(gatewayToken=token) == [
        {"field": ["input", "gatewayToken"], "code": "GATEWAY_UNAVAILABLE"}
    ]
    assert len(_rows(stripe_client, PaymentMethod)) == 1


GATEWAY = "{ callCenterParameters { paymentGateway } }"


def test_the_gateway_in_use_is_visible(stripe_client: TestClient) -> None:
    assert gql(stripe_client, GATEWAY)["callCenterParameters"] == {"paymentGateway": "stripe"}


def test_on_the_test_gateway_the_card_details_are_typed(client: TestClient) -> None:
    assert gql(client, GATEWAY)["callCenterParameters"] == {"paymentGateway": "test"}
    created = gql(
        client, CREATE, input={"accountNumber": "C-2", "name": "Bo", "addresses": [ADDRESS]}
    )["createCustomer"]["customer"]
    payload = gql(client, ADD_CARD, input={"customerId": created["id"], "gatewayToken": "tok_x"})
    assert [e["field"] for e in payload["addPaymentMethod"]["userErrors"]] == [["input", "brand"]]


def test_invoicing_captures_what_the_child_order_authorized(
    stripe_client: TestClient, standin: StripeStandIn
) -> None:
    order_id = _order(stripe_client, _customer(stripe_client, standin), "VITREFILL")
    run = gql(
        stripe_client,
        "mutation { runJob(input: {job: CREATE_CHILD_ORDERS}) { runs { counts } } }",
    )["runJob"]["runs"][0]
    assert run["counts"]["authorized"] == 1
    child = gql(stripe_client, ORDER, id=order_id)["continuityOrder"]["lines"]["nodes"][0][
        "childOrder"
    ]
    ship = """mutation ($id: ID!) { markChildOrderShipped(input: {childOrderId: $id}) {
        childOrder { status } userErrors { field code } } }"""
    gql(stripe_client, ship, id=child["id"])
    invoiced = gql(
        stripe_client, ship.replace("markChildOrderShipped", "invoiceChildOrder"), id=child["id"]
    )
    assert invoiced["invoiceChildOrder"]["childOrder"] == {"status": "INVOICED"}
    payments = _payments(stripe_client, order_id)
    assert [(p["kind"], p["status"]) for p in payments] == [
        ("AUTHORIZATION", "SUCCEEDED"),
        ("CHARGE", "SUCCEEDED"),
    ]
    reference = payments[0]["gatewayReference"]
    assert payments[1]["gatewayReference"] == reference
    [capture] = standin.posts(f"/v1/payment_intents/{reference}/capture")
    assert capture.form == {"amount_to_capture": "2450"}


# --- webhooks ---------------------------------------------------------------------------------


def test_a_bad_or_missing_signature_is_refused_and_changes_nothing(
    stripe_client: TestClient, standin: StripeStandIn
) -> None:
    ids = _customer(stripe_client, standin)
    standin.lose_next(2)  # Stripe charges; the answers never arrive: unknown
    order_id = _order(stripe_client, ids, "GIFTBOX6")
    [payment] = _payments(stripe_client, order_id)
    assert payment["status"] == "UNKNOWN"
    [intent] = standin.intents.values()
    body, headers = signed_event("payment_intent.succeeded", intent, event_id="evt_1")
    forged = {**headers, "Stripe-Signature": headers["Stripe-Signature"][:-4] + "0000"}
    for sent in (forged, {"Content-Type": "application/json"}):
        response = stripe_client.post("/webhooks/stripe", content=body, headers=sent)
        assert response.status_code == 400
    assert _payments(stripe_client, order_id) == [payment]
    assert _rows(stripe_client, GatewayEvent) == []


def test_a_succeeded_event_settles_an_unknown_payment_once(
    stripe_client: TestClient, standin: StripeStandIn
) -> None:
    ids = _customer(stripe_client, standin)
    standin.lose_next(2)
    order_id = _order(stripe_client, ids, "GIFTBOX6")
    [intent] = standin.intents.values()
    answer = _webhook(stripe_client, "payment_intent.succeeded", intent, "evt_1")
    assert answer == {"received": True, "outcome": "settled"}
    [payment] = _payments(stripe_client, order_id)
    assert (payment["status"], payment["attempts"], payment["gatewayReference"]) == (
        "SUCCEEDED",
        1,
        intent["id"],
    )
    # Stripe redelivers: handled once
    again = _webhook(stripe_client, "payment_intent.succeeded", intent, "evt_1")
    assert again["outcome"] == "duplicate"
    # another event about the same outcome changes nothing either
    same = _webhook(stripe_client, "payment_intent.succeeded", intent, "evt_2")
    assert same["outcome"] == "already_recorded"
    assert [(e.key, e.outcome) for e in _rows(stripe_client, GatewayEvent)] == [
        ("stripe:evt_1", "settled"),
        ("stripe:evt_2", "already_recorded"),
    ]
    assert _payments(stripe_client, order_id) == [payment]
    # the payments job has nothing left to ask Stripe
    posts = len(standin.posts("/v1/payment_intents"))
    gql(stripe_client, "mutation { runJob(input: {job: PROCESS_PAYMENTS}) { runs { id } } }")
    assert len(standin.posts("/v1/payment_intents")) == posts


def test_a_failed_event_settles_an_unknown_payment_as_declined(
    stripe_client: TestClient, standin: StripeStandIn
) -> None:
    ids = _customer(stripe_client, standin, "pm_card_chargeDeclinedInsufficientFunds")
    standin.lose_next(2)
    order_id = _order(stripe_client, ids, "GIFTBOX6")
    [intent] = standin.intents.values()
    assert _payments(stripe_client, order_id)[0]["status"] == "UNKNOWN"
    answer = _webhook(stripe_client, "payment_intent.payment_failed", intent, "evt_f")
    assert answer["outcome"] == "settled"
    [payment] = _payments(stripe_client, order_id)
    assert (payment["status"], payment["attempts"], payment["failureCode"]) == (
        "DECLINED",
        1,
        "INSUFFICIENT_FUNDS",
    )
    later = _webhook(stripe_client, "payment_intent.payment_failed", intent, "evt_g")
    assert later["outcome"] == "already_recorded"
    assert _payments(stripe_client, order_id) == [payment]


def test_a_customer_who_confirms_the_payment_lifts_the_hold(
    stripe_client: TestClient, standin: StripeStandIn
) -> None:
    ids = _customer(stripe_client, standin, "pm_card_authenticationRequired")
    order_id = _order(stripe_client, ids, "GIFTBOX6")
    order = gql(stripe_client, ORDER, id=order_id)["continuityOrder"]
    assert order["status"] == "PAYMENT_HOLD"
    assert (
        order["payments"]["nodes"][0]["status"],
        order["payments"]["nodes"][0]["failureCode"],
    ) == (
        "FAILED",
        "AUTHENTICATION_REQUIRED",
    )
    [intent] = standin.intents.values()
    assert intent["status"] == "requires_action"
    # the customer confirms it with their bank (Stripe.js, on session); Stripe tells us
    intent = {**intent, "status": "succeeded", "amount_received": GIFT_BOX_TOTAL}
    assert _webhook(stripe_client, "payment_intent.succeeded", intent, "evt_ok")["outcome"] == (
        "settled"
    )
    order = gql(stripe_client, ORDER, id=order_id)["continuityOrder"]
    assert (order["status"], order["payments"]["nodes"][0]["status"]) == ("ACTIVE", "SUCCEEDED")
    assert order["history"]["nodes"][-1]["action"] == "PAYMENT_HOLD_RELEASED"


def test_a_refund_event_settles_our_refund_and_notes_one_made_elsewhere(
    stripe_client: TestClient, standin: StripeStandIn
) -> None:
    order_id = _order(stripe_client, _customer(stripe_client, standin), "GIFTBOX6")
    [paid] = _payments(stripe_client, order_id)
    standin.lose_next(2)  # Stripe refunds; the answers are lost
    cancel = """mutation ($id: ID!) { cancelOrder(input: {orderId: $id, reasonCode: DUPLICATE}) {
        userErrors { code } } }"""
    assert gql(stripe_client, cancel, id=order_id)["cancelOrder"]["userErrors"] == []
    refund = _payments(stripe_client, order_id)[1]
    assert (refund["kind"], refund["status"]) == ("REFUND", "UNKNOWN")
    charge = {
        "id": "ch_1",
        "object": "charge",
        "payment_intent": paid["gatewayReference"],
        "amount": GIFT_BOX_TOTAL,
        "amount_refunded": GIFT_BOX_TOTAL,
        "currency": "usd",
    }
    assert _webhook(stripe_client, "charge.refunded", charge, "evt_r1")["outcome"] == "settled"
    assert _payments(stripe_client, order_id)[1]["status"] == "SUCCEEDED"
    elsewhere = {**charge, "amount_refunded": GIFT_BOX_TOTAL + 100}
    assert _webhook(stripe_client, "charge.refunded", elsewhere, "evt_r2")["outcome"] == (
        "external_refund"
    )
    entry = gql(stripe_client, ORDER, id=order_id)["continuityOrder"]["history"]["nodes"][-1]
    assert entry["action"] == "REFUNDED_OUTSIDE"
    assert entry["details"]["refunded"] == {"amount": "130.00", "currency": "USD"}


def test_a_dispute_goes_to_the_history_and_to_the_operators(
    settings: Settings, standin: StripeStandIn
) -> None:
    notifications = settings.notifications.model_copy(
        update={"smtp_host": "127.0.0.1", "operator_email": "ops@example.com"}
    )
    with _app(settings.model_copy(update={"notifications": notifications}), standin) as raw:
        client = as_admin(raw)
        order_id = _order(client, _customer(client, standin), "GIFTBOX6")
        [paid] = _payments(client, order_id)
        dispute = {
            "id": "dp_1",
            "object": "dispute",
            "charge": "ch_1",
            "payment_intent": paid["gatewayReference"],
            "amount": GIFT_BOX_TOTAL,
            "currency": "usd",
            "reason": "fraudulent",
            "status": "needs_response",
        }
        assert _webhook(client, "charge.dispute.created", dispute, "evt_d")["outcome"] == (
            "disputed"
        )
        entry = gql(client, ORDER, id=order_id)["continuityOrder"]["history"]["nodes"][-1]
        assert (entry["action"], entry["reason"], entry["details"]["dispute"]) == (
            "PAYMENT_DISPUTED",
            "fraudulent",
            "dp_1",
        )
        [told] = _rows(client, Notification, event_type="payment_disputed")
        assert (told.channel, told.recipient) == ("email", "ops@example.com")  # not the customer
        assert (told.payload["reason"], told.payload["amount"]) == (
            "fraudulent",
            {"amount": "129.00", "currency": "USD"},
        )
