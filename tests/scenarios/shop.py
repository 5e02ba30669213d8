"""A shop driven as its users drive it: GraphQL over HTTP for agents and customers, the
``continuity jobs run`` command for the daily jobs, a clock the test moves day by day.

Both run against one database (a SQLite file or a PostgreSQL database), so what a test sees
is what a deployment would see: the app and the CLI share nothing but the rows.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from tests.jobs.world import snapshot

ROOT = Path(__file__).resolve().parents[2]

#: Extra rules the scenarios use beside the bundled ones.
CATALOG_EXTRA = """
  # scenarios: a second refill item to swap to
  - {sku: DECAF-30, name: "Decaf Blend, 30 days", price: "22.00", currency: USD}
"""
SCHEDULES_EXTRA = """
  - id: two-part
    name: "2 monthly payments, shipping from the first order"
    installments: 2
    every: 1 month
"""
TRIO = """
id: trio
name: Three Prepaid Boxes
active: true
currency: USD
parent_product: {sku: TRIO3, name: "Three prepaid boxes", price: "30.00"}
billing: {up_front: true}
cadence: {every: 1 month}
events:
  - items: [{sku: GIFT-CHOC, quantity: 1, price: "10.00"}]
  - items: [{sku: GIFT-CHOC, quantity: 1, price: "10.00"}]
  - items: [{sku: GIFT-CHOC, quantity: 1, price: "10.00"}]
"""
TRIO_INSTALLMENTS = """
id: trio-installments
name: Three Boxes in Two Payments
active: true
currency: USD
parent_product: {sku: TRIO3X2, name: "Three boxes, two payments", price: "30.00"}
billing: {up_front: true, payment_schedule: two-part, allowed_schedules: [two-part]}
cadence: {every: 1 month}
events:
  - items: [{sku: GIFT-CHOC, quantity: 1, price: "10.00"}]
  - items: [{sku: GIFT-CHOC, quantity: 1, price: "10.00"}]
  - items: [{sku: GIFT-CHOC, quantity: 1, price: "10.00"}]
