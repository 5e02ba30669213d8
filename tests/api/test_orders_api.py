"""placeSalesOrder, continuityOrder(s), upcomingShipments and programPreview over HTTP."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from starlette.testclient import TestClient

from continuity.payments.gateway import TestGateway
from tests.api.customers import make_customer, place
from tests.api.graphql import global_id, gql, program_id, schedule_id
from tests.api.queries import QueryCounter
from tests.conftest import bearer, issue_token
from tests.dbutil import on_postgres
from tests.statements import Statements, capturing

pytestmark = pytest.mark.db

ORDER = """
query ($id: ID!) {
  continuityOrder(id: $id) {
    number status startDate firstEventNumber quantity billingMode total { amount currencyCode }
    customer { accountNumber } program { code } programVersion { number }
    paymentSchedule { code } shipTo { city } paymentMethod { last4 }
    salesOrder { number }
    lines(first: 100) { totalCount nodes { eventNumber repeatIndex sku quantity price { amount }
            plannedShipDate status action childOrder { id } } }
    payments { nodes { purpose status installmentNumber dueDate amount { amount } attempts } }
    history { nodes { actor action reason details } }
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
    assert sales["total"] == {"amount": "29.98", "currencyCode": "USD"}
    assert sales["lines"] == [
        {"lineNumber": 1, "sku": "BOOKCLUB", "kind": "CONTINUITY_PARENT", "quantity": 1},
        {"lineNumber": 2, "sku": "BOOK-001", "kind": "REGULAR", "quantity": 2},
    ]
    assert sales["payments"]["nodes"] == [
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
    assert order["program"] == {"code": "book-club"}
    assert order["customer"] == {"accountNumber": "C-100"}
    assert order["total"] is None  # billed per shipment: no up-front total
    assert order["lines"]["totalCount"] == 12
    lines = order["lines"]["nodes"]
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
    assert order["payments"]["nodes"] == []
    history = order["history"]["nodes"]
    assert [(h["action"], h["actor"]) for h in history] == [("PLACED", "admin:test")]


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
                    "lines": [
                        {
                            "sku": "WINECLUB12",
                            "paymentScheduleId": schedule_id(client, "deposit-balance"),
                        }
                    ],
                }
            },
        },
    )
    order_id = response.json()["data"]["placeSalesOrder"]["continuityOrders"][0]["id"]
    order = gql(client, ORDER, id=order_id)["continuityOrder"]
    assert order["billingMode"] == "INSTALLMENTS"
    assert order["paymentSchedule"] == {"code": "deposit-balance"}
    payments = order["payments"]["nodes"]
    assert [(p["installmentNumber"], p["status"], p["dueDate"]) for p in payments] == [
        (1, "SUCCEEDED", "2027-01-31"),
        (2, "SCHEDULED", "2027-03-02"),
    ]
    total = order["total"]["amount"]
    assert sum(float(p["amount"]["amount"]) for p in payments) == pytest.approx(float(total))
    assert order["history"]["nodes"][0]["actor"] == "agent:42"


