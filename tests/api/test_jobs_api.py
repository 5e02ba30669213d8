"""runJob, jobRuns, fulfilment callbacks, continuity update and the bulk changes over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from continuity.jobs import DAILY_CHAIN
from schema.jobs import JobName
from tests.api.customers import make_customer, place
from tests.api.graphql import flat, global_id, gql, program_id

pytestmark = pytest.mark.db

RUN = """mutation ($input: RunJobInput!) { runJob(input: $input) {
  runs { job asOf status counts failures { item error } } userErrors { field code } } }"""
ORDER = """query ($id: ID!) { continuityOrder(id: $id) { startDate programVersion { number }
  lines(first: 100) { nodes { eventNumber repeatIndex sku plannedShipDate status
    childOrder { id status } } }
  history(last: 100) { nodes { action actor reason } } } }"""


def order(client: TestClient, order_id: str) -> dict[str, Any]:
    found: dict[str, Any] = flat(gql(client, ORDER, id=order_id)["continuityOrder"])
    return found


def test_job_names_are_the_chain() -> None:
    assert [j.value for j in JobName if j is not JobName.ALL] == [n for n, _ in DAILY_CHAIN]


def _order(client: TestClient, ids: dict[str, str], sku: str) -> str:
    payload = place(client, ids, {"sku": sku})
    assert payload["userErrors"] == []
    order_id: str = payload["continuityOrders"][0]["id"]
    return order_id


def test_run_the_chain_ship_invoice_and_close(client: TestClient) -> None:
    ids = make_customer(client)
    order_id = _order(client, ids, "VITREFILL")
    runs = gql(client, RUN, input={"job": "ALL"})["runJob"]["runs"]
    assert [r["job"] for r in runs] == [JobName(n).name for n, _ in DAILY_CHAIN]
    assert all(r["status"] == "SUCCEEDED" and r["asOf"] == "2027-01-31" for r in runs)
    assert runs[4]["counts"]["child_orders"] == 1
    line = order(client, order_id)["lines"][0]
    assert (line["status"], line["childOrder"]["status"]) == ("RELEASED", "AUTHORIZED")
    child = line["childOrder"]["id"]
    ship = """mutation ($id: ID!) { markChildOrderShipped(input: {childOrderId: $id}) {
        childOrder { status } userErrors { field code } } }"""
    invoice = ship.replace("markChildOrderShipped", "invoiceChildOrder")
    # invoicing before shipping is refused and changes nothing
    early = gql(client, invoice, id=child)["invoiceChildOrder"]
    assert early == {
        "childOrder": None,
        "userErrors": [{"field": ["input", "childOrderId"], "code": "NOT_SHIPPED"}],
    }
    assert gql(client, ship, id=child)["markChildOrderShipped"]["childOrder"] == {
        "status": "SHIPPED"
    }
    assert gql(client, invoice, id=child)["invoiceChildOrder"]["childOrder"] == {
        "status": "INVOICED"
    }
    closed = gql(client, RUN, input={"job": "CLOSE_ORDERS"})["runJob"]["runs"][0]
    assert closed["counts"]["lines_closed"] == 1
    history = [h["action"] for h in order(client, order_id)["history"]]
    assert history[-3:] == ["CHILD_ORDER_CREATED", "CHILD_ORDER_SHIPPED", "CHILD_ORDER_INVOICED"]
    page = gql(client, "{ jobRuns(first: 3) { edges { node { job } } pageInfo { hasNextPage } } }")
    assert [e["node"]["job"] for e in page["jobRuns"]["edges"]] == [
        "CLOSE_ORDERS",
        "CLOSE_ORDERS",
        "CREATE_CHILD_ORDERS",
    ]
    assert page["jobRuns"]["pageInfo"]["hasNextPage"] is True
    only = gql(client, "{ jobRuns(job: CREATE_CHILD_ORDERS) { edges { node { job } } } }")
    assert len(only["jobRuns"]["edges"]) == 1


def test_run_job_refuses_a_date_far_away(client: TestClient) -> None:
    payload = gql(client, RUN, input={"job": "ALL", "asOf": "2099-01-01"})["runJob"]
    assert payload == {
        "runs": [],
        "userErrors": [{"field": ["input", "asOf"], "code": "INVALID_INPUT"}],
    }
    assert gql(client, "{ jobRuns { edges { node { id } } } }")["jobRuns"]["edges"] == []


def test_continuity_update_preview_then_apply(client: TestClient, rules_dir: Path) -> None:
    ids = make_customer(client)
    order_id = _order(client, ids, "BOOKCLUB")
    path = rules_dir / "programs" / "book-club.yaml"
    path.write_text(
        path.read_text().replace("{sku: BOOK-002, quantity: 1}", "{sku: BOOK-013, quantity: 1}")
    )
    reload = gql(client, "mutation { reloadRules(input: {}) { changedPrograms { toVersion } } }")
    assert reload["reloadRules"]["changedPrograms"] == [{"toVersion": 2}]
    book_club = program_id(client, "book-club")
    preview = gql(
        client,
        """query ($program: ID!) { continuityUpdatePreview(programId: $program) {
        orderId fromVersion toVersion currencyCode linesRemoved linesAdded linesChanged
        dateChanges lines { eventNumber repeatIndex itemSeq change changedFields
          before { sku } after { sku } } } }""",
        program=book_club,
    )
    assert preview["continuityUpdatePreview"] == [
        {
            "orderId": order_id,
            "fromVersion": 1,
            "toVersion": 2,
            "currencyCode": "USD",
            "linesRemoved": 0,
            "linesAdded": 0,
            "linesChanged": 1,
            "dateChanges": 0,
            "lines": [
                {
                    "eventNumber": 2,
                    "repeatIndex": 0,
                    "itemSeq": 0,
                    "change": "CHANGED",
                    "changedFields": ["SKU"],
                    "before": {"sku": "BOOK-002"},
                    "after": {"sku": "BOOK-013"},
                }
            ],
        }
    ]
    before = order(client, order_id)
    assert before["programVersion"] == {"number": 1}  # the preview wrote nothing
    gql(client, RUN, input={"job": "CONTINUITY_UPDATE", "programId": book_club})
    after = order(client, order_id)
    assert after["programVersion"] == {"number": 2}
    assert [line["sku"] for line in after["lines"]][:3] == ["BOOK-001", "BOOK-013", "BOOK-003"]
    assert after["history"][-1]["action"] == "PROGRAM_UPDATED"
    assert gql(client, "{ continuityUpdatePreview { orderId } }")["continuityUpdatePreview"] == []


PREVIEW_LINES = """query ($program: ID!) { continuityUpdatePreview(programId: $program) {
  linesRemoved linesAdded linesChanged dateChanges
  lines { eventNumber repeatIndex itemSeq change changedFields
    before { sku quantity price { amount currencyCode } plannedShipDate action status }
    after { sku quantity price { amount currencyCode } amount { amount } plannedShipDate action
      status } } } }"""


def test_the_update_preview_shows_each_line_old_to_new(client: TestClient, rules_dir: Path) -> None:
    ids = make_customer(client)
    _order(client, ids, "BOOKCLUB")
    path = rules_dir / "programs" / "book-club.yaml"
    text = path.read_text()
    for old, new in [
        # a new price on event 2: one line changes, nothing is removed or added
        ("{sku: BOOK-002, quantity: 1}", '{sku: BOOK-002, quantity: 1, price: "15.00"}'),
        # a second item on event 3: one line added
        (
            "{sku: BOOK-003, quantity: 1}",
            "{sku: BOOK-003, quantity: 1}, {sku: BOOK-013, quantity: 2}",
        ),
        # the summer break ships after all: its skip line becomes a book
        ("    action: skip ", "    items: [{sku: BOOK-013, quantity: 1}]\n    # was skip "),
    ]:
        assert old in text
        text = text.replace(old, new)
    path.write_text(text)
    gql(client, "mutation { reloadRules(input: {}) { changedPrograms { toVersion } } }")
    [preview] = gql(client, PREVIEW_LINES, program=program_id(client, "book-club"))[
        "continuityUpdatePreview"
    ]
    assert (preview["linesRemoved"], preview["linesAdded"], preview["linesChanged"]) == (0, 1, 2)
    assert preview["dateChanges"] == 0
    price, added, summer = preview["lines"]
    usd = "USD"
    assert price == {
        "eventNumber": 2,
        "repeatIndex": 0,
        "itemSeq": 0,
        "change": "CHANGED",
        "changedFields": ["PRICE"],
        "before": {
            "sku": "BOOK-002",
            "quantity": 1,
            "price": {"amount": "13.99", "currencyCode": usd},
            "plannedShipDate": "2027-02-28",
            "action": "NORMAL",
            "status": "PENDING",
        },
        "after": {
            "sku": "BOOK-002",
            "quantity": 1,
            "price": {"amount": "15.00", "currencyCode": usd},
            "amount": {"amount": "15.00"},
            "plannedShipDate": "2027-02-28",
            "action": "NORMAL",
            "status": "PENDING",
        },
    }
    assert (added["eventNumber"], added["itemSeq"], added["change"]) == (3, 1, "ADDED")
    assert added["before"] is None
    assert (added["after"]["sku"], added["after"]["quantity"]) == ("BOOK-013", 2)
    assert added["after"]["amount"] == {"amount": "27.98"}
    assert (summer["eventNumber"], summer["change"]) == (7, "CHANGED")
    assert summer["changedFields"] == ["SKU", "QUANTITY", "PRICE", "ACTION", "STATUS"]
    assert (summer["before"]["sku"], summer["before"]["action"], summer["before"]["status"]) == (
        None,
        "SKIP",
        "SKIPPED",
    )
    assert (summer["after"]["sku"], summer["after"]["action"], summer["after"]["status"]) == (
        "BOOK-013",
        "NORMAL",
        "PENDING",
    )


START = """mutation ($input: UpdateStartDateInput!) { updateStartDate(input: $input) {
  applied changes { orderId fromStartDate toStartDate pendingLinesMoved }
  userErrors { field code } } }"""


def test_update_start_date_dry_run_apply_and_all_or_none(client: TestClient) -> None:
    ids = make_customer(client)
    book, coffee = _order(client, ids, "BOOKCLUB"), _order(client, ids, "COFFEECLUB")
    dry: dict[str, Any] = gql(
        client, START, input={"orderIds": [book, coffee], "addDays": 10, "dryRun": True}
    )["updateStartDate"]
    assert dry["applied"] is False
    assert [(c["fromStartDate"], c["toStartDate"]) for c in dry["changes"]] == [
        ("2027-01-31", "2027-02-10"),
        ("2027-02-02", "2027-02-12"),
    ]
    untouched = order(client, book)
    assert untouched["startDate"] == "2027-01-31"
    # one bad id: nothing is applied to the good one either
    missing = global_id("ContinuityOrder", 999999)
    bad = gql(client, START, input={"orderIds": [book, missing], "addDays": 10})
    assert bad["updateStartDate"]["userErrors"] == [
        {"field": ["input", "orderIds", "1"], "code": "NOT_FOUND"}
    ]
    malformed = gql(client, START, input={"orderIds": [book, "999999"], "addDays": 10})
    assert malformed["updateStartDate"]["userErrors"] == [
        {"field": ["input", "orderIds", "1"], "code": "INVALID_INPUT"}
    ]
    assert order(client, book)["startDate"] == "2027-01-31"
    done = gql(
        client,
        START,
        input={"orderIds": [book], "newStartDate": "2027-02-15", "reason": "customer travels"},
    )["updateStartDate"]
    assert done["applied"] is True
    moved = order(client, book)
    assert moved["startDate"] == "2027-02-15"
    assert [line["plannedShipDate"] for line in moved["lines"]][:3] == [
        "2027-02-15",
        "2027-03-15",
        "2027-04-15",
    ]
    assert moved["history"][-1] == {
        "action": "START_DATE_UPDATED",
        "actor": "admin:test",
        "reason": "customer travels",
    }


def test_substitute_product_across_orders(client: TestClient) -> None:
    ids = make_customer(client)
    first, second = _order(client, ids, "BOOKCLUB"), _order(client, ids, "BOOKCLUB")
    refill = _order(client, ids, "VITREFILL")
    query = """mutation ($input: SubstituteProductInput!) { substituteProduct(input: $input) {
        applied substitutions { orderId linesChanged } userErrors { field code } } }"""
    result = gql(
        client,
        query,
        input={"orderIds": [first, second, refill], "fromSku": "BOOK-003", "toSku": "BOOK-013"},
    )
    assert result["substituteProduct"]["substitutions"] == [
        {"orderId": first, "linesChanged": 1},
        {"orderId": second, "linesChanged": 1},
        {"orderId": refill, "linesChanged": 0},
    ]
    skus = [line["sku"] for line in order(client, second)["lines"]]
    assert skus[2] == "BOOK-013"
    refused = gql(
        client, query, input={"orderIds": [first], "fromSku": "BOOK-004", "toSku": "NOPE"}
    )["substituteProduct"]
    assert refused["userErrors"] == [{"field": ["input", "toSku"], "code": "UNKNOWN_SKU"}]
    skus = [line["sku"] for line in order(client, first)["lines"]]
    assert skus[3] == "BOOK-004"
