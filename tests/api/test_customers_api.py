"""createCustomer, addPaymentMethod, customer, customers over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.api.customers import ADD_CARD, ADDRESS, CREATE, make_customer
from tests.api.graphql import global_id, gql

CUSTOMER_999 = global_id("Customer", 999)
ADDRESS_1 = global_id("Address", 1)

pytestmark = pytest.mark.db


def _create(client: TestClient, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = gql(
        client,
        CREATE,
        input={
            "accountNumber": "C-1",
            "name": "Ada",
            "addresses": [ADDRESS],
            **fields,
        },
    )["createCustomer"]
    return data


def test_create_customer_and_read_it_back(client: TestClient) -> None:
    ids = make_customer(client)
    data = gql(
        client,
        """query ($id: ID!) { customer(id: $id) {
        accountNumber name email addresses { nodes { city country isDefault } }
        paymentMethods { nodes { brand last4 expMonth expYear isDefault active } } } }""",
        id=ids["customerId"],
    )["customer"]
    assert data == {
        "accountNumber": "C-100",
        "name": "Grace Hopper",
        "email": "grace@example.com",
        "addresses": {"nodes": [{"city": "Arlington", "country": "US", "isDefault": True}]},
        "paymentMethods": {
            "nodes": [
                {
                    "brand": "visa",
                    "last4": "4242",
                    "expMonth": 12,
                    "expYear": 2031,
                    "isDefault": True,
                    "active": True,
                }
            ]
        },
    }


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"accountNumber": ""}, "INVALID_INPUT", ["input", "accountNumber"]),
        ({"email": "not-an-email"}, "INVALID_INPUT", ["input", "email"]),
        (
            {"addresses": [{**ADDRESS, "country": "USA"}]},
            "INVALID_INPUT",
            ["input", "addresses", "0", "country"],
        ),
        ({"name": "4242 4242 4242 4242"}, "CARD_NUMBER_REFUSED", ["input", "name"]),
    ],
)
def test_invalid_customers_are_refused(
    client: TestClient, fields: dict[str, Any], code: str, field: list[str]
) -> None:
    payload = _create(client, **fields)
    assert payload["customer"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)]
    assert gql(client, "{ customers { edges { node { id } } } }")["customers"]["edges"] == []


def test_duplicate_account_number(client: TestClient) -> None:
    assert _create(client)["userErrors"] == []
    payload = _create(client)
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("DUPLICATE", ["input", "accountNumber"])
    ]


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"gatewayToken": "4111 1111 1111 1111"}, "CARD_NUMBER_REFUSED", ["input", "gatewayToken"]),
        ({"last4": "42"}, "INVALID_INPUT", ["input", "last4"]),
        ({"expMonth": 13}, "INVALID_INPUT", ["input", "expMonth"]),
        ({"expYear": 2020}, "PAYMENT_METHOD_EXPIRED", ["input", "expYear"]),
        ({"brand": "bitcoin"}, "INVALID_INPUT", ["input", "brand"]),
        ({"customerId": CUSTOMER_999}, "NOT_FOUND", ["input", "customerId"]),
        ({"customerId": "999"}, "INVALID_INPUT", ["input", "customerId"]),
        ({"customerId": ADDRESS_1}, "INVALID_INPUT", ["input", "customerId"]),
    ],
)
def test_invalid_payment_methods_are_refused(
    client: TestClient, fields: dict[str, Any], code: str, field: list[str]
) -> None:
    customer = _create(client)["customer"]
    payload = gql(
        client,
        ADD_CARD,
        input={
            "customerId": customer["id"],
            "gatewayToken": "tok_visa",
            "brand": "visa",
            "last4": "4242",
            "expMonth": 12,
            "expYear": 2031,
            **fields,
        },
    )["addPaymentMethod"]
    assert payload["paymentMethod"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)]
    cards = gql(
        client,
        "query ($id: ID!) { customer(id: $id) { paymentMethods { totalCount } } }",
        id=customer["id"],
    )["customer"]["paymentMethods"]
    assert cards == {"totalCount": 0}


def test_customers_pages_with_cursors_and_search(client: TestClient) -> None:
    for n in range(5):
        _create(client, accountNumber=f"C-{n}", name=f"Customer {n}")
    first = gql(
        client,
        "{ customers(first: 2) { edges { cursor node { accountNumber } } "
        "pageInfo { hasNextPage endCursor } } }",
    )["customers"]
    assert [e["node"]["accountNumber"] for e in first["edges"]] == ["C-0", "C-1"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = gql(
        client,
        "query ($after: String) { customers(first: 10, after: $after) { "
        "edges { node { accountNumber } } pageInfo { hasNextPage } } }",
        after=first["pageInfo"]["endCursor"],
    )["customers"]
    assert [e["node"]["accountNumber"] for e in rest["edges"]] == ["C-2", "C-3", "C-4"]
    assert rest["pageInfo"]["hasNextPage"] is False
    found = gql(client, '{ customers(search: "c-3") { edges { node { name } } } }')
    assert found["customers"]["edges"] == [{"node": {"name": "Customer 3"}}]


def test_bad_cursor_and_page_size_are_errors(client: TestClient) -> None:
    for query, field in [
        ('{ customers(after: "garbage") { edges { cursor } } }', ["after"]),
        ("{ customers(first: 1000) { edges { cursor } } }", ["first"]),
        ("{ customers(last: -1) { edges { cursor } } }", ["last"]),
        ("{ customers(first: 1, last: 1) { edges { cursor } } }", ["last"]),
    ]:
        body = client.post("/graphql", json={"query": query}).json()
        assert body["data"] is None
        assert body["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": field}


def test_unknown_customer_is_null(client: TestClient) -> None:
    query = "query ($id: ID!) { customer(id: $id) { id } }"
    assert gql(client, query, id=CUSTOMER_999) == {"customer": None}
    assert gql(client, '{ customer(accountNumber: "C-404") { id } }') == {"customer": None}


def test_customer_by_account_number_or_id_exactly_one(client: TestClient) -> None:
    ids = make_customer(client, "C-7")
    found = gql(client, '{ customer(accountNumber: " C-7 ") { id accountNumber } }')["customer"]
    assert found == {"id": ids["customerId"], "accountNumber": "C-7"}
    for query in (
        "{ customer { id } }",
        f'{{ customer(id: "{ids["customerId"]}", accountNumber: "C-7") {{ id }} }}',
    ):
        body = client.post("/graphql", json={"query": query}).json()
        assert body["data"] == {"customer": None}
        assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
        assert "exactly one of id or accountNumber" in body["errors"][0]["message"]


@pytest.mark.parametrize("bad", ["abc", "12345", ADDRESS_1])
def test_malformed_or_wrong_type_id_is_an_input_error(client: TestClient, bad: str) -> None:
    body = client.post(
        "/graphql",
        json={"query": "query ($id: ID!) { customer(id: $id) { id } }", "variables": {"id": bad}},
    ).json()
    assert body["data"] == {"customer": None}
    assert body["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": ["id"]}
