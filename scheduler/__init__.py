"""What a server process runs besides answering requests (``Background``).

- **The daily chain** at ``daily_run_at`` in the business time zone, and the single jobs of
  ``job_schedules``: only on the replica that leads the scheduler (``scheduler.leader``), and
  only with ``scheduler_enabled``.
- **Catch-up**: when a replica becomes the leader (at start-up, or when the previous leader
  died) and the chain has not run to its end since its last scheduled time, it runs the chain
  once for today. The jobs catch up by design (everything due up to ``as_of`` is handled, missed
  occurrences consolidated per program), so one run for today does what every missed day would
  have done.
- **The sweep**: the leader marks runs whose process died ``ABANDONED`` every
  ``leader_check_seconds``, releasing their claims (``continuity.jobs.runs``), so ``jobRuns``
  never shows a dead run as running.
- **The key sweep** every hour on every replica: idempotency keys past their 24 hours are
  deleted (``continuity.idempotency.sweep``; several replicas sweeping at once is harmless).
- **Notification delivery** every ``delivery_interval_seconds`` on every replica (each
  notification is claimed by one), with its own setting ``notifications.delivery_enabled``,
  independent of the chain's.

``stop(grace)`` (the server's shutdown, on SIGTERM): no new work starts; the batch in hand has
``grace`` seconds to finish, after which it is cancelled; either way its run is recorded
``INTERRUPTED`` and the next run completes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from datetime import UTC, date, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from config.settings import Settings
from continuity import idempotency
from continuity.jobs import JobEnv, chain_complete, run_daily_chain, run_job
from continuity.jobs.runs import StopToken, abandon_dead_runs, stop_scope
from continuity.sqlite import background
from scheduler.delivery import DELIVERY_JOB_ID, deliver_notifications
from scheduler.leader import Leadership

log = logging.getLogger("continuity.scheduler")

DAILY_CHAIN_JOB_ID = "daily-chain"
KEY_SWEEP_JOB_ID = "idempotency-keys:sweep"


def business_today(settings: Settings) -> date:
    """Today in the call center's time zone: the default ``as_of`` of every job."""
    return datetime.now(settings.timezone).date()


def last_scheduled_date(settings: Settings, now: datetime) -> date:
    """The business date of the chain's most recent scheduled time at or before ``now``."""
    local = now.astimezone(settings.timezone)
    hour, minute = (int(part) for part in settings.service.daily_run_at.split(":"))
    scheduled = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return local.date() if local >= scheduled else local.date() - timedelta(days=1)


