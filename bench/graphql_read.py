"""4. ``graphql-read``: ``continuityOrders(first: 50)`` with lines and their SKUs over HTTP,
versus the same Strawberry stack answering the same 50 objects from memory
(:mod:`bench.memory_app`). Both answers are compared before loading: they must be equal.
The twin runs Strawberry's own execution; it runs again on the product's (leaves answered
without graphql-core's per-field path), an informational figure: what the product's page costs
beyond its executor.
"""

from __future__ import annotations

import json
from typing import Any

from bench.backends import Backend
from bench.core import AS_OF, Result, Sizes, fmt
from bench.datagen import Shape, generate
from bench.http import LoadResult, auth_headers, load, post_json, server, server_env

NAME = "graphql-read"
TARGET = 0.7
#: The twin again on the product's execution (``bench/memory_app.py``), informational.
OWN_EXECUTION = {"BENCH_MEMORY_EXECUTION": "product"}
QUERY = (
    "query Orders { continuityOrders(first: 50) { nodes { id number status startDate "
    "quantity billingMode lines(first: 100) { nodes { id eventNumber repeatIndex quantity "
    "plannedShipDate status sku price { amount currencyCode } } } } } }"
)


def _twin(
    env: dict[str, str], body: dict[str, Any], answer: Any, sizes: Sizes, warmup: float
) -> tuple[bool, LoadResult]:
    """The twin's load, and whether its answer is the product's."""
    with server("bench.memory_app:create_app", env) as base:
        status, twin = post_json(base + "/graphql", body, {})
        measured = load(
            base + "/graphql",
            body,
            {},
            seconds=sizes.http_seconds,
            connections=sizes.http_connections,
            warmup=warmup,
        )
    return status == 200 and twin == answer, measured


async def run(backend: Backend, base_url: str, sizes: Sizes) -> Result:
    data = await backend.clone(base_url, "graphql-read")
    body = {"query": QUERY}
    warmup = 0.3 if sizes.quick else 2.0
    try:
        await generate(data, Shape(1_000, 100), AS_OF)
        headers = auth_headers(data)
        with server("server.app:create_app", server_env(data)) as base:
            status, answer = post_json(base + "/graphql", body, headers)
            if status != 200 or "errors" in answer:
                raise RuntimeError(f"the product answered {status}: {str(answer)[:1000]}")
            orders = answer["data"]["continuityOrders"]["nodes"]
            if len(orders) != 50:
                raise RuntimeError(f"expected 50 orders, got {len(orders)}")
            product = load(
                base + "/graphql",
                body,
                headers,
                seconds=sizes.http_seconds,
                connections=sizes.http_connections,
                warmup=warmup,
            )
        snapshot = backend.directory / "graphql-read.json"
        snapshot.write_text(json.dumps(answer["data"]))
        env = {"BENCH_MEMORY_DATA": str(snapshot)}
        same_stock, memory = _twin(env, body, answer, sizes, warmup)
        same_own, own = _twin({**env, **OWN_EXECUTION}, body, answer, sizes, warmup)
        same = same_stock and same_own
    finally:
        await backend.drop(data)
    ratio = product.rps / memory.rps
    lines = sum(len(order["lines"]["nodes"]) for order in orders)
    return Result(
        name=NAME,
        backend=backend.name,
        figure=product.rps,
        unit="req/s",
        baseline=memory.rps,
        baseline_unit="req/s",
        baseline_label="same server shape from memory",
        ratio=ratio,
        target=f"≥{TARGET:.2f}",
        ok=ratio >= TARGET,
        valid=same and product.errors == 0 and memory.errors == 0 and own.errors == 0,
        extras=[
            f"p99 {fmt(product.p99_ms)} ms vs {fmt(memory.p99_ms)} ms",
            f"{product.rps / own.rps:.2f} of the twin on the product's execution "
            f"({fmt(own.rps)} req/s)",
            f"50 orders, {lines} lines",
            f"{sizes.http_connections} connections, {product.tool}",
            "answers equal" if same else "ANSWERS DIFFER",
        ],
        details={
            "product": product.__dict__,
            "memory": memory.__dict__,
            "memory_product_execution": own.__dict__,
            "answers_equal": same,
        },
    )
