"""The changes after placement over HTTP: one success and refusals per mutation, each refusal
checked to have written nothing (docs/CHANGES.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from starlette.testclient import TestClient

from config.settings import Settings
from continuity.payments.gateway import TestGateway
from server.app import create_app
from tests.api.customers import ADD_CARD, ADDRESS, CREATE, make_customer, place
from tests.api.graphql import flat, global_id, gql
from tests.conftest import as_admin, bearer, issue_token

pytestmark = pytest.mark.db

ORDER = """
query ($id: ID!) {
  continuityOrder(id: $id) {
    number status quantity pausedUntil cancelReason closedAt
    shipTo { id city } paymentMethod { id last4 }
    lines(first: 100) { nodes { eventNumber repeatIndex sku quantity price { amount }
      plannedShipDate status } }
    payments { nodes { kind purpose status amount { amount } } }
    history(last: 100) { nodes { actor action reason details } }
  }
}
"""
RESULT = """
  continuityOrder { id status quantity pausedUntil cancelReason shipTo { id } paymentMethod { id }
    lines(first: 100) { nodes { eventNumber repeatIndex sku quantity price { amount }
      plannedShipDate status } } }
  userErrors { field code message }
"""


def mutate(
    client: TestClient, name: str, input_type: str, token: str | None = None, **fields: Any
) -> dict[str, Any]:
    """Call a change mutation as the client's admin, or as the holder of ``token``."""
    document = f"mutation ($input: {input_type}!) {{ {name}(input: $input) {{ {RESULT} }} }}"
    response = client.post(
        "/graphql",
        headers=bearer(token) if token else None,
        json={"query": document, "variables": {"input": fields}},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    payload: dict[str, Any] = flat(body["data"][name])
    return payload


def order_state(client: TestClient, order_id: str) -> dict[str, Any]:
    order: dict[str, Any] = flat(gql(client, ORDER, id=order_id)["continuityOrder"])
    return order


def new_order(client: TestClient, sku: str = "BOOKCLUB", **line: Any) -> tuple[dict[str, str], str]:
    ids = make_customer(client)
    placed = place(client, ids, {"sku": sku, **line})
    assert placed["userErrors"] == []
    return ids, placed["continuityOrders"][0]["id"]


def errors(payload: dict[str, Any]) -> list[tuple[str, list[str]]]:
    assert payload["continuityOrder"] is None
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


def refused_without_change(
    client: TestClient,
    order_id: str,
    name: str,
    input_type: str,
    expected: tuple[str, list[str]],
    **fields: Any,
) -> None:
    before = order_state(client, order_id)
    payload = mutate(client, name, input_type, orderId=order_id, **fields)
    assert errors(payload) == [expected]
    assert order_state(client, order_id) == before


def last(order: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = order["history"][-1]
    return entry


# --- skipShipment ---------------------------------------------------------------------------


def test_skip_shipment(client: TestClient) -> None:
    _, order_id = new_order(client)
    payload = mutate(
        client,
        "skipShipment",
        "SkipShipmentInput",
        orderId=order_id,
        eventNumber=2,
        repeatIndex=0,
        reason="away in February",
    )
    assert payload["userErrors"] == []
    skipped = [ln for ln in payload["continuityOrder"]["lines"] if ln["status"] == "SKIPPED"]
    assert [(ln["eventNumber"], ln["plannedShipDate"]) for ln in skipped] == [
        (2, "2027-02-28"),
        (7, "2027-07-31"),
    ]
    order = order_state(client, order_id)
    entry = last(order)
    assert (entry["action"], entry["actor"], entry["reason"]) == (
        "SKIPPED",
        "admin:test",
        "away in February",
    )
    assert (entry["details"]["event_number"], entry["details"]["after"]) == (
        2,
        {"status": "skipped"},
    )
    upcoming = gql(
        client,
        "query ($id: ID!) { upcomingShipments(orderId: $id, count: 2) { eventNumber } }",
        id=order_id,
    )["upcomingShipments"]
    assert upcoming == [{"eventNumber": 1}, {"eventNumber": 3}]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"eventNumber": 7}, ("INVALID_STATE", ["input", "eventNumber"])),
        ({"eventNumber": 42}, ("NOT_FOUND", ["input", "eventNumber"])),
        ({"eventNumber": 2, "reason": "x" * 501}, ("VALUE_TOO_LONG", ["input", "reason"])),
    ],
)
def test_skip_shipment_refused(
    client: TestClient, fields: dict[str, Any], expected: tuple[str, list[str]]
) -> None:
    _, order_id = new_order(client)
    refused_without_change(
        client, order_id, "skipShipment", "SkipShipmentInput", expected, **fields
    )


