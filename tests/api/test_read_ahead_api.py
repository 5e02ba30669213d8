"""A list page reads its nodes' child lists ahead (``schema.connections.prefetch``) and some
fields resolve directly (``schema/direct.py``): every answer must be the one each object gives
on its own, whatever the shape of the query (aliases, fragments, variables, directives, bad
arguments, two levels deep)."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from starlette.testclient import TestClient
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from continuity import models
from schema.orders import ContinuityLine
from server.heap import GC_YOUNG_THRESHOLD
from tests.api.customers import make_customer, place

pytestmark = pytest.mark.db

LINE = "id eventNumber repeatIndex sku price { amount currencyCode } amount { amount } status"
PAGE = (
    "totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } "
    f"edges {{ cursor node {{ {LINE} }} }} nodes {{ id }}"
)


@pytest.fixture
def orders(client: TestClient) -> list[str]:
    """Three continuity orders of two customers (two programs)."""
    placed: list[str] = []
    for account, skus in (("C-100", ("BOOKCLUB", "VITREFILL")), ("C-200", ("BOOKCLUB",))):
        ids = make_customer(client, account)
        for sku in skus:
            payload = place(client, ids, {"sku": sku})
            assert payload["userErrors"] == [], payload
            placed.extend(order["id"] for order in payload["continuityOrders"])
    assert len(placed) == 3
    return placed


def _post(client: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _one(client: TestClient, order_id: str, lines: str) -> Any:
    """An order's child list asked on the order alone (nothing to read ahead)."""
    query = f"query ($id: ID!) {{ continuityOrder(id: $id) {{ {lines} }} }}"
    return _post(client, query, id=order_id)["data"]["continuityOrder"]


def test_a_page_of_orders_shows_each_orders_lines_as_the_order_alone_does(
    client: TestClient, orders: list[str]
) -> None:
    lines = f"first: lines(first: 5) {{ {PAGE} }} last: lines(last: 3) {{ {PAGE} }}"
    body = _post(client, f"{{ continuityOrders(first: 10) {{ nodes {{ id {lines} }} }} }}")
    assert "errors" not in body
    listed = body["data"]["continuityOrders"]["nodes"]
    assert [order["id"] for order in listed] == orders
    for order in listed:
        alone = _one(client, order["id"], lines)
        assert order["first"] == alone["first"]
        assert order["last"] == alone["last"]
    # and the fields are really there: prices, SKUs, a skipped event's missing SKU
    book_club = listed[0]["first"]["edges"]
    assert book_club[0]["node"]["sku"] == "BOOK-001"
    assert book_club[0]["node"]["price"] == {"amount": "9.99", "currencyCode": "USD"}
    assert listed[0]["first"]["totalCount"] == 12
    assert listed[0]["first"]["pageInfo"]["hasNextPage"] is True


def test_edges_and_nodes_through_fragments_variables_and_directives(
    client: TestClient, orders: list[str]
) -> None:
    query = """
    query ($n: Int, $skip: Boolean!, $cursor: String) {
      continuityOrders(first: 10) {
        edges { node { ...Lines } }
        nodes { id skipped: lines(first: 1) @skip(if: $skip) { nodes { id } } }
      }
    }
    fragment Lines on ContinuityOrder {
      id
      ... on ContinuityOrder { lines(first: $n, after: $cursor) { nodes { id sku } } }
    }
    """
    body = _post(client, query, n=2, skip=True, cursor=None)
    assert "errors" not in body
    edges = body["data"]["continuityOrders"]["edges"]
    for edge in edges:
        alone = _one(client, edge["node"]["id"], "lines(first: 2) { nodes { id sku } }")
        assert edge["node"]["lines"] == alone["lines"]
    assert all("skipped" not in node for node in body["data"]["continuityOrders"]["nodes"])
    # a variable cursor: the page after the first two
    second = edges[0]["node"]["lines"]["nodes"]
    after = _one(client, orders[0], "lines(first: 2) { edges { cursor } }")["lines"]["edges"][-1]
    paged = _post(client, query, n=2, skip=False, cursor=after["cursor"])
    assert "errors" not in paged
    nodes = paged["data"]["continuityOrders"]["edges"][0]["node"]["lines"]["nodes"]
    assert len(nodes) == 2
    assert not {n["id"] for n in nodes} & {n["id"] for n in second}
    assert all(len(n["skipped"]["nodes"]) == 1 for n in paged["data"]["continuityOrders"]["nodes"])


