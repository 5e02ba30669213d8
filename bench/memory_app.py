"""The in-memory twin of the product's GraphQL read path (the ``graphql-read`` baseline).

The same stack (Starlette, Strawberry with the product's parser and validation caches, the same
uvicorn options) and the same response shape for :data:`bench.graphql_read.QUERY`, answered
from objects built at start-up from the product's own answer (``BENCH_MEMORY_DATA``, a JSON
file): no database, no DataLoader, nothing but GraphQL execution and serialisation.

``BENCH_MEMORY_EXECUTION=product`` runs it on the product's own execution instead of
Strawberry's (``schema/execution.py``: leaves answered without graphql-core's per-field path),
an informational second baseline: what the product's page costs beyond its executor.
"""

from __future__ import annotations

import datetime
import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import strawberry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache

from continuity.enums import BillingMode, ContinuityLineStatus, ContinuityOrderStatus
from schema import direct
from schema.common import Money
from schema.enums import CurrencyCode
from schema.execution import ExecutionContext


@strawberry.type(name="ContinuityLine")
class MemoryLine:
    id: strawberry.ID
    event_number: int
    repeat_index: int
    quantity: int
    planned_ship_date: datetime.date
    status: ContinuityLineStatus
    sku: str | None
    price: Money


@strawberry.type(name="ContinuityLineConnection")
class MemoryLines:
    nodes: list[MemoryLine]


@strawberry.type(name="ContinuityOrder")
class MemoryOrder:
    id: strawberry.ID
    number: str
    status: ContinuityOrderStatus
    start_date: datetime.date
    quantity: int
    billing_mode: BillingMode
    _lines: strawberry.Private[list[MemoryLine]]

    @strawberry.field
    def lines(self, first: int | None = None) -> MemoryLines:
        return MemoryLines(nodes=self._lines[: first or 20])


@strawberry.type(name="ContinuityOrderConnection")
class MemoryConnection:
    nodes: list[MemoryOrder]


_ORDERS: list[MemoryOrder] = []


def _line(data: dict[str, Any]) -> MemoryLine:
    return MemoryLine(
        id=strawberry.ID(data["id"]),
        event_number=data["eventNumber"],
        repeat_index=data["repeatIndex"],
        quantity=data["quantity"],
        planned_ship_date=datetime.date.fromisoformat(data["plannedShipDate"]),
        status=ContinuityLineStatus[data["status"]],
        sku=data["sku"],
        price=Money(
            amount=Decimal(data["price"]["amount"]),
            currency_code=CurrencyCode(data["price"]["currencyCode"]),
        ),
    )


def orders_from_response(body: dict[str, Any]) -> list[MemoryOrder]:
    """Objects equal to what the product answered (its ``data``)."""
    return [
        MemoryOrder(
            id=strawberry.ID(node["id"]),
            number=node["number"],
            status=ContinuityOrderStatus[node["status"]],
            start_date=datetime.date.fromisoformat(node["startDate"]),
            quantity=node["quantity"],
            billing_mode=BillingMode[node["billingMode"]],
            _lines=[_line(line) for line in node["lines"]["nodes"]],
        )
        for node in body["continuityOrders"]["nodes"]
    ]


@strawberry.type
class Query:
    @strawberry.field
    def continuity_orders(self, first: int | None = None) -> MemoryConnection:
        return MemoryConnection(nodes=_ORDERS[: first or 50])


async def health(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def create_app() -> Starlette:
    """The uvicorn factory: ``uvicorn --factory bench.memory_app:create_app``."""
    path = Path(os.environ["BENCH_MEMORY_DATA"])
    _ORDERS[:] = orders_from_response(json.loads(path.read_text()))
    extensions = [lambda: ParserCache(maxsize=256), lambda: ValidationCache(maxsize=256)]
    if os.environ.get("BENCH_MEMORY_EXECUTION") == "product":
        # the product's own execution (schema/execution.py): what the page costs beyond it
        schema = strawberry.Schema(
            query=Query, extensions=extensions, execution_context_class=ExecutionContext
        )
        direct.install(schema, registered=False)
    else:
        schema = strawberry.Schema(query=Query, extensions=extensions)
    graphql: GraphQL[None, None] = GraphQL(schema, graphql_ide=None, allow_queries_via_get=False)
    return Starlette(
        routes=[Route("/graphql", graphql, methods=["GET", "POST"]), Route("/health", health)]
    )