def test_unknown_order_ids(client: TestClient) -> None:
    ids = make_customer(client)
    for order_id, code in [
        (global_id("ContinuityOrder", 999), "NOT_FOUND"),
        ("999", "INVALID_INPUT"),
        ("abc", "INVALID_INPUT"),
        (ids["customerId"], "INVALID_INPUT"),  # a customer's id where an order's is expected
    ]:
        payload = mutate(
            client, "skipShipment", "SkipShipmentInput", orderId=order_id, eventNumber=1
        )
        assert errors(payload) == [(code, ["input", "orderId"])]


# --- pauseOrder / resumeOrder -----------------------------------------------------------------


def test_pause_and_resume(client: TestClient) -> None:
    _, order_id = new_order(client)
    planned = [ln["plannedShipDate"] for ln in order_state(client, order_id)["lines"]]
    paused = mutate(
        client,
        "pauseOrder",
        "PauseOrderInput",
        orderId=order_id,
        until="2027-03-01",
        reason="moving house",
    )
    assert paused["userErrors"] == []
    assert (paused["continuityOrder"]["status"], paused["continuityOrder"]["pausedUntil"]) == (
        "PAUSED",
        "2027-03-01",
    )
    entry = last(order_state(client, order_id))
    assert (entry["action"], entry["actor"], entry["reason"]) == (
        "PAUSED",
        "admin:test",
        "moving house",
    )
    web = issue_token(client, "customer", name="web", customer="C-100")
    resumed = mutate(client, "resumeOrder", "ResumeOrderInput", token=web, orderId=order_id)
    assert resumed["userErrors"] == []
    order = order_state(client, order_id)
    assert (order["status"], order["pausedUntil"]) == ("ACTIVE", None)
    assert [ln["plannedShipDate"] for ln in order["lines"]] == planned  # nothing was missed
    entry = last(order)
    assert (entry["action"], entry["actor"], entry["details"]["lines_rescheduled"]) == (
        "RESUMED",
        "customer:web",
        0,
    )


@pytest.fixture
def calendar() -> list[date]:
    return [date(2027, 1, 31)]


@pytest.fixture
def dated_client(
    settings: Settings, gateway: TestGateway, calendar: list[date]
) -> Iterator[TestClient]:
    """A client whose business date the test moves (``calendar[0]``)."""
    with TestClient(create_app(settings, gateway=gateway, clock=lambda: calendar[0])) as client:
        yield as_admin(client)


def test_resume_after_missed_dates_replans_from_today(
    dated_client: TestClient, calendar: list[date]
) -> None:
    _, order_id = new_order(dated_client)
    calendar[0] = date(2027, 2, 10)
    assert (
        mutate(dated_client, "pauseOrder", "PauseOrderInput", orderId=order_id)["userErrors"] == []
    )
    calendar[0] = date(2027, 3, 15)
    resumed = mutate(dated_client, "resumeOrder", "ResumeOrderInput", orderId=order_id)
    assert resumed["userErrors"] == []
    pending = [
        (ln["eventNumber"], ln["plannedShipDate"])
        for ln in resumed["continuityOrder"]["lines"]
        if ln["status"] == "PENDING"
    ]
    assert len(pending) == 11
    assert pending[:3] == [(1, "2027-03-15"), (2, "2027-04-15"), (3, "2027-05-15")]
    assert pending[-1] == (12, "2028-02-15")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"until": "2027-01-31"}, ("INVALID_INPUT", ["input", "until"])),
        ({"until": "2026-12-25"}, ("INVALID_INPUT", ["input", "until"])),
    ],
)
def test_pause_refused(
    client: TestClient, fields: dict[str, Any], expected: tuple[str, list[str]]
) -> None:
    _, order_id = new_order(client)
    refused_without_change(client, order_id, "pauseOrder", "PauseOrderInput", expected, **fields)


