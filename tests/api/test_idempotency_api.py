"""Idempotency keys over HTTP (issue 11, docs/ACCESS.md): a retried mutation never runs twice.

Ten identical concurrent ``placeSalesOrder`` calls with one key make one order and get ten
identical answers; the same key with other input is refused ``IDEMPOTENCY_KEY_REUSED``; two
callers' keys never meet; the header and the input field are one key; a first response with
user errors is replayed, one that ended in an exception (or "try again") is not stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from starlette.testclient import TestClient

from continuity import models
from continuity.payments.gateway import GatewayUnavailable, TestGateway
from resolvers import orders
from tests.api.customers import ADD_CARD, CREATE, PLACE, make_customer
from tests.api.graphql import gql
from tests.conftest import bearer, issue_token

pytestmark = pytest.mark.db

T = TypeVar("T")
CANCEL = """
mutation ($input: CancelOrderInput!) {
  cancelOrder(input: $input) {
    continuityOrder { id status }
    userErrors { field code message }
  }
}
"""


def post(
    client: TestClient, query: str, variables: dict[str, Any], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers or {}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def in_app(client: TestClient, work: Callable[[], Any]) -> Any:
    """Run ``work`` (a coroutine function) on the app's event loop, its database open."""
    return client.portal.call(work)  # type: ignore[union-attr]


def count(client: TestClient, model: type[models.SalesOrder] | type[models.Customer]) -> int:
    async def counted() -> int:
        return await model.all().count()

    result: int = in_app(client, counted)
    return result


def key_rows(client: TestClient) -> list[models.IdempotencyKey]:
    async def rows() -> list[models.IdempotencyKey]:
        return await models.IdempotencyKey.all().order_by("id")

    found: list[models.IdempotencyKey] = in_app(client, rows)
    return found


def order_input(ids: dict[str, str], sku: str = "BOOK-001", **extra: Any) -> dict[str, Any]:
    return {**ids, "lines": [{"sku": "BOOKCLUB"}, {"sku": sku, "quantity": 2}], **extra}


def test_ten_concurrent_identical_calls_with_one_key_place_one_order(
    placing_client: TestClient, gateway: TestGateway
) -> None:
    client = placing_client
    ids = make_customer(client)
    gateway.latency = 0.3  # every call overlaps the first one's charge
    body = {"query": PLACE, "variables": {"input": order_input(ids)}}

    def call(_n: int) -> tuple[int, str]:
        response = client.post("/graphql", json=body, headers={"Idempotency-Key": "order-42"})
        return response.status_code, response.text

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(call, range(10)))

    assert {status for status, _ in answers} == {200}
    assert len({text for _, text in answers}) == 1, "ten identical answers"
    payload = json.loads(answers[0][1])["data"]["placeSalesOrder"]
    assert payload["userErrors"] == []
    assert payload["salesOrder"]["total"] == {"amount": "29.98", "currencyCode": "USD"}
    assert count(client, models.SalesOrder) == 1
    assert gateway.moved_minor == 2998  # charged once
    [row] = key_rows(client)
    assert (row.key, row.operation, row.completed_at is not None) == (
        "order-42",
        "placeSalesOrder",
        True,
    )
    assert json.loads(row.response or "") == payload


def test_a_retry_with_the_input_field_answers_the_first_response(
    placing_client: TestClient, gateway: TestGateway
) -> None:
    client = placing_client
    ids = make_customer(client)
    first = post(client, PLACE, {"input": order_input(ids, idempotencyKey="k-1")})
    again = post(client, PLACE, {"input": order_input(ids, idempotencyKey="k-1")})
    assert again == first
    assert first["data"]["placeSalesOrder"]["userErrors"] == []
    assert count(client, models.SalesOrder) == 1
    assert gateway.moved_minor == 2998
    # a retry asking for other fields still gets the first response, as it was sent
    short = "mutation ($input: PlaceSalesOrderInput!) { placeSalesOrder(input: $input) { " + (
        "salesOrder { number } } }"
    )
    replay = post(client, short, {"input": order_input(ids, idempotencyKey="k-1")})
    assert replay["data"]["placeSalesOrder"] == first["data"]["placeSalesOrder"]
    # without a key, a second call is a second order
    post(client, PLACE, {"input": order_input(ids)})
    assert count(client, models.SalesOrder) == 2


def test_the_header_and_the_field_are_one_key(client: TestClient) -> None:
    ids = make_customer(client)
    by_header = post(client, PLACE, {"input": order_input(ids)}, {"Idempotency-Key": "same"})
    by_field = post(client, PLACE, {"input": order_input(ids, idempotencyKey="same")})
    both = post(
        client,
        PLACE,
        {"input": order_input(ids, idempotencyKey="same")},
        {"Idempotency-Key": "same"},
    )
    assert by_header == by_field == both
    assert count(client, models.SalesOrder) == 1
    differ = post(
        client, PLACE, {"input": order_input(ids, idempotencyKey="one")}, {"Idempotency-Key": "two"}
    )["data"]["placeSalesOrder"]
    assert differ["salesOrder"] is None
    [error] = differ["userErrors"]
    assert (error["code"], error["field"]) == ("INVALID_INPUT", ["input", "idempotencyKey"])
    assert "Idempotency-Key header" in error["message"]
    assert count(client, models.SalesOrder) == 1


