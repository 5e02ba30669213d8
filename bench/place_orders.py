"""5. ``place-orders``: ``placeSalesOrder`` of the 12-event book club over HTTP, into a
database of ``ORDERS`` orders, versus the same server's trivial query (``{ __typename }``).
Target: at least 0.40 of it.

The database holds what a call center's does after a while, not a hundred orders (as it did
until the ninth session): PostgreSQL plans each foreign-key check of an ``INSERT`` once per
connection and keeps the plan, and on tables of a hundred rows that plan is a scan. The run
then added 2,000 orders in ten seconds, every check scanned the grown tables, and
PostgreSQL's CPU a placement doubled; an ``ANALYZE`` (autovacuum's, after the tables grow
a tenth) replans them, which a ten-second run never reaches. docs/PERFORMANCE.md has the
figures of both.
"""

from __future__ import annotations

from strawberry import relay

from bench.backends import Backend
from bench.core import AS_OF, Result, Sizes, fmt
from bench.datagen import Shape, generate
from bench.http import auth_headers, load, post_json, server, server_env

NAME = "place-orders"
MUTATION = (
    "mutation Place($input: PlaceSalesOrderInput!) { placeSalesOrder(input: $input) { "
    "salesOrder { number } continuityOrders { number } userErrors { field code message } } }"
)
TRIVIAL = "{ __typename }"
TARGET = 0.4
#: Orders in the database before the load (each with its sales order and three lines).
ORDERS = 10_000


async def run(backend: Backend, base_url: str, sizes: Sizes) -> Result:
    data = await backend.clone(base_url, "place-orders")
    place = {
        "query": MUTATION,
        "variables": {
            "input": {
                "customerId": relay.to_base64("Customer", 1),
                "shipToAddressId": relay.to_base64("Address", 1),
                "paymentMethodId": relay.to_base64("PaymentMethod", 1),
                "lines": [{"sku": "BOOKCLUB", "quantity": 1}],
            }
        },
    }
    trivial = {"query": TRIVIAL}
    warmup = 0.3 if sizes.quick else 2.0
    try:
        await generate(data, Shape(ORDERS, 0), AS_OF)
        headers = auth_headers(data)
        with server("server.app:create_app", server_env(data)) as base:
            status, answer = post_json(base + "/graphql", place, headers)
            payload = answer.get("data", {}).get("placeSalesOrder") if status == 200 else None
            if not payload or payload["userErrors"] or "errors" in answer:
                raise RuntimeError(f"placeSalesOrder answered {status}: {str(answer)[:1000]}")
            placed = load(
                base + "/graphql",
                place,
                headers,
                seconds=sizes.http_seconds,
                connections=sizes.http_connections,
                warmup=warmup,
            )
            status, answer = post_json(base + "/graphql", trivial, headers)
            if status != 200 or "errors" in answer:
                raise RuntimeError(f"{TRIVIAL} answered {status}: {str(answer)[:1000]}")
            baseline = load(
                base + "/graphql",
                trivial,
                headers,
                seconds=sizes.http_seconds,
                connections=sizes.http_connections,
                warmup=warmup,
            )
    finally:
        await backend.drop(data)
    return Result(
        name=NAME,
        backend=backend.name,
        figure=placed.rps,
        unit="req/s",
        baseline=baseline.rps,
        baseline_unit="req/s",
        baseline_label="{ __typename } on the same server",
        ratio=placed.rps / baseline.rps,
        target=f"≥{TARGET:.2f}",
        ok=placed.rps / baseline.rps >= TARGET,
        valid=placed.errors == 0 and baseline.errors == 0,
        extras=[
            f"p99 {fmt(placed.p99_ms)} ms vs {fmt(baseline.p99_ms)} ms",
            f"{placed.requests:,} orders placed",
            f"{sizes.http_connections} connections, {placed.tool}",
        ],
        details={"place": placed.__dict__, "trivial": baseline.__dict__},
    )