def test_pause_twice_and_resume_an_active_order_are_refused(client: TestClient) -> None:
    _, order_id = new_order(client)
    state = ("INVALID_STATE", ["input", "orderId"])
    refused_without_change(client, order_id, "resumeOrder", "ResumeOrderInput", state)
    assert mutate(client, "pauseOrder", "PauseOrderInput", orderId=order_id)["userErrors"] == []
    refused_without_change(client, order_id, "pauseOrder", "PauseOrderInput", state)


# --- changeShipTo -----------------------------------------------------------------------------


def test_change_ship_to(client: TestClient) -> None:
    created = gql(
        client,
        CREATE,
        input={
            "accountNumber": "C-300",
            "name": "Grace Hopper",
            "addresses": [ADDRESS, {**ADDRESS, "city": "Washington", "postalCode": "20001"}],
        },
    )["createCustomer"]
    customer = created["customer"]
    card = gql(
        client,
        ADD_CARD,
        input={
            "customerId": customer["id"],
            "gatewayToken": "tok_visa",
            "brand": "visa",
            "last4": "4242",
            "expMonth": 12,
            "expYear": 2031,
        },
    )["addPaymentMethod"]["paymentMethod"]
    home, office = (a["id"] for a in customer["addresses"]["nodes"])
    ids = {"customerId": customer["id"], "shipToAddressId": home, "paymentMethodId": card["id"]}
    order_id = place(client, ids, {"sku": "BOOKCLUB"})["continuityOrders"][0]["id"]
    payload = mutate(
        client, "changeShipTo", "ChangeShipToInput", orderId=order_id, addressId=office
    )
    assert payload["userErrors"] == []
    order = order_state(client, order_id)
    assert order["shipTo"] == {"id": office, "city": "Washington"}
    entry = last(order)
    assert (entry["action"], entry["reason"], entry["details"]["before"]) == (
        "SHIP_TO_CHANGED",
        None,
        {"ship_to_id": home},  # ids in details are global ids
    )
    assert entry["details"]["after"]["ship_to_id"] == office


def test_change_ship_to_refused(client: TestClient) -> None:
    ids, order_id = new_order(client)
    other = make_customer(client, account="C-200")
    refused_without_change(
        client,
        order_id,
        "changeShipTo",
        "ChangeShipToInput",
        ("NOT_FOUND", ["input", "addressId"]),
        addressId=other["shipToAddressId"],
    )
    refused_without_change(
        client,
        order_id,
        "changeShipTo",
        "ChangeShipToInput",
        ("INVALID_INPUT", ["input", "addressId"]),
        addressId=ids["shipToAddressId"],
    )


# --- changePaymentMethod ----------------------------------------------------------------------


def _add_card(client: TestClient, customer_id: str, **card: Any) -> str:
    added = gql(
        client,
        ADD_CARD,
        input={
            "customerId": customer_id,
            "gatewayToken": "tok_mastercard",
            "brand": "mastercard",
            "last4": "5454",
            "expMonth": 6,
            "expYear": 2030,
            **card,
        },
    )["addPaymentMethod"]
    assert added["userErrors"] == []
    card_id: str = added["paymentMethod"]["id"]
    return card_id


