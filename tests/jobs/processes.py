"""Real ``continuity jobs run`` processes against a shared database, for the crash and
shutdown tests: a business to populate, the command, and the proof that everything was done
exactly once (in the database and at a gateway that deduplicates idempotency keys, read from
the journal ``continuity.faults`` writes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from continuity.db import open_database
from continuity.enums import (
    ChildOrderStatus,
    ContinuityLineStatus,
    JobRunStatus,
    PaymentPurpose,
    PaymentStatus,
)
from continuity.jobs import JobEnv, run_daily_chain
from continuity.models import ChildOrder, ChildOrderLine, ContinuityLine, JobRun, Payment
from continuity.payments.gateway import TestGateway
from tests.jobs.world import buyer, open_business, order

ROOT = Path(__file__).resolve().parents[2]
DAY0 = date(2027, 1, 10)
SKUS = ("VITREFILL", "BOOKCLUB", "COFFEECLUB")
#: Eight buyers: 24 orders, five batches of five.
BUYERS_DEFAULT = 8


async def populate(
    url: str, rules_dir: Path, buyers: int, *, chain_on_day0: bool = False, on: date = DAY0
) -> None:
    """``buyers`` customers with an order on each of ``SKUS``, placed on ``on``.

    ``chain_on_day0``: also run the chain for ``DAY0`` with ``authorize_child_orders`` off, so
    that its shipment charges wait, due, for the next day's payments job.
    """
    async with open_database(url):
        gateway = TestGateway()
        rules = await open_business(rules_dir, authorize_child_orders=not chain_on_day0)
        for n in range(buyers):
            who = await buyer(f"K-{n}", today=on)
            for sku in SKUS:
                await order(who, sku, on, rules, gateway)
        if chain_on_day0:
            await run_daily_chain(on, env=JobEnv(gateway=gateway), triggered_by="test")


def jobs_run(
    url: str, as_of: date, *, faults: str = "", env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """``continuity jobs run all`` in its own process (small batches: several per job)."""
    command = [sys.executable, "-m", "server.cli", "jobs", "run", "all"]
    command += ["--as-of", as_of.isoformat(), "--batch-size", "5"]
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env={
            **os.environ,
            "CONTINUITY_DATABASE_URL": url,
            "CONTINUITY_FAULTS": faults,
            **(env or {}),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def journal_lines(journal: Path) -> list[dict[str, Any]]:
    if not journal.exists():
        return []
    return [json.loads(line) for line in journal.read_text().splitlines() if line]


async def exactly_once(url: str, journal: Path, *, through: date) -> dict[str, Any]:
    """Check that everything due by ``through`` (+ the delivery horizon) was done exactly once;
    return the figures (asserting inside)."""
    async with open_database(url):
        due_lines = (
            await ContinuityLine.filter(planned_ship_date__lte=through + timedelta(days=5))
            .exclude(status=ContinuityLineStatus.SKIPPED)
            .count()
        )
        released = await ContinuityLine.filter(status=ContinuityLineStatus.RELEASED).count()
        child_lines = await ChildOrderLine.all().count()
        children = await ChildOrder.all()
        charges = await Payment.filter(purpose=PaymentPurpose.SHIPMENT)
        running = await JobRun.filter(status=JobRunStatus.RUNNING).count()
        pending = await Payment.filter(status=PaymentStatus.PENDING).count()
        assert running == 0, "a run is still shown running"
        assert released == due_lines == child_lines, (released, due_lines, child_lines)
        shipped = await ChildOrderLine.all().values_list("continuity_line_id", flat=True)
        assert len(set(shipped)) == child_lines, "a line shipped twice"
        assert pending == 0, "a payment is still claimed or pending"
        assert all(c.status is ChildOrderStatus.AUTHORIZED for c in children)
        assert sorted(p.child_order_id or 0 for p in charges) == sorted(c.id for c in children)
        assert all(p.status is PaymentStatus.SUCCEEDED for p in charges)
        assert len({p.idempotency_key for p in charges}) == len(charges)
        # the gateway: one approved attempt per payment, and the money of exactly those
        approved: dict[str, set[str]] = defaultdict(set)
        amounts: dict[str, int] = {}
        shipment_keys = {p.idempotency_key for p in charges}
        calls = journal_lines(journal)
        for call in calls:
            if call["key"].rsplit("#", 1)[0] not in shipment_keys:
                continue
            if call["op"] in ("charge", "authorize") and call["outcome"] == "approved":
                approved[call["key"].rsplit("#", 1)[0]].add(call["key"])
                amounts[call["key"]] = call["amount_minor"]
        assert all(len(keys) == 1 for keys in approved.values()), approved
        expected = {f"{p.idempotency_key}#{p.attempts}": p.amount_minor for p in charges}
        assert amounts == expected
        return {
            "child_orders": len(children),
            "charges": len(charges),
            "gateway_calls": len(calls),
            "repeated_keys": len(calls) - len({call["key"] for call in calls}),
            "abandoned": await JobRun.filter(status=JobRunStatus.ABANDONED).values_list(
                "job", flat=True
            ),
            "interrupted": await JobRun.filter(status=JobRunStatus.INTERRUPTED).values_list(
                "job", flat=True
            ),
        }
