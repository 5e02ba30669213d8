"""A ``continuity jobs run`` killed with SIGKILL at the worst moments, rerun at once, does
everything exactly once: child orders, their lines, payments, and charges at the gateway
(issue 11). The killed run is found dead by the rerun, marked ``ABANDONED``, and its payment
claims are released at once (not after a lease, not the next day).

The kill points are injected with ``CONTINUITY_FAULTS`` (``continuity.faults``), which also
journals every gateway call across processes, as a real gateway's idempotency memory would.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta
from pathlib import Path

import pytest

from tests.jobs.processes import DAY0, exactly_once, jobs_run, journal_lines, populate

pytestmark = pytest.mark.db

BUYERS = 8  # 24 orders: five batches of five


@pytest.mark.parametrize(
    ("point", "killed_job", "later_day"),
    [
        # child orders and their claimed charges committed, the charges not collected yet
        ("child-orders-committed", "create-child-orders", False),
        # the gateway charged them, the outcomes are not written
        ("gateway-called", "create-child-orders", False),
        # the payments job claimed due charges, no gateway call yet
        ("payments-claimed", "process-payments", True),
        # the payments job's gateway calls answered, the outcomes are not written
        ("gateway-called", "process-payments", True),
    ],
)
def test_a_killed_run_is_taken_over_at_once_and_nothing_happens_twice(
    shared_url: str, rules_dir: Path, tmp_path: Path, point: str, killed_job: str, later_day: bool
) -> None:
    asyncio.run(populate(shared_url, rules_dir, BUYERS, chain_on_day0=later_day))
    day = DAY0 + timedelta(days=1) if later_day else DAY0
    journal = tmp_path / "gateway.jsonl"
    killed = jobs_run(shared_url, day, faults=f"kill_at={point},journal={journal}")
    _out, err = killed.communicate(timeout=300)
    assert killed.returncode == -signal.SIGKILL, err
    assert journal_lines(journal) or point != "gateway-called"

    rerun = jobs_run(shared_url, day, faults=f"journal={journal}")
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, out + err

    result = asyncio.run(exactly_once(shared_url, journal, through=day))
    assert list(result["abandoned"]) == [killed_job]
    assert result["child_orders"] == result["charges"] == 3 * BUYERS
    if point == "gateway-called":
        # the rerun asked the gateway again with the same keys: answered, not charged again
        assert result["repeated_keys"] > 0