def test_the_same_key_with_other_input_is_refused(client: TestClient) -> None:
    ids = make_customer(client)
    post(client, PLACE, {"input": order_input(ids, idempotencyKey="k")})
    other = post(client, PLACE, {"input": order_input(ids, "BOOK-002", idempotencyKey="k")})
    payload = other["data"]["placeSalesOrder"]
    assert payload["salesOrder"] is None
    [error] = payload["userErrors"]
    assert (error["code"], error["field"]) == (
        "IDEMPOTENCY_KEY_REUSED",
        ["input", "idempotencyKey"],
    )
    assert "placeSalesOrder" in error["message"]
    # by the header: no input field to name
    header = post(client, PLACE, {"input": order_input(ids, "BOOK-002")}, {"Idempotency-Key": "k"})
    [error] = header["data"]["placeSalesOrder"]["userErrors"]
    assert (error["code"], error["field"]) == ("IDEMPOTENCY_KEY_REUSED", None)
    # another mutation with the key: refused too
    card = post(
        client,
        ADD_CARD,
        {
            "input": {
                "customerId": ids["customerId"],
                "gatewayToken": "tok_visa",
                "brand": "visa",
                "last4": "4242",
                "expMonth": 12,
                "expYear": 2031,
                "idempotencyKey": "k",
            }
        },
    )["data"]["addPaymentMethod"]
    assert [e["code"] for e in card["userErrors"]] == ["IDEMPOTENCY_KEY_REUSED"]
    assert count(client, models.SalesOrder) == 1


def test_two_callers_keys_never_meet(client: TestClient) -> None:
    ids = make_customer(client)
    other = bearer(issue_token(client, "admin", name="another"))
    mine = post(client, PLACE, {"input": order_input(ids, idempotencyKey="shared")})
    theirs = post(client, PLACE, {"input": order_input(ids, idempotencyKey="shared")}, other)
    numbers = {
        mine["data"]["placeSalesOrder"]["salesOrder"]["number"],
        theirs["data"]["placeSalesOrder"]["salesOrder"]["number"],
    }
    assert len(numbers) == 2
    assert count(client, models.SalesOrder) == 2
    # and other input under the other caller's key is no reuse of mine
    again = post(
        client, PLACE, {"input": order_input(ids, "BOOK-002")}, {**other, "Idempotency-Key": "x"}
    )
    assert again["data"]["placeSalesOrder"]["userErrors"] == []
    assert {row.scope for row in key_rows(client)} == {
        f"token:{key}" for key in {row.scope.removeprefix("token:") for row in key_rows(client)}
    }
    assert len({row.scope for row in key_rows(client)}) == 2


def test_a_first_answer_with_user_errors_is_replayed(client: TestClient) -> None:
    """As Stripe: the key's first response is its response, a refusal included."""
    created = {
        "accountNumber": "C-7",
        "name": "Ada",
        "idempotencyKey": "create-c7",
    }
    first = post(client, CREATE, {"input": created})["data"]["createCustomer"]
    assert first["userErrors"] == []
    assert post(client, CREATE, {"input": created})["data"]["createCustomer"] == first
    assert count(client, models.Customer) == 1  # not DUPLICATE: replayed, not run again
    # an unknown sku: refused, and the refusal is the key's answer
    ids = make_customer(client)
    refused = post(client, PLACE, {"input": order_input(ids, "NOPE", idempotencyKey="bad")})
    [error] = refused["data"]["placeSalesOrder"]["userErrors"]
    assert error["code"] == "UNKNOWN_SKU"
    assert post(client, PLACE, {"input": order_input(ids, "NOPE", idempotencyKey="bad")}) == refused
    row = next(row for row in key_rows(client) if row.key == "bad")
    assert json.loads(row.response or "") == refused["data"]["placeSalesOrder"]


def test_cancel_order_retried_cancels_once(client: TestClient) -> None:
    ids = make_customer(client)
    placed = post(client, PLACE, {"input": order_input(ids)})["data"]["placeSalesOrder"]
    order_id = placed["continuityOrders"][0]["id"]
    variables = {"input": {"orderId": order_id, "reasonCode": "OTHER", "reason": "moving"}}
    headers = {"Idempotency-Key": "cancel-1"}
    first = post(client, CANCEL, variables, headers)
    again = post(client, CANCEL, variables, headers)
    assert first == again
    assert first["data"]["cancelOrder"]["continuityOrder"]["status"] == "CANCELLED"
    unkeyed = post(client, CANCEL, variables)["data"]["cancelOrder"]
    assert [e["code"] for e in unkeyed["userErrors"]] == ["INVALID_STATE"]  # it did run again