def test_a_bad_page_argument_is_reported_as_before(client: TestClient, orders: list[str]) -> None:
    body = _post(
        client,
        "{ continuityOrders(first: 10) { nodes { id lines(first: 1000) { nodes { id } } } } }",
    )
    # as without reading ahead: the first order's list fails, which nulls the whole page
    # (its lines are non-null), and the error names the argument
    [error] = body["errors"]
    assert error["path"] == ["continuityOrders", "nodes", 0, "lines"]
    assert error["extensions"]["code"] == "INVALID_INPUT"
    assert error["extensions"]["field"] == ["first"]
    assert body["data"] is None or body["data"]["continuityOrders"] is None


def test_two_levels_read_ahead_customers_orders_lines(
    client: TestClient, orders: list[str]
) -> None:
    query = f"""{{ customers(first: 10) {{ nodes {{ accountNumber
        continuityOrders(first: 10) {{ nodes {{ id lines(first: 4) {{ {PAGE} }} }} }} }} }} }}"""
    body = _post(client, query)
    assert "errors" not in body
    seen = []
    for customer in body["data"]["customers"]["nodes"]:
        for order in customer["continuityOrders"]["nodes"]:
            seen.append(order["id"])
            assert (
                order["lines"]
                == _one(client, order["id"], f"lines(first: 4) {{ {PAGE} }}")["lines"]
            )
    assert sorted(seen) == sorted(orders)


def test_a_line_alone_answers_its_id_sku_and_price_as_in_its_orders_page(
    client: TestClient, orders: list[str]
) -> None:
    listed = _one(client, orders[0], f"lines(first: 3) {{ nodes {{ {LINE} }} }}")["lines"]["nodes"]
    for line in listed:
        query = f"query ($id: ID!) {{ node(id: $id) {{ ... on ContinuityLine {{ {LINE} }} }} }}"
        assert _post(client, query, id=line["id"])["data"]["node"] == line


def test_a_page_leaves_nothing_for_the_garbage_collector(
    client: TestClient, orders: list[str]
) -> None:
    """Once the answer is sent, its rows and objects are freed at once (``Loaders.release``),
    not left in reference cycles for the collector to find."""
    query = "{ continuityOrders(first: 10) { nodes { id lines(first: 20) { nodes { id sku } } } } }"
    gc.collect()
    gc.disable()
    try:
        body = _post(client, query)
        alive = [
            o for o in gc.get_objects() if isinstance(o, ContinuityLine | models.ContinuityLine)
        ]
    finally:
        gc.enable()
    assert len(body["data"]["continuityOrders"]["nodes"]) == 3
    assert alive == []


def test_the_server_walks_young_objects_less_often(client: TestClient) -> None:
    """While the server runs, the young generation is collected after GC_YOUNG_THRESHOLD
    net allocations, not the default 700 (a list request's own objects are freed by
    reference counting; collecting them mid-request cost ~0.8 ms)."""
    assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD > 700


def _graphql_view(client: TestClient) -> Any:
    route = next(r for r in client.app.routes if getattr(r, "path", None) == "/graphql")  # type: ignore[attr-defined]
    return route.app.app  # the Guard, then the GraphQL view behind it


@pytest.mark.parametrize(
    "query",
    [
        f"{{ continuityOrders(first: 10) {{ nodes {{ id number status startDate quantity "
        f"billingMode __typename lines(first: 20) {{ {PAGE} }} }} }} }}",
        # aliases, a field twice, fragments, directives; a customer's nullable leaves
        """{ customers(first: 5) { nodes { a: accountNumber accountNumber ...C
             email @include(if: false) phone } } }
           fragment C on Customer { id name accountNumber }""",
    ],
)
def test_every_answer_is_graphql_cores_own(
    client: TestClient, orders: list[str], query: str
) -> None:
    """The leaves answered without graphql-core's per-field path (``schema/execution.py``)
    give the bytes Strawberry's own execution gives."""
    schema = _graphql_view(client).schema
    ours = client.post("/graphql", json={"query": query})
    assert ours.status_code == 200
    assert "errors" not in ours.json(), ours.text
    own = schema.execution_context_class
    schema.execution_context_class = StrawberryGraphQLCoreExecutionContext
    try:
        theirs = client.post("/graphql", json={"query": query})
    finally:
        schema.execution_context_class = own
    assert ours.content == theirs.content
    assert own is not StrawberryGraphQLCoreExecutionContext
