"""The in-process scheduler: the daily chain at its time, and per-job schedules."""

from __future__ import annotations

import pytest
from apscheduler.triggers.cron import CronTrigger

from config.settings import ConfigError, load_settings
from continuity.jobs import JobEnv
from scheduler import DAILY_CHAIN_JOB_ID, start_scheduler
from scheduler.delivery import DELIVERY_JOB_ID


async def test_the_chain_runs_daily_in_the_business_time_zone() -> None:
    settings = load_settings(
        environ={
            "CONTINUITY_DAILY_RUN_AT": "03:30",
            "CONTINUITY_TIMEZONE": "Europe/Paris",
            "CONTINUITY_JOB_SCHEDULES": '{"process-payments": "0 */4 * * *"}',
        }
    )
    scheduler = start_scheduler(settings, JobEnv())
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert sorted(jobs) == [DAILY_CHAIN_JOB_ID, "job:process-payments", DELIVERY_JOB_ID]
        chain = jobs[DAILY_CHAIN_JOB_ID].trigger
        assert isinstance(chain, CronTrigger)
        assert str(chain.timezone) == "Europe/Paris"
        fields = {f.name: str(f) for f in chain.fields}
        assert (fields["hour"], fields["minute"]) == ("3", "30")
        payments = jobs["job:process-payments"]
        assert payments.args[2] == "process-payments"
        assert {f.name: str(f) for f in payments.trigger.fields}["hour"] == "*/4"
    finally:
        scheduler.shutdown(wait=False)


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
