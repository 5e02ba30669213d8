"""The API's conventions (docs/API.md), read from the schema itself so that a new type, field or
mutation that breaks one fails here: global ids and ``Node``, connections, look-ups by number,
enums for closed sets, one ``input`` and a payload with ``userErrors`` per mutation, everything
described; and, over HTTP, no amount in minor units in any JSON value a client sees."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import strawberry
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLType,
    get_named_type,
    specified_scalar_types,
)
from starlette.testclient import TestClient

from continuity.money import CURRENCY_MINOR_UNITS
from schema import schema
from schema.enums import HistoryAction
from tests.api.customers import make_customer, place
from tests.api.graphql import flat, gql

ROOT = Path(__file__).resolve().parents[2]
GRAPHQL: GraphQLSchema = schema._schema

#: The entities (SPEC §9, issue 13): each is a Node with a global id.
ENTITIES = {
    "Customer",
    "Address",
    "PaymentMethod",
    "Program",
    "ProgramVersion",
    "Product",
    "PaymentSchedule",
    "SalesOrder",
    "ContinuityOrder",
    "ContinuityLine",
    "ChildOrder",
    "Payment",
    "HistoryEntry",
    "JobRun",
    "Notification",
}

#: Lists of objects that are not connections, and why they cannot grow without bound.
BOUNDED_LISTS = {
    "Billing.allowedSchedules": "the schedules a rule file allows",
    "SalesOrder.continuityOrders": "one per parent-product line (at most 50 lines)",
    "PlaceSalesOrderPayload.continuityOrders": "one per parent-product line of the new order",
    "RunJobPayload.runs": "one per job of the daily chain",
    "Query.nodes": "the ids asked for (at most 100)",
}


def object_types() -> list[GraphQLObjectType]:
    return [
        t
        for name, t in GRAPHQL.type_map.items()
        if isinstance(t, GraphQLObjectType) and not name.startswith("__")
    ]


def unwrap(kind: GraphQLType) -> tuple[bool, bool, GraphQLNamedType]:
    """(non-null, a list, the named type)."""
    required = isinstance(kind, GraphQLNonNull)
    inner = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
    return required, isinstance(inner, GraphQLList), get_named_type(kind)


def field_type(type_name: str, field_name: str) -> str:
    kind = GRAPHQL.get_type(type_name)
    assert isinstance(kind, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType)
    return str(kind.fields[field_name].type)


def is_node(kind: GraphQLNamedType) -> bool:
    return isinstance(kind, GraphQLObjectType) and any(i.name == "Node" for i in kind.interfaces)


# --- 1. global object identification -----------------------------------------------------------


def test_every_entity_is_a_node_and_every_id_is_global() -> None:
    nodes = {t.name for t in object_types() if is_node(t)}
    assert nodes == ENTITIES
    with_id = {t.name for t in object_types() if "id" in t.fields}
    assert with_id - {"Query"} == ENTITIES  # no other type has an `id` (a raw one)
    assert field_type("Node", "id") == "ID!"


def test_node_and_nodes_are_nullable_per_id() -> None:
    query = GRAPHQL.query_type
    assert query is not None
    node, nodes = query.fields["node"], query.fields["nodes"]
    assert (str(node.type), str(node.args["id"].type)) == ("Node", "ID!")
    assert (str(nodes.type), str(nodes.args["ids"].type)) == ("[Node]!", "[ID!]!")


def test_ids_are_named_as_ids() -> None:
    """Every ID argument and input field is `id`/`ids` or ends in `Id`/`Ids` (`orderId`)."""
    bad = []
    for name, kind in GRAPHQL.type_map.items():
        if name.startswith("__"):
            continue
        if isinstance(kind, GraphQLInputObjectType):
            fields = {f"{name}.{f}": v.type for f, v in kind.fields.items()}
        elif isinstance(kind, GraphQLObjectType):
            fields = {
                f"{name}.{f}({a}:)": arg.type
                for f, field in kind.fields.items()
                for a, arg in field.args.items()
            }
        else:
            continue
        for path, arg_type in fields.items():
            leaf = path.rstrip(":)").split("(")[-1].split(".")[-1]
            if get_named_type(arg_type).name == "ID" and not re.fullmatch(
                r"(id|ids|[a-z][A-Za-z]*Ids?)", leaf
            ):
                bad.append(path)
    assert bad == []


# --- 2. connections ---------------------------------------------------------------------------


def connection_fields() -> list[tuple[str, str, GraphQLField]]:
    return [
        (t.name, name, field)
        for t in object_types()
        for name, field in t.fields.items()
        if get_named_type(field.type).name.endswith("Connection")
    ]


def test_every_connection_has_the_relay_shape() -> None:
    assert connection_fields()
    for owner, name, field in connection_fields():
        assert {a: str(field.args[a].type) for a in ("first", "after", "last", "before")} == {
            "first": "Int",
            "after": "String",
            "last": "Int",
            "before": "String",
        }, f"{owner}.{name}"
        connection = get_named_type(field.type)
        assert isinstance(connection, GraphQLObjectType)
        node = connection.name.removesuffix("Connection")
        assert {f: str(v.type) for f, v in connection.fields.items()} == {
            "pageInfo": "PageInfo!",
            "edges": f"[{node}Edge!]!",
            "totalCount": "Int!",
            "nodes": f"[{node}!]!",
        }
        assert field_type(f"{node}Edge", "cursor") == "String!"
        assert field_type(f"{node}Edge", "node") == f"{node}!"
    page_info = GRAPHQL.get_type("PageInfo")
    assert isinstance(page_info, GraphQLObjectType)
    assert {f: str(v.type) for f, v in page_info.fields.items()} == {
        "hasNextPage": "Boolean!",
        "hasPreviousPage": "Boolean!",
        "startCursor": "String",
        "endCursor": "String",
    }


def test_lists_that_can_grow_are_connections() -> None:
    for path in (
        "ContinuityOrder.lines",
        "ContinuityOrder.payments",
        "ContinuityOrder.history",
        "SalesOrder.payments",
        "Program.versions",
        "Customer.continuityOrders",
        "Customer.salesOrders",
        "Customer.addresses",
        "Customer.paymentMethods",
        "Query.customers",
        "Query.continuityOrders",
        "Query.programs",
        "Query.products",
        "Query.paymentSchedules",
        "Query.jobRuns",
        "Query.notifications",
    ):
        owner, name = path.split(".")
        assert field_type(owner, name).endswith("Connection!"), path
    lists_of_nodes = {
        f"{t.name}.{name}"
        for t in object_types()
        for name, field in t.fields.items()
        if unwrap(field.type)[1]
        and (is_node(get_named_type(field.type)) or get_named_type(field.type).name == "Node")
        and not t.name.endswith("Connection")
    }
    assert lists_of_nodes == set(BOUNDED_LISTS)


# --- 3. look-ups by the numbers people quote --------------------------------------------------


@pytest.mark.parametrize(
    ("field", "key"),
    [
        ("continuityOrder", "number"),
        ("salesOrder", "number"),
        ("childOrder", "number"),
        ("customer", "accountNumber"),
        ("program", "code"),
        ("product", "sku"),
        ("paymentSchedule", "code"),
    ],
)
def test_look_ups_by_id_or_by_number(field: str, key: str) -> None:
    query = GRAPHQL.query_type
    assert query is not None
    found = query.fields[field]
    assert {a: str(v.type) for a, v in found.args.items()} == {"id": "ID", key: "String"}
    assert not isinstance(found.type, GraphQLNonNull)


# --- 4. enums, money --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("JobRun.job", "JobName!"),
        ("ContinuityOrder.cancelReason", "CancelReason"),
        ("HistoryEntry.action", "HistoryAction!"),
        ("Notification.eventType", "NotificationEventType!"),
        ("Notification.channel", "NotificationChannel!"),
        ("Payment.failureCode", "PaymentFailureCode"),
        ("Money.amount", "Decimal!"),
        ("Money.currencyCode", "CurrencyCode!"),
        ("Program.currencyCode", "CurrencyCode!"),
        ("ContinuityOrder.total", "Money"),
        ("UserError.code", "ErrorCode!"),
    ],
)
def test_closed_sets_are_enums(path: str, kind: str) -> None:
    owner, name = path.split(".")
    assert field_type(owner, name) == kind


def test_currency_codes_are_the_services_currencies() -> None:
    currency = GRAPHQL.get_type("CurrencyCode")
    assert isinstance(currency, GraphQLEnumType)
    assert set(currency.values) == set(CURRENCY_MINOR_UNITS)
    strings = [
        f"{t.name}.{name}"
        for t in object_types()
        for name, field in t.fields.items()
        if name in {"currency", "currencyCode"}
        and get_named_type(field.type).name != "CurrencyCode"
    ]
    assert strings == []


def _history_actions_written_by_the_domain() -> set[str]:
    """Every action literal the domain passes to ``history.record`` or ``history.entry`` (the
    fields of an entry written with other rows), or inserts in SQL."""
    found: set[str] = set()
    for path in (ROOT / "continuity").rglob("*.py"):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) in ("record", "entry")
                and len(node.args) > 1
                and isinstance(node.args[1], ast.Constant)
            ):
                found.add(str(node.args[1].value))
            if (
                isinstance(node, ast.keyword)
                and node.arg == "action"
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                found.add(node.value.value)
        for match in re.finditer(
            r"INSERT INTO order_history_entry[^;]*?(?:VALUES|SELECT)[^']*'([a-z_]+)'", source
        ):
            found.add(match.group(1))
    return found


def test_every_history_action_the_domain_writes_is_in_the_enum() -> None:
    written = _history_actions_written_by_the_domain()
    assert {"placed", "lines_extended", "child_order_created", "closed"} <= written
    assert written <= {a.value for a in HistoryAction}


# --- 5. mutations -----------------------------------------------------------------------------


def test_every_mutation_takes_one_input_and_returns_user_errors() -> None:
    mutation = GRAPHQL.mutation_type
    assert mutation is not None
    for name, field in mutation.fields.items():
        title = name[0].upper() + name[1:]
        assert {a: str(v.type) for a, v in field.args.items()} == {"input": f"{title}Input!"}, name
        assert str(field.type) == f"{title}Payload!", name
        assert field_type(f"{title}Payload", "userErrors") == "[UserError!]!", name


# --- 6. descriptions --------------------------------------------------------------------------


def undocumented(graphql: GraphQLSchema) -> list[str]:
    missing: list[str] = []
    for name, kind in graphql.type_map.items():
        if name.startswith("__") or name in specified_scalar_types:
            continue
        if not kind.description:
            missing.append(name)
        if isinstance(kind, GraphQLEnumType):
            missing += [f"{name}.{v}" for v, value in kind.values.items() if not value.description]
        if isinstance(kind, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in kind.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description:
                        missing.append(f"{name}.{field_name}({arg_name}:)")
    return missing


def test_everything_is_described() -> None:
    assert undocumented(GRAPHQL) == []


@strawberry.type
class Bare:
    x: int


@strawberry.type(description="Root.")
class BareQuery:
    bare: Bare = strawberry.field(description="A bare type.")


def test_the_description_check_finds_a_gap() -> None:
    assert undocumented(strawberry.Schema(BareQuery)._schema) == ["Bare", "Bare.x"]


# --- amounts inside JSON values ---------------------------------------------------------------


def _minor_keys(value: Any, path: str = "") -> list[str]:
    if isinstance(value, dict):
        return [
            hit
            for key, item in value.items()
            for hit in ([f"{path}.{key}"] if key.endswith("_minor") else [])
            + _minor_keys(item, f"{path}.{key}")
        ]
    if isinstance(value, list):
        return [hit for item in value for hit in _minor_keys(item, path)]
    return []


@pytest.mark.db
def test_no_minor_units_in_history_details_or_job_counts(client: TestClient) -> None:
    ids = make_customer(client)
    gift = place(client, ids, {"sku": "GIFTBOX6"})["continuityOrders"][0]["id"]
    book = place(client, ids, {"sku": "BOOKCLUB"})["continuityOrders"][0]["id"]
    runs = gql(client, "mutation { runJob(input: {job: ALL}) { runs { job counts } } }")
    swap = gql(
        client,
        """mutation ($input: SwapItemInput!) { swapItem(input: $input) { userErrors { code } } }""",
        input={"orderId": book, "fromSku": "BOOK-002", "toSku": "BOOK-013"},
    )
    assert swap["swapItem"]["userErrors"] == []
    cancel = gql(
        client,
        """mutation ($input: CancelOrderInput!) { cancelOrder(input: $input) {
        userErrors { code } } }""",
        input={"orderId": gift, "reasonCode": "CUSTOMER_REQUEST"},
    )
    assert cancel["cancelOrder"]["userErrors"] == []
    history = {
        order_id: flat(
            gql(
                client,
                "query ($id: ID!) { continuityOrder(id: $id) { history(first: 100) "
                "{ nodes { action details } } } }",
                id=order_id,
            )["continuityOrder"]["history"]
        )
        for order_id in (gift, book)
    }
    release = next(r for r in runs["runJob"]["runs"] if r["job"] == "CREATE_CHILD_ORDERS")
    # the book club's first book, authorized when its child order was created
    charged = release["counts"]["authorized_amount"]
    assert charged == [{"amount": "9.99", "currencyCode": "USD"}], release["counts"]
    cancelled = next(h for h in history[gift] if h["action"] == "CANCELLED")
    # 129.00 prepaid, the first of six boxes on its way (a child order): five refunded
    assert cancelled["details"]["refund"] == {"amount": "107.50", "currencyCode": "USD"}
    assert _minor_keys([runs, history]) == []
