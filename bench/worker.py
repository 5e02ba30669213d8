"""Measured paths, each run in a fresh process: ``python -m bench.worker PATH ARGS…``.

Each prints one JSON object on its last line: the seconds of the measured region (timed with
``perf_counter`` around that region only, after a warm-up query has opened the connection),
what it did, and the process's peak RSS. The ``chain`` and ``charges`` paths stop at a time
limit and report how far they got, so that a slow job never hangs the suite.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import resource
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from bench.backends import RawDB, sqlite_path
from bench.baseline import create_child_orders_sql


def peak_rss_mb() -> float:
    """The process's peak resident set size (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(**values: Any) -> None:
    print(json.dumps({**values, "peak_rss_mb": round(peak_rss_mb(), 1)}), flush=True)


async def _warm_up() -> None:
    """Tortoise connects lazily: open the connection outside the measured region."""
    from continuity.parameters import load_call_center_parameters

    await load_call_center_parameters()


async def child_job(url: str, as_of: date, time_limit: float) -> None:
    from continuity.db import open_database
    from continuity.jobs import JobEnv
    from continuity.jobs.child_orders import create_child_orders
    from continuity.models import ChildOrder
    from continuity.payments.gateway import TestGateway

    async with open_database(url):
        await _warm_up()
        started = time.perf_counter()
        task = asyncio.ensure_future(create_child_orders(as_of, env=JobEnv(gateway=TestGateway())))
        done, _pending = await asyncio.wait({task}, timeout=time_limit)
        if not done:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        seconds = time.perf_counter() - started
        run = task.result() if done else None
        emit(
            seconds=seconds,
            timed_out=not done,
            created=await ChildOrder.all().count(),
            counts=dict(run.counts) if run else {},
            failures=len(run.failures) if run else 0,
        )


async def child_baseline(url: str, as_of: date) -> None:
    async with RawDB(url) as db:  # the same warm-up: the connection is open before timing
        await db.value("SELECT COUNT(*) FROM call_center_parameters")
    started = time.perf_counter()
    created = await create_child_orders_sql(url, as_of)
    emit(seconds=time.perf_counter() - started, created=created)


async def chain(url: str, as_of: date, time_limit: float, days: int = 1) -> None:
    """The daily chain on ``as_of`` and the ``days - 1`` days after it (a steady state: the
    second day finds what the first left), each day timed and limited on its own."""
    from datetime import timedelta

    from continuity.db import open_database
    from continuity.jobs import DAILY_CHAIN, JobEnv
    from continuity.payments.gateway import TestGateway

    timings: list[dict[str, Any]] = []
    current: list[str] = [""]

    async def run_all(env: JobEnv, day: date) -> None:
        for name, job in DAILY_CHAIN:
            current[0] = name
            started = time.perf_counter()
            run = await job(day, env=env, triggered_by="bench")
            timings.append(
                {
                    "job": name,
                    "day": day.isoformat(),
                    "seconds": round(time.perf_counter() - started, 3),
                    "counts": dict(run.counts),
                    "failures": len(run.failures),
                }
            )
            print(json.dumps({"progress": timings[-1]}), file=sys.stderr, flush=True)

    results: list[dict[str, Any]] = []
    async with open_database(url):
        await _warm_up()
        env = JobEnv(gateway=TestGateway())
        for offset in range(days):
            day = as_of + timedelta(days=offset)
            started = time.perf_counter()
            task = asyncio.ensure_future(run_all(env, day))
            done, _pending = await asyncio.wait({task}, timeout=time_limit)
            timed_out = not done
            if timed_out:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            else:
                task.result()
            results.append(
                {
                    "day": day.isoformat(),
                    "seconds": time.perf_counter() - started,
                    "timed_out": timed_out,
                    "running": current[0] if timed_out else None,
                }
            )
            if timed_out:
                break
    first = results[0]
    emit(
        seconds=first["seconds"],
        timed_out=first["timed_out"],
        running=first["running"],
        jobs=[t for t in timings if t["day"] == first["day"]],
        days=results,
        all_jobs=timings,
    )


async def idle(url: str) -> None:
    """The RSS baseline: the same process with the ORM open, doing nothing else."""
    from continuity.db import open_database

    async with open_database(url):
        await _warm_up()
        emit(seconds=0.0)