@pytest.mark.parametrize(
    ("line", "code", "field"),
    [
        ({"sku": "NOPE"}, "UNKNOWN_SKU", ["input", "lines", "0", "sku"]),
        ({"sku": "BOOK-007"}, "PRODUCT_INACTIVE", ["input", "lines", "0", "sku"]),
        (
            {"sku": "GIFTBOX6", "paymentScheduleId": "deposit-balance"},
            "PAYMENT_SCHEDULE_NOT_ALLOWED",
            ["input", "lines", "0", "paymentScheduleId"],
        ),
        (
            {"sku": "WINECLUB12", "paymentScheduleId": global_id("PaymentSchedule", 999)},
            "NOT_FOUND",
            ["input", "lines", "0", "paymentScheduleId"],
        ),
        (
            {"sku": "WINECLUB12", "paymentScheduleId": "not-an-id"},
            "INVALID_INPUT",
            ["input", "lines", "0", "paymentScheduleId"],
        ),
        ({"sku": "BOOKCLUB", "quantity": -1}, "INVALID_INPUT", ["input", "lines", "0", "quantity"]),
    ],
)
def test_bad_orders_write_nothing(
    client: TestClient, line: dict[str, Any], code: str, field: list[str]
) -> None:
    ids = make_customer(client)
    if line.get("paymentScheduleId") == "deposit-balance":
        line = {**line, "paymentScheduleId": schedule_id(client, "deposit-balance")}
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
      continuityOrders(customerId: $customer, programId: $program, first: 2, after: $after) {
        edges { node { program { code } customer { accountNumber } } }
        pageInfo { hasNextPage hasPreviousPage endCursor } totalCount } }"""
    page = gql(client, query, customer=ids["customerId"])["continuityOrders"]
    assert [e["node"]["program"]["code"] for e in page["edges"]] == [
        "book-club",
        "vitamins-refill",
    ]
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["pageInfo"]["hasPreviousPage"] is False
    assert page["totalCount"] == 3
    rest = gql(client, query, customer=ids["customerId"], after=page["pageInfo"]["endCursor"])
    rest_page = rest["continuityOrders"]
    assert [e["node"]["program"]["code"] for e in rest_page["edges"]] == ["coffee"]
    assert rest_page["pageInfo"]["hasPreviousPage"] is True
    assert rest_page["pageInfo"]["hasNextPage"] is False
    book = gql(client, query, program=program_id(client, "book-club"))["continuityOrders"]["edges"]
    assert sorted(e["node"]["customer"]["accountNumber"] for e in book) == ["C-100", "C-200"]
    active = gql(client, "{ continuityOrders(status: CANCELLED) { edges { node { id } } } }")
    assert active["continuityOrders"]["edges"] == []


def test_upcoming_shipments_continue_past_the_materialized_lines(client: TestClient) -> None:
    ids = make_customer(client)
    order_id = place(client, ids, {"sku": "VITREFILL", "quantity": 2})["continuityOrders"][0]["id"]
    shipments = gql(
        client,
        """query ($id: ID!) { upcomingShipments(orderId: $id, count: 5) {
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
        """query ($id: ID!) { programPreview(programId: $id, startDate: "2027-03-31",
        count: 3) { startDate finite upFrontTotal { amount } installments { number }
        shipments { shipDate charge { amount } } } }""",
        id=program_id(client, "gift-box"),
    )["programPreview"]
    assert preview["finite"] is True
    assert preview["startDate"] == "2027-04-01"  # days_after_order: 1
    assert [s["shipDate"] for s in preview["shipments"]][:2] == ["2027-04-01", "2027-05-01"]
    assert all(s["charge"] == {"amount": "0.00"} for s in preview["shipments"])
    assert preview["installments"] == []
    wine = gql(
        client,
        """query ($id: ID!) { programPreview(programId: $id, startDate: "2026-06-05") {
          firstEventNumber upFrontTotal { amount }
          installments { number dueDate amount { amount } } } }""",
        id=program_id(client, "seasonal-wine"),
    )
    wine_preview = wine["programPreview"]
    assert wine_preview["firstEventNumber"] == 6
    # installments fall due from the order date (today), as placement books them
    assert [i["dueDate"] for i in wine_preview["installments"]] == [
        "2027-01-31",
        "2027-02-28",
        "2027-03-31",
    ]
    missing = gql(
        client,
        "query ($id: ID!) { programPreview(programId: $id) { finite } }",
        id=global_id("Program", 999),
    )
    assert missing == {"programPreview": None}


PREVIEW = """query ($id: ID!, $schedule: ID) { programPreview(programId: $id,
  startDate: "2027-05-31", count: 8, paymentScheduleId: $schedule) { currencyCode
  upFrontTotal { amount currencyCode } installments { amount { amount currencyCode } }
  shipments { eventNumber shipDate skip items { sku } amount { amount currencyCode }
    charge { amount currencyCode } } } }"""


def usd(amount: str) -> dict[str, str]:
    return {"amount": amount, "currencyCode": "USD"}


def test_program_preview_shows_skip_slots_and_names_the_currency(client: TestClient) -> None:
    preview = gql(client, PREVIEW, id=program_id(client, "book-club"))["programPreview"]
    assert preview["currencyCode"] == "USD"
    shipments = preview["shipments"]
    assert [(s["eventNumber"], s["shipDate"], s["skip"]) for s in shipments] == [
        (1, "2027-05-31", False),
        (2, "2027-06-30", False),
        (3, "2027-07-31", False),
        (4, "2027-08-31", False),
        (5, "2027-09-30", False),
        (6, "2027-10-31", False),
        (7, "2027-11-30", True),  # the summer break keeps its month and ships nothing
        (8, "2027-12-31", False),
    ]
    assert shipments[6] == {
        "eventNumber": 7,
        "shipDate": "2027-11-30",
        "skip": True,
        "items": [],
        "amount": usd("0.00"),
        "charge": usd("0.00"),
    }
    assert (shipments[0]["amount"], shipments[7]["charge"]) == (usd("9.99"), usd("13.99"))


def test_program_preview_refuses_a_schedule_the_program_does_not_offer(
    client: TestClient,
) -> None:
    deposit = schedule_id(client, "deposit-balance")
    body = client.post(
        "/graphql",
        json={
            "query": PREVIEW,
            "variables": {"id": program_id(client, "gift-box"), "schedule": deposit},
        },
    ).json()
    assert body["data"] == {"programPreview": None}
    [error] = body["errors"]
    assert error["extensions"] == {
        "code": "PAYMENT_SCHEDULE_NOT_ALLOWED",
        "field": ["paymentScheduleId"],
    }
    # the wine club offers it: a total and installments, all in the program's currency
    wine = gql(client, PREVIEW, id=program_id(client, "seasonal-wine"), schedule=deposit)
    preview = wine["programPreview"]
    assert preview["currencyCode"] == "USD"
    assert preview["upFrontTotal"]["currencyCode"] == "USD"
    assert [i["amount"]["currencyCode"] for i in preview["installments"]] == ["USD", "USD"]


NESTED = """{ continuityOrders(first: 20) { totalCount nodes {
  number customer { accountNumber addresses { totalCount nodes { city } } }
  program { code name } shipTo { city } paymentMethod { last4 }
  lines(first: 5) { totalCount pageInfo { hasNextPage } nodes { sku price { amount }
    childOrder { number } } }
  payments(first: 5) { nodes { amount { amount } } }
  history(first: 5) { totalCount nodes { action details } }
} } }"""


def test_nested_connections_take_a_fixed_number_of_queries(
    client: TestClient, query_counter: QueryCounter
) -> None:
    """One statement per level and list, whether 2 orders are listed or 6: the nested pages
    are batched (``continuity.keyset.pages``), never one query per order."""
    counts = []
    for account, orders in (("C-1", 2), ("C-2", 4)):
        ids = make_customer(client, account)
        for _ in range(orders):
            assert place(client, ids, {"sku": "GIFTBOX6"})["userErrors"] == []
        query_counter.queries.clear()
        data = gql(client, NESTED)["continuityOrders"]
        assert len(data["nodes"]) == {"C-1": 2, "C-2": 6}[account]
        first = data["nodes"][0]
        assert first["lines"]["totalCount"] == 12  # six boxes of two items
        assert len(first["lines"]["nodes"]) == 5
        assert first["lines"]["pageInfo"]["hasNextPage"] is True
        assert first["history"]["nodes"][0]["action"] == "PLACED"
        counts.append(len(query_counter.queries))
    assert counts[0] == counts[1], query_counter.queries


def test_an_orders_lines_page_both_ways(client: TestClient) -> None:
    ids = make_customer(client)
    order_id = place(client, ids, {"sku": "BOOKCLUB"})["continuityOrders"][0]["id"]
    query = """query ($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
      continuityOrder(id: $id) { lines(first: $first, after: $after, last: $last,
        before: $before) { totalCount edges { cursor node { eventNumber } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"""

    def page(**args: Any) -> dict[str, Any]:
        found: dict[str, Any] = gql(client, query, id=order_id, **args)["continuityOrder"]["lines"]
        return found

    def events(found: dict[str, Any]) -> list[int]:
        return [e["node"]["eventNumber"] for e in found["edges"]]

    first = page(first=5)
    assert (events(first), first["totalCount"]) == ([1, 2, 3, 4, 5], 12)
    second = page(first=5, after=first["pageInfo"]["endCursor"])
    assert events(second) == [6, 7, 8, 9, 10]
    assert (second["pageInfo"]["hasPreviousPage"], second["pageInfo"]["hasNextPage"]) == (
        True,
        True,
    )
    last = page(last=3)
    assert events(last) == [10, 11, 12]
    assert (last["pageInfo"]["hasPreviousPage"], last["pageInfo"]["hasNextPage"]) == (True, False)
    back = page(last=3, before=last["pageInfo"]["startCursor"])
    assert events(back) == [7, 8, 9]
    assert page(first=0)["edges"] == []
    wrong = client.post(
        "/graphql",
        json={
            "query": query,
            "variables": {"id": order_id, "after": "bm90IGEgY3Vyc29y"},
        },
    ).json()
    assert wrong["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": ["after"]}


def test_a_number_already_given_is_drawn_again(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Order numbers are 32 random bits a day: at 100,000 orders a day about one draw a day
    takes a number already given. The placement's rows are written all or nothing, so a taken
    number fails the write, nothing of it is kept, and the order is written again under new
    numbers."""
    draws = iter(
        [
            *("0000AAAA", "0000BBBB"),  # the first order's sales and continuity order numbers
            *("0000AAAA", "0000CCCC"),  # the sales order's number is taken
            *("0000DDDD", "0000BBBB"),  # the continuity order's is
            *("0000EEEE", "0000FFFF"),
        ]
    )
    monkeypatch.setattr("continuity.orders.numbers.secrets.token_hex", lambda _n: next(draws))
    ids = make_customer(client)
    first = place(client, ids, {"sku": "BOOKCLUB"})
    second = place(client, ids, {"sku": "BOOKCLUB"})
    assert first["userErrors"] == second["userErrors"] == []
    assert first["salesOrder"]["number"].endswith("-0000AAAA")
    assert first["continuityOrders"][0]["number"].endswith("-0000BBBB")
    assert second["salesOrder"]["number"].endswith("-0000EEEE")
    assert second["continuityOrders"][0]["number"].endswith("-0000FFFF")
    found = gql(client, ORDER, id=second["continuityOrders"][0]["id"])["continuityOrder"]
    assert found["salesOrder"]["number"] == second["salesOrder"]["number"]
    assert found["lines"]["totalCount"] == 12
    # the write that failed on the continuity order's number kept no sales order either
    for number in ("0000CCCC", "0000DDDD"):
        sales = gql(
            client,
            "query ($n: String!) { salesOrder(number: $n) { id } }",
            n=second["salesOrder"]["number"].replace("0000EEEE", number),
        )
        assert sales["salesOrder"] is None
    orders = gql(client, "{ continuityOrders(first: 10) { totalCount } }")
    assert orders["continuityOrders"]["totalCount"] == 2


def test_a_placement_writes_every_row_in_one_statement_on_postgres(client: TestClient) -> None:
    """A placement builds its rows with ids allocated beforehand and writes them all or
    nothing (``continuity.writes``). On PostgreSQL that is two statements: the read of every
    check, which also allocates the ids, and one write of every table (no ``BEGIN``, no
    ``COMMIT``, no round trip per table). On SQLite: the read, the ids, and one insert per
    table, in one transaction."""
    ids = make_customer(client)
    place(client, ids, {"sku": "BOOKCLUB"})  # the first placement reads the program's spec
    with capturing(Statements(lambda sql: '"API_TOKEN"' not in sql)) as seen:
        placed = place(client, ids, {"sku": "BOOKCLUB"})
    assert placed["userErrors"] == []
    is_write = [sql.lstrip().upper().startswith(("INSERT", "WITH")) for sql in seen.sql]
    placing = seen.sql[: len(is_write) - is_write[::-1].index(True)]  # then the answer's reads
    writes = [sql for sql, write in zip(seen.sql, is_write, strict=True) if write]
    if on_postgres():
        assert len(placing) == 2
        assert len(writes) == 1
        for table in ("sales_order", "sales_order_line", "continuity_order", "continuity_line"):
            assert f'INSERT INTO "{table}"' in writes[0]
    else:
        assert len(placing) == 7  # the read, the ids, and the five tables' inserts
        assert len(writes) == 5  # sales order, its line, continuity order, history, lines
    found = gql(client, ORDER, id=placed["continuityOrders"][0]["id"])["continuityOrder"]
    assert found["salesOrder"]["number"] == placed["salesOrder"]["number"]
    assert found["lines"]["totalCount"] == 12


def test_twelve_placements_at_once_are_each_whole(client: TestClient, gateway: TestGateway) -> None:
    """Placements that arrive together are committed together on SQLite (group commit,
    ``continuity.group_commit``): each still gets its own numbers, lines, history and charge."""
    ids = make_customer(client)

    def one(_n: int) -> dict[str, Any]:
        return place(client, ids, {"sku": "BOOKCLUB"}, {"sku": "BOOK-001", "quantity": 2})

    with ThreadPoolExecutor(max_workers=12) as pool:
        payloads = list(pool.map(one, range(12)))
    assert [p["userErrors"] for p in payloads] == [[]] * 12
    assert len({p["salesOrder"]["number"] for p in payloads}) == 12
    assert len({p["continuityOrders"][0]["number"] for p in payloads}) == 12
    assert gateway.moved_minor == 12 * 2998
    for payload in payloads:
        assert payload["salesOrder"]["payments"]["nodes"][0]["status"] == "SUCCEEDED"
        order = gql(client, ORDER, id=payload["continuityOrders"][0]["id"])["continuityOrder"]
        assert order["salesOrder"]["number"] == payload["salesOrder"]["number"]
        assert order["lines"]["totalCount"] == 12
        assert [h["action"] for h in order["history"]["nodes"]] == ["PLACED"]
