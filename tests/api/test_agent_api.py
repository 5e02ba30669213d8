"""The agent's side over HTTP: finding a customer by what the caller says (name, account
number, e-mail, phone), back-dating a mail or phone order (its missed shipments go out at the
next run, consolidated per the program), and an order's whole timeline in one query."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from config.notifications import NotificationSettings
from config.settings import Settings
from continuity.enums import Role
from continuity.errors import ErrorCode, InvalidInput
from continuity.orders.placement import check_order_date
from continuity.payments.gateway import TestGateway
from server.app import create_app
from tests.api.customers import ADD_CARD, ADDRESS, CREATE, PLACE
from tests.api.graphql import gql, pk_of
from tests.api.snapshot import snapshot
from tests.conftest import API_TODAY, as_admin, bearer, issue_token

pytestmark = pytest.mark.db

SEARCH = "query ($s: String) { customers(search: $s) { nodes { accountNumber } } }"
CHILDREN = """query ($id: ID!) { childOrders(continuityOrderId: $id) {
  nodes { consolidated plannedShipDate items { sku plannedShipDate } } } }"""
TIMELINE = """query ($id: ID!, $last: Int, $before: DateTime) { continuityOrder(id: $id) {
  timeline(last: $last, before: $before) { at kind summary node { id __typename } } } }"""


@pytest.fixture
def shop(settings: Settings, gateway: TestGateway) -> Iterator[TestClient]:
    """The app with customer e-mail configured (the outbox rows are written, not sent)."""
    configured = settings.model_copy(
        update={
            "notifications": NotificationSettings(delivery_enabled=False, smtp_host="127.0.0.1")
        }
    )
    with TestClient(create_app(configured, gateway=gateway, clock=lambda: API_TODAY)) as client:
        yield as_admin(client)


def customer(client: TestClient, account: str, name: str, email: str, phone: str) -> dict[str, str]:
    created = gql(
        client,
        CREATE,
        input={
            "accountNumber": account,
            "name": name,
            "email": email,
            "phone": phone,
            "addresses": [ADDRESS],
        },
    )["createCustomer"]
    assert created["userErrors"] == []
    card = gql(
        client,
        ADD_CARD,
        input={
            "customerId": created["customer"]["id"],
            "gatewayToken": "tok_visa",
            "brand": "visa",
            "last4": "4242",
            "expMonth": 12,
            "expYear": 2031,
        },
    )["addPaymentMethod"]
    return {
        "customerId": created["customer"]["id"],
        "shipToAddressId": created["customer"]["addresses"]["nodes"][0]["id"],
        "paymentMethodId": card["paymentMethod"]["id"],
    }


def place(client: TestClient, token: str, ids: dict[str, str], sku: str, **extra: Any) -> Any:
    response = client.post(
        "/graphql",
        headers=bearer(token),
        json={"query": PLACE, "variables": {"input": {**ids, "lines": [{"sku": sku}], **extra}}},
    )
    assert response.status_code == 200
    return response.json()


def test_an_agent_finds_a_customer_by_what_the_caller_says(shop: TestClient) -> None:
    customer(shop, "C-100", "Grace Hopper", "Grace.Hopper@Example.com", "+1 (555) 010-2030")
    customer(shop, "C-200", "Alan Turing", "alan@example.org", "+44 20 7946 0958")
    agent = issue_token(shop, Role.AGENT)

    def found(term: str) -> list[str]:
        response = shop.post(
            "/graphql", headers=bearer(agent), json={"query": SEARCH, "variables": {"s": term}}
        )
        return [n["accountNumber"] for n in response.json()["data"]["customers"]["nodes"]]

    assert found("hopper") == ["C-100"]  # part of a name, any case
    assert found("c-200") == ["C-200"]  # a whole account number, any case
    assert found("grace.hopper@example.COM") == ["C-100"]  # a whole e-mail, any case
    assert found("alan@example") == []  # not part of one
    assert found("+1 555 010 2030") == ["C-100"]  # a phone, however written
    assert found("555.010.2030") == ["C-100"]  # without the country code
    assert found("20 7946-0958") == ["C-200"]
    assert found("2030") == []  # too few digits to be a phone number
    assert found("555-999-0000") == []
    assert found("") == ["C-100", "C-200"]


def test_an_agent_back_dates_a_mail_order(shop: TestClient) -> None:
    ids = customer(shop, "C-100", "Grace Hopper", "grace@example.com", "555-010-2030")
    agent = issue_token(shop, Role.AGENT, name="alice")
    taken = API_TODAY - timedelta(days=45)  # 2026-12-17
    books = place(shop, agent, ids, "BOOKCLUB", orderDate=taken.isoformat())
    assert books["data"]["placeSalesOrder"]["userErrors"] == []
    placed = books["data"]["placeSalesOrder"]
    book_order = placed["continuityOrders"][0]["id"]
    assert placed["continuityOrders"][0]["startDate"] == taken.isoformat()
    read = gql(
        shop,
        "query ($id: ID!) { continuityOrder(id: $id) { salesOrder { orderDate } "
        "history(first: 1) { nodes { actor details } } } }",
        id=book_order,
    )["continuityOrder"]
    assert read["salesOrder"]["orderDate"] == taken.isoformat()
    [placed_entry] = read["history"]["nodes"]
    assert placed_entry["actor"] == "agent:alice"
    assert placed_entry["details"]["missed_occurrences"] == 2  # December's and January's
    assert placed_entry["details"]["order_date"] == taken.isoformat()
    assert placed_entry["details"]["keyed_in"] == API_TODAY.isoformat()
    coffee = place(shop, agent, ids, "COFFEECLUB", orderDate=taken.isoformat())
    assert coffee["data"]["placeSalesOrder"]["userErrors"] == []
    coffee_order = coffee["data"]["placeSalesOrder"]["continuityOrders"][0]["id"]

    gql(shop, "mutation { runJob(input: {job: ALL}) { runs { status } } }")
    # book club consolidates past orders: December's and January's books in one box, today
    [box] = gql(shop, CHILDREN, id=book_order)["childOrders"]["nodes"]
    assert box["consolidated"] is True
    assert box["plannedShipDate"] == API_TODAY.isoformat()
    assert [(i["sku"], i["plannedShipDate"]) for i in box["items"]] == [
        ("BOOK-001", "2026-12-17"),
        ("BOOK-002", "2027-01-17"),
    ]
    # coffee does not: each missed bag is its own shipment
    bags = gql(shop, CHILDREN, id=coffee_order)["childOrders"]["nodes"]
    missed = [{i["plannedShipDate"] for i in b["items"]} for b in bags]
    assert len(bags) >= 2
    assert all(len(dates) == 1 and min(dates) < API_TODAY.isoformat() for dates in missed)
    assert len({min(dates) for dates in missed}) == len(bags)  # one box per missed date
    assert not any(b["consolidated"] for b in bags)
    assert {b["plannedShipDate"] for b in bags} == {API_TODAY.isoformat()}


@pytest.mark.parametrize(
    ("days_back", "allowed"), [(0, True), (60, True), (61, False), (-1, False)]
)
def test_back_dating_is_bounded_by_max_backdate_days(
    shop: TestClient, days_back: int, allowed: bool
) -> None:
    ids = customer(shop, "C-100", "Grace Hopper", "grace@example.com", "555-010-2030")
    agent = issue_token(shop, Role.AGENT)
    assert gql(shop, "{ callCenterParameters { maxBackdateDays } }") == {
        "callCenterParameters": {"maxBackdateDays": 60}
    }
    before = snapshot(shop)
    taken = (API_TODAY - timedelta(days=days_back)).isoformat()
    payload = place(shop, agent, ids, "BOOKCLUB", orderDate=taken)["data"]["placeSalesOrder"]
    if allowed:
        assert payload["userErrors"] == []
    else:
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
            ("ORDER_DATE_NOT_ALLOWED", ["input", "orderDate"])
        ]
        assert snapshot(shop) == before


def test_the_parameter_is_configured(settings: Settings, gateway: TestGateway) -> None:
    strict = settings.model_copy(
        update={"call_center": settings.call_center.model_copy(update={"max_backdate_days": 10})}
    )
    with TestClient(create_app(strict, gateway=gateway, clock=lambda: API_TODAY)) as client:
        client = as_admin(client)
        ids = customer(client, "C-100", "Grace Hopper", "grace@example.com", "555-010-2030")
        agent = issue_token(client, Role.AGENT)
        late = (API_TODAY - timedelta(days=11)).isoformat()
        refused = place(client, agent, ids, "BOOKCLUB", orderDate=late)
        errors = refused["data"]["placeSalesOrder"]["userErrors"]
        assert [e["code"] for e in errors] == ["ORDER_DATE_NOT_ALLOWED"]
        assert "at most 10 days back" in errors[0]["message"]


def test_a_customer_cannot_back_date(shop: TestClient) -> None:
    ids = customer(shop, "C-100", "Grace Hopper", "grace@example.com", "555-010-2030")
    mine = issue_token(shop, Role.CUSTOMER, customer="C-100")
    before = snapshot(shop)
    body = place(shop, mine, ids, "BOOKCLUB", orderDate="2027-01-01")
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert snapshot(shop) == before
    # and the rule itself, wherever an order is placed from
    with pytest.raises(InvalidInput) as refused:
        check_order_date(
            date(2027, 1, 1), today=API_TODAY, max_backdate_days=60, may_backdate=False
        )
    assert refused.value.code is ErrorCode.ORDER_DATE_NOT_ALLOWED
    check_order_date(API_TODAY, today=API_TODAY, max_backdate_days=60, may_backdate=False)


def test_an_orders_timeline_in_one_query(shop: TestClient) -> None:
    ids = customer(shop, "C-100", "Grace Hopper", "grace@example.com", "555-010-2030")
    agent = issue_token(shop, Role.AGENT, name="alice")
    placed = place(shop, agent, ids, "BOOKCLUB")["data"]["placeSalesOrder"]
    order_id = placed["continuityOrders"][0]["id"]
    gql(shop, "mutation { runJob(input: {job: ALL}) { runs { status } } }")
    [child] = gql(
        shop,
        "query ($id: ID!) { childOrders(continuityOrderId: $id) { nodes { id } } }",
        id=order_id,
    )["childOrders"]["nodes"]
    shipped = gql(
        shop,
        "mutation ($id: ID!) { markChildOrderShipped(input: {childOrderId: $id, carrier: "
        '"UPS", trackingNumber: "1Z-77"}) { userErrors { code } } }',
        id=child["id"],
    )
    assert shipped["markChildOrderShipped"]["userErrors"] == []

    def read(token: str, **variables: Any) -> list[dict[str, Any]]:
        response = shop.post(
            "/graphql",
            headers=bearer(token),
            json={"query": TIMELINE, "variables": {"id": order_id, **variables}},
        )
        body = response.json()
        assert "errors" not in body, body
        entries: list[dict[str, Any]] = body["data"]["continuityOrder"]["timeline"]
        return entries

    entries = read(agent)
    stamps = [e["at"] for e in entries]
    assert stamps == sorted(stamps, reverse=True)  # newest first
    kinds = {e["kind"] for e in entries}
    assert kinds == {"HISTORY", "CHILD_ORDER", "PAYMENT", "NOTIFICATION"}
    assert entries[0]["kind"] in ("HISTORY", "NOTIFICATION")  # the shipment is the newest
    summaries = [e["summary"] for e in entries]
    assert any(s.startswith("child_order_shipped by admin:") for s in summaries)
    assert any(s.startswith("child_order_shipped email to grace@example.com") for s in summaries)
    assert any(s.startswith("placed by agent:alice") for s in summaries)
    typename = {"HISTORY": "HistoryEntry", "CHILD_ORDER": "ChildOrder", "PAYMENT": "Payment"}
    for entry in entries:
        node = entry["node"]
        assert node["__typename"] == typename.get(entry["kind"], "Notification")
    assert {pk_of(e["node"]["id"]) for e in entries if e["kind"] == "CHILD_ORDER"} == {
        pk_of(child["id"])
    }
    # paging back: the entries older than the third
    older = read(agent, before=entries[2]["at"])
    assert all(e["at"] < entries[2]["at"] for e in older)
    assert older
    assert older[0] in entries[3:]
    assert len(read(agent, last=2)) == 2
    # a customer's own order: everything but the outbox, which customers do not read
    mine = read(issue_token(shop, Role.CUSTOMER, customer="C-100"))
    assert {e["kind"] for e in mine} == {"HISTORY", "CHILD_ORDER", "PAYMENT"}
    refused = shop.post(
        "/graphql",
        headers=bearer(agent),
        json={"query": TIMELINE, "variables": {"id": order_id, "last": 0}},
    ).json()
    assert refused["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
