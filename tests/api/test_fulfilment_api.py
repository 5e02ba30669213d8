"""A warehouse integrates over HTTP with a ``fulfilment`` token alone: it learns of a child
order from the ``child_order_created`` webhook (or polls ``childOrders``), reads everything it
needs to ship, marks it shipped and invoiced (idempotently, with clear refusals), and the
customer gets the shipment notice; it can read nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import import_module
from typing import Any

import pytest
from starlette.testclient import TestClient
from tortoise import connections
from tortoise.migrations import operations as ops

from config.notifications import NotificationSettings, WebhookSubscriberSettings
from config.settings import Settings
from continuity.enums import Role
from continuity.models import Notification
from continuity.notifications.render import render_email
from continuity.payments.gateway import TestGateway
from schema.ids import encode_id
from server.app import create_app
from tests.api.customers import ADD_CARD, ADDRESS, CREATE, place
from tests.api.graphql import gql, pk_of, program_id
from tests.api.queries import QueryCounter
from tests.api.snapshot import snapshot
from tests.conftest import API_TODAY, as_admin, bearer, issue_token

pytestmark = pytest.mark.db

CHILD = """
fragment Child on ChildOrder {
  id number status consolidated createdFor plannedShipDate createdAt shippedAt invoicedAt
  carrier trackingNumber invoiceNumber continuityOrderNumber continuityOrder { id }
  program { code }
  total { amount currencyCode }
  shipTo { name line1 line2 city region postalCode country }
  contact { accountNumber name email phone }
  items { sku name quantity unitPrice { amount } amount { amount } eventNumber repeatIndex
          plannedShipDate }
  paymentState
  payments { kind status amount { amount currencyCode } dueDate attempts }
}
"""
CHILD_ORDER = CHILD + "query ($id: ID!) { childOrder(id: $id) { ...Child } }"
CHILD_ORDERS = """
query ($status: ChildOrderStatus, $program: ID, $from: Date, $to: Date, $after: DateTime,
       $order: ID, $first: Int, $cursor: String) {
  childOrders(status: $status, programId: $program, plannedShipDateFrom: $from,
              plannedShipDateTo: $to, createdAfter: $after, continuityOrderId: $order,
              first: $first, after: $cursor) {
    totalCount pageInfo { hasNextPage endCursor } nodes { number status plannedShipDate }
  }
}
"""
SHIP = """
mutation ($input: MarkChildOrderShippedInput!) {
  markChildOrderShipped(input: $input) {
    childOrder { id status shippedAt carrier trackingNumber }
    userErrors { field code message }
  }
}
"""
INVOICE = """
mutation ($input: InvoiceChildOrderInput!) {
  invoiceChildOrder(input: $input) {
    childOrder { id status invoicedAt invoiceNumber paymentState }
    userErrors { field code message }
  }
}
"""
RUN = "mutation ($asOf: Date) { runJob(input: {job: ALL, asOf: $asOf}) { runs { status } } }"
SECOND_ADDRESS = {**ADDRESS, "line1": "2 Harbor Road", "city": "Norfolk", "postalCode": "23511"}


@pytest.fixture
def shop(settings: Settings, gateway: TestGateway) -> Iterator[TestClient]:
    """The app with a warehouse's webhook and customer e-mail (nothing is delivered: the
    outbox rows are what the tests read)."""
    configured = settings.model_copy(
        update={
            "notifications": NotificationSettings(
                delivery_enabled=False,
                smtp_host="127.0.0.1",
                webhooks=[
                    WebhookSubscriberSettings.model_validate(
                        {
                            "name": "warehouse",
                            "url": "http://127.0.0.1:9/hooks",
                            "secret": "whsec-0123456789abcdef",
                            "events": ["child_order_created"],
                        }
                    )
                ],
            )
        }
    )
    with TestClient(create_app(configured, gateway=gateway, clock=lambda: API_TODAY)) as client:
        yield as_admin(client)


def customer(client: TestClient, account: str = "C-100", card: str = "tok_visa") -> dict[str, str]:
    created = gql(
        client,
        CREATE,
        input={
            "accountNumber": account,
            "name": "Grace Hopper",
            "email": f"{account.lower()}@example.com",
            "phone": "+1 (555) 010-2030",
            "addresses": [ADDRESS, {**SECOND_ADDRESS, "isDefault": False}],
        },
    )["createCustomer"]
    assert created["userErrors"] == []
    found = created["customer"]
    method = gql(
        client,
        ADD_CARD,
        input={
            "customerId": found["id"],
            "gatewayToken": card,
            "brand": "visa",
            "last4": "4242",
            "expMonth": 12,
            "expYear": 2031,
        },
    )["addPaymentMethod"]
    assert method["userErrors"] == []
    addresses = found["addresses"]["nodes"]
    return {
        "customerId": found["id"],
        "shipToAddressId": addresses[0]["id"],
        "paymentMethodId": method["paymentMethod"]["id"],
        "otherAddressId": addresses[1]["id"],
    }


def book_club(client: TestClient, ids: dict[str, str]) -> str:
    placed = place(
        client,
        {k: v for k, v in ids.items() if k != "otherAddressId"},
        {"sku": "BOOKCLUB"},
    )
    assert placed["userErrors"] == []
    order: str = placed["continuityOrders"][0]["id"]
    return order


def post(client: TestClient, token: str, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post(
        "/graphql", headers=bearer(token), json={"query": query, "variables": variables}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def data(client: TestClient, token: str, query: str, **variables: Any) -> dict[str, Any]:
    body = post(client, token, query, **variables)
    assert "errors" not in body, body["errors"]
    found: dict[str, Any] = body["data"]
    return found


def outbox(client: TestClient, event: str) -> list[Notification]:
    async def rows() -> list[Notification]:
        return await Notification.filter(event_type=event).order_by("id")

    found: list[Notification] = client.portal.call(rows)  # type: ignore[union-attr]
    return found


def test_a_warehouse_ships_and_invoices_from_the_webhook_alone(shop: TestClient) -> None:
    ids = customer(shop)
    order_id = book_club(shop, ids)
    gql(shop, RUN)
    [hook] = [n for n in outbox(shop, "child_order_created") if n.channel == "webhook"]
    payload = hook.payload
    child_id = payload["child_order_id"]
    assert child_id == encode_id("ChildOrder", pk_of(child_id))
    assert payload["items"] == [
        {
            "sku": "BOOK-001",
            "name": payload["items"][0]["name"],
            "quantity": 1,
            "unit_price": {"amount": "9.99", "currency": "USD"},
            "amount": {"amount": "9.99", "currency": "USD"},
        }
    ]
    assert payload["ship_to"] == {
        "name": "Grace Hopper",
        "line1": "1 Navy Way",
        "line2": None,
        "city": "Arlington",
        "region": "VA",
        "postal_code": "22202",
        "country": "US",
    }
    assert payload["planned_ship_date"] == "2027-01-31"
    assert payload["program"] == "book-club"
    assert payload["contact"] == {"email": "c-100@example.com", "phone": "+1 (555) 010-2030"}

    warehouse = issue_token(shop, Role.FULFILMENT, name="acme-wh")
    child = data(shop, warehouse, CHILD_ORDER, id=child_id)["childOrder"]
    assert child["number"] == payload["child_order"]
    assert child["status"] == "AUTHORIZED"
    assert child["paymentState"] == "AUTHORIZED"
    assert child["payments"] == [
        {
            "kind": "AUTHORIZATION",
            "status": "SUCCEEDED",
            "amount": {"amount": "9.99", "currencyCode": "USD"},
            "dueDate": "2027-01-31",
            "attempts": 1,
        }
    ]
    assert child["continuityOrder"] is None  # not the warehouse's to read
    assert child["continuityOrderNumber"].startswith("CO-")
    assert child["program"] == {"code": "book-club"}
    assert child["plannedShipDate"] == "2027-01-31"
    assert child["shipTo"]["line1"] == "1 Navy Way"
    assert child["contact"] == {
        "accountNumber": "C-100",
        "name": "Grace Hopper",
        "email": "c-100@example.com",
        "phone": "+1 (555) 010-2030",
    }
    assert [(i["sku"], i["quantity"], i["unitPrice"]["amount"]) for i in child["items"]] == [
        ("BOOK-001", 1, "9.99")
    ]
    assert child["total"] == {"amount": "9.99", "currencyCode": "USD"}

    ship = {
        "childOrderId": child_id,
        "carrier": "UPS",
        "trackingNumber": "1Z999AA10123456784",
        "shippedAt": "2027-01-31T15:00:00+00:00",
    }
    first = data(shop, warehouse, SHIP, input=ship)["markChildOrderShipped"]
    assert first["userErrors"] == []
    assert first["childOrder"]["status"] == "SHIPPED"
    assert first["childOrder"]["trackingNumber"] == "1Z999AA10123456784"
    before = snapshot(shop)
    again = data(shop, warehouse, SHIP, input=ship)["markChildOrderShipped"]
    assert again == first  # the same call twice: the same answer, nothing written
    assert snapshot(shop) == before
    other = data(shop, warehouse, SHIP, input={**ship, "trackingNumber": "1Z-OTHER"})
    assert [e["code"] for e in other["markChildOrderShipped"]["userErrors"]] == ["ALREADY_SHIPPED"]
    assert snapshot(shop) == before

    [notice] = outbox(shop, "child_order_shipped")
    assert (notice.channel, notice.recipient) == ("email", "c-100@example.com")
    assert notice.payload["tracking_number"] == "1Z999AA10123456784"
    assert notice.payload["carrier"] == "UPS"
    assert notice.payload["child_order_id"] == child_id
    mail = render_email(notice.event_type, notice.payload, "en")
    assert mail.subject == f"Your shipment {child['number']} is on its way"
    assert "Carrier: UPS\nTracking number: 1Z999AA10123456784" in mail.body
    assert "Hello Grace Hopper," in mail.body

    invoice = {"childOrderId": child_id, "invoiceNumber": "INV-0001"}
    invoiced = data(shop, warehouse, INVOICE, input=invoice)["invoiceChildOrder"]
    assert invoiced["userErrors"] == []
    assert invoiced["childOrder"]["status"] == "INVOICED"
    assert invoiced["childOrder"]["invoiceNumber"] == "INV-0001"
    assert invoiced["childOrder"]["paymentState"] == "PAID"  # the capture went through
    before = snapshot(shop)
    assert data(shop, warehouse, INVOICE, input=invoice)["invoiceChildOrder"] == invoiced
    assert snapshot(shop) == before
    refused = data(shop, warehouse, INVOICE, input={**invoice, "invoiceNumber": "INV-0002"})
    assert [e["code"] for e in refused["invoiceChildOrder"]["userErrors"]] == ["ALREADY_INVOICED"]

    history = gql(
        shop,
        "query ($id: ID!) { continuityOrder(id: $id) { history { nodes { actor action } } } }",
        id=order_id,
    )["continuityOrder"]["history"]["nodes"]
    assert history[-2:] == [
        {"actor": "fulfilment:acme-wh", "action": "CHILD_ORDER_SHIPPED"},
        {"actor": "fulfilment:acme-wh", "action": "CHILD_ORDER_INVOICED"},
    ]


def test_refusals_have_their_own_codes(shop: TestClient) -> None:
    warehouse = issue_token(shop, Role.FULFILMENT)
    unpaid_order = book_club(shop, customer(shop, "C-200", card="tok_decline"))
    paid_order = book_club(shop, customer(shop, "C-300"))
    gql(shop, RUN)
    children = data(shop, warehouse, CHILD_ORDERS)["childOrders"]["nodes"]
    assert [c["status"] for c in children] == ["CREATED", "AUTHORIZED"]
    by_order = CHILD_ORDERS.replace("number status", "id number status")
    [unpaid] = data(shop, warehouse, by_order, order=unpaid_order)["childOrders"]["nodes"]
    [paid] = data(shop, warehouse, by_order, order=paid_order)["childOrders"]["nodes"]
    assert (unpaid["status"], paid["status"]) == ("CREATED", "AUTHORIZED")
    child_id, paid_id = unpaid["id"], paid["id"]
    before = snapshot(shop)

    def codes(query: str, **fields: Any) -> list[str]:
        payload = next(iter(data(shop, warehouse, query, input=fields).values()))
        assert payload["childOrder"] is None
        return [e["code"] for e in payload["userErrors"]]

    assert codes(SHIP, childOrderId=child_id, carrier="UPS") == ["NOT_PAID"]
    assert codes(INVOICE, childOrderId=paid_id) == ["NOT_SHIPPED"]
    assert codes(SHIP, childOrderId=encode_id("ChildOrder", 999_999)) == ["NOT_FOUND"]
    assert codes(SHIP, childOrderId=paid_id, carrier="  ") == ["INVALID_INPUT"]
    assert codes(SHIP, childOrderId=paid_id, shippedAt="2030-01-01T00:00:00Z") == ["INVALID_INPUT"]
    assert snapshot(shop) == before
    cancelled = gql(
        shop,
        "mutation ($id: ID!) { cancelOrder(input: {orderId: $id, reasonCode: CUSTOMER_REQUEST}) "
        "{ userErrors { code } } }",
        id=paid_order,
    )
    assert cancelled["cancelOrder"]["userErrors"] == []
    before = snapshot(shop)
    assert codes(SHIP, childOrderId=paid_id) == ["CANCELLED"]
    assert snapshot(shop) == before


def test_child_orders_are_polled_oldest_first_with_filters(shop: TestClient) -> None:
    warehouse = issue_token(shop, Role.FULFILMENT)
    for account in ("C-100", "C-200", "C-300"):
        book_club(shop, customer(shop, account))
    gql(shop, RUN)
    listed = data(shop, warehouse, CHILD_ORDERS, first=2)["childOrders"]
    assert listed["totalCount"] == 3
    assert listed["pageInfo"]["hasNextPage"] is True
    rest = data(shop, warehouse, CHILD_ORDERS, cursor=listed["pageInfo"]["endCursor"])
    numbers = [c["number"] for c in listed["nodes"] + rest["childOrders"]["nodes"]]
    assert len(set(numbers)) == 3
    assert numbers == sorted(numbers)  # CH-<date>-<first line id>: creation order

    def count(**filters: Any) -> int:
        found: int = data(shop, warehouse, CHILD_ORDERS, **filters)["childOrders"]["totalCount"]
        return found

    assert count(status="AUTHORIZED") == 3
    assert count(status="SHIPPED") == 0
    assert count(**{"from": "2027-01-31", "to": "2027-01-31"}) == 3
    assert count(**{"from": "2027-02-01"}) == 0
    assert count(program=program_id(shop, "book-club")) == 3
    assert count(program=program_id(shop, "coffee")) == 0
    assert count(after="2000-01-01T00:00:00Z") == 3
    assert count(after="2100-01-01T00:00:00Z") == 0


def test_the_ship_to_is_the_copy_made_at_creation(shop: TestClient) -> None:
    ids = customer(shop)
    order_id = book_club(shop, ids)
    gql(shop, RUN)
    changed = gql(
        shop,
        "mutation ($input: ChangeShipToInput!) { changeShipTo(input: $input) "
        "{ userErrors { code } } }",
        input={"orderId": order_id, "addressId": ids["otherAddressId"]},
    )
    assert changed["changeShipTo"]["userErrors"] == []
    gql(shop, RUN, asOf="2027-02-28")
    warehouse = issue_token(shop, Role.FULFILMENT)
    listed = data(
        shop,
        warehouse,
        "{ childOrders { nodes { plannedShipDate shipTo { line1 city } } } }",
    )["childOrders"]["nodes"]
    assert listed == [
        {"plannedShipDate": "2027-01-31", "shipTo": {"line1": "1 Navy Way", "city": "Arlington"}},
        {
            "plannedShipDate": "2027-02-28",
            "shipTo": {"line1": "2 Harbor Road", "city": "Norfolk"},
        },
    ]


def test_a_warehouse_sees_nothing_else(shop: TestClient) -> None:
    """Least privilege, beyond the role × operation table: a fulfilment token reads no card,
    customer, address or order as an object, places and changes no order."""
    ids = customer(shop)
    order_id = book_club(shop, ids)
    gql(shop, RUN)
    warehouse = issue_token(shop, Role.FULFILMENT)
    for hidden in (ids["paymentMethodId"], ids["customerId"], ids["shipToAddressId"], order_id):
        found = data(shop, warehouse, "query ($id: ID!) { node(id: $id) { id } }", id=hidden)
        assert found == {"node": None}, hidden
    before = snapshot(shop)
    for document, variables in (
        ("query ($id: ID!) { customer(id: $id) { id } }", {"id": ids["customerId"]}),
        ('{ customers(search: "Grace") { nodes { id } } }', {}),
        ("query ($id: ID!) { continuityOrder(id: $id) { id } }", {"id": order_id}),
        ("{ notifications { nodes { id } } }", {}),
        (
            "mutation ($input: PlaceSalesOrderInput!) { placeSalesOrder(input: $input) "
            "{ userErrors { code } } }",
            {
                "input": {
                    "customerId": ids["customerId"],
                    "shipToAddressId": ids["shipToAddressId"],
                    "paymentMethodId": ids["paymentMethodId"],
                    "lines": [{"sku": "BOOKCLUB"}],
                }
            },
        ),
        (
            "mutation ($id: ID!) { pauseOrder(input: {orderId: $id}) { userErrors { code } } }",
            {"id": order_id},
        ),
        (
            "mutation ($input: ChangeShipToInput!) { changeShipTo(input: $input) "
            "{ userErrors { code } } }",
            {"input": {"orderId": order_id, "addressId": ids["otherAddressId"]}},
        ),
    ):
        body = post(shop, warehouse, document, **variables)
        assert body["data"] is None, document
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], document
    assert snapshot(shop) == before
    payments = data(
        shop, warehouse, "{ childOrders { nodes { paymentMethod { id } payments { kind } } } }"
    )
    assert payments["childOrders"]["nodes"] == [
        {"paymentMethod": None, "payments": [{"kind": "AUTHORIZATION"}]}
    ]
    # an agent follows the same link to the card the child order is billed to
    agent = issue_token(shop, Role.AGENT)
    cards = data(shop, agent, "{ childOrders { nodes { paymentMethod { id } } } }")
    assert cards["childOrders"]["nodes"] == [{"paymentMethod": {"id": ids["paymentMethodId"]}}]


def test_a_customer_lists_its_own_child_orders_only(shop: TestClient) -> None:
    book_club(shop, customer(shop, "C-100"))
    book_club(shop, customer(shop, "C-200"))
    gql(shop, RUN)
    mine = issue_token(shop, Role.CUSTOMER, customer="C-100")
    listed = data(shop, mine, "{ childOrders { totalCount nodes { contact { accountNumber } } } }")
    assert listed["childOrders"] == {
        "totalCount": 1,
        "nodes": [{"contact": {"accountNumber": "C-100"}}],
    }


def test_migration_0009_backfills_what_it_adds(shop: TestClient) -> None:
    """Rows older than 0009 get what it adds: a child order its planned ship date (its first
    line's, or its run date when that line was overdue), a customer the digits of its phone."""
    ids = customer(shop)
    late = place(
        shop,
        {k: v for k, v in ids.items() if k != "otherAddressId"},
        {"sku": "BOOKCLUB", "startDate": "2026-12-20"},
    )
    soon = place(
        shop,
        {k: v for k, v in ids.items() if k != "otherAddressId"},
        {"sku": "BOOKCLUB", "startDate": "2027-02-03"},  # within days_before_delivery
    )
    assert late["userErrors"] == soon["userErrors"] == []
    gql(shop, RUN)
    migration = import_module("continuity.migrations.0009_fulfilment").Migration
    backfill = next(op for op in migration.operations if isinstance(op, ops.RunSQL))

    async def run() -> tuple[list[Any], list[Any], list[Any]]:
        conn = connections.get("default")
        read = "SELECT number, planned_ship_date FROM child_order ORDER BY id"
        before = await conn.execute_query_dict(read)
        await conn.execute_script("UPDATE child_order SET planned_ship_date = NULL")
        await conn.execute_script("UPDATE customer SET phone_digits = NULL")
        for statement in backfill.sql:
            await conn.execute_script(statement)
        after = await conn.execute_query_dict(read)
        phones = await conn.execute_query_dict("SELECT phone_digits FROM customer")
        return before, after, phones

    before, after, phones = shop.portal.call(run)  # type: ignore[union-attr]
    assert after == before
    # the overdue lines ship today; the early one on its line's date
    assert [str(r["planned_ship_date"]) for r in after] == [API_TODAY.isoformat(), "2027-02-03"]
    assert phones == [{"phone_digits": "15550102030"}]


def test_a_page_of_child_orders_costs_the_same_queries_for_one_or_many(
    shop: TestClient, query_counter: QueryCounter
) -> None:
    """Everything a warehouse reads of a page of child orders (program, ship-to, contact,
    items, payments) is one query per level, never one per child order."""
    warehouse = issue_token(shop, Role.FULFILMENT)
    query = CHILD + "{ childOrders(first: 50) { nodes { ...Child } } }"

    def count() -> int:
        query_counter.queries.clear()
        data(shop, warehouse, query)
        return len(query_counter.queries)

    book_club(shop, customer(shop, "C-100"))
    gql(shop, RUN)
    one = count()
    for account in ("C-200", "C-300", "C-400"):
        book_club(shop, customer(shop, account))
    gql(shop, RUN)
    assert len(data(shop, warehouse, query)["childOrders"]["nodes"]) == 4
    assert count() == one


def test_polling_by_cursor_sees_every_new_child_order_once(shop: TestClient) -> None:
    """A warehouse that keeps the last endCursor sees each new child order exactly once, even
    those one run creates in the same instant."""
    warehouse = issue_token(shop, Role.FULFILMENT)
    for account in ("C-100", "C-200"):
        book_club(shop, customer(shop, account))
    gql(shop, RUN)
    first = data(shop, warehouse, CHILD_ORDERS)["childOrders"]
    seen = [c["number"] for c in first["nodes"]]
    assert len(seen) == 2
    cursor = first["pageInfo"]["endCursor"]
    assert data(shop, warehouse, CHILD_ORDERS, cursor=cursor)["childOrders"]["nodes"] == []
    gql(shop, RUN, asOf="2027-02-28")  # the next month's books, created in one batch
    new = data(shop, warehouse, CHILD_ORDERS, cursor=cursor)["childOrders"]["nodes"]
    assert len(new) == 2
    assert {c["plannedShipDate"] for c in new} == {"2027-02-28"}
    assert not {c["number"] for c in new} & set(seen)
