"""Every list field of the API costs the same number of SQL queries for a page of 2 and a page
of 20 (Saleor's practice): lists are read one statement per level, never one per row.

The list fields are enumerated from the schema, so a new one is covered without touching this
file: a field on a type reachable through a root connection gets a query built for it (the
connections on its way and the field itself asked for ``first: n``, every field of its items
selected with their linked objects); the few root lists that take required arguments have a
case of their own below. A list field that can be reached neither way fails the test by name.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLType,
    GraphQLUnionType,
    get_named_type,
)
from starlette.testclient import TestClient

from config.notifications import NotificationSettings, WebhookSubscriberSettings
from config.settings import Settings
from continuity.payments.gateway import TestGateway
from schema.root import schema
from server.app import create_app
from tests.api.customers import ADD_CARD, ADDRESS, CREATE, place
from tests.api.graphql import gql, program_id
from tests.api.queries import QueryCounter
from tests.conftest import API_TODAY, as_admin

pytestmark = pytest.mark.db

SMALL, LARGE = 2, 20
SCHEMA: GraphQLSchema = schema._schema

RUN_ALL = "mutation { runJob(input: {job: ALL}) { runs { status } userErrors { code } } }"


def _unwrap(kind: GraphQLType) -> GraphQLType:
    while isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    return kind


def _is_connection(field: GraphQLField) -> bool:
    kind = _unwrap(field.type)
    return isinstance(kind, GraphQLObjectType) and "first" in field.args and "edges" in kind.fields


def _is_object_list(field: GraphQLField) -> bool:
    kind = _unwrap(field.type)
    return isinstance(kind, GraphQLList) and isinstance(
        get_named_type(kind), (GraphQLObjectType, GraphQLInterfaceType, GraphQLUnionType)
    )


def _callable_bare(field: GraphQLField) -> bool:
    """No required argument: the field can be selected as it is."""
    return all(
        not isinstance(arg.type, GraphQLNonNull) or arg.default_value is not None
        for arg in field.args.values()
    )


def _node_type(field: GraphQLField) -> GraphQLObjectType:
    """The item type of a list or connection field."""
    kind = get_named_type(field.type)
    assert isinstance(kind, GraphQLObjectType)
    if _is_connection(field):
        node = get_named_type(kind.fields["nodes"].type)
        assert isinstance(node, GraphQLObjectType)
        return node
    return kind


def _wrapper(kind: GraphQLObjectType) -> bool:
    """A connection's or an edge's own type: its lists are the connection itself."""
    return "pageInfo" in kind.fields or ("cursor" in kind.fields and "node" in kind.fields)


def list_fields() -> set[str]:
    """``Type.field`` of every list of objects and every connection reachable from Query."""
    found: set[str] = set()
    seen: set[str] = set()
    assert SCHEMA.query_type is not None
    todo: deque[GraphQLObjectType] = deque([SCHEMA.query_type])
    while todo:
        kind = todo.popleft()
        if kind.name in seen:
            continue
        seen.add(kind.name)
        for name, field in kind.fields.items():
            if not _wrapper(kind) and (_is_connection(field) or _is_object_list(field)):
                found.add(f"{kind.name}.{name}")
            target = get_named_type(field.type)
            if isinstance(target, GraphQLObjectType):
                todo.append(target)
            elif isinstance(target, (GraphQLInterfaceType, GraphQLUnionType)):
                todo.extend(SCHEMA.get_possible_types(target))
    return found


def selection(kind: GraphQLObjectType, depth: int = 1) -> str:
    """Every field of ``kind`` that takes no required argument, and (``depth`` levels deep)
    the objects it links to; connections are left to their own cases."""
    parts = []
    for name, field in kind.fields.items():
        if not _callable_bare(field) or _is_connection(field):
            continue
        target = get_named_type(field.type)
        if isinstance(target, GraphQLObjectType):
            if depth > 0:
                parts.append(f"{name} {{ {selection(target, depth - 1)} }}")
        elif isinstance(target, (GraphQLInterfaceType, GraphQLUnionType)):
            continue
        else:
            parts.append(name)
    return " ".join(parts) or "__typename"


@dataclass(frozen=True)
class Step:
    field: str
    connection: bool

    def wrap(self, inner: str, n: int) -> str:
        if self.connection:
            side = "first" if n > 0 else "last"
            return f"{self.field}({side}: {abs(n)}) {{ nodes {{ {inner} }} }}"
        return f"{self.field} {{ {inner} }}"


def paths() -> dict[str, list[Step]]:
    """The shortest way from Query to each type through fields without required arguments,
    passing through at least one connection (so that the page size changes what it lists)."""
    query = SCHEMA.query_type
    assert query is not None
    best: dict[str, list[Step]] = {}
    todo: deque[tuple[GraphQLObjectType, list[Step]]] = deque()
    for name, field in query.fields.items():
        if _is_connection(field) and _callable_bare(field):
            todo.append((_node_type(field), [Step(name, True)]))
    while todo:
        kind, path = todo.popleft()
        if kind.name in best or len(path) > 4:
            continue
        best[kind.name] = path
        for name, field in kind.fields.items():
            if not _callable_bare(field):
                continue
            target = get_named_type(field.type)
            if _is_connection(field):
                todo.append((_node_type(field), [*path, Step(name, True)]))
            elif isinstance(target, GraphQLObjectType) and not _wrapper(target):
                todo.append((target, [*path, Step(name, False)]))
    return best


def generic_query(type_name: str, field_name: str, route: list[Step], n: int) -> str:
    kind = SCHEMA.get_type(type_name)
    assert isinstance(kind, GraphQLObjectType)
    field = kind.fields[field_name]
    body = Step(field_name, _is_connection(field)).wrap(selection(_node_type(field)), n)
    for step in reversed(route):
        body = step.wrap(body, n)
    return "{ " + body + " }"


@dataclass(frozen=True)
class Seeded:
    order_ids: list[str]
    program_id: str
    changed_program_id: str


def _select(type_name: str) -> str:
    kind = SCHEMA.get_type(type_name)
    assert isinstance(kind, GraphQLObjectType)
    return selection(kind)


def _nodes(s: Seeded, n: int) -> str:
    ids = ", ".join(f'"{i}"' for i in s.order_ids[: abs(n)])
    order = _select("ContinuityOrder")
    return f"{{ nodes(ids: [{ids}]) {{ id ... on ContinuityOrder {{ {order} }} }} }}"


def _upcoming(s: Seeded, n: int) -> str:
    return (
        f'{{ upcomingShipments(orderId: "{s.order_ids[0]}", count: {abs(n)}) '
        f"{{ {_select('UpcomingShipment')} }} }}"
    )


def _preview(s: Seeded, n: int) -> str:
    return (
        f'{{ programPreview(programId: "{s.program_id}", count: {abs(n)}) '
        f"{{ {_select('ProgramPreview')} }} }}"
    )


def _update_preview(s: Seeded, n: int) -> str:
    """The orders a program update would change: one order's vs all of its program's (3)."""
    only = (
        f'(orderId: "{s.order_ids[0]}")'
        if abs(n) == SMALL
        else f'(programId: "{s.changed_program_id}")'
    )
    return f"{{ continuityUpdatePreview{only} {{ {_select('OrderUpdatePreview')} }} }}"


#: Root lists that take a required argument (or are not pages): how to ask for |n| items.
SPECIAL: dict[str, Callable[[Seeded, int], str]] = {
    "Query.nodes": _nodes,
    "Query.upcomingShipments": _upcoming,
    "Query.programPreview": _preview,
    "Query.continuityUpdatePreview": _update_preview,
}
#: Lists covered by a case above (they are only reachable under it).
UNDER_SPECIAL = {
    "UpcomingShipment.items": "Query.upcomingShipments",
    "ProgramPreview.shipments": "Query.programPreview",
    "ProgramPreview.installments": "Query.programPreview",
    "OrderUpdatePreview.lines": "Query.continuityUpdatePreview",
}


def _objects(value: Any) -> int:
    """How many objects an answer holds (the larger page must hold more)."""
    if isinstance(value, dict):
        return 1 + sum(_objects(item) for item in value.values())
    if isinstance(value, list):
        return sum(_objects(item) for item in value)
    return 0


def seed(client: TestClient, rules_dir: Path) -> Seeded:
    """Several of everything: customers with addresses and cards, orders of every program with
    lines, payments, history, child orders and notifications, job runs, and an update pending."""
    orders: list[str] = []
    for c in range(3):
        created = gql(
            client,
            CREATE,
            input={
                "accountNumber": f"QC-{c}",
                "name": "Ada",
                "addresses": [{**ADDRESS, "line1": f"{k} Navy Way"} for k in range(3)],
            },
        )["createCustomer"]
        assert created["userErrors"] == [], created
        customer = created["customer"]
        cards = []
        for extra in range(3):
            card = gql(
                client,
                ADD_CARD,
                input={
                    "customerId": customer["id"],
                    "gatewayToken": "tok_visa",
                    "brand": "visa",
                    "last4": f"42{extra}{c}",
                    "expMonth": 12,
                    "expYear": 2031,
                },
            )["addPaymentMethod"]
            assert card["userErrors"] == [], card
            cards.append(card["paymentMethod"]["id"])
        ids = {
            "customerId": customer["id"],
            "shipToAddressId": customer["addresses"]["nodes"][0]["id"],
            "paymentMethodId": cards[0],
        }
        for sku in ("VITREFILL", "BOOKCLUB", "GIFTBOX6", "VITREFILL"):
            placed = place(client, ids, {"sku": sku}, {"sku": "BOOK-013", "quantity": 1})
            assert placed["userErrors"] == [], placed
            orders += [o["id"] for o in placed["continuityOrders"]]
    for _ in range(2):
        runs = gql(client, RUN_ALL)["runJob"]
        assert runs["userErrors"] == [], runs
        assert runs["runs"], runs
    path = rules_dir / "programs" / "book-club.yaml"
    path.write_text(
        path.read_text().replace("{sku: BOOK-002, quantity: 1}", "{sku: BOOK-013, quantity: 1}")
    )
    reload = gql(client, "mutation { reloadRules(input: {}) { changedPrograms { toVersion } } }")
    assert reload["reloadRules"]["changedPrograms"] == [{"toVersion": 2}]
    book_club = program_id(client, "book-club")
    book_club_orders = [
        node["id"]
        for node in gql(
            client,
            f'{{ continuityOrders(first: 100, programId: "{book_club}") {{ nodes {{ id }} }} }}',
        )["continuityOrders"]["nodes"]
    ]
    return Seeded(
        order_ids=book_club_orders + [o for o in orders if o not in book_club_orders],
        program_id=program_id(client, "gift-box"),
        changed_program_id=book_club,
    )


def cases(seeded: Seeded) -> Iterator[tuple[str, Callable[[int], str]]]:
    """(the list field, its query for a page of n) for every list field of the API; a negative
    n asks for the last |n| items."""
    routes = paths()
    missing = []
    for name in sorted(list_fields()):
        type_name, field_name = name.split(".")
        if name in SPECIAL:
            yield name, partial(SPECIAL[name], seeded)
        elif name in UNDER_SPECIAL:
            continue
        elif type_name == "Query":
            field = SCHEMA.query_type.fields[field_name]  # type: ignore[union-attr]
            if not (_is_connection(field) and _callable_bare(field)):
                missing.append(name)
                continue
            yield name, partial(generic_query, "Query", field_name, [])
        elif type_name in routes:
            route = routes[type_name]
            yield name, partial(generic_query, type_name, field_name, route)
        else:
            missing.append(name)
    assert not missing, f"list fields with no query-count case (add one to SPECIAL): {missing}"


def test_every_list_field_is_enumerated_from_the_schema() -> None:
    fields = list_fields()
    for expected in (
        "Query.continuityOrders",
        "ContinuityOrder.lines",
        "ContinuityOrder.payments",
        "ContinuityOrder.history",
        "Customer.continuityOrders",
        "Program.versions",
        "Query.jobRuns",
        "Query.notifications",
        "SalesOrder.lines",
    ):
        assert expected in fields
    assert not any(f.endswith((".edges", ".nodes")) and "Connection" in f for f in fields)
    assert set(UNDER_SPECIAL.values()) <= set(SPECIAL)


EXTRA_SCHEDULES = """
  - id: four-monthly
    name: "4 monthly payments"
    installments: 4
    every: 1 month
    ship_after_installment: 1

  - id: thirds
    name: "Three parts, 30 days apart"
    lines:
      - {percent: "30", offset_days: 0}
      - {percent: "30", offset_days: 30}
      - {percent: "40", offset_days: 60}
    ship_after_installment: 1
