"""The jobs are idempotent, resumable, catch up after downtime, and isolate failures."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from tortoise.context import TortoiseContext

from continuity.enums import (
    ChildOrderStatus,
    ContinuityLineStatus,
    JobRunStatus,
    PaymentPurpose,
    PaymentStatus,
)
from continuity.jobs import DAILY_CHAIN, JobEnv, child_orders, release, run_daily_chain
from continuity.jobs.liveness import run_lease
from continuity.jobs.payments import CLAIM_LEASE, process_payments
from continuity.models import ChildOrder, ContinuityLine, JobRun, Payment
from continuity.payments.gateway import ChargeRequest, GatewayResult, TestGateway
from tests.jobs.world import Buyer, buyer, differences, open_business, order, snapshot

pytestmark = pytest.mark.db

DAY0 = date(2027, 1, 10)


async def _business(rules_dir: Path, gateway: TestGateway) -> list[Buyer]:
    rules = await open_business(rules_dir)
    ada = await buyer("ADA", today=DAY0)
    bob = await buyer("BOB", today=DAY0, token="tok_decline")
    for sku in ["BOOKCLUB", "VITREFILL", "COFFEECLUB", "GIFTBOX6"]:
        await order(ada, sku, DAY0, rules, gateway)
    await order(ada, "WINECLUB12", DAY0, rules, gateway, payment_schedule="three-monthly")
    await order(bob, "VITREFILL", DAY0, rules, gateway)
    # a late mail order: the book club from two months ago
    await order(ada, "BOOKCLUB", DAY0, rules, gateway, start_date=DAY0 - timedelta(days=62))
    return [ada, bob]


async def test_every_job_run_twice_changes_nothing_the_second_time(
    db: TortoiseContext, rules_dir: Path
) -> None:
    gateway = TestGateway()
    await _business(rules_dir, gateway)
    env = JobEnv(gateway=gateway)
    for day in [DAY0, DAY0 + timedelta(days=20), DAY0 + timedelta(days=45)]:
        for name, job in DAILY_CHAIN:
            await job(day, env=env, triggered_by="test")
            before = await snapshot()
            moved, calls = gateway.moved_minor, gateway.calls
            again = await job(day, env=env, triggered_by="test")
            assert differences(before, await snapshot()) == [], name
            assert (gateway.moved_minor, gateway.calls) == (moved, calls), name
            assert again.status is JobRunStatus.SUCCEEDED, (name, again.failures)
    assert await ChildOrder.all().count() > 0  # the days above did real work


async def test_a_crashed_run_is_completed_by_the_next_without_duplicates(
    db: TortoiseContext, rules_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = TestGateway()
    await _business(rules_dir, gateway)
    env = JobEnv(gateway=gateway, batch_size=2)
    real = release.release_batch
    calls = 0

    async def crash_in_the_second_batch(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        released = await real(*args, **kwargs)
        if calls == 2:
            raise asyncio.CancelledError  # the process is stopped mid-batch
        return released

    monkeypatch.setattr(child_orders, "release_batch", crash_in_the_second_batch)
    with pytest.raises(asyncio.CancelledError):
        await child_orders.create_child_orders(DAY0, env=env)
    stopped = await JobRun.get(job="create-child-orders")
    assert stopped.status is JobRunStatus.INTERRUPTED  # recorded, not left running
    partial = await ChildOrder.all().count()
    assert partial == 2  # the first batch (two orders, one occurrence due each) committed
    monkeypatch.setattr(child_orders, "release_batch", real)
    completed = await child_orders.create_child_orders(DAY0, env=env)
    assert completed.status is JobRunStatus.SUCCEEDED
    due = (
        await ContinuityLine.filter(
            planned_ship_date__lte=DAY0 + timedelta(days=5),
            status=ContinuityLineStatus.PENDING,
            continuity_order__status="active",
        )
        .exclude(continuity_order__customer__account_number="BOB")
        .count()
    )
    assert due == 0
    # every released line is on exactly one child order, every shipment charged once
    released = await ContinuityLine.filter(status=ContinuityLineStatus.RELEASED)
    assert all(line.child_order_id is not None for line in released)
    children = await ChildOrder.all()
    charges = await Payment.filter(purpose=PaymentPurpose.SHIPMENT)
    assert sorted(p.child_order_id or 0 for p in charges) == sorted(
        c.id for c in children if c.total_minor > 0
    )
    assert len({p.idempotency_key for p in charges}) == len(charges)


async def test_catch_up_after_ten_days_down(db: TortoiseContext, rules_dir: Path) -> None:
    gateway = TestGateway()
    rules = await open_business(rules_dir, days_before_delivery=0)
    ada = await buyer("ADA", today=DAY0)
    coffee = (await order(ada, "COFFEECLUB", DAY0, rules, gateway)).continuity_orders[0]
    refill = (await order(ada, "VITREFILL", DAY0, rules, gateway)).continuity_orders[0]
    # the book club, placed 3 months late: consolidates its missed months
    book = (
        await order(ada, "BOOKCLUB", DAY0, rules, gateway, start_date=DAY0 - timedelta(days=90))
    ).continuity_orders[0]
    await run_daily_chain(DAY0, env=JobEnv(gateway=gateway))
    # coffee's second bag is due on day 14 after its start (DAY0+2): the scheduler is down
    # from DAY0+1 to DAY0+30 and one run on DAY0+31 must catch everything up.
    later = DAY0 + timedelta(days=31)
    await run_daily_chain(later, env=JobEnv(gateway=gateway))
    coffee_children = await ChildOrder.filter(continuity_order_id=coffee.id).order_by("id")
    coffee_lines = await ContinuityLine.filter(
        continuity_order_id=coffee.id, status=ContinuityLineStatus.RELEASED
    )
    assert [c.consolidated for c in coffee_children] == [False, False, False]  # not consolidated
    assert len({line.child_order_id for line in coffee_lines}) == 3
    book_children = await ChildOrder.filter(continuity_order_id=book.id).order_by("id")
    assert book_children[0].consolidated is True  # the missed months in one child order
    refill_children = await ChildOrder.filter(continuity_order_id=refill.id)
    assert len(refill_children) == 2  # day 0 and day 30
    charges = await Payment.filter(purpose=PaymentPurpose.SHIPMENT)
    assert all(p.status is PaymentStatus.SUCCEEDED for p in charges)
    assert len(charges) == len(await ChildOrder.filter(total_minor__gt=0))
    # a second chain for the same day changes no row: not even the extension (an occurrence
    # released by the first chain's child-order run still counts as pending for that date)
    before = await snapshot()
    await run_daily_chain(later, env=JobEnv(gateway=gateway))
    assert differences(before, await snapshot()) == []


class _FlakyGateway(TestGateway):
    """Raises (not declines) for one token: a bug or an outage on one order."""

    async def authorize(self, request: ChargeRequest) -> GatewayResult:
        if request.token == "tok_boom":
            raise ConnectionError("gateway unreachable")
        return await super().authorize(request)


async def test_one_failing_item_never_aborts_the_batch(
    db: TortoiseContext, rules_dir: Path
) -> None:
    gateway = _FlakyGateway()
    rules = await open_business(rules_dir)
    ada = await buyer("ADA", today=DAY0)
    boom = await buyer("BOOM", today=DAY0, token="tok_boom")
    await order(boom, "VITREFILL", DAY0, rules, gateway)
    await order(ada, "VITREFILL", DAY0, rules, gateway)
    run = await child_orders.create_child_orders(DAY0, env=JobEnv(gateway=gateway))
    assert run.status is JobRunStatus.PARTIAL
    boom_charge = await Payment.get(
        purpose=PaymentPurpose.SHIPMENT, child_order__customer__account_number="BOOM"
    )
    assert [f["item"] for f in run.failures] == [f"payment {boom_charge.id}"]
    assert run.counts["child_orders"] == 2
    paid = await ChildOrder.filter(status=ChildOrderStatus.AUTHORIZED).count()
    assert paid == 1
    # the authorization that blew up is recorded as unknown (not left claimed) with its attempt
    # not counted, and the next payments run asks again with the same key
    unknown = await Payment.get(status=PaymentStatus.UNKNOWN)
    assert (unknown.id, unknown.attempts, unknown.failure_code) == (
        boom_charge.id,
        0,
        "gateway_error",
    )
    fixed = TestGateway()
    retry = await process_payments(DAY0, env=JobEnv(gateway=fixed))
    assert (retry.status, retry.counts["authorized"]) == (JobRunStatus.SUCCEEDED, 1)
    assert fixed.requests == [("auth", f"{unknown.idempotency_key}#1", True)]
    assert await ChildOrder.filter(status=ChildOrderStatus.AUTHORIZED).count() == 2


async def test_a_claim_of_a_live_run_waits_for_it_or_for_the_lease(
    db: TortoiseContext, rules_dir: Path
) -> None:
    """A replica's run still calling the gateway keeps its claim (for ``CLAIM_LEASE`` at most)."""
    gateway = TestGateway()
    rules = await open_business(rules_dir, authorize_child_orders=False)
    ada = await buyer("ADA", today=DAY0)
    await order(ada, "VITREFILL", DAY0, rules, gateway)
    await child_orders.create_child_orders(DAY0, env=JobEnv(gateway=gateway))
    charge = await Payment.get(purpose=PaymentPurpose.SHIPMENT)
    async with run_lease() as owner:  # a live run (this process) holds the claim
        live = await JobRun.create(
            job="process-payments", as_of=DAY0, triggered_by="replica", owner=str(owner)
        )
        charge.status, charge.claimed_by_run_id = PaymentStatus.PENDING, live.id
        charge.last_attempt_at = datetime.now(UTC)
        await charge.save(update_fields=["status", "claimed_by_run_id", "last_attempt_at"])
        # the charge is due the next day (the chain's payments job ran before it was made)
        quiet = await process_payments(DAY0 + timedelta(days=1), env=JobEnv(gateway=gateway))
        assert "charged" not in quiet.counts
        assert (await JobRun.get(id=live.id)).status is JobRunStatus.RUNNING
        charge.last_attempt_at = datetime.now(UTC) - CLAIM_LEASE - timedelta(seconds=1)
        await charge.save(update_fields=["last_attempt_at"])
        late = await process_payments(DAY0 + timedelta(days=1), env=JobEnv(gateway=gateway))
        assert late.counts["charged"] == 1