def test_change_payment_method_moves_unpaid_installments(client: TestClient) -> None:
    ids, order_id = new_order(client, "WINECLUB12")
    new = _add_card(client, ids["customerId"])
    payload = mutate(
        client,
        "changePaymentMethod",
        "ChangePaymentMethodInput",
        orderId=order_id,
        paymentMethodId=new,
        reason="old card lost",
    )
    assert payload["userErrors"] == []
    assert payload["continuityOrder"]["paymentMethod"] == {"id": new}
    order = order_state(client, order_id)
    assert order["paymentMethod"] == {"id": new, "last4": "5454"}
    entry = last(order)
    assert (entry["action"], entry["reason"], entry["details"]["payments_moved"]) == (
        "PAYMENT_METHOD_CHANGED",
        "old card lost",
        2,  # installments 2 and 3
    )


def test_change_payment_method_refused(client: TestClient) -> None:
    ids, order_id = new_order(client)
    other = make_customer(client, account="C-200")
    expiring = _add_card(client, ids["customerId"], expMonth=1, expYear=2027)
    for method, expected in [
        (other["paymentMethodId"], ("NOT_FOUND", ["input", "paymentMethodId"])),
        (ids["paymentMethodId"], ("INVALID_INPUT", ["input", "paymentMethodId"])),
        ("x", ("INVALID_INPUT", ["input", "paymentMethodId"])),
        (global_id("PaymentMethod", 999), ("NOT_FOUND", ["input", "paymentMethodId"])),
    ]:
        refused_without_change(
            client,
            order_id,
            "changePaymentMethod",
            "ChangePaymentMethodInput",
            expected,
            paymentMethodId=method,
        )
    assert expiring  # valid through January 2027: accepted today (2027-01-31)
    assert (
        mutate(
            client,
            "changePaymentMethod",
            "ChangePaymentMethodInput",
            orderId=order_id,
            paymentMethodId=expiring,
        )["userErrors"]
        == []
    )


def test_change_to_an_expired_card_is_refused(
    dated_client: TestClient, calendar: list[date]
) -> None:
    ids, order_id = new_order(dated_client)
    expiring = _add_card(dated_client, ids["customerId"], expMonth=1, expYear=2027)
    calendar[0] = date(2027, 2, 1)
    refused_without_change(
        dated_client,
        order_id,
        "changePaymentMethod",
        "ChangePaymentMethodInput",
        ("PAYMENT_METHOD_EXPIRED", ["input", "paymentMethodId"]),
        paymentMethodId=expiring,
    )


# --- swapItem ---------------------------------------------------------------------------------


def test_swap_item(client: TestClient) -> None:
    _, order_id = new_order(client)
    payload = mutate(
        client,
        "swapItem",
        "SwapItemInput",
        orderId=order_id,
        fromSku="BOOK-002",
        toSku="BOOK-013",
        reason="already read it",
    )
    assert payload["userErrors"] == []
    line = next(ln for ln in payload["continuityOrder"]["lines"] if ln["eventNumber"] == 2)
    assert (line["sku"], line["price"], line["status"]) == (
        "BOOK-013",
        {"amount": "13.99"},
        "PENDING",
    )
    entry = last(order_state(client, order_id))
    assert (entry["action"], entry["reason"]) == ("ITEM_SWAPPED", "already read it")
    assert entry["details"]["after"]["price"] == [{"amount": "13.99", "currencyCode": "USD"}]
    assert (entry["details"]["before"]["sku"], entry["details"]["after"]["sku"]) == (
        "BOOK-002",
        "BOOK-013",
    )


@pytest.mark.parametrize(
    ("from_sku", "to_sku", "expected"),
    [
        ("BOOK-002", "NOPE", ("UNKNOWN_SKU", ["input", "toSku"])),
        ("BOOK-002", "BOOK-007", ("PRODUCT_INACTIVE", ["input", "toSku"])),
        ("BOOK-002", "GIFTBOX6", ("INVALID_INPUT", ["input", "toSku"])),
        ("COF-HOUSE-12", "BOOK-013", ("NOT_FOUND", ["input", "fromSku"])),
    ],
)
def test_swap_item_refused(
    client: TestClient, from_sku: str, to_sku: str, expected: tuple[str, list[str]]
) -> None:
    _, order_id = new_order(client)
    refused_without_change(
        client, order_id, "swapItem", "SwapItemInput", expected, fromSku=from_sku, toSku=to_sku
    )