"""


@pytest.fixture
def seeded_client(
    settings: Settings, gateway: TestGateway, rules_dir: Path
) -> Iterator[TestClient]:
    """The app with more payment schedules than a page of 2, a webhook subscriber (so that
    orders have notifications; they are not delivered: no scheduler), and no practical cost
    limit: pages of 20 under pages of 20 are what this test reads, not what clients should."""
    schedules = rules_dir / "payment-schedules.yaml"
    schedules.write_text(schedules.read_text() + EXTRA_SCHEDULES)
    configured = settings.model_copy(
        update={
            "service": settings.service.model_copy(update={"max_query_cost": 10**9}),
            "notifications": NotificationSettings(
                webhooks=[
                    WebhookSubscriberSettings.model_validate(
                        {"name": "erp", "url": "http://127.0.0.1:9/hooks", "secret": "s" * 16}
                    )
                ]
            ),
        }
    )
    app = create_app(configured, gateway=gateway, clock=lambda: API_TODAY)
    with TestClient(app) as client:
        yield as_admin(client)


def test_a_page_of_20_costs_the_queries_of_a_page_of_2(
    seeded_client: TestClient, rules_dir: Path, query_counter: QueryCounter
) -> None:
    client = seeded_client
    seeded = seed(client, rules_dir)
    grows: list[str] = []
    flat_data: list[str] = []
    checked = []
    for name, query in cases(seeded):
        counts, sizes = [], []
        # The process's caches filled first (a version's parsed spec, kept per database since
        # transactions share it): the counts compare two pages, not a cold cache and a warm one.
        gql(client, query(LARGE))
        # A small page from both ends (``last: 2`` too): a level that happens to be empty for
        # the first two items costs no query, and must not pass for an N+1 of the large page.
        for n in (SMALL, -SMALL, LARGE):
            query_counter.queries.clear()
            sizes.append(_objects(gql(client, query(n))))
            counts.append(len(query_counter.queries))
        counts = [max(counts[:2]), counts[2]]
        sizes = [sizes[0], sizes[2]]
        checked.append(name)
        if sizes[1] <= sizes[0]:
            flat_data.append(f"{name}: {sizes[0]} objects for {SMALL}, {sizes[1]} for {LARGE}")
        if counts[0] != counts[1]:
            grows.append(f"{name}: {counts[0]} queries for {SMALL}, {counts[1]} for {LARGE}")
    assert not grows, "N+1: " + "; ".join(grows)
    assert not flat_data, "the seed data does not fill a larger page: " + "; ".join(flat_data)
    assert len(checked) == len(list_fields()) - len(UNDER_SPECIAL)
