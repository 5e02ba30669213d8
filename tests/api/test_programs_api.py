"""Reading programs, products, schedules and parameters over GraphQL on HTTP."""

from __future__ import annotations

from decimal import Decimal

import pytest
from starlette.testclient import TestClient

from tests.api.graphql import global_id, gql
from tests.api.queries import QueryCounter

pytestmark = pytest.mark.db

PROGRAM = """
query ($code: String!) {
  program(code: $code) {
    id code name active retired currencyCode
    parentProduct { sku name price { amount currencyCode } eventCount }
    orderStart currentEventAnchor daysAfterOrder promptForStartDate consolidatePastOrders
    billing { upFront promptForPaymentSchedule paymentSchedule { code }
              allowedSchedules { code kind installmentCount } }
    cadence { unit count }
    version { number contentHash }
    events { number gap { unit count } notBefore repeat repeatsForever action
             items { sku name quantity price { amount currencyCode } priceOverridden } }
  }
}
"""


def test_programs_lists_the_bundled_programs(client: TestClient) -> None:
    data = gql(client, "{ programs { totalCount nodes { code active version { number } } } }")
    assert data["programs"]["totalCount"] == 5
    assert [p["code"] for p in data["programs"]["nodes"]] == [
        "book-club",
        "coffee",
        "gift-box",
        "seasonal-wine",
        "vitamins-refill",
    ]
    assert all(p["version"]["number"] == 1 and p["active"] for p in data["programs"]["nodes"])
    assert gql(client, "{ programs(active: false) { nodes { id } } }")["programs"]["nodes"] == []


def test_program_shows_settings_billing_and_events(client: TestClient) -> None:
    book = gql(client, PROGRAM, code="book-club")["program"]
    assert book["parentProduct"] == {
        "sku": "BOOKCLUB",
        "name": "Book of the Month Club",
        "price": {"amount": "0.00", "currencyCode": "USD"},
        "eventCount": 0,
    }
    assert (book["orderStart"], book["promptForStartDate"], book["consolidatePastOrders"]) == (
        "FIRST_EVENT",
        True,
        True,
    )
    assert book["cadence"] == {"unit": "MONTH", "count": 1}
    assert len(book["version"]["contentHash"]) == 64
    events = book["events"]
    assert [e["number"] for e in events] == list(range(1, 13))
    assert events[6] == {
        "number": 7,
        "gap": {"unit": "MONTH", "count": 1},
        "notBefore": None,
        "repeat": 0,
        "repeatsForever": False,
        "action": "SKIP",
        "items": [],
    }
    assert events[11]["action"] == "END"
    assert events[0]["items"] == [
        {
            "sku": "BOOK-001",
            "name": "The Lighthouse Keeper's Daughter",
            "quantity": 1,
            "price": {"amount": "9.99", "currencyCode": "USD"},
            "priceOverridden": True,
        }
    ]

    coffee = gql(client, PROGRAM, code="coffee")["program"]
    assert coffee["daysAfterOrder"] == 2
    assert [(e["repeat"], e["gap"]) for e in coffee["events"]] == [
        (2, {"unit": "DAY", "count": 14}),
        (8, {"unit": "MONTH", "count": 1}),
    ]
    assert [i["sku"] for i in coffee["events"][1]["items"]] == ["COF-SINGLE-12", "COF-HOUSE-12"]

    vitamins = gql(client, PROGRAM, code="vitamins-refill")["program"]
    assert vitamins["events"][0]["repeatsForever"] is True

    wine = gql(client, PROGRAM, code="seasonal-wine")["program"]
    assert (wine["orderStart"], wine["currentEventAnchor"]) == ("CURRENT_EVENT", "2026-01-01")
    assert wine["billing"]["upFront"] is True
    assert wine["billing"]["paymentSchedule"] == {"code": "three-monthly"}
    assert {s["code"]: s["kind"] for s in wine["billing"]["allowedSchedules"]} == {
        "three-monthly": "EQUAL",
        "deposit-balance": "SPECIFIED",
    }
    assert wine["events"][11]["notBefore"] == "2026-12-15"


