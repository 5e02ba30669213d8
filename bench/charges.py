"""3. ``charges``: ``process_payments`` against a gateway answering in 50 ms.

The data: per-shipment child orders with their pending shipment charges due today (made by the
set-based child-order SQL, not timed). The baseline: the same number of 50 ms sleeps with the
concurrency bound the job is expected to use (``BENCH_CHARGE_CONCURRENCY``, default 64; the
job gets the same bound once ``JobEnv`` has a ``*concurrency*`` field). A job slower than the
time limit is stopped there and its rate counted from the charges it completed.
"""

from __future__ import annotations

import os

from bench.backends import Backend
from bench.baseline import create_child_orders_sql
from bench.core import AS_OF, Result, Sizes, note, run_worker
from bench.datagen import Shape, generate, set_parameters

NAME = "charges"
TARGET = 600.0
LATENCY = 0.05


async def run(backend: Backend, base_url: str, sizes: Sizes) -> Result:
    concurrency = int(os.environ.get("BENCH_CHARGE_CONCURRENCY", "64"))
    count = sizes.charges
    data = await backend.clone(base_url, "charges")
    try:
        await set_parameters(data, authorize_child_orders=False, days_before_delivery=0)
        await generate(data, Shape(count, count), AS_OF)
        await create_child_orders_sql(data, AS_OF)
        limit = sizes.charges_time_limit
        job = run_worker(
            "charges",
            data,
            AS_OF.isoformat(),
            "--latency",
            str(LATENCY),
            "--time-limit",
            str(limit),
            "--concurrency",
            str(concurrency),
            timeout=limit + 300,
        )
    finally:
        await backend.drop(data)
    sleeps = run_worker(
        "sleeps", str(count), "--latency", str(LATENCY), "--concurrency", str(concurrency)
    )
    charged = int(job["charged"])
    figure = charged / float(job["seconds"])
    reference = count / float(sleeps["seconds"])
    timed_out = bool(job["timed_out"])
    if timed_out:
        note(f"{NAME} {backend.name}: stopped at the {limit:.0f} s limit, {charged:,} charged")
    knob = job.get("concurrency_knob")
    return Result(
        name=NAME,
        backend=backend.name,
        figure=figure,
        unit="charges/s",
        baseline=reference,
        baseline_unit="charges/s",
        baseline_label=f"{count:,} sleeps of {LATENCY * 1000:.0f} ms, {concurrency} at a time",
        ratio=figure / reference,
        target=f"≥{TARGET:.0f} charges/s",
        ok=figure >= TARGET,
        valid=charged > 0,
        extras=[
            f"{charged:,} of {job['due']:,} charged in {float(job['seconds']):.1f} s"
            + (f" (stopped at the {limit:.0f} s limit)" if timed_out else ""),
            f"job concurrency: {knob}={concurrency}" if knob else "job has no concurrency knob",
        ],
        details={
            "due": job["due"],
            "charged": charged,
            "gateway_calls": job["gateway_calls"],
            "seconds": job["seconds"],
            "timed_out": timed_out,
            "concurrency": concurrency,
            "concurrency_knob": knob,
        },
    )
