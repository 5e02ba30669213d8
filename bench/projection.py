"""7. ``projection``: ``upcoming_shipments(order, 5)`` for many orders, in-process.

Each order holds three pending lines, so every projection reads them and asks the schedule
engine for two more. Baseline: the reads alone, one raw query per order for its lines and SKUs.
The figure is one order a call (``Query.upcomingShipments``); an extra line times the same
projections a page of orders a call (``upcoming_shipments_of``).

A program version keeps the projections it made by everything they are computed from
(``continuity.orders.projection._projections``), and the generated orders, placed alike on
one program, share 29 states. So another line times every projection computed, nothing
kept (``PROJECTIONS_KEPT = 0``, measured first, in the same process): what an order whose
state no other order shares costs.

A second baseline, reported beside the first (the verdict reads the first): the same raw
reads through the async driver the product uses, measured in the same run. On SQLite the
baseline's synchronous ``sqlite3`` query costs a few microseconds, while every statement of
the product, raw or not, hops to ``aiosqlite``'s thread and back; this one pays that hop too.
On PostgreSQL the first baseline already reads through ``asyncpg``: it is the same figure.

Each worker runs ``ROUNDS`` times, the baselines' and the projections' in turn, and each
timing's best counts (as ``timeit`` advises): one pass lasts a tenth of a second to half a
second, and one reading of each swung SQLite's ratio from 0.23 to 0.36 with the same code
on the shared VM of docs/PERFORMANCE.md (the raw reads' C loop ran 70,000 to 118,000 orders
a second from one run to the next).
"""

from __future__ import annotations

from typing import Any

from bench.backends import Backend
from bench.core import AS_OF, Result, Sizes, fmt, fmt_ratio, run_worker
from bench.datagen import Shape, generate
from bench.worker import PROJECTION_PAGE

NAME = "projection"
#: A version's spec is immutable and cached: a projection should cost a few raw reads.
TARGET = 0.25
#: Readings of each timing, the workers run in turn.
ROUNDS = 3


async def run(backend: Backend, base_url: str, sizes: Sizes) -> Result:
    count = sizes.projection_orders
    data = await backend.clone(base_url, "projection")
    try:
        await generate(data, Shape(count, 0), AS_OF)
        reads_runs, driver_runs, job_runs = [], [], []
        for _ in range(ROUNDS):
            reads_runs.append(run_worker("projection-baseline", data, str(count)))
            if backend.name == "sqlite":
                driver_runs.append(run_worker("projection-driver-baseline", data, str(count)))
            job_runs.append(run_worker("projection", data, str(count)))
        reads = _best(reads_runs, "seconds")
        driver_reads = _best(driver_runs, "seconds") if driver_runs else reads
        job = {
            **_best(job_runs, "seconds"),
            **{key: _best(job_runs, key)[key] for key in ("paged_seconds", "computed_seconds")},
        }
    finally:
        await backend.drop(data)
    figure = int(job["orders"]) / float(job["seconds"])
    paged = int(job["orders"]) / float(job["paged_seconds"])
    computed = int(job["orders"]) / float(job["computed_seconds"])
    reference = int(reads["orders"]) / float(reads["seconds"])
    driver = "aiosqlite" if backend.name == "sqlite" else "asyncpg"
    driver_reference = int(driver_reads["orders"]) / float(driver_reads["seconds"])
    return Result(
        name=NAME,
        backend=backend.name,
        figure=figure,
        unit="orders/s",
        baseline=reference,
        baseline_unit="orders/s",
        baseline_label="raw read of each order's lines",
        ratio=figure / reference,
        target=f"≥{TARGET:.2f}",
        ok=figure / reference >= TARGET,
        valid=int(job["shipments"])
        == 5 * count
        == int(job["paged_shipments"])
        == int(job["computed_shipments"]),
        extras=[
            f"{job['orders']:,} orders, {job['shipments']:,} shipments projected",
            f"best of {len(job_runs)} readings each; the projections' ratios "
            + ", ".join(
                f"{float(r['seconds']) / float(j['seconds']):.2f}"
                for r, j in zip(reads_runs, job_runs, strict=True)
            ),
            f"{PROJECTION_PAGE} orders a call (upcoming_shipments_of): {fmt(paged)} orders/s, "
            f"ratio {paged / reference:.2f}",
            f"the same raw reads through {driver}: {fmt(driver_reference)} orders/s, "
            f"ratio {fmt_ratio(figure / driver_reference)}",
            f"nothing kept, every projection computed: {fmt(computed)} orders/s, "
            f"ratio {computed / reference:.2f}",
        ],
        details={
            "orders": job["orders"],
            "shipments": job["shipments"],
            "driver_baseline": driver_reference,
            "driver_baseline_unit": "orders/s",
            "driver_baseline_label": f"raw read of each order's lines through {driver}",
            "driver_ratio": figure / driver_reference,
            "computed": computed,
            "computed_ratio": computed / reference,
        },
    )


def _best(runs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """The run whose ``key`` (a duration) is the shortest."""
    return min(runs, key=lambda run: float(run[key]))