async def charges(
    url: str, as_of: date, latency: float, time_limit: float, concurrency: int
) -> None:
    from continuity.db import open_database
    from continuity.jobs import JobEnv
    from continuity.jobs.payments import process_payments
    from continuity.models import Payment
    from continuity.payments.gateway import TestGateway

    gateway = TestGateway(latency=latency)
    options: dict[str, Any] = {"gateway": gateway}
    knob = next(
        (f.name for f in dataclasses.fields(JobEnv) if "concurrency" in f.name),
        None,
    )
    if knob is not None:  # once the job has a concurrency bound, give it the baseline's
        options[knob] = concurrency
    async with open_database(url):
        await _warm_up()
        due = await Payment.filter(status="pending").count()
        started = time.perf_counter()
        task = asyncio.ensure_future(process_payments(as_of, env=JobEnv(**options)))
        done, _pending = await asyncio.wait({task}, timeout=time_limit)
        if not done:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        else:
            task.result()
        seconds = time.perf_counter() - started
        charged = await Payment.filter(status="succeeded").count()
        emit(
            seconds=seconds,
            due=due,
            charged=charged,
            gateway_calls=gateway.calls,
            timed_out=not done,
            concurrency_knob=knob,
        )


async def sleeps(count: int, latency: float, concurrency: int) -> None:
    """The charges baseline: ``count`` gateway-latency sleeps, ``concurrency`` at a time."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with semaphore:
            await asyncio.sleep(latency)

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    emit(seconds=time.perf_counter() - started, count=count)


#: Orders a call in the second timing of ``projection``.
PROJECTION_PAGE = 50


async def projection(url: str, count: int) -> None:
    from continuity.db import open_database
    from continuity.models import ContinuityOrder
    from continuity.orders import projection as module
    from continuity.orders.projection import upcoming_shipments, upcoming_shipments_of

    async with open_database(url):
        await _warm_up()
        orders = await ContinuityOrder.all().order_by("id").limit(count)
        # every projection computed: what an order whose state no other order shares costs
        kept, module.PROJECTIONS_KEPT = module.PROJECTIONS_KEPT, 0
        started = time.perf_counter()
        computed = 0
        for order in orders:
            computed += len(await upcoming_shipments(order, 5))
        computed_seconds = time.perf_counter() - started
        module.PROJECTIONS_KEPT = kept
        # the figure: each version keeps its projections, as the service does
        started = time.perf_counter()
        shipments = 0
        for order in orders:
            shipments += len(await upcoming_shipments(order, 5))
        seconds = time.perf_counter() - started
        # the same projections, PROJECTION_PAGE orders a call (a page of orders)
        started = time.perf_counter()
        paged = 0
        for first in range(0, len(orders), PROJECTION_PAGE):
            page = await upcoming_shipments_of(orders[first : first + PROJECTION_PAGE], 5)
            paged += sum(len(shipments) for shipments in page.values())
        emit(
            seconds=seconds,
            orders=len(orders),
            shipments=shipments,
            paged_seconds=time.perf_counter() - started,
            paged_shipments=paged,
            computed_seconds=computed_seconds,
            computed_shipments=computed,
        )


#: The read of both projection baselines: one order's lines with their SKUs.
PROJECTION_READ = (
    "SELECT l.event_number, l.repeat_index, l.item_seq, l.status, "
    "l.planned_ship_date, l.quantity, l.price_minor, p.sku "
    "FROM continuity_line l LEFT JOIN product p ON p.id = l.product_id "
    "WHERE l.continuity_order_id = ? "
    "ORDER BY l.event_number, l.repeat_index, l.item_seq"
)
_PROJECTION_IDS = "SELECT id FROM continuity_order ORDER BY id LIMIT ?"


async def projection_baseline(url: str, count: int) -> None:
    """The reads a projection needs at least: each order's lines with their SKUs, raw."""
    async with RawDB(url) as db:
        ids = [row[0] for row in await db.fetch(_PROJECTION_IDS, count)]
        started = time.perf_counter()
        rows = 0
        for order_id in ids:
            rows += len(await db.fetch(PROJECTION_READ, order_id))
        emit(seconds=time.perf_counter() - started, orders=len(ids), rows=rows)


