"""Running the maintenance jobs, reading their runs, and the continuity update's dry run."""

from __future__ import annotations

import datetime

from tortoise.queryset import QuerySet

from continuity import models
from continuity.errors import InvalidInput, NotFound
from continuity.jobs import JOBS, JobEnv, JobFilters, run_job
from continuity.jobs.update import OrderUpdate, preview_continuity_update
from resolvers.session import Session

#: How far from today an operator may run a job.
MAX_AS_OF_DISTANCE = 3660


async def job_filters(
    program_id: int | None, order_id: int | None, *, field: list[str]
) -> JobFilters:
    """A run's restriction to one program and/or one order, named by their ids."""
    code = None
    if program_id is not None:
        program = await models.Program.get_or_none(id=program_id)
        if program is None:
            raise NotFound("no such program", field=[*field, "programId"])
        code = program.code
    if order_id is not None and not await models.ContinuityOrder.exists(id=order_id):
        raise NotFound("no such continuity order", field=[*field, "orderId"])
    return JobFilters(program=code, order=order_id)


async def run(
    session: Session,
    job: str,
    as_of: datetime.date | None,
    program_id: int | None,
    order_id: int | None,
) -> list[models.JobRun]:
    """Run one job (or ``all``: the daily chain) now, recorded as the caller's run."""
    day = as_of or session.today
    if abs((day - session.today).days) > MAX_AS_OF_DISTANCE:
        raise InvalidInput("must be within ten years of today", field=["input", "asOf"])
    return await run_job(
        job,
        day,
        env=JobEnv(gateway=session.gateway),
        filters=await job_filters(program_id, order_id, field=["input"]),
        triggered_by=session.actor,
    )


def job_runs(job: str | None) -> QuerySet[models.JobRun]:
    """Runs of one job (``None`` or ``all``: of every job)."""
    query = models.JobRun.all()
    if job is not None and job in JOBS:
        query = query.filter(job=job)
    return query


async def continuity_update_preview(
    program_id: int | None, order_id: int | None
) -> list[OrderUpdate]:
    return await preview_continuity_update(await job_filters(program_id, order_id, field=[]))