class Background:
    def __init__(self, settings: Settings, env: JobEnv) -> None:
        self.settings = settings
        self.env = env
        self.stop_token = StopToken()
        self.leadership = Leadership()
        self.scheduler = AsyncIOScheduler(timezone=settings.timezone)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._chain_lock = asyncio.Lock()
        self._lead_task: asyncio.Task[None] | None = None

    @property
    def chain_enabled(self) -> bool:
        return self.settings.service.scheduler_enabled

    @property
    def is_leader(self) -> bool:
        """Whether this replica runs the chain now."""
        return self.chain_enabled and self.leadership.is_leader

    def start(self) -> None:
        """Schedule everything on the running event loop (inside the app's lifespan)."""
        settings = self.settings
        if self.chain_enabled:
            hour, minute = (int(part) for part in settings.service.daily_run_at.split(":"))
            self.scheduler.add_job(
                self._daily_chain,
                CronTrigger(hour=hour, minute=minute, timezone=settings.timezone),
                id=DAILY_CHAIN_JOB_ID,
                replace_existing=True,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=3600,
            )
            for job, line in settings.service.job_schedules.items():
                self.scheduler.add_job(
                    self._one_job,
                    CronTrigger.from_crontab(line, timezone=settings.timezone),
                    args=[job],
                    id=f"job:{job}",
                    replace_existing=True,
                    coalesce=True,
                    max_instances=1,
                    misfire_grace_time=3600,
                )
        if settings.notifications.delivery_enabled:
            self.scheduler.add_job(
                self._deliver,
                IntervalTrigger(seconds=settings.notifications.delivery_interval_seconds),
                id=DELIVERY_JOB_ID,
                replace_existing=True,
                coalesce=True,
                max_instances=1,
            )
        self.scheduler.add_job(
            self.sweep_keys,
            IntervalTrigger(seconds=idempotency.SWEEP_INTERVAL.total_seconds()),
            id=KEY_SWEEP_JOB_ID,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
        )
        self.scheduler.start()
        if self.chain_enabled:
            self._lead_task = asyncio.create_task(self._lead(), name="scheduler-leadership")

    async def stop(self, grace: float) -> None:
        """Start nothing new; give the work in hand ``grace`` seconds, then cancel it."""
        self.stop_token.set()
        self.scheduler.shutdown(wait=False)
        if self._lead_task is not None:
            self._lead_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lead_task
        pending = {task for task in self._tasks if not task.done()}
        if pending:
            log.info("shutdown: waiting up to %ss for %d task(s)", grace, len(pending))
            _done, pending = await asyncio.wait(pending, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("shutdown: %d task(s) cancelled after %ss", len(pending), grace)
            await asyncio.wait(pending, timeout=10)
        await self.leadership.resign()

    # -- leadership, sweep and catch-up -------------------------------------------------------

    async def _lead(self) -> None:
        while True:
            was_leader = self.leadership.is_leader
            try:
                leads = await self.leadership.refresh()
                if leads:
                    await abandon_dead_runs()
                if leads and not was_leader:
                    log.info("this replica leads the scheduler")
                    await self._catch_up()
                elif was_leader and not leads:
                    log.warning("this replica no longer leads the scheduler")
            except Exception:  # the database may be away: try again at the next check
                log.exception("scheduler leadership check failed")
            await asyncio.sleep(self.settings.service.leader_check_seconds)

    async def _catch_up(self) -> None:
        if not self.settings.service.catch_up_at_start:
            return
        since = last_scheduled_date(self.settings, datetime.now(UTC))
        if await chain_complete(since):
            return
        log.info("the daily chain has not completed since %s: catching up now", since)
        self._spawn(self._chain("scheduler:catch-up"), name="daily-chain:catch-up")

    # -- the scheduled work --------------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _tracked(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` in this task, waited for (then cancelled) by ``stop``, as background
        work (on SQLite its reads stay off the API's read connection)."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            with stop_scope(self.stop_token), background():
                await work
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def _chain(self, triggered_by: str) -> None:
        if self._chain_lock.locked() or self.stop_token.is_set():
            return
        async with self._chain_lock:
            with stop_scope(self.stop_token):
                as_of = business_today(self.settings)
                runs = await run_daily_chain(as_of, env=self.env, triggered_by=triggered_by)
            for run in runs:
                log.info("job %s for %s: %s %s", run.job, as_of, run.status, run.counts)

    async def _daily_chain(self) -> None:
        if self.is_leader:
            await self._tracked(self._chain("scheduler"))

    async def _one_job(self, job: str) -> None:
        """A job on its own schedule (``service.job_schedules``), for today."""
        if not self.is_leader or self.stop_token.is_set():
            return

        async def work() -> None:
            as_of = business_today(self.settings)
            for run in await run_job(job, as_of, env=self.env, triggered_by="scheduler"):
                log.info("job %s for %s: %s %s", run.job, as_of, run.status, run.counts)

        await self._tracked(work())

    async def sweep_keys(self) -> None:
        """Delete the idempotency keys past their retention (the database may be away: the
        next sweep tries again)."""
        if self.stop_token.is_set():
            return
        try:
            swept = await idempotency.sweep()
        except Exception:
            log.exception("idempotency key sweep failed")
            return
        if swept:
            log.info("swept %d idempotency key(s) older than %s", swept, idempotency.RETENTION)

    async def _deliver(self) -> None:
        if self.stop_token.is_set():
            return

        async def work() -> None:
            await deliver_notifications(self.settings)

        await self._tracked(work())


__all__ = [
    "DAILY_CHAIN_JOB_ID",
    "DELIVERY_JOB_ID",
    "KEY_SWEEP_JOB_ID",
    "Background",
    "business_today",
    "last_scheduled_date",
]