async def projection_driver_baseline(url: str, count: int) -> None:
    """The same reads through the async driver the product uses on SQLite, ``aiosqlite``
    (each statement a hop to its thread and back), with ``RawDB``'s settings; on PostgreSQL
    ``projection_baseline`` already reads through the product's driver, ``asyncpg``."""
    import aiosqlite

    async with aiosqlite.connect(sqlite_path(url), isolation_level=None) as db:
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA foreign_keys=ON")
        ids = [row[0] for row in await db.execute_fetchall(_PROJECTION_IDS, (count,))]
        started = time.perf_counter()
        rows = 0
        for order_id in ids:
            found = await db.execute_fetchall(PROJECTION_READ, (order_id,))
            rows += len(found)  # type: ignore[arg-type]  # a list (typed Iterable)
        emit(seconds=time.perf_counter() - started, orders=len(ids), rows=rows)


async def reload(url: str, rules_dir: Path) -> None:
    from bench.rule_reload import measure

    emit(**await measure(url, rules_dir))


def limits(rules_dirs: list[Path]) -> None:
    from bench.rule_limits import measure_check

    emit(**measure_check(rules_dirs))


def compose(paths: list[Path]) -> None:
    from bench.rule_limits import measure_compose

    emit(**measure_compose(paths))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.worker")
    sub = parser.add_subparsers(dest="path", required=True)
    for name in ("child-job", "child-baseline"):
        p = sub.add_parser(name)
        p.add_argument("url")
        p.add_argument("as_of", type=date.fromisoformat)
        p.add_argument("--time-limit", type=float, default=3600.0)
    p = sub.add_parser("chain")
    p.add_argument("url")
    p.add_argument("as_of", type=date.fromisoformat)
    p.add_argument("--time-limit", type=float, default=600.0)
    p.add_argument("--days", type=int, default=1)
    p = sub.add_parser("idle")
    p.add_argument("url")
    p = sub.add_parser("charges")
    p.add_argument("url")
    p.add_argument("as_of", type=date.fromisoformat)
    p.add_argument("--latency", type=float, default=0.05)
    p.add_argument("--time-limit", type=float, default=120.0)
    p.add_argument("--concurrency", type=int, default=32)
    p = sub.add_parser("sleeps")
    p.add_argument("count", type=int)
    p.add_argument("--latency", type=float, default=0.05)
    p.add_argument("--concurrency", type=int, default=32)
    p = sub.add_parser("reload")
    p.add_argument("url")
    p.add_argument("rules_dir", type=Path)
    sub.add_parser("limits").add_argument("rules_dirs", type=Path, nargs="+")
    sub.add_parser("compose").add_argument("files", type=Path, nargs="+")
    p = sub.add_parser("load")
    p.add_argument("spec", type=Path, help="a JSON file: url, body, headers, seconds, connections")
    for name in ("projection", "projection-baseline", "projection-driver-baseline"):
        p = sub.add_parser(name)
        p.add_argument("url")
        p.add_argument("count", type=int)
    args = parser.parse_args(argv)
    if args.path == "child-job":
        asyncio.run(child_job(args.url, args.as_of, args.time_limit))
    elif args.path == "child-baseline":
        asyncio.run(child_baseline(args.url, args.as_of))
    elif args.path == "chain":
        asyncio.run(chain(args.url, args.as_of, args.time_limit, args.days))
    elif args.path == "idle":
        asyncio.run(idle(args.url))
    elif args.path == "charges":
        asyncio.run(charges(args.url, args.as_of, args.latency, args.time_limit, args.concurrency))
    elif args.path == "sleeps":
        asyncio.run(sleeps(args.count, args.latency, args.concurrency))
    elif args.path == "reload":
        asyncio.run(reload(args.url, args.rules_dir))
    elif args.path == "limits":
        limits(args.rules_dirs)
    elif args.path == "compose":
        compose(args.files)
    elif args.path == "load":
        from bench.http import run_load_from_spec

        run_load_from_spec(args.spec)
    elif args.path == "projection":
        asyncio.run(projection(args.url, args.count))
    elif args.path == "projection-baseline":
        asyncio.run(projection_baseline(args.url, args.count))
    elif args.path == "projection-driver-baseline":
        asyncio.run(projection_driver_baseline(args.url, args.count))


if __name__ == "__main__":
    main()
