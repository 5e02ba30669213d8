"""The maintenance jobs (SPEC §5), each an async function of ``as_of`` and optional filters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

from continuity.jobs.event_period import JOB_NAME as UPDATE_EVENT_PERIOD
from continuity.jobs.event_period import update_current_event_period
from continuity.models import JobRun

Job = Callable[..., Awaitable[JobRun]]

#: The daily chain, in SPEC §5 order. Later jobs join it as they are built.
DAILY_CHAIN: tuple[tuple[str, Job], ...] = ((UPDATE_EVENT_PERIOD, update_current_event_period),)
JOBS: dict[str, Job] = dict(DAILY_CHAIN)


async def run_daily_chain(as_of: date, *, triggered_by: str = "scheduler") -> list[JobRun]:
    """Run every job of the chain for ``as_of``, in order."""
    return [await job(as_of, triggered_by=triggered_by) for _name, job in DAILY_CHAIN]
