"""Query cost over HTTP (docs/API.md, "Query cost"): a query over ``max_query_cost`` is refused
with ``QUERY_TOO_COSTLY`` and its cost before a single SQL statement runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from config.settings import Settings
from continuity.payments.gateway import TestGateway
from server.app import create_app
from tests.api.customers import make_customer, place
from tests.api.queries import QueryCounter
from tests.conftest import API_TODAY, as_admin

pytestmark = pytest.mark.db

ORDERS_WITH_LINES = (
    "continuityOrders(first: {n}) {{ nodes {{ number lines {{ nodes {{ sku }} }} }} }}"
)


LINE = "sku price { amount }"


def aliases(count: int, n: str = "100") -> str:
    return "{ " + " ".join(f"a{i}: " + ORDERS_WITH_LINES.format(n=n) for i in range(count)) + " }"


def post(client: TestClient, query: str, **variables: Any) -> Any:
    return client.post("/graphql", json={"query": query, "variables": variables})


def test_thirty_aliases_of_a_hundred_orders_with_lines_are_refused_before_running(
    client: TestClient, query_counter: QueryCounter
) -> None:
    placed = place(client, make_customer(client), {"sku": "VITREFILL"})
    assert placed["userErrors"] == []
    query_counter.queries.clear()
    response = post(client, aliases(30))
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    # 30 × (the connection + 100 × (an order + its lines connection + 20 lines))
    assert error["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": 66_030, "maxCost": 25_000}
    assert "66030" in error["message"]
    assert query_counter.queries == []  # nothing ran
    # One alias of it is well within the limit, and runs.
    one = post(client, aliases(1)).json()
    assert "errors" not in one, one
    [order] = one["data"]["a0"]["nodes"]
    assert order["number"] == placed["continuityOrders"][0]["number"]
    assert order["lines"]["nodes"]


def test_page_sizes_come_from_variables_and_defaults(client: TestClient) -> None:
    query = "query ($n: Int) { " + ORDERS_WITH_LINES.format(n="$n") + " }"
    refused = post(
        client,
        "query ($n: Int) { "
        + " ".join(f"a{i}: " + ORDERS_WITH_LINES.format(n="$n") for i in range(12))
        + " }",
        n=100,
    ).json()
    assert refused["errors"][0]["extensions"]["cost"] == 12 * 2201
    assert "errors" not in post(client, query, n=100).json()
    # No first: the default page of 20 → 1 + 20 × (1 + 1 + 20 × (1 + 1))
    default = (
        "{ "
        + " ".join(
            f"a{i}: continuityOrders {{ nodes {{ lines {{ nodes {{ {LINE} }} }} }} }}"
            for i in range(30)
        )
        + " }"
    )
    assert post(client, default).json()["errors"][0]["extensions"]["cost"] == 30 * 841


def test_a_document_sent_again_is_costed_by_its_new_variables(client: TestClient) -> None:
    """Costs are kept per parsed document and the values of the variables they depend on: the
    same text with a smaller page passes, and with the large page again is refused again."""
    twelve = (
        "query ($n: Int, $ids: [ID!]!) { nodes(ids: $ids) { __typename } "
        + " ".join(f"a{i}: " + ORDERS_WITH_LINES.format(n="$n") for i in range(12))
        + " }"
    )
    first = post(client, twelve, n=100, ids=[]).json()
    assert first["errors"][0]["extensions"]["cost"] == 12 * 2201
    # 12 × (1 + 2 × (1 + 1 + 2 × 2)) = 156, and the three ids count one each
    small = post(client, twelve, n=2, ids=["a", "b", "c"]).json()
    assert "QUERY_TOO_COSTLY" not in [e["extensions"]["code"] for e in small.get("errors", [])]
    assert post(client, twelve, n=100, ids=["a"]).json()["errors"][0]["extensions"]["cost"] == (
        12 * 2201 + 1
    )
    many_ids = post(client, twelve, n=0, ids=[str(i) for i in range(30_000)]).json()
    assert many_ids["errors"][0]["extensions"]["cost"] == 12 * 1 + 30_000


def test_fragments_count_where_they_are_spread(client: TestClient) -> None:
    query = """
    fragment Lines on ContinuityOrder { lines(first: 100) { nodes { sku price { amount } } } }
    { a: continuityOrders(first: 100) { nodes { ...Lines } }
      b: continuityOrders(first: 100) { edges { node { ... on ContinuityOrder { ...Lines } } } } }
    """
    error = post(client, query).json()["errors"][0]
    # a: 1 + 100 × (1 + 1 + 100 × 2); b: 1 + 100 × (edge 1 + node 1 + 1 + 100 × 2)
    assert error["extensions"]["cost"] == 20_201 + 20_301


@pytest.fixture
def strict_client(settings: Settings, gateway: TestGateway) -> Iterator[TestClient]:
    service = settings.service.model_copy(update={"max_query_cost": 50})
    app = create_app(
        settings.model_copy(update={"service": service}), gateway=gateway, clock=lambda: API_TODAY
    )
    with TestClient(app) as test_client:
        yield as_admin(test_client)


def test_the_limit_is_a_setting(strict_client: TestClient) -> None:
    ok = post(strict_client, "{ programs(first: 48) { nodes { code } } }").json()
    assert "errors" not in ok, ok
    refused = post(strict_client, "{ programs(first: 50) { nodes { code } } }").json()
    assert refused["errors"][0]["extensions"] == {
        "code": "QUERY_TOO_COSTLY",
        "cost": 51,
        "maxCost": 50,
    }
    mutation = json.dumps(
        {"query": "mutation { reloadRules(input: {dryRun: true}) { userErrors { code } } }"}
    )
    assert (
        strict_client.post(
            "/graphql", content=mutation, headers={"Content-Type": "application/json"}
        ).status_code
        == 200
    )