def test_unknown_program_is_null(client: TestClient) -> None:
    assert gql(client, '{ program(code: "nope") { id } }') == {"program": None}
    missing = gql(
        client, "query ($id: ID!) { program(id: $id) { id } }", id=global_id("Program", 99)
    )
    assert missing == {"program": None}


def test_program_by_global_id_and_its_versions(client: TestClient) -> None:
    book = gql(client, '{ program(code: "book-club") { id } }')["program"]
    found = gql(
        client,
        """query ($id: ID!) { program(id: $id) { code versions { totalCount
        nodes { number program { code } } } } }""",
        id=book["id"],
    )["program"]
    assert found == {
        "code": "book-club",
        "versions": {"totalCount": 1, "nodes": [{"number": 1, "program": {"code": "book-club"}}]},
    }


def test_products_and_payment_schedules(client: TestClient) -> None:
    parents = gql(client, "{ products(kind: PARENT) { nodes { sku program { code } } } }")
    assert {p["sku"]: p["program"]["code"] for p in parents["products"]["nodes"]} == {
        "BOOKCLUB": "book-club",
        "COFFEECLUB": "coffee",
        "GIFTBOX6": "gift-box",
        "WINECLUB12": "seasonal-wine",
        "VITREFILL": "vitamins-refill",
    }
    inactive = gql(client, "{ products(active: false) { nodes { sku kind } } }")["products"]
    assert {"sku": "BOOK-007", "kind": "ITEM"} in inactive["nodes"]
    chocolate = gql(client, '{ product(sku: "GIFT-CHOC") { sku price { amount } } }')["product"]
    assert Decimal(chocolate["price"]["amount"]) == Decimal("12.00")

    schedules = gql(
        client,
        "{ paymentSchedules { nodes { code kind installmentCount period { unit count } "
        "shipAfterInstallment lines { percent offsetDays } } } }",
    )["paymentSchedules"]["nodes"]
    assert schedules == [
        {
            "code": "deposit-balance",
            "kind": "SPECIFIED",
            "installmentCount": 2,
            "period": None,
            "shipAfterInstallment": 1,
            "lines": [{"percent": "30", "offsetDays": 0}, {"percent": "70", "offsetDays": 30}],
        },
        {
            "code": "three-monthly",
            "kind": "EQUAL",
            "installmentCount": 3,
            "period": {"unit": "MONTH", "count": 1},
            "shipAfterInstallment": 1,
            "lines": [],
        },
    ]


def test_call_center_parameters_come_from_config(client: TestClient) -> None:
    params = gql(
        client,
        "{ callCenterParameters { repeatThreshold daysBeforeDelivery "
        "onAccountBillDays maxChildOrdersPerRun authorizeChildOrders "
        "reauthorizationLimit retryDays timezone } }",
    )["callCenterParameters"]
    assert params == {
        "repeatThreshold": 3,
        "daysBeforeDelivery": 5,
        "onAccountBillDays": 7,
        "maxChildOrdersPerRun": 0,
        "authorizeChildOrders": True,
        "reauthorizationLimit": 3,
        "retryDays": 2,
        "timezone": "America/New_York",
    }


def test_programs_with_everything_nested_take_a_fixed_number_of_queries(
    client: TestClient, query_counter: QueryCounter
) -> None:
    """No N+1: one query per level, whatever the number of programs and events."""
    query = PROGRAM.replace("query ($code: String!) {\n  program(code: $code) {", "{\n  programs {")
    query = query.replace("{\n    id code", "{ nodes {\n    id code").replace(
        "\n  }\n}", "\n  } }\n}"
    )
    data = gql(client, query)
    assert len(data["programs"]["nodes"]) == 5
    # programs, latest versions, events, allowed schedules, default schedules, items,
    # allowed schedules by id (a second batch: it waits for the version's links), products
    assert len(query_counter.queries) == 8, query_counter.queries