def test_a_first_request_that_raised_leaves_the_key_free(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = make_customer(client)
    real = orders.place_sales_order
    calls: list[int] = []

    async def failing_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the database went away")
        return await real(*args, **kwargs)

    monkeypatch.setattr(orders, "place_sales_order", failing_once)
    variables = {"input": order_input(ids, idempotencyKey="flaky")}
    failed = client.post("/graphql", json={"query": PLACE, "variables": variables})
    assert failed.json()["errors"][0]["extensions"]["code"] == "INTERNAL"
    assert key_rows(client) == []  # nothing stored
    retried = post(client, PLACE, variables)["data"]["placeSalesOrder"]
    assert retried["userErrors"] == []
    assert count(client, models.SalesOrder) == 1
    assert len(calls) == 2


def test_a_try_again_answer_is_not_stored(client: TestClient, gateway: TestGateway) -> None:
    """``GATEWAY_UNAVAILABLE`` says "nothing was saved, try again": the same key may."""
    customer = gql(client, CREATE, input={"accountNumber": "C-9", "name": "Ada"})
    customer_id = customer["createCustomer"]["customer"]["id"]
    card = {
        "customerId": customer_id,
        "gatewayToken": "tok_visa",
        "brand": "visa",
        "last4": "4242",
        "expMonth": 12,
        "expYear": 2031,
        "idempotencyKey": "card-1",
    }

    async def away(token: str) -> None:
        raise GatewayUnavailable("timed out")

    original = gateway.describe_card
    gateway.describe_card = away  # type: ignore[method-assign]
    down = post(client, ADD_CARD, {"input": card})["data"]["addPaymentMethod"]
    assert [e["code"] for e in down["userErrors"]] == ["GATEWAY_UNAVAILABLE"]
    assert key_rows(client) == []
    gateway.describe_card = original  # type: ignore[method-assign]
    up = post(client, ADD_CARD, {"input": card})["data"]["addPaymentMethod"]
    assert up["userErrors"] == []
    assert post(client, ADD_CARD, {"input": card})["data"]["addPaymentMethod"] == up


@pytest.mark.parametrize(
    "key",
    ["", "x" * 256, "has space", "tab\there", "café"],
)
def test_a_malformed_key_is_refused(client: TestClient, key: str) -> None:
    ids = make_customer(client)
    by_field = post(client, PLACE, {"input": order_input(ids, idempotencyKey=key)})
    [error] = by_field["data"]["placeSalesOrder"]["userErrors"]
    assert (error["code"], error["field"]) == ("INVALID_INPUT", ["input", "idempotencyKey"])
    assert count(client, models.SalesOrder) == 0


def test_one_header_keys_one_mutation_of_a_request(client: TestClient) -> None:
    ids = make_customer(client)
    two = """
    mutation ($input: PlaceSalesOrderInput!) {
      a: placeSalesOrder(input: $input) { salesOrder { number } userErrors { code field } }
      b: placeSalesOrder(input: $input) { salesOrder { number } userErrors { code field } }
    }
    """
    data = post(client, two, {"input": order_input(ids)}, {"Idempotency-Key": "both"})["data"]
    assert data["a"]["userErrors"] == []
    assert data["b"] == {
        "salesOrder": None,
        "userErrors": [{"code": "IDEMPOTENCY_KEY_REUSED", "field": None}],
    }
    assert count(client, models.SalesOrder) == 1
    # the request retried: the first mutation's answer again, the second refused again
    again = post(client, two, {"input": order_input(ids)}, {"Idempotency-Key": "both"})["data"]
    assert again == data
    assert count(client, models.SalesOrder) == 1


#: The mutations that create or move orders or money (docs/ACCESS.md lists them, and why the
#: others take no key).
KEYED = {
    "placeSalesOrder",
    "createCustomer",
    "addPaymentMethod",
    "skipShipment",
    "pauseOrder",
    "resumeOrder",
    "changeShipTo",
    "changePaymentMethod",
    "swapItem",
    "changeQuantity",
    "cancelOrder",
    "updateStartDate",
    "substituteProduct",
    "markChildOrderShipped",
    "invoiceChildOrder",
}


def test_every_order_and_money_mutation_takes_a_key() -> None:
    from graphql import GraphQLInputObjectType, get_named_type

    from schema import schema

    mutation = schema._schema.mutation_type
    assert mutation is not None
    keyed = set()
    for name, field in mutation.fields.items():
        argument = field.args.get("input")
        kind = get_named_type(argument.type) if argument else None
        if isinstance(kind, GraphQLInputObjectType) and "idempotencyKey" in kind.fields:
            keyed.add(name)
    assert keyed == KEYED
    assert set(mutation.fields) - KEYED == {"reloadRules", "runJob", "redeliverNotification"}