"""


def add_scenario_rules(rules_dir: Path) -> None:
    catalog = rules_dir / "catalog.yaml"
    text = catalog.read_text()
    marker = "  # Daily vitamins\n"
    catalog.write_text(text.replace(marker, CATALOG_EXTRA.lstrip("\n") + marker, 1))
    schedules = rules_dir / "payment-schedules.yaml"
    schedules.write_text(schedules.read_text().rstrip("\n") + "\n" + SCHEDULES_EXTRA)
    (rules_dir / "programs" / "trio.yaml").write_text(TRIO.lstrip("\n"))
    (rules_dir / "programs" / "trio-installments.yaml").write_text(TRIO_INSTALLMENTS.lstrip("\n"))


CUSTOMER = {
    "name": "Grace Hopper",
    "email": "grace@example.com",
    "addresses": [
        {
            "name": "Grace Hopper",
            "line1": "1 Navy Way",
            "city": "Arlington",
            "postalCode": "22202",
            "country": "US",
        }
    ],
}
CARD = {"brand": "visa", "last4": "4242", "expMonth": 12, "expYear": 2031}
CREATE_CUSTOMER = """mutation ($input: CreateCustomerInput!) { createCustomer(input: $input) {
  customer { id addresses { nodes { id } } } userErrors { field code } } }"""
ADD_CARD = """mutation ($input: AddPaymentMethodInput!) { addPaymentMethod(input: $input) {
  paymentMethod { id } userErrors { field code } } }"""
PLACE = """mutation ($input: PlaceSalesOrderInput!) { placeSalesOrder(input: $input) {
  continuityOrders { id } userErrors { field code message } } }"""
ORDER = """query ($id: ID!) { continuityOrder(id: $id) {
  id number status startDate pausedUntil
  lines(first: 100) { nodes { eventNumber repeatIndex action sku quantity price { amount }
          plannedShipDate status childOrder { id number status } } }
  payments(first: 100) { nodes { id kind purpose status amount { amount } installmentNumber
          dueDate } }
  history(first: 100) { nodes { action actor details } }
  salesOrder { id status }
} }"""
UPCOMING = """query ($id: ID!, $count: Int!) { upcomingShipments(orderId: $id, count: $count) {
  eventNumber repeatIndex shipDate materialized charge { amount }
  items { sku quantity price { amount } } } }"""
SHIP = """mutation ($id: ID!) { markChildOrderShipped(input: {childOrderId: $id}) {
  childOrder { status } userErrors { field code } } }"""
INVOICE = SHIP.replace("markChildOrderShipped", "invoiceChildOrder")


@dataclass
class Shop:
    client: TestClient
    database_url: str
    parameters: dict[str, Any]
    #: The API's business date (the app's clock reads it).
    clock: list[date]

    @property
    def today(self) -> date:
        return self.clock[0]

    def at(self, day: date) -> None:
        """Move the business date of the API (what "today" is for agents and customers)."""
        self.clock[0] = day

    def gql(self, query: str, **variables: Any) -> dict[str, Any]:
        response = self.client.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    def jobs(self, as_of: date, job: str = "all", *, ok: bool = True) -> str:
        """``continuity jobs run JOB --as-of DATE`` in its own process, as an operator runs it."""
        env = {
            **os.environ,
            "CONTINUITY_DATABASE_URL": self.database_url,
            **{f"CONTINUITY_{k.upper()}": str(v) for k, v in self.parameters.items()},
        }
        result = subprocess.run(
            [sys.executable, "-m", "server.cli", "jobs", "run", job, "--as-of", as_of.isoformat()],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=ROOT,
            env=env,
            check=False,
        )
        if ok:
            assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def customer(self, account: str, token: str = "tok_visa") -> dict[str, str]:
        """A customer with one address and one card: the ids an order needs."""
        created = self.gql(CREATE_CUSTOMER, input={**CUSTOMER, "accountNumber": account})
        customer = created["createCustomer"]["customer"]
        card = self.card(customer["id"], token)
        return {
            "customerId": customer["id"],
            "shipToAddressId": customer["addresses"]["nodes"][0]["id"],
            "paymentMethodId": card,
        }

    def card(self, customer_id: str, token: str) -> str:
        added = self.gql(ADD_CARD, input={**CARD, "customerId": customer_id, "gatewayToken": token})
        assert added["addPaymentMethod"]["userErrors"] == []
        card_id: str = added["addPaymentMethod"]["paymentMethod"]["id"]
        return card_id

    def order(self, ids: dict[str, str], *skus: str, **line: Any) -> list[str]:
        """Place one sales order with a line per SKU; the continuity orders' ids."""
        lines = [{"sku": sku, **line} for sku in skus]
        placed = self.gql(PLACE, input={**ids, "lines": lines})["placeSalesOrder"]
        assert placed["userErrors"] == [], placed["userErrors"]
        return [order["id"] for order in placed["continuityOrders"]]

    def state(self, order_id: str) -> dict[str, Any]:
        """The order as an agent reads it: lines, payments, history (their connections' nodes,
        in order), its sales order."""
        order: dict[str, Any] = self.gql(ORDER, id=order_id)["continuityOrder"]
        for listed in ("lines", "payments", "history"):
            order[listed] = order[listed]["nodes"]
        return order

    def upcoming(self, order_id: str, count: int = 5) -> list[dict[str, Any]]:
        shipments: list[dict[str, Any]] = self.gql(UPCOMING, id=order_id, count=count)[
            "upcomingShipments"
        ]
        return shipments

    def ship_everything(self, order_id: str) -> int:
        """The warehouse: every paid child order of the order ships and is invoiced."""
        children = {
            line["childOrder"]["number"]: line["childOrder"]["id"]
            for line in self.state(order_id)["lines"]
            if line["childOrder"] and line["childOrder"]["status"] == "AUTHORIZED"
        }
        for _number, child in sorted(children.items()):
            shipped = self.gql(SHIP, id=child)["markChildOrderShipped"]
            assert shipped["userErrors"] == [], shipped
            invoiced = self.gql(INVOICE, id=child)["invoiceChildOrder"]
            assert invoiced["userErrors"] == [], invoiced
        return len(children)

    def mutate(self, name: str, **fields: Any) -> dict[str, Any]:
        """A change mutation whose payload is ``{continuityOrder {id} userErrors}``."""
        input_type = name[0].upper() + name[1:] + "Input"
        document = (
            f"mutation ($input: {input_type}!) {{ {name}(input: $input) {{ "
            "continuityOrder { id status } userErrors { field code message } } }"
        )
        payload: dict[str, Any] = self.gql(document, input=fields)[name]
        return payload

    def rows(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row the jobs write, read through the app's own connection."""
        return self.client.portal.call(snapshot)  # type: ignore[union-attr]
