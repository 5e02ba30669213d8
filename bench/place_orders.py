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

The two loads run in ``ROUNDS`` pairs, in turn (placements first, then the trivial query, the
order swapped every round), each half the benchmark's seconds, and the verdict reads the
median of the pairs' ratios (the figures: the medians of each load's rates). One reading of
each, ten seconds apart, read 0.31 to 0.44 with the same code on the shared VM of the
sixteenth session: `{ __typename }` alone ran at 1,268 to 1,790 req/s from one run to the
next, and a ratio of two readings taken apart carried the VM's drift between them.
"""

from __future__ import annotations

import statistics

from strawberry import relay

from bench.backends import Backend
from bench.core import AS_OF, Result, Sizes, fmt, fmt_ratio
from bench.datagen import Shape, generate
from bench.http import LoadResult, auth_headers, load, post_json, server, server_env

NAME = "place-orders"
MUTATION = (
    "mutation Place($input: PlaceSalesOrderInput!) { placeSalesOrder(input: $input) { "
    "salesOrder { number } continuityOrders { number } userErrors { field code message } } }"
)
TRIVIAL = "{ __typename }"
TARGET = 0.4
#: Pairs of readings (placements, trivial query), in turn.
ROUNDS = 3
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
    seconds = sizes.http_seconds / 2
    pairs: list[tuple[LoadResult, LoadResult]] = []
    try:
        await generate(data, Shape(ORDERS, 0), AS_OF)
        headers = auth_headers(data)
        with server("server.app:create_app", server_env(data)) as base:
            url = base + "/graphql"
            status, answer = post_json(url, place, headers)
            payload = answer.get("data", {}).get("placeSalesOrder") if status == 200 else None
            if not payload or payload["userErrors"] or "errors" in answer:
                raise RuntimeError(f"placeSalesOrder answered {status}: {str(answer)[:1000]}")
            status, answer = post_json(url, trivial, headers)
            if status != 200 or "errors" in answer:
                raise RuntimeError(f"{TRIVIAL} answered {status}: {str(answer)[:1000]}")
            for round_ in range(ROUNDS):
                warmup = (0.3 if sizes.quick else 2.0) if round_ == 0 else 0.3
                readings = {}
                for name in ("place", "trivial") if round_ % 2 == 0 else ("trivial", "place"):
                    readings[name] = load(
                        url,
                        place if name == "place" else trivial,
                        headers,
                        seconds=seconds,
                        connections=sizes.http_connections,
                        warmup=warmup,
                    )
                pairs.append((readings["place"], readings["trivial"]))
    finally:
        await backend.drop(data)
    ratios = [placed.rps / baseline.rps for placed, baseline in pairs]
    ratio = statistics.median(ratios)
    placed_rps = statistics.median(placed.rps for placed, _ in pairs)
    baseline_rps = statistics.median(baseline.rps for _, baseline in pairs)
    placed_p99 = statistics.median(placed.p99_ms for placed, _ in pairs)
    baseline_p99 = statistics.median(baseline.p99_ms for _, baseline in pairs)
    return Result(
        name=NAME,
        backend=backend.name,
        figure=placed_rps,
        unit="req/s",
        baseline=baseline_rps,
        baseline_unit="req/s",
        baseline_label="{ __typename } on the same server",
        ratio=ratio,
        target=f"≥{TARGET:.2f}",
        ok=ratio >= TARGET,
        valid=all(placed.errors == 0 and baseline.errors == 0 for placed, baseline in pairs),
        extras=[
            f"median of {ROUNDS} pairs {', '.join(fmt_ratio(r) for r in ratios)}",
            f"p99 {fmt(placed_p99)} ms vs {fmt(baseline_p99)} ms",
            f"{sum(placed.requests for placed, _ in pairs):,} orders placed",
            f"{sizes.http_connections} connections, {pairs[0][0].tool}",
        ],
        details={
            "pairs": [
                {"place": placed.__dict__, "trivial": baseline.__dict__}
                for placed, baseline in pairs
            ]
        },
    )
