"""SIGTERM to a ``continuity jobs run`` in the middle of a job: no new batch starts, the batch
in hand finishes (or, past ``shutdown_grace_seconds``, is cancelled), the run is recorded
``INTERRUPTED`` and no later job of the chain starts; the next run completes the work, all of
it exactly once (issue 16)."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from continuity.db import open_database
from continuity.enums import JobRunStatus, PaymentStatus
from continuity.models import ChildOrder, JobRun, Payment
from tests.jobs.processes import DAY0, exactly_once, jobs_run, journal_lines, populate

pytestmark = pytest.mark.db

BUYERS = 8


def _wait_for(condition, what: str, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


async def _state(url: str) -> dict[str, object]:
    async with open_database(url):
        runs = {r.job: r for r in await JobRun.all()}
        return {
            "runs": {job: (r.status, r.counts.get("child_orders")) for job, r in runs.items()},
            "children": await ChildOrder.all().count(),
            "claimed": await Payment.filter(claimed_by_run_id__isnull=False)
            .filter(status=PaymentStatus.PENDING)
            .count(),
            "pending": await Payment.filter(status=PaymentStatus.PENDING).count(),
        }


def test_sigterm_lets_the_batch_in_hand_finish_and_the_next_run_completes(
    shared_url: str, rules_dir: Path, tmp_path: Path
) -> None:
    asyncio.run(populate(shared_url, rules_dir, BUYERS))
    journal = tmp_path / "gateway.jsonl"
    process = jobs_run(shared_url, DAY0, faults=f"latency=0.5,journal={journal}")
    _wait_for(lambda: journal_lines(journal), "the first charge of the child-order job")
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 1, err
    assert "stopping after the current batch" in err
    state = asyncio.run(_state(shared_url))
    runs = state["runs"]
    assert isinstance(runs, dict)
    status, children = runs["create-child-orders"]
    assert status is JobRunStatus.INTERRUPTED
    # whole batches of five orders (one child order each), not all of them
    assert children == state["children"]
    assert isinstance(children, int)
    assert 0 < children < 3 * BUYERS
    assert children % 5 == 0
    assert "close-orders" not in runs  # no later job started
    assert state["pending"] == 0  # the batch in hand collected its charges before stopping

    rerun = jobs_run(shared_url, DAY0, faults=f"journal={journal}")
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, out + err
    result = asyncio.run(exactly_once(shared_url, journal, through=DAY0))
    assert list(result["interrupted"]) == ["create-child-orders"]
    assert result["child_orders"] == 3 * BUYERS


def test_a_batch_that_overruns_the_grace_period_is_cancelled_and_its_claims_released(
    shared_url: str, rules_dir: Path, tmp_path: Path
) -> None:
    asyncio.run(populate(shared_url, rules_dir, BUYERS))
    journal = tmp_path / "gateway.jsonl"
    process = jobs_run(
        shared_url,
        DAY0,
        faults=f"latency=60,journal={journal}",  # a gateway that hangs
        env={"CONTINUITY_SHUTDOWN_GRACE_SECONDS": "1"},
    )
    _wait_for(lambda: asyncio.run(_state(shared_url))["children"], "the first child orders")
    time.sleep(0.5)  # the gateway calls are in flight
    stopped_at = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=60)
    assert time.monotonic() - stopped_at < 15, "the shutdown was not bounded"
    assert process.returncode == 1, err
    assert "run the same command again" in err
    state = asyncio.run(_state(shared_url))
    runs = state["runs"]
    assert isinstance(runs, dict)
    assert runs["create-child-orders"][0] is JobRunStatus.INTERRUPTED
    assert state["claimed"] == 0  # its claims were handed back: due at once
    assert state["pending"] == 5  # the five charges of the cancelled batch

    rerun = jobs_run(shared_url, DAY0, faults=f"journal={journal}")
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, out + err
    result = asyncio.run(exactly_once(shared_url, journal, through=DAY0))
    assert result["child_orders"] == 3 * BUYERS
