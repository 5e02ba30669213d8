"""The background work: the daily chain at its time (leader only), per-job schedules, delivery
on its own setting, and the catch-up of a missed chain at start-up."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger
from tortoise.context import TortoiseContext

from config.settings import ConfigError, Settings, load_settings
from continuity.enums import JobRunStatus
from continuity.jobs import DAILY_CHAIN, JobEnv, chain_complete, run_daily_chain
from continuity.models import JobRun
from scheduler import (
    DAILY_CHAIN_JOB_ID,
    KEY_SWEEP_JOB_ID,
    Background,
    business_today,
    last_scheduled_date,
)
from scheduler.delivery import DELIVERY_JOB_ID
from tests.conftest import make_settings
from tests.jobs.world import open_business


def _with(settings: Settings, **service: object) -> Settings:
    return settings.model_copy(update={"service": settings.service.model_copy(update=service)})


async def _until(predicate: Callable[[], Awaitable[bool]]) -> None:
    async with asyncio.timeout(30):
        while not await predicate():  # noqa: ASYNC110 (polling the database)
            await asyncio.sleep(0.05)


@pytest.mark.db
async def test_the_chain_runs_daily_in_the_business_time_zone(db: TortoiseContext) -> None:
    settings = load_settings(
        environ={
            "CONTINUITY_DAILY_RUN_AT": "03:30",
            "CONTINUITY_TIMEZONE": "Europe/Paris",
            "CONTINUITY_JOB_SCHEDULES": '{"process-payments": "0 */4 * * *"}',
            "CONTINUITY_CATCH_UP_AT_START": "false",
        }
    )
    background = Background(settings, JobEnv())
    background.start()
    try:
        jobs = {job.id: job for job in background.scheduler.get_jobs()}
        assert sorted(jobs) == sorted(
            [DAILY_CHAIN_JOB_ID, "job:process-payments", DELIVERY_JOB_ID, KEY_SWEEP_JOB_ID]
        )
        chain = jobs[DAILY_CHAIN_JOB_ID].trigger
        assert isinstance(chain, CronTrigger)
        assert str(chain.timezone) == "Europe/Paris"
        fields = {f.name: str(f) for f in chain.fields}
        assert (fields["hour"], fields["minute"]) == ("3", "30")
        payments = jobs["job:process-payments"]
        assert payments.args == ("process-payments",)
        assert {f.name: str(f) for f in payments.trigger.fields}["hour"] == "*/4"
    finally:
        await background.stop(grace=5)


async def test_notification_delivery_has_its_own_setting() -> None:
    """A replica may deliver notifications without running the chain, and the reverse."""
    delivering = Background(
        load_settings(environ={"CONTINUITY_SCHEDULER_ENABLED": "false"}), JobEnv()
    )
    delivering.start()
    try:
        assert sorted(job.id for job in delivering.scheduler.get_jobs()) == sorted(
            [DELIVERY_JOB_ID, KEY_SWEEP_JOB_ID]
        )
        assert not delivering.is_leader
    finally:
        await delivering.stop(grace=1)
    quiet = Background(
        load_settings(
            environ={
                "CONTINUITY_SCHEDULER_ENABLED": "false",
                "CONTINUITY_DELIVERY_ENABLED": "false",
            }
        ),
        JobEnv(),
    )
    quiet.start()
    try:
        # the key sweep runs on every replica: each answers requests with keys
        assert [job.id for job in quiet.scheduler.get_jobs()] == [KEY_SWEEP_JOB_ID]
    finally:
        await quiet.stop(grace=1)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"no-such-job": "0 * * * *"}', "unknown job 'no-such-job'"),
        ('{"close-orders": "every day"}', "close-orders: not a crontab line"),
        ("not json", "CONTINUITY_JOB_SCHEDULES: not JSON"),
    ],
)
def test_bad_job_schedules_are_refused(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ={"CONTINUITY_JOB_SCHEDULES": value})


def test_the_last_scheduled_date_is_in_the_business_time_zone() -> None:
    settings = load_settings(
        environ={"CONTINUITY_DAILY_RUN_AT": "02:00", "CONTINUITY_TIMEZONE": "America/New_York"}
    )
    # 06:30 UTC is 01:30 in New York: today's 02:00 has not come, yesterday's is the last
    assert last_scheduled_date(settings, datetime(2027, 3, 10, 6, 30, tzinfo=UTC)) == date(
        2027, 3, 9
    )
    assert last_scheduled_date(settings, datetime(2027, 3, 10, 7, 0, tzinfo=UTC)) == date(
        2027, 3, 10
    )


@pytest.mark.db
async def test_a_chain_is_complete_when_every_job_ran_to_its_end(
    db: TortoiseContext, rules_dir: Path
) -> None:
    await open_business(rules_dir)
    day = date(2027, 3, 10)
    assert not await chain_complete(day)
    await run_daily_chain(day, env=JobEnv())
    assert await chain_complete(day)
    assert not await chain_complete(date(2027, 3, 11))
    # a filtered run, or one that died, is not the chain
    await JobRun.filter(job="close-orders").update(status=JobRunStatus.ABANDONED)
    await JobRun.create(
        job="close-orders",
        as_of=day,
        filters={"program": "coffee"},
        triggered_by="t",
        status=JobRunStatus.SUCCEEDED,
    )
    assert not await chain_complete(day)


@pytest.mark.db
async def test_a_missed_chain_runs_at_start_up_once(
    db: TortoiseContext, database_url: str, rules_dir: Path
) -> None:
    await open_business(rules_dir)
    # the chain ran two days ago, then the service was down past today's scheduled time
    today = business_today(load_settings(environ={}))
    await run_daily_chain(date.fromordinal(today.toordinal() - 2), env=JobEnv())
    settings = _with(
        make_settings(database_url, rules_dir),
        scheduler_enabled=True,
        daily_run_at="00:00",
        leader_check_seconds=1,
    )

    async def caught_up() -> bool:
        runs = await JobRun.filter(triggered_by="scheduler:catch-up", as_of=today)
        return len(runs) == len(DAILY_CHAIN) and all(r.finished_at for r in runs)

    first = Background(settings, JobEnv())
    first.start()
    try:
        await _until(caught_up)
        assert first.is_leader
    finally:
        await first.stop(grace=5)
    assert await chain_complete(today)
    # a restart finds the chain done: nothing runs again
    second = Background(settings, JobEnv())
    second.start()
    try:
        await _until(lambda: asyncio.sleep(0, result=second.is_leader))
        await asyncio.sleep(0.5)
    finally:
        await second.stop(grace=5)
    assert await JobRun.filter(as_of=today).count() == len(DAILY_CHAIN)
