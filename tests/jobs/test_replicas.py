"""Two processes running the same jobs for the same date at the same time (PostgreSQL).

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` and re-checked in their transaction, so the
two runs together produce exactly the child orders and charges of one run.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from continuity.db import open_database
from continuity.enums import ContinuityLineStatus, PaymentPurpose
from continuity.models import ChildOrder, ChildOrderLine, ContinuityLine, JobRun, Payment
from continuity.payments.gateway import TestGateway
from tests.dbutil import on_postgres
from tests.jobs.world import buyer, open_business, order

pytestmark = [
    pytest.mark.db,
    pytest.mark.skipif(not on_postgres(), reason="row locking is a PostgreSQL feature"),
]

ROOT = Path(__file__).resolve().parents[2]
DAY0 = date(2027, 1, 10)
ORDERS = 120


async def _populate(url: str, rules_dir: Path) -> None:
    async with open_database(url):
        gateway = TestGateway()
        rules = await open_business(rules_dir)
        for n in range(ORDERS // 3):
            who = await buyer(f"R-{n}", today=DAY0)
            for sku in ["VITREFILL", "BOOKCLUB", "COFFEECLUB"]:
                await order(who, sku, DAY0, rules, gateway)


async def _outcome(url: str) -> dict[str, int]:
    async with open_database(url):
        due = (
            await ContinuityLine.filter(planned_ship_date__lte=date(2027, 1, 15))
            .exclude(status=ContinuityLineStatus.SKIPPED)
            .count()
        )
        return {
            "due_lines": due,
            "released": await ContinuityLine.filter(status=ContinuityLineStatus.RELEASED).count(),
            "child_orders": await ChildOrder.all().count(),
            "child_lines": await ChildOrderLine.all().count(),
            "charges": await Payment.filter(purpose=PaymentPurpose.SHIPMENT).count(),
            "charge_keys": len(
                set(
                    await Payment.filter(purpose=PaymentPurpose.SHIPMENT).values_list(
                        "idempotency_key", flat=True
                    )
                )
            ),
            "runs": await JobRun.filter(job="create-child-orders").count(),
        }


def test_two_processes_do_the_work_of_one(shared_url: str, rules_dir: Path) -> None:
    asyncio.run(_populate(shared_url, rules_dir))
    env = {**os.environ, "CONTINUITY_DATABASE_URL": shared_url}
    command = [
        sys.executable,
        "-m",
        "server.cli",
        "jobs",
        "run",
        "all",
        "--as-of",
        DAY0.isoformat(),
    ]
    processes = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    result = asyncio.run(_outcome(shared_url))
    assert result["runs"] == 2
    assert result["released"] == result["due_lines"] == result["child_lines"]
    # one child order per due occurrence: the book club and refill ship one item per
    # occurrence, coffee's first bag is one occurrence too
    assert result["child_orders"] == ORDERS
    assert result["charges"] == result["charge_keys"] == ORDERS
