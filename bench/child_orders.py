"""1. ``child-orders``: the create-child-orders job versus set-based SQL writing the same rows."""

from __future__ import annotations

from bench.backends import Backend
from bench.baseline import child_order_counts
from bench.core import AS_OF, Result, Sizes, note, run_worker
from bench.datagen import Shape, generate, set_parameters

NAME = "child-orders"
TARGET = 0.5


async def run(backend: Backend, base_url: str, sizes: Sizes) -> Result:
    shape = Shape(sizes.child_orders, sizes.child_due)
    data = await backend.clone(base_url, "child-data")
    await set_parameters(data, authorize_child_orders=False, days_before_delivery=0)
    note(f"{NAME} {backend.name}: generating {shape.orders:,} orders, {shape.due:,} due")
    await generate(data, shape, AS_OF)
    job_db = await backend.clone(data, "child-job")
    sql_db = await backend.clone(data, "child-sql")
    await backend.drop(data)
    try:
        baseline = run_worker("child-baseline", sql_db, AS_OF.isoformat())
        limit = sizes.child_time_limit
        job = run_worker(
            "child-job", job_db, AS_OF.isoformat(), "--time-limit", str(limit), timeout=limit + 300
        )
        job_counts = await child_order_counts(job_db)
        sql_counts = await child_order_counts(sql_db)
    finally:
        await backend.drop(job_db)
        await backend.drop(sql_db)
    timed_out = bool(job["timed_out"])
    done = int(job["created"])
    # A job stopped at the time limit is checked for consistency on what it did complete.
    expected = dict.fromkeys(job_counts, done if timed_out else shape.due)
    valid = job_counts == expected and sql_counts == dict.fromkeys(sql_counts, shape.due)
    notes = []
    if not valid:
        message = f"row counts differ: job {job_counts}, baseline {sql_counts}, want {expected}"
        note(f"WARNING {NAME} {backend.name}: {message}")
        notes.append(message)
    if timed_out:
        note(f"{NAME} {backend.name}: stopped at the {limit:.0f} s limit after {done:,} orders")
    figure = done / job["seconds"]
    reference = shape.due / baseline["seconds"]
    ratio = figure / reference
    return Result(
        name=NAME,
        backend=backend.name,
        figure=figure,
        unit="orders/s",
        baseline=reference,
        baseline_unit="orders/s",
        baseline_label="set-based SQL",
        ratio=ratio,
        target=f"≥{TARGET:.2f}",
        ok=ratio >= TARGET,
        valid=valid,
        extras=[
            f"{shape.due:,} due of {shape.orders:,}",
            f"stopped at the {limit:.0f} s limit after {done:,}" if timed_out else "",
            "row counts match" if valid else "",
        ],
        notes=notes,
        details={
            "orders": shape.orders,
            "due": shape.due,
            "job_seconds": job["seconds"],
            "baseline_seconds": baseline["seconds"],
            "job_counts": job_counts,
            "baseline_counts": sql_counts,
            "counts_match": valid,
            "timed_out": timed_out,
            "time_limit": limit,
            "completed": done,
            "job_run_counts": job.get("counts"),
        },
    )