# --- changeQuantity ---------------------------------------------------------------------------


def test_change_quantity(client: TestClient) -> None:
    _, order_id = new_order(client, "VITREFILL")
    payload = mutate(client, "changeQuantity", "ChangeQuantityInput", orderId=order_id, quantity=3)
    assert payload["userErrors"] == []
    order = payload["continuityOrder"]
    assert order["quantity"] == 3
    assert {ln["quantity"] for ln in order["lines"]} == {3}
    upcoming = gql(
        client,
        "query ($id: ID!) { upcomingShipments(orderId: $id, count: 4) { amount { amount } } }",
        id=order_id,
    )["upcomingShipments"]
    assert [s["amount"]["amount"] for s in upcoming] == ["73.50"] * 4
    entry = last(order_state(client, order_id))
    assert (entry["action"], entry["details"]["before"], entry["details"]["after"]) == (
        "QUANTITY_CHANGED",
        {"quantity": 1},
        {"quantity": 3},
    )


def test_change_quantity_refused(client: TestClient) -> None:
    ids, gift = new_order(client, "GIFTBOX6")
    refused_without_change(
        client,
        gift,
        "changeQuantity",
        "ChangeQuantityInput",
        ("INVALID_STATE", ["input", "orderId"]),
        quantity=2,
    )
    book = place(client, ids, {"sku": "BOOKCLUB"})["continuityOrders"][0]["id"]
    for quantity in [0, 1001]:
        refused_without_change(
            client,
            book,
            "changeQuantity",
            "ChangeQuantityInput",
            ("INVALID_INPUT", ["input", "quantity"]),
            quantity=quantity,
        )


# --- cancelOrder ------------------------------------------------------------------------------


def test_cancel_order_refunds_the_prepaid_amount(client: TestClient, gateway: TestGateway) -> None:
    _, order_id = new_order(client, "GIFTBOX6")
    assert gateway.moved_minor == 12900
    payload = mutate(
        client,
        "cancelOrder",
        "CancelOrderInput",
        orderId=order_id,
        reasonCode="CUSTOMER_REQUEST",
        reason="the recipient moved abroad",
    )
    assert payload["userErrors"] == []
    assert (payload["continuityOrder"]["status"], payload["continuityOrder"]["cancelReason"]) == (
        "CANCELLED",
        "CUSTOMER_REQUEST",
    )
    assert gateway.moved_minor == 0
    order = order_state(client, order_id)
    assert order["closedAt"] is None
    assert {ln["status"] for ln in order["lines"]} == {"CANCELLED"}
    assert [(p["kind"], p["status"], p["amount"]["amount"]) for p in order["payments"]] == [
        ("CHARGE", "SUCCEEDED", "129.00"),
        ("REFUND", "SUCCEEDED", "129.00"),
    ]
    entry = last(order)
    assert (entry["action"], entry["actor"], entry["reason"]) == (
        "CANCELLED",
        "admin:test",
        "the recipient moved abroad",
    )
    assert entry["details"]["refund"] == {"amount": "129.00", "currencyCode": "USD"}
    assert "refund_minor" not in entry["details"]

    # a second cancel is refused and moves no money
    refused_without_change(
        client,
        order_id,
        "cancelOrder",
        "CancelOrderInput",
        ("INVALID_STATE", ["input", "orderId"]),
        reasonCode="DUPLICATE",
    )
    assert gateway.moved_minor == 0
    # and every other change is refused on a cancelled order
    refused_without_change(
        client,
        order_id,
        "skipShipment",
        "SkipShipmentInput",
        ("INVALID_STATE", ["input", "orderId"]),
        eventNumber=3,
    )


def test_cancel_with_other_needs_a_reason(client: TestClient, gateway: TestGateway) -> None:
    _, order_id = new_order(client, "GIFTBOX6")
    refused_without_change(
        client,
        order_id,
        "cancelOrder",
        "CancelOrderInput",
        ("INVALID_INPUT", ["input", "reason"]),
        reasonCode="OTHER",
    )
    assert gateway.moved_minor == 12900
