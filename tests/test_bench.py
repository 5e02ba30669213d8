"""The benchmark suite runs end to end in quick mode, and its data generator writes what it says.

Ratios are never asserted (machines are noisy): only that every benchmark produced a figure, a
baseline and a ratio, and that both child-order paths wrote the same rows.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.backends import Backend, RawDB
from bench.baseline import child_order_counts, create_child_orders_sql
from bench.core import AS_OF
from bench.datagen import TABLES, Shape, generate, prepare
from tests.dbutil import TEST_DB_URL, on_postgres

ROOT = Path(__file__).resolve().parent.parent


def test_quick_suite_on_sqlite_reports_every_benchmark(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "all", "--quick", "--backend", "sqlite", "--json", out],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text())["results"]
    from bench.__main__ import BENCHMARKS

    assert [r["name"] for r in results] == list(BENCHMARKS)
    for result in results:
        assert result["figure"] > 0, result
        assert result["baseline"] > 0, result
        assert result["ratio"] > 0, result
        assert result["name"] in proc.stdout
    child = next(r for r in results if r["name"] == "child-orders")
    assert child["valid"], child["notes"]
    assert child["details"]["counts_match"]


def test_postgres_default_is_the_maintenance_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite creates and drops its own databases from ``postgres``, never a test database."""
    from bench.backends import postgres_admin_url

    monkeypatch.delenv("BENCH_POSTGRES_URL", raising=False)
    assert postgres_admin_url() == "postgres://postgres@127.0.0.1:5432/postgres"
    monkeypatch.setenv("BENCH_POSTGRES_URL", "postgres://u@db:5432/maintenance")
    assert postgres_admin_url() == "postgres://u@db:5432/maintenance"


def _backend(monkeypatch: pytest.MonkeyPatch) -> Backend:
    """The backend of this pytest process (Tortoise must see only one per process)."""
    if on_postgres():
        monkeypatch.setenv("BENCH_POSTGRES_URL", TEST_DB_URL)
        return Backend("postgres")
    return Backend("sqlite")


@pytest.mark.db
async def test_generator_writes_the_shape_it_promises(monkeypatch: pytest.MonkeyPatch) -> None:
    shape = Shape(orders=95, due=10)
    async with _backend(monkeypatch) as backend:
        url = await backend.create("gen")
        await prepare(url, authorize_child_orders=False, days_before_delivery=0)
        counts = await generate(url, shape, AS_OF)
        assert counts == shape.expected()
        assert counts["customer"] == 10  # one per 10 orders, rounded up
        async with RawDB(url) as db:
            due = await db.value(
                "SELECT COUNT(DISTINCT continuity_order_id) FROM continuity_line "
                "WHERE status = 'pending' AND planned_ship_date <= ?",
                db.date(AS_OF),
            )
            per_order = await db.fetch(
                "SELECT COUNT(*) FROM continuity_line GROUP BY continuity_order_id"
            )
            orphans = await db.value(
                "SELECT COUNT(*) FROM continuity_order o LEFT JOIN sales_order_line s "
                "ON s.id = o.sales_line_id WHERE s.id IS NULL OR s.kind != 'continuity_parent'"
            )
        assert due == shape.due
        assert {row[0] for row in per_order} == {shape.lines_per_order}
        assert orphans == 0
        assert set(counts) == set(TABLES)


@pytest.mark.db
async def test_set_based_baseline_writes_one_of_each_row_per_due_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shape = Shape(orders=40, due=7)
    async with _backend(monkeypatch) as backend:
        url = await backend.create("baseline")
        await prepare(url, authorize_child_orders=False, days_before_delivery=0)
        await generate(url, shape, AS_OF)
        assert await create_child_orders_sql(url, AS_OF) == shape.due
        assert set((await child_order_counts(url)).values()) == {shape.due}
        assert await create_child_orders_sql(url, AS_OF) == 0  # nothing left due
