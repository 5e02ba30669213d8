"""The in-process APScheduler 3 that runs the daily job chain.

Every replica runs one; the jobs themselves are idempotent, so a second replica running the
same chain for the same date changes nothing. Beside the chain, an interval job delivers the
notification outbox (``scheduler.delivery``); each notification is claimed by one replica.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from config.settings import Settings
from continuity.jobs import JobEnv, run_daily_chain, run_job
from scheduler.delivery import DELIVERY_JOB_ID, deliver_notifications

log = logging.getLogger("continuity.scheduler")

DAILY_CHAIN_JOB_ID = "daily-chain"


def business_today(settings: Settings) -> date:
    """Today in the call center's time zone: the default ``as_of`` of every job."""
    return datetime.now(settings.timezone).date()


async def run_chain_for_today(settings: Settings, env: JobEnv) -> None:
    as_of = business_today(settings)
    runs = await run_daily_chain(as_of, env=env, triggered_by="scheduler")
    for run in runs:
        log.info("job %s for %s: %s %s", run.job, as_of, run.status, run.counts)


def start_scheduler(settings: Settings, env: JobEnv) -> AsyncIOScheduler:
    """Start the scheduler on the running event loop (call inside the app's lifespan)."""
    hour, minute = (int(part) for part in settings.service.daily_run_at.split(":"))
    scheduler = AsyncIOScheduler(timezone=settings.timezone)
    scheduler.add_job(
        run_chain_for_today,
        CronTrigger(hour=hour, minute=minute, timezone=settings.timezone),
        args=[settings, env],
        id=DAILY_CHAIN_JOB_ID,
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=3600,
    )
    if settings.notifications.delivery_enabled:
        scheduler.add_job(
            deliver_notifications,
            IntervalTrigger(seconds=settings.notifications.delivery_interval_seconds),
            args=[settings],
            id=DELIVERY_JOB_ID,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
        )
    for job, line in settings.service.job_schedules.items():
        scheduler.add_job(
            run_one_job,
            CronTrigger.from_crontab(line, timezone=settings.timezone),
            args=[settings, env, job],
            id=f"job:{job}",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=3600,
        )
    scheduler.start()
    return scheduler


async def run_one_job(settings: Settings, env: JobEnv, job: str) -> None:
    """A job on its own schedule (``service.job_schedules``), for today."""
    as_of = business_today(settings)
    for run in await run_job(job, as_of, env=env, triggered_by="scheduler"):
        log.info("job %s for %s: %s %s", run.job, as_of, run.status, run.counts)
