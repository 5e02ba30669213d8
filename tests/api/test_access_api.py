"""Every cell of the access tables (``schema.access.POLICY`` and ``NODE_POLICY``, printed in
docs/ACCESS.md) over HTTP: allowed → it runs; refused → ``FORBIDDEN``, no data, and the database
unchanged; an object type a role may not read loads as null. A customer asking for another
customer's data gets the answer it gets for data that does not exist."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from graphql import OperationDefinitionNode, parse
from starlette.testclient import TestClient

from continuity.access import Caller
from continuity.enums import Role
from continuity.models import Notification
from schema import schema
from schema.access import (
    NODE_POLICY,
    POLICY,
    ROLES,
    Grant,
    check_operation,
    grant,
    node_grant,
    node_policy_table,
    policy_table,
)
from tests.api.customers import make_customer, place
from tests.api.graphql import global_id, gql, pk_of
from tests.api.snapshot import snapshot
from tests.conftest import bearer, issue_token

pytestmark = pytest.mark.db

ROOT = Path(__file__).resolve().parents[2]
World = dict[str, str]
Request = tuple[str, dict[str, Any]]

ORDER_RESULT = "continuityOrder { id } userErrors { field code message }"
REASON = "customer called"


def _change(name: str, input_type: str, **fields: Any) -> Callable[[World], Request]:
    def build(w: World) -> Request:
        values = {
            k: (w[v[1:]] if isinstance(v, str) and v.startswith("$") else v)
            for k, v in fields.items()
        }
        document = (
            f"mutation ($input: {input_type}!) {{ {name}(input: $input) {{ {ORDER_RESULT} }} }}"
        )
        return document, {"input": values}

    return build


def _q(document: str, **variables: str) -> Callable[[World], Request]:
    def build(w: World) -> Request:
        return document, {k: w[v] for k, v in variables.items()}

    return build


#: One request per root field, in an order where each still makes sense (cancel last).
REQUESTS: dict[str, Callable[[World], Request]] = {
    "Query.viewer": _q("{ viewer { role name } }"),
    "Query.node": _q("query ($id: ID!) { node(id: $id) { id } }", id="programId"),
    "Query.nodes": _q("query ($id: ID!) { nodes(ids: [$id]) { id } }", id="orderId"),
    "Query.programs": _q("{ programs { nodes { id } } }"),
    "Query.program": _q('{ program(code: "book-club") { id } }'),
    "Query.products": _q("{ products { nodes { sku } } }"),
    "Query.product": _q('{ product(sku: "BOOK-001") { id } }'),
    "Query.paymentSchedules": _q("{ paymentSchedules { nodes { id } } }"),
    "Query.paymentSchedule": _q('{ paymentSchedule(code: "three-monthly") { id } }'),
    "Query.programPreview": _q(
        "query ($id: ID!) { programPreview(programId: $id) { startDate } }", id="programId"
    ),
    "Query.callCenterParameters": _q("{ callCenterParameters { retryDays } }"),
    "Query.customer": _q("query ($id: ID!) { customer(id: $id) { id } }", id="customerId"),
    "Query.customers": _q("{ customers { edges { node { id } } } }"),
    "Query.salesOrder": _q(
        "query ($n: String!) { salesOrder(number: $n) { id } }", n="salesOrderNumber"
    ),
    "Query.continuityOrder": _q(
        "query ($id: ID!) { continuityOrder(id: $id) { id } }", id="orderId"
    ),
    "Query.continuityOrders": _q("{ continuityOrders { edges { node { id } } } }"),
    "Query.childOrder": _q("query ($id: ID!) { childOrder(id: $id) { id } }", id="childOrderId"),
    "Query.childOrders": _q("{ childOrders { edges { node { id } } } }"),
    "Query.upcomingShipments": _q(
        "query ($id: ID!) { upcomingShipments(orderId: $id) { shipDate } }", id="orderId"
    ),
    "Query.jobRuns": _q("{ jobRuns { edges { node { id } } } }"),
    "Query.continuityUpdatePreview": _q("{ continuityUpdatePreview { orderId } }"),
    "Mutation.reloadRules": _q("mutation { reloadRules(input: {dryRun: true}) { applied } }"),
    "Mutation.createCustomer": lambda w: (
        "mutation ($input: CreateCustomerInput!) { createCustomer(input: $input) "
        "{ customer { id } userErrors { code } } }",
        {"input": {"accountNumber": "C-NEW", "name": "New Customer"}},
    ),
    "Mutation.addPaymentMethod": lambda w: (
        "mutation ($input: AddPaymentMethodInput!) { addPaymentMethod(input: $input) "
        "{ paymentMethod { id } userErrors { field code message } } }",
        {
            "input": {
                "customerId": w["customerId"],
                "gatewayToken": "tok_mastercard",
                "brand": "mastercard",
                "last4": "4444",
                "expMonth": 1,
                "expYear": 2032,
                "isDefault": False,
            }
        },
    ),
    "Mutation.placeSalesOrder": lambda w: (
        "mutation ($input: PlaceSalesOrderInput!) { placeSalesOrder(input: $input) "
        "{ salesOrder { id } userErrors { code } } }",
        {
            "input": {
                "customerId": w["customerId"],
                "shipToAddressId": w["shipToAddressId"],
                "paymentMethodId": w["paymentMethodId"],
                "lines": [{"sku": "BOOK-001"}],
            }
        },
    ),
    "Mutation.skipShipment": _change(
        "skipShipment", "SkipShipmentInput", orderId="$orderId", eventNumber=3, reason=REASON
    ),
    "Mutation.pauseOrder": _change(
        "pauseOrder", "PauseOrderInput", orderId="$orderId", reason=REASON
    ),
    "Mutation.resumeOrder": _change(
        "resumeOrder", "ResumeOrderInput", orderId="$orderId", reason=REASON
    ),
    "Mutation.changeShipTo": _change(
        "changeShipTo",
        "ChangeShipToInput",
        orderId="$orderId",
        addressId="$shipToAddressId",
        reason=REASON,
    ),
    "Mutation.changePaymentMethod": _change(
        "changePaymentMethod",
        "ChangePaymentMethodInput",
        orderId="$orderId",
        paymentMethodId="$paymentMethodId",
        reason=REASON,
    ),
    "Mutation.swapItem": _change(
        "swapItem",
        "SwapItemInput",
        orderId="$orderId",
        fromSku="BOOK-01",
        toSku="BOOK-02",
        reason=REASON,
    ),
    "Mutation.changeQuantity": _change(
        "changeQuantity", "ChangeQuantityInput", orderId="$orderId", quantity=2, reason=REASON
    ),
    "Mutation.updateStartDate": lambda w: (
        "mutation ($input: UpdateStartDateInput!) { updateStartDate(input: $input) "
        "{ applied userErrors { code } } }",
        {"input": {"orderIds": [w["orderId"]], "addDays": 3, "dryRun": True, "reason": REASON}},
    ),
    "Mutation.substituteProduct": lambda w: (
        "mutation ($input: SubstituteProductInput!) { substituteProduct(input: $input) "
        "{ applied userErrors { code } } }",
        {
            "input": {
                "orderIds": [w["orderId"]],
                "fromSku": "BOOK-03",
                "toSku": "BOOK-04",
                "dryRun": True,
                "reason": REASON,
            }
        },
    ),
    "Mutation.runJob": _q(
        "mutation { runJob(input: {job: CLOSE_ORDERS}) { runs { id } userErrors { code } } }"
    ),
    "Mutation.markChildOrderShipped": _q(
        "mutation ($id: ID!) { markChildOrderShipped(input: {childOrderId: $id}) "
        "{ childOrder { id } userErrors { code } } }",
        id="missingChildOrderId",
    ),
    "Mutation.invoiceChildOrder": _q(
        "mutation ($id: ID!) { invoiceChildOrder(input: {childOrderId: $id}) "
        "{ childOrder { id } userErrors { code } } }",
        id="missingChildOrderId",
    ),
    "Query.notifications": _q("{ notifications { edges { node { id } } } }"),
    "Mutation.redeliverNotification": _q(
        "mutation ($id: ID!) { redeliverNotification(input: {notificationId: $id}) "
        "{ userErrors { code } } }",
        id="missingNotificationId",
    ),
    "Mutation.cancelOrder": _change(
        "cancelOrder",
        "CancelOrderInput",
        orderId="$orderId",
        reasonCode="CUSTOMER_REQUEST",
        reason=REASON,
    ),
}


def root_fields() -> set[str]:
    graphql = schema._schema
    names = set()
    for kind, root in (
        ("Query", graphql.query_type),
        ("Mutation", graphql.mutation_type),
        ("Subscription", graphql.subscription_type),
    ):
        if root is not None:
            names |= {f"{kind}.{name}" for name in root.fields}
    return names


def test_the_table_names_every_root_field() -> None:
    """A new query or mutation is refused to every role but admin until it has a row here."""
    assert set(POLICY) == root_fields(), "add the field to schema.access.POLICY"
    over_http = {f for f in POLICY if not f.startswith("Subscription.")}
    assert set(REQUESTS) == over_http, "add a request for the field to this test"


@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
def test_subscriptions_are_checked_too(role: Role) -> None:
    """Subscriptions run over websockets: the same check, before subscribing."""
    document = parse('subscription { orderEvents(orderId: "1") { action } }')
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    caller = Caller(role=role, name="x", token_key="k", customer_id=1)
    error = check_operation(caller, operation, {}, {})
    allowed = grant("Subscription.orderEvents", role) is not Grant.NO
    assert (error is None) == allowed
    assert check_operation(None, operation, {}, {}) is not None


def test_the_docs_show_the_tables() -> None:
    docs = (ROOT / "docs" / "ACCESS.md").read_text()
    for table in (policy_table(), node_policy_table()):
        assert table in docs, (
            "docs/ACCESS.md is out of date: paste `python -c 'from schema.access import "
            "policy_table, node_policy_table; print(policy_table()); print(node_policy_table())'`"
        )


def test_the_object_table_names_every_node_type() -> None:
    graphql = schema._schema
    node = graphql.get_type("Node")
    assert node is not None
    implementing = {t.name for t in graphql.get_possible_types(node)}  # type: ignore[arg-type]
    assert set(NODE_POLICY) == implementing, "add the type to schema.access.NODE_POLICY"


WORLD_ORDER = """query ($id: ID!) { continuityOrder(id: $id) {
  salesOrder { id number } program { id version { id } } paymentSchedule { id }
  lines(first: 1) { nodes { id product { id } childOrder { id } } }
  history(first: 1) { nodes { id } } payments(first: 1) { nodes { id } } } }"""


def make_world(client: TestClient) -> World:
    """Two customers with an order each, one object of every type; the customer token is bound
    to the first customer."""
    mine = make_customer(client, "C-100")
    placed = place(client, mine, {"sku": "WINECLUB12"})
    assert placed["userErrors"] == []
    theirs = make_customer(client, "C-200", token="tok_amex")
    their_order = place(client, theirs, {"sku": "BOOKCLUB"})
    assert their_order["userErrors"] == []
    order_id = placed["continuityOrders"][0]["id"]
    runs = gql(client, "mutation { runJob(input: {job: ALL}) { runs { id } } }")["runJob"]["runs"]
    order = gql(client, WORLD_ORDER, id=order_id)["continuityOrder"]
    line = order["lines"]["nodes"][0]

    async def notification() -> int:
        row = await Notification.create(
            continuity_order_id=pk_of(order_id),
            event_type="order_placed",
            channel="webhook",
            recipient="erp",
            payload={},
            dedupe_key="test:world",
        )
        return row.id

    notification_id = client.portal.call(notification)  # type: ignore[union-attr]
    return {
        **mine,
        "orderId": order_id,
        "salesOrderId": order["salesOrder"]["id"],
        "salesOrderNumber": order["salesOrder"]["number"],
        "programId": order["program"]["id"],
        "programVersionId": order["program"]["version"]["id"],
        "paymentScheduleId": order["paymentSchedule"]["id"],
        "productId": line["product"]["id"],
        "continuityLineId": line["id"],
        "childOrderId": line["childOrder"]["id"],
        "historyEntryId": order["history"]["nodes"][0]["id"],
        "paymentId": order["payments"]["nodes"][0]["id"],
        "jobRunId": runs[0]["id"],
        "notificationId": global_id("Notification", notification_id),
        "missingChildOrderId": global_id("ChildOrder", 999),
        "missingNotificationId": global_id("Notification", 999),
        "otherCustomerId": theirs["customerId"],
        "otherOrderId": their_order["continuityOrders"][0]["id"],
    }


#: One object of every type in the world (the first customer's, where it has an owner).
NODE_IDS = {
    "Program": "programId",
    "ProgramVersion": "programVersionId",
    "Product": "productId",
    "PaymentSchedule": "paymentScheduleId",
    "Customer": "customerId",
    "Address": "shipToAddressId",
    "PaymentMethod": "paymentMethodId",
    "SalesOrder": "salesOrderId",
    "ContinuityOrder": "orderId",
    "ContinuityLine": "continuityLineId",
    "Payment": "paymentId",
    "HistoryEntry": "historyEntryId",
    "ChildOrder": "childOrderId",
    "JobRun": "jobRunId",
    "Notification": "notificationId",
}


@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
def test_every_object_cell(client: TestClient, role: Role) -> None:
    """``node``/``nodes`` answer every type as NODE_POLICY says: readable objects come back,
    the others (and another customer's, for a customer token) as null, with no error."""
    assert set(NODE_IDS) == set(NODE_POLICY)
    world = make_world(client)
    token = token_for(client, role)
    names = list(NODE_IDS)
    ids = [world[NODE_IDS[name]] for name in names]
    body = post(
        client,
        token,
        ("query ($ids: [ID!]!) { nodes(ids: $ids) { id __typename } }", {"ids": ids}),
    )
    assert "errors" not in body, body
    for name, node_id, found in zip(names, ids, body["data"]["nodes"], strict=True):
        visible = node_grant(name, role) is not Grant.NO
        assert (found is not None) == visible, (name, role, found)
        if found is not None:
            assert found == {"id": node_id, "__typename": name}
        single = post(client, token, ("query ($id: ID!) { node(id: $id) { id } }", {"id": node_id}))
        assert single == {"data": {"node": {"id": node_id} if visible else None}}, (name, role)
    theirs = post(
        client,
        token,
        ("query ($id: ID!) { node(id: $id) { id } }", {"id": world["otherOrderId"]}),
    )
    readable = node_grant("ContinuityOrder", role) is Grant.YES
    assert theirs["data"]["node"] == ({"id": world["otherOrderId"]} if readable else None)


def post(client: TestClient, token: str, request: Request) -> dict[str, Any]:
    document, variables = request
    response = client.post(
        "/graphql", headers=bearer(token), json={"query": document, "variables": variables}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def token_for(client: TestClient, role: Role) -> str:
    return issue_token(
        client, role, name=f"a-{role.value}", customer="C-100" if role is Role.CUSTOMER else None
    )


@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
def test_every_cell(client: TestClient, role: Role) -> None:
    world = make_world(client)
    token = token_for(client, role)
    for field, build in REQUESTS.items():
        name = field.split(".")[1]
        cell = grant(field, role)
        before = snapshot(client)
        body = post(client, token, build(world))
        if cell is Grant.NO:
            assert body["data"] is None, (field, body)
            assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], field
            assert snapshot(client) == before, f"{field} refused to {role} but wrote"
        else:
            assert "errors" not in body, (field, body["errors"])
            assert name in body["data"], field


@pytest.mark.parametrize("field", ["Mutation.updateStartDate", "Mutation.substituteProduct"])
def test_dry_run_cells_refuse_a_real_run(client: TestClient, field: str) -> None:
    world = make_world(client)
    assert grant(field, Role.MERCHANDISER) is Grant.DRY_RUN
    token = token_for(client, Role.MERCHANDISER)
    document, variables = REQUESTS[field](world)
    variables["input"]["dryRun"] = False
    before = snapshot(client)
    body = post(client, token, (document, variables))
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert snapshot(client) == before
    # The same with dryRun in the document, not in a variable.
    inline = (
        'mutation { updateStartDate(input: {orderIds: ["1"], addDays: 1, dryRun: false}) '
        "{ applied } }"
    )
    assert post(client, token, (inline, {}))["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_a_refused_field_anywhere_refuses_the_whole_operation(client: TestClient) -> None:
    """Through aliases and fragments alike, nothing runs."""
    token = token_for(client, Role.MERCHANDISER)
    document = """
      mutation { ok: reloadRules(input: {dryRun: true}) { applied } ...F }
      fragment F on Mutation { createCustomer(input: {accountNumber: "X-1", name: "X"})
                               { customer { id } } }
    """
    before = snapshot(client)
    body = post(client, token, (document, {}))
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert snapshot(client) == before


def _without_ids(value: Any, *ids: str) -> Any:
    text = repr(value)
    for id_ in ids:
        text = re.sub(rf"\b{re.escape(id_)}\b", "<id>", text)
    return text


OWN_CHANGES = [
    f
    for f, cells in POLICY.items()
    if f.startswith("Mutation.")
    and cells[Role.CUSTOMER] is Grant.OWN
    and f != "Mutation.addPaymentMethod"
]


def test_another_customers_data_reads_as_missing(client: TestClient) -> None:
    world = make_world(client)
    token = token_for(client, Role.CUSTOMER)
    missing = global_id("ContinuityOrder", 987654)
    for field in ("Query.continuityOrder", "Query.upcomingShipments", "Query.nodes"):
        theirs = post(client, token, REQUESTS[field]({**world, "orderId": world["otherOrderId"]}))
        nothing = post(client, token, REQUESTS[field]({**world, "orderId": missing}))
        assert theirs == nothing, field
        assert theirs["data"][field.split(".")[1]] in (None, [None])
    theirs = post(
        client, token, REQUESTS["Query.customer"]({"customerId": world["otherCustomerId"]})
    )
    assert theirs == {"data": {"customer": None}}
    listed = post(client, token, REQUESTS["Query.customers"](world))["data"]["customers"]["edges"]
    assert [e["node"]["id"] for e in listed] == [world["customerId"]]
    orders = post(
        client,
        token,
        (
            "query ($c: ID) { continuityOrders(customerId: $c) { edges { node { id } } } }",
            {"c": world["otherCustomerId"]},
        ),
    )
    assert orders["data"]["continuityOrders"]["edges"] == []
    mine = post(client, token, REQUESTS["Query.continuityOrders"](world))
    assert [e["node"]["id"] for e in mine["data"]["continuityOrders"]["edges"]] == [
        world["orderId"]
    ]
    before = snapshot(client)
    for field in OWN_CHANGES:
        name = field.split(".")[1]
        theirs = post(client, token, REQUESTS[field]({**world, "orderId": world["otherOrderId"]}))
        nothing = post(client, token, REQUESTS[field]({**world, "orderId": missing}))
        assert theirs["data"][name]["userErrors"][0]["code"] == "NOT_FOUND", field
        assert _without_ids(theirs, world["otherOrderId"]) == _without_ids(nothing, missing)
    card = REQUESTS["Mutation.addPaymentMethod"]
    theirs = post(client, token, card({**world, "customerId": world["otherCustomerId"]}))
    no_customer = global_id("Customer", 987654)
    nothing = post(client, token, card({**world, "customerId": no_customer}))
    assert theirs["data"]["addPaymentMethod"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert _without_ids(theirs, world["otherCustomerId"]) == _without_ids(nothing, no_customer)
    assert snapshot(client) == before


def test_an_agent_gives_a_reason(client: TestClient) -> None:
    world = make_world(client)
    token = token_for(client, Role.AGENT)
    document, variables = REQUESTS["Mutation.pauseOrder"](world)
    del variables["input"]["reason"]
    before = snapshot(client)
    payload = post(client, token, (document, variables))["data"]["pauseOrder"]
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("INVALID_INPUT", ["input", "reason"])
    ]
    assert snapshot(client) == before
    variables["input"]["reason"] = "customer asked by phone"
    payload = post(client, token, (document, variables))["data"]["pauseOrder"]
    assert payload["userErrors"] == []
    history = post(
        client,
        token,
        (
            "query ($id: ID!) { continuityOrder(id: $id) { history(last: 1) "
            "{ nodes { actor reason } } } }",
            {"id": world["orderId"]},
        ),
    )["data"]["continuityOrder"]["history"]["nodes"]
    assert history[-1] == {"actor": "agent:a-agent", "reason": "customer asked by phone"}


def test_links_follow_the_object_table(client: TestClient) -> None:
    """An operator reads notifications and child orders but not continuity orders: their links
    to the order read as null (a fulfilment token's too); an agent follows them."""
    world = make_world(client)
    query = (
        "query ($n: ID!, $c: ID!) { "
        "n: node(id: $n) { ... on Notification { continuityOrder { id } } } "
        "c: node(id: $c) { ... on ChildOrder { continuityOrder { id } } } }"
    )
    variables = {"n": world["notificationId"], "c": world["childOrderId"]}
    order = {"continuityOrder": {"id": world["orderId"]}}
    agent = post(client, token_for(client, Role.AGENT), (query, variables))
    assert agent == {"data": {"n": order, "c": order}}
    operator = post(client, token_for(client, Role.OPERATOR), (query, variables))
    hidden = {"continuityOrder": None}
    assert operator == {"data": {"n": hidden, "c": hidden}}
    warehouse = post(client, token_for(client, Role.FULFILMENT), (query, variables))
    assert warehouse == {"data": {"n": None, "c": hidden}}  # no notifications either
