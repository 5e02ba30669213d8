"""9. ``read-under-chain``: the ``graphql-read`` load while the daily chain runs in the same
server process, versus the same load on the same server with no chain.

The server is the product's (uvicorn, one worker); the chain is started over HTTP with
``runJob(input: {job: ALL})``, which runs the six jobs in the server's own event loop, as the
scheduler does, with the call-center parameters of ``daily-chain`` given to the server (it
stores its configured ones when it starts). The read load starts as soon as the chain request
is sent and goes on, in windows of the benchmark's HTTP time, until the chain has ended: req/s
is over all the windows, p99 is the worst window's (the last window may outlast the chain; the
line says for how much of the load the chain ran). Targets: p99 within 3× and req/s at least
0.5× of idle. Before, one window was measured: the chain's first seconds, its first job.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from bench.backends import Backend
from bench.core import AS_OF, Result, Sizes, fmt, note
from bench.datagen import Shape, generate
from bench.graphql_read import QUERY
from bench.http import LoadResult, auth_headers, load, post_json, server, server_env

NAME = "read-under-chain"
TARGET_P99 = 3.0
TARGET_RPS = 0.5
RUN_ALL = (
    "mutation ($asOf: Date!) { runJob(input: {job: ALL, asOf: $asOf}) { "
    "runs { job status } userErrors { field code message } } }"
)


class _Chain(threading.Thread):
    """The chain, run by the server for one long request; records when it ended."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.url, self.headers = url, headers
        self.started = self.ended = 0.0
        self.answer: tuple[int, Any] = (0, None)

    def run(self) -> None:
        self.started = time.perf_counter()
        body = {"query": RUN_ALL, "variables": {"asOf": AS_OF.isoformat()}}
        self.answer = post_json(self.url, body, self.headers, timeout=3600)
        self.ended = time.perf_counter()


def _whole(windows: list[LoadResult]) -> LoadResult:
    """The windows as one load: their requests over their seconds, the worst p50 and p99."""
    return LoadResult(
        tool=windows[0].tool,
        requests=sum(w.requests for w in windows),
        errors=sum(w.errors for w in windows),
        seconds=sum(w.seconds for w in windows),
        p50_ms=max(w.p50_ms for w in windows),
        p99_ms=max(w.p99_ms for w in windows),
    )


async def run(backend: Backend, base_url: str, sizes: Sizes) -> Result:
    shape = Shape(sizes.chain_orders, sizes.chain_due)
    data = await backend.clone(base_url, "chain-load")
    note(f"{NAME} {backend.name}: generating {shape.orders:,} orders, {shape.due:,} due")
    await generate(data, shape, AS_OF)
    body = {"query": QUERY}
    warmup = 0.3 if sizes.quick else 2.0
    try:
        headers = auth_headers(data)
        # the daily-chain benchmark's parameters (the server stores its own when it starts)
        env = server_env(data, authorize_child_orders=True, days_before_delivery=0)
        with server("server.app:create_app", env) as base:
            status, answer = post_json(base + "/graphql", body, headers)
            if status != 200 or "errors" in answer:
                raise RuntimeError(f"the product answered {status}: {str(answer)[:1000]}")
            seconds, connections = sizes.http_seconds, sizes.http_connections
            idle = load(
                base + "/graphql",
                body,
                headers,
                seconds=seconds,
                connections=connections,
                warmup=warmup,
            )
            chain = _Chain(base + "/graphql", headers)
            chain.start()
            windows: list[LoadResult] = []
            while not windows or chain.is_alive():
                windows.append(
                    load(
                        base + "/graphql",
                        body,
                        headers,
                        seconds=seconds,
                        connections=connections,
                        warmup=0,
                    )
                )
            load_ended = time.perf_counter()
            chain.join()
            busy = _whole(windows)
    finally:
        await backend.drop(data)
    status, answer = chain.answer
    runs: list[dict[str, Any]] = []
    if status == 200 and isinstance(answer, dict):
        runs = (answer.get("data") or {}).get("runJob", {}).get("runs") or []
    chain_ok = bool(runs) and all(r["status"] == "SUCCEEDED" for r in runs)
    chain_seconds = chain.ended - chain.started
    # The share of the load's time the chain was running (1.0: all of it).
    overlap = min(1.0, max(0.0, (chain.ended - chain.started) / (load_ended - chain.started)))
    rps_ratio = busy.rps / idle.rps if idle.rps else 0.0
    p99_ratio = busy.p99_ms / idle.p99_ms if idle.p99_ms else float("inf")
    ok = rps_ratio >= TARGET_RPS and p99_ratio <= TARGET_P99
    if not chain_ok:
        note(f"WARNING {NAME} {backend.name}: the chain answered {status}: {str(answer)[:500]}")
    return Result(
        name=NAME,
        backend=backend.name,
        figure=busy.rps,
        unit="req/s",
        baseline=idle.rps,
        baseline_unit="req/s",
        baseline_label="same load, no chain",
        ratio=rps_ratio,
        target=f"≥{TARGET_RPS:.2f}, p99 ≤{TARGET_P99:.0f}×",
        ok=ok,
        valid=chain_ok and busy.errors == 0 and idle.errors == 0,
        extras=[
            f"p99 {fmt(busy.p99_ms)} ms vs {fmt(idle.p99_ms)} ms idle (×{p99_ratio:.2f})",
            f"chain {chain_seconds:.1f} s over {shape.orders:,} orders, {shape.due:,} due",
            f"the chain ran through {overlap:.0%} of the load ({len(windows)} windows, worst p99)",
            f"{sizes.http_connections} connections, {busy.tool}",
        ],
        details={
            "idle": idle.__dict__,
            "busy": busy.__dict__,
            "windows": [window.__dict__ for window in windows],
            "p99_ratio": p99_ratio,
            "chain_seconds": chain_seconds,
            "chain_runs": runs,
            "overlap": overlap,
            "orders": shape.orders,
            "due": shape.due,
        },
    )
