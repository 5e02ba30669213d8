"""The run ledger (``continuity.jobs.runs``, ``liveness``): live runs are left alone, dead runs
are marked ``ABANDONED`` with their claims released, a stop request interrupts a run between
batches, and observers hear of every run."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from tortoise.context import TortoiseContext

from continuity.enums import JobRunStatus, PaymentStatus
from continuity.jobs import JobEnv, child_orders, release, run_daily_chain
from continuity.jobs.liveness import STALE_AFTER, Owner, is_dead, process_alive, this_process
from continuity.jobs.runs import (
    RunRecorder,
    StopToken,
    abandon_dead_runs,
    add_run_observer,
    stop_scope,
)
from continuity.models import JobRun, Payment
from continuity.payments.gateway import TestGateway
from tests.api.graphql import gql
from tests.dbutil import on_postgres
from tests.jobs.world import buyer, open_business, order

DAY0 = date(2027, 1, 10)


def _dead_pid() -> int:
    """The id of a process of this host that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _dead_owner() -> str:
    me = this_process()
    return str(Owner(me.host, _dead_pid(), "1", 424242))


def test_an_owner_round_trips_through_its_text() -> None:
    owner = this_process(77)
    assert Owner.parse(str(owner)) == owner
    assert Owner.parse("garbage") is None
    assert Owner.parse(None) is None


def test_process_liveness_on_this_host() -> None:
    me = this_process()
    assert process_alive(me.pid, me.started)
    assert not process_alive(me.pid, "1")  # the same id, another process (a reused id)
    assert not process_alive(_dead_pid(), "")


@pytest.mark.db
async def test_liveness_by_lock_process_or_heartbeat(db: TortoiseContext) -> None:
    now = datetime.now(UTC)
    fresh, stale = now, now - STALE_AFTER - timedelta(seconds=1)
    assert await is_dead(_dead_owner(), fresh, now)  # its lock is free / its process is gone
    assert await is_dead(None, stale, now)  # a row from before owners: by its heartbeat
    assert not await is_dead(None, fresh, now)
    elsewhere = str(Owner("another-host", 1, "1", 5))
    if not on_postgres():  # SQLite cannot ask another host: the heartbeat decides
        assert not await is_dead(elsewhere, fresh, now)
        assert await is_dead(elsewhere, stale, now)


@pytest.mark.db
async def test_a_dead_run_is_abandoned_and_its_claims_released_by_the_next_run(
    db: TortoiseContext, rules_dir: Path
) -> None:
    gateway = TestGateway()
    rules = await open_business(rules_dir)
    ada = await buyer("ADA", today=DAY0)
    await order(ada, "VITREFILL", DAY0, rules, gateway)
    await child_orders.create_child_orders(DAY0, env=JobEnv(gateway=gateway))
    charge = await Payment.get(child_order_id__isnull=False)
    # a run whose process was killed right after claiming the charge
    dead = await JobRun.create(
        job="process-payments", as_of=DAY0, triggered_by="cli", owner=_dead_owner()
    )
    charge.status, charge.claimed_by_run_id = PaymentStatus.PENDING, dead.id
    charge.last_attempt_at = datetime.now(UTC)
    await charge.save(update_fields=["status", "claimed_by_run_id", "last_attempt_at"])
    heard: list[JobRun] = []

    class Listener:
        def run_started(self, recorder: RunRecorder) -> None:
            pass

        def run_finished(self, run: JobRun) -> None:
            heard.append(run)

    stop_listening = add_run_observer(Listener())
    try:
        runs = await run_daily_chain(DAY0, env=JobEnv(gateway=gateway))
    finally:
        stop_listening()
    found = await JobRun.get(id=dead.id)
    assert found.status is JobRunStatus.ABANDONED
    assert found.finished_at is not None
    assert f"found by run {runs[0].id}" in found.failures[-1]["error"]
    assert heard[0].id == dead.id  # the metrics count it
    assert [r.id for r in heard[1:]] == [r.id for r in runs]
    # the first run of the chain took the claim over: the payments job charged it at once
    charge = await Payment.get(id=charge.id)
    assert charge.status is PaymentStatus.SUCCEEDED
    assert charge.claimed_by_run_id == runs[3].id
    assert await abandon_dead_runs() == []  # nothing left to find


@pytest.mark.db
async def test_live_runs_are_left_alone(db: TortoiseContext, rules_dir: Path) -> None:
    await open_business(rules_dir)
    # another run of this very process, still at work
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow() -> None:
        from continuity.jobs.runs import recorded_run

        async with recorded_run("close-orders", DAY0, {}, "test"):
            started.set()
            await release.wait()

    task = asyncio.create_task(slow())
    await started.wait()
    assert await abandon_dead_runs() == []
    assert await JobRun.filter(status=JobRunStatus.RUNNING).count() == 1
    release.set()
    await task
    assert (await JobRun.get(job="close-orders")).status is JobRunStatus.SUCCEEDED


@pytest.mark.db
async def test_a_stop_request_interrupts_between_batches(
    db: TortoiseContext, rules_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = TestGateway()
    rules = await open_business(rules_dir)
    for n in range(3):
        await order(await buyer(f"B{n}", today=DAY0), "VITREFILL", DAY0, rules, gateway)
    token = StopToken()
    batches = 0
    real = release.release_batch

    async def stop_during_the_first_batch(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal batches
        batches += 1
        token.set()  # SIGTERM arrives while the batch works
        return await real(*args, **kwargs)

    monkeypatch.setattr(child_orders, "release_batch", stop_during_the_first_batch)
    with stop_scope(token):
        runs = await run_daily_chain(DAY0, env=JobEnv(gateway=gateway, batch_size=1))
    monkeypatch.setattr(child_orders, "release_batch", real)
    assert batches == 1
    assert [r.job for r in runs][-1] == "create-child-orders"  # close-orders never started
    interrupted = runs[-1]
    assert interrupted.status is JobRunStatus.INTERRUPTED
    assert interrupted.counts["child_orders"] == 1  # the batch in hand finished, authorized
    assert interrupted.counts["authorized"] == 1
    # outside the scope nothing is stopped: the next run completes the work
    again = await child_orders.create_child_orders(DAY0, env=JobEnv(gateway=gateway))
    assert (again.status, again.counts["child_orders"]) == (JobRunStatus.SUCCEEDED, 2)


@pytest.mark.db
def test_job_runs_show_abandoned_runs(client: TestClient) -> None:
    async def killed() -> None:
        await JobRun.create(job="extend-lines", as_of=DAY0, triggered_by="cli", owner=_dead_owner())

    client.portal.call(killed)  # type: ignore[union-attr]
    gql(
        client,
        "mutation { runJob(input: {job: CLOSE_ORDERS}) { runs { status } } }",
    )
    runs = gql(
        client, "{ jobRuns(first: 5) { edges { node { id job status failures { error } } } } }"
    )
    statuses = {
        edge["node"]["job"]: (edge["node"]["status"], edge["node"]["failures"])
        for edge in runs["jobRuns"]["edges"]
    }
    assert statuses["CLOSE_ORDERS"] == ("SUCCEEDED", [])
    status, failures = statuses["EXTEND_LINES"]
    assert status == "ABANDONED"
    assert "stopped without finishing" in failures[0]["error"]


def test_no_test_leaves_the_process_stopped() -> None:
    """Only a signal handler sets the process-wide stop (servers in tests use their own)."""
    from continuity.jobs.runs import PROCESS_STOP

    assert not PROCESS_STOP.is_set()
