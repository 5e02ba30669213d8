"""placeSalesOrder, continuityOrder(s), upcomingShipments and programPreview over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from continuity.payments.gateway import TestGateway
from tests.api.customers import make_customer, place
from tests.api.graphql import gql
from tests.conftest import bearer, issue_token

pytestmark = pytest.mark.db

ORDER = """
query ($id: ID!) {
  continuityOrder(id: $id) {
    number status startDate firstEventNumber quantity billingMode total { amount currency }
    customer { accountNumber } program { id } programVersion { number }
    paymentSchedule { id } shipTo { city } paymentMethod { last4 }
    salesOrder { number }
    lines { eventNumber repeatIndex sku quantity price { amount } plannedShipDate status action
            childOrder { id } }
    payments { purpose status installmentNumber dueDate amount { amount } attempts }
    history { actor action reason details }
  }
}
"""


def test_place_a_book_club_order_with_an_ordinary_line(
    client: TestClient, gateway: TestGateway
) -> None:
    ids = make_customer(client)
    payload = place(client, ids, {"sku": "BOOKCLUB"}, {"sku": "BOOK-001", "quantity": 2})
    assert payload["userErrors"] == []
    sales = payload["salesOrder"]
    assert sales["total"] == {"amount": "29.98", "currency": "USD"}
    assert sales["lines"] == [
        {"lineNumber": 1, "sku": "BOOKCLUB", "kind": "CONTINUITY_PARENT", "quantity": 1},
        {"lineNumber": 2, "sku": "BOOK-001", "kind": "REGULAR", "quantity": 2},
    ]
    assert sales["payments"] == [
        {"purpose": "ORDER_LINES", "status": "SUCCEEDED", "amount": {"amount": "29.98"}}
    ]
    assert gateway.moved_minor == 2998
    [summary] = payload["continuityOrders"]
    assert (summary["status"], summary["startDate"], summary["billingMode"]) == (
        "ACTIVE",
        "2027-01-31",
        "PER_SHIPMENT",
    )
    order = gql(client, ORDER, id=summary["id"])["continuityOrder"]
    assert order["program"] == {"id": "book-club"}
    assert order["customer"] == {"accountNumber": "C-100"}
    lines = order["lines"]
    assert len(lines) == 12
    assert lines[0] == {
        "eventNumber": 1,
        "repeatIndex": 0,
        "sku": "BOOK-001",
        "quantity": 1,
        "price": {"amount": "9.99"},
        "plannedShipDate": "2027-01-31",
        "status": "PENDING",
        "action": "NORMAL",
        "childOrder": None,
    }
    assert (lines[1]["plannedShipDate"], lines[2]["plannedShipDate"]) == (
        "2027-02-28",
        "2027-03-31",
    )
    assert lines[6]["status"] == "SKIPPED"
    assert lines[6]["sku"] is None
    assert order["payments"] == []
    assert [(h["action"], h["actor"]) for h in order["history"]] == [("placed", "admin:test")]


def test_installment_order_and_actor_from_token(client: TestClient) -> None:
    ids = make_customer(client)
    response = client.post(
        "/graphql",
        headers=bearer(issue_token(client, "agent", name="42")),
        json={
            "query": """mutation ($input: PlaceSalesOrderInput!) { placeSalesOrder(input: $input) {
            continuityOrders { id } userErrors { code } } }""",
            "variables": {
                "input": {
                    **ids,
                    "lines": [{"sku": "WINECLUB12", "paymentSchedule": "deposit-balance"}],
                }
            },
        },
    )
    order_id = response.json()["data"]["placeSalesOrder"]["continuityOrders"][0]["id"]
    order = gql(client, ORDER, id=order_id)["continuityOrder"]
    assert order["billingMode"] == "INSTALLMENTS"
    assert order["paymentSchedule"] == {"id": "deposit-balance"}
    payments = order["payments"]
    assert [(p["installmentNumber"], p["status"], p["dueDate"]) for p in payments] == [
        (1, "SUCCEEDED", "2027-01-31"),
        (2, "SCHEDULED", "2027-03-02"),
    ]
    total = order["total"]["amount"]
    assert sum(float(p["amount"]["amount"]) for p in payments) == pytest.approx(float(total))
    assert order["history"][0]["actor"] == "agent:42"


@pytest.mark.parametrize(
    ("line", "code", "field"),
    [
        ({"sku": "NOPE"}, "UNKNOWN_SKU", ["input", "lines", "0", "sku"]),
        ({"sku": "BOOK-007"}, "PRODUCT_INACTIVE", ["input", "lines", "0", "sku"]),
        (
            {"sku": "WINECLUB12", "paymentSchedule": "weekly"},
            "PAYMENT_SCHEDULE_NOT_ALLOWED",
            ["input", "lines", "0", "paymentSchedule"],
        ),
        ({"sku": "BOOKCLUB", "quantity": -1}, "INVALID_INPUT", ["input", "lines", "0", "quantity"]),
    ],
)
def test_bad_orders_write_nothing(
    client: TestClient, line: dict[str, Any], code: str, field: list[str]
) -> None:
    ids = make_customer(client)
    payload = place(client, ids, line)
    assert payload["salesOrder"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)]
    empty = gql(client, "{ continuityOrders { edges { node { id } } } }")
    assert empty["continuityOrders"]["edges"] == []


def test_expired_or_foreign_payment_method_is_refused(client: TestClient) -> None:
    ids = make_customer(client)
    other = make_customer(client, account="C-200")
    payload = place(
        client, {**ids, "paymentMethodId": other["paymentMethodId"]}, {"sku": "BOOKCLUB"}
    )
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("NOT_FOUND", ["input", "paymentMethodId"])
    ]


def test_continuity_orders_filters_and_pages(client: TestClient) -> None:
    ids = make_customer(client)
    other = make_customer(client, account="C-200")
    for sku in ["BOOKCLUB", "VITREFILL", "COFFEECLUB"]:
        assert place(client, ids, {"sku": sku})["userErrors"] == []
    assert place(client, other, {"sku": "BOOKCLUB"})["userErrors"] == []
    query = """query ($customer: ID, $program: ID, $after: String) {
      continuityOrders(customer: $customer, program: $program, first: 2, after: $after) {
        edges { node { program { id } customer { accountNumber } } }
        pageInfo { hasNextPage endCursor } } }"""
    page = gql(client, query, customer=ids["customerId"])["continuityOrders"]
    assert [e["node"]["program"]["id"] for e in page["edges"]] == ["book-club", "vitamins-refill"]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = gql(client, query, customer=ids["customerId"], after=page["pageInfo"]["endCursor"])
    assert [e["node"]["program"]["id"] for e in rest["continuityOrders"]["edges"]] == ["coffee"]
    book = gql(client, query, program="book-club")["continuityOrders"]["edges"]
    assert sorted(e["node"]["customer"]["accountNumber"] for e in book) == ["C-100", "C-200"]
    active = gql(client, "{ continuityOrders(status: CANCELLED) { edges { node { id } } } }")
    assert active["continuityOrders"]["edges"] == []


def test_upcoming_shipments_continue_past_the_materialized_lines(client: TestClient) -> None:
    ids = make_customer(client)
    order_id = place(client, ids, {"sku": "VITREFILL", "quantity": 2})["continuityOrders"][0]["id"]
    shipments = gql(
        client,
        """query ($id: ID!) { upcomingShipments(order: $id, count: 5) {
        eventNumber repeatIndex shipDate materialized amount { amount } charge { amount }
        items { sku quantity } } }""",
        id=order_id,
    )["upcomingShipments"]
    assert [(s["repeatIndex"], s["shipDate"], s["materialized"]) for s in shipments] == [
        (0, "2027-01-31", True),
        (1, "2027-03-02", True),
        (2, "2027-04-01", True),
        (3, "2027-05-01", False),
        (4, "2027-05-31", False),
    ]
    assert all(s["charge"] == s["amount"] for s in shipments)  # billed per shipment
    assert shipments[0]["items"][0]["quantity"] == 2


def test_program_preview(client: TestClient) -> None:
    preview = gql(
        client,
        """{ programPreview(program: "gift-box", startDate: "2027-03-31",
        count: 3) { startDate finite upFrontTotal { amount } installments { number }
        shipments { shipDate charge { amount } } } }""",
    )["programPreview"]
    assert preview["finite"] is True
    assert preview["startDate"] == "2027-04-01"  # days_after_order: 1
    assert [s["shipDate"] for s in preview["shipments"]][:2] == ["2027-04-01", "2027-05-01"]
    assert all(s["charge"] == {"amount": "0.00"} for s in preview["shipments"])
    assert preview["installments"] == []
    wine = gql(
        client,
        """{ programPreview(program: "seasonal-wine", startDate: "2026-06-05") {
          firstEventNumber upFrontTotal { amount }
          installments { number dueDate amount { amount } } } }""",
    )
    wine_preview = wine["programPreview"]
    assert wine_preview["firstEventNumber"] == 6
    # installments fall due from the order date (today), as placement books them
    assert [i["dueDate"] for i in wine_preview["installments"]] == [
        "2027-01-31",
        "2027-02-28",
        "2027-03-31",
    ]
    assert gql(client, '{ programPreview(program: "nope") { finite } }') == {"programPreview": None}
