"""Absurd values are refused with a user error naming the field, and write nothing:
quantities, dates outside 1900..2200, over-long or control-character strings, unknown enums.
(No price enters through the API: prices come from the rule files, checked by the loader.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from continuity.limits import MAX_TEXT
from tests.api.customers import make_customer, place
from tests.api.graphql import program_id
from tests.api.snapshot import snapshot

pytestmark = pytest.mark.db

LONG = "x" * (MAX_TEXT + 1)


def world(client: TestClient) -> dict[str, str]:
    ids = make_customer(client)
    placed = place(client, ids, {"sku": "VITREFILL"})
    assert placed["userErrors"] == []
    return {**ids, "orderId": placed["continuityOrders"][0]["id"]}


def call(client: TestClient, name: str, input_type: str, data: dict[str, Any]) -> Any:
    document = (
        f"mutation ($input: {input_type}!) {{ {name}(input: $input) "
        "{ userErrors { field code message } } }"
    )
    # json.dumps escapes an unpaired surrogate as \\ud800 (a client library would refuse it).
    body = json.dumps({"query": document, "variables": {"input": data}})
    response = client.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()


CASES: list[tuple[str, str, str, dict[str, Any], list[str]]] = [
    # id, mutation, input type, input (ids filled in), the refused field
    (
        "quantity -1",
        "changeQuantity",
        "ChangeQuantityInput",
        {"quantity": -1},
        ["input", "quantity"],
    ),
    ("quantity 0", "changeQuantity", "ChangeQuantityInput", {"quantity": 0}, ["input", "quantity"]),
    (
        "quantity 10^6",
        "changeQuantity",
        "ChangeQuantityInput",
        {"quantity": 1_000_000},
        ["input", "quantity"],
    ),
    (
        "line quantity -5",
        "placeSalesOrder",
        "PlaceSalesOrderInput",
        {"lines": [{"sku": "VITREFILL", "quantity": -5}]},
        ["input", "lines", "0", "quantity"],
    ),
    (
        "start date 1899",
        "placeSalesOrder",
        "PlaceSalesOrderInput",
        {"lines": [{"sku": "BOOKCLUB", "startDate": "1899-12-31"}]},
        ["input", "lines", "0", "startDate"],
    ),
    (
        "pause until 2201",
        "pauseOrder",
        "PauseOrderInput",
        {"until": "2201-01-01"},
        ["input", "until"],
    ),
    (
        "new start date 2300",
        "updateStartDate",
        "UpdateStartDateInput",
        {"orderIds": ["$orderId"], "newStartDate": "2300-01-01"},
        ["input", "newStartDate"],
    ),
    (
        "as of 1800",
        "runJob",
        "RunJobInput",
        {"job": "ALL", "asOf": "1800-01-01"},
        ["input", "asOf"],
    ),
    (
        "long reason",
        "pauseOrder",
        "PauseOrderInput",
        {"reason": LONG},
        ["input", "reason"],
    ),
    (
        "long sku",
        "swapItem",
        "SwapItemInput",
        {"fromSku": "x" * 10_000, "toSku": "B"},
        ["input", "fromSku"],
    ),
    (
        "long name",
        "createCustomer",
        "CreateCustomerInput",
        {"accountNumber": "C-9", "name": LONG},
        ["input", "name"],
    ),
    (
        "NUL in a name",
        "createCustomer",
        "CreateCustomerInput",
        {"accountNumber": "C-9", "name": "Ada\x00Lovelace"},
        ["input", "name"],
    ),
    (
        "unpaired surrogate",
        "createCustomer",
        "CreateCustomerInput",
        {"accountNumber": "C-9", "name": "Ada \ud800"},
        ["input", "name"],
    ),
    (
        "long address line",
        "createCustomer",
        "CreateCustomerInput",
        {
            "accountNumber": "C-9",
            "name": "Ada",
            "addresses": [
                {"name": "A", "line1": LONG, "city": "C", "postalCode": "1", "country": "US"}
            ],
        },
        ["input", "addresses", "0", "line1"],
    ),
]


@pytest.mark.parametrize(
    ("mutation", "input_type", "data", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_absurd_values_are_user_errors_and_write_nothing(
    client: TestClient, mutation: str, input_type: str, data: dict[str, Any], field: list[str]
) -> None:
    ids = world(client)
    defaults: dict[str, dict[str, Any]] = {
        "changeQuantity": {"orderId": ids["orderId"]},
        "pauseOrder": {"orderId": ids["orderId"]},
        "swapItem": {"orderId": ids["orderId"]},
        "placeSalesOrder": {
            k: ids[k] for k in ("customerId", "shipToAddressId", "paymentMethodId")
        },
    }
    payload = {**defaults.get(mutation, {}), **data}
    if "orderIds" in payload:
        payload["orderIds"] = [ids["orderId"]]
    before = snapshot(client)
    body = call(client, mutation, input_type, payload)
    assert "errors" not in body, body
    errors = body["data"][mutation]["userErrors"]
    code = "VALUE_TOO_LONG" if LONG in json.dumps(data) else "INVALID_INPUT"
    assert [(e["code"], e["field"]) for e in errors] == [(code, field)], errors
    assert snapshot(client) == before


def test_ints_beyond_32_bits_are_graphql_errors(client: TestClient) -> None:
    ids = world(client)
    before = snapshot(client)
    for value in (2**31, -(2**31) - 1, 2**63, 1.5, "7"):
        body = call(
            client,
            "changeQuantity",
            "ChangeQuantityInput",
            {"orderId": ids["orderId"], "quantity": value},
        )
        assert body["data"] is None
        assert "Int" in body["errors"][0]["message"]
    assert snapshot(client) == before


@pytest.mark.parametrize(
    ("document", "variables", "field"),
    [
        (
            "query ($p: ID!, $d: Date) { programPreview(programId: $p, startDate: $d) "
            "{ startDate } }",
            {"d": "1850-06-01"},
            ["startDate"],
        ),
        (
            "query ($s: String) { customers(search: $s) { edges { cursor } } }",
            {"s": "y" * 10_000},
            ["search"],
        ),
    ],
)
def test_query_arguments_out_of_bounds_are_coded_errors(
    client: TestClient, document: str, variables: dict[str, Any], field: list[str]
) -> None:
    code = "VALUE_TOO_LONG" if "$s" in document else "INVALID_INPUT"
    if "$p" in document:
        variables = {**variables, "p": program_id(client, "book-club")}
    body = client.post("/graphql", json={"query": document, "variables": variables}).json()
    [error] = body["errors"]
    assert error["extensions"] == {"code": code, "field": field}


def test_dates_outside_the_graphql_date_range_are_graphql_errors(client: TestClient) -> None:
    book_club = program_id(client, "book-club")
    for value in ("0000-01-01", "10000-01-01", "2027-02-30", "yesterday", ""):
        body = client.post(
            "/graphql",
            json={
                "query": "query ($p: ID!, $d: Date) { programPreview(programId: $p, startDate: $d) "
                "{ startDate } }",
                "variables": {"d": value, "p": book_club},
            },
        ).json()
        assert body["data"] is None, value
        assert "Date" in body["errors"][0]["message"] or "date" in body["errors"][0]["message"]
