"""The six maintenance jobs (SPEC §5), each an async function of ``as_of``, an environment
(the payment gateway, the batch size) and optional program/order filters.

Every job is idempotent (a second run for the same date changes nothing), resumable (work is
committed order by order, so a crash is completed by the next run), catching up (everything
due up to ``as_of`` is handled) and safe with several replicas (rows are claimed with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL and re-checked inside their transaction).
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date
from typing import Protocol

from continuity.enums import JobRunStatus
from continuity.jobs import child_orders, close, event_period, extend, payments, update
from continuity.jobs.env import NO_FILTERS, JobEnv, JobFilters
from continuity.jobs.runs import stop_requested
from continuity.models import JobRun


class Job(Protocol):
    def __call__(
        self,
        as_of: date,
        *,
        env: JobEnv,
        filters: JobFilters = ...,
        triggered_by: str = ...,
    ) -> Awaitable[JobRun]: ...


#: The daily chain, in SPEC §5 order.
DAILY_CHAIN: tuple[tuple[str, Job], ...] = (
    (event_period.JOB_NAME, event_period.update_current_event_period),
    (extend.JOB_NAME, extend.extend_lines),
    (update.JOB_NAME, update.continuity_update),
    (payments.JOB_NAME, payments.process_payments),
    (child_orders.JOB_NAME, child_orders.create_child_orders),
    (close.JOB_NAME, close.close_orders),
)
JOBS: dict[str, Job] = dict(DAILY_CHAIN)


async def run_job(
    name: str,
    as_of: date,
    *,
    env: JobEnv,
    filters: JobFilters = NO_FILTERS,
    triggered_by: str = "scheduler",
) -> list[JobRun]:
    """Run one job, or the whole chain for ``all``; returns the runs in order."""
    if name == "all":
        return await run_daily_chain(as_of, env=env, filters=filters, triggered_by=triggered_by)
    return [await JOBS[name](as_of, env=env, filters=filters, triggered_by=triggered_by)]


async def run_daily_chain(
    as_of: date,
    *,
    env: JobEnv,
    filters: JobFilters = NO_FILTERS,
    triggered_by: str = "scheduler",
) -> list[JobRun]:
    """Run every job of the chain for ``as_of``, in order; a stop request (SIGTERM) ends the
    chain after the job in hand (recorded ``INTERRUPTED``), and no later job starts."""
    runs: list[JobRun] = []
    for _name, job in DAILY_CHAIN:
        if stop_requested():
            break
        run = await job(as_of, env=env, filters=filters, triggered_by=triggered_by)
        runs.append(run)
        if run.status is JobRunStatus.INTERRUPTED:
            break
    return runs


#: A chain run to its end: every job finished (with or without per-item failures).
_FINISHED = (JobRunStatus.SUCCEEDED, JobRunStatus.PARTIAL)


async def chain_complete(since: date) -> bool:
    """Whether every job of the chain has run to its end, unfiltered, for a date on or after
    ``since``: when it has not, the chain was missed (the service was down, or a run died)
    and a catch-up run for today does what it missed (the jobs catch up by design)."""
    rows = await JobRun.filter(as_of__gte=since, status__in=_FINISHED).values_list("job", "filters")
    done = {job for job, filters in rows if not filters}
    return all(name in done for name, _job in DAILY_CHAIN)


__all__ = [
    "DAILY_CHAIN",
    "JOBS",
    "Job",
    "JobEnv",
    "JobFilters",
    "chain_complete",
    "run_daily_chain",
    "run_job",
]
