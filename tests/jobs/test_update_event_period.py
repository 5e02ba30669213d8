"""Job 1: the current event of ``current_event`` programs, idempotent and recorded."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from tortoise.context import TortoiseContext

from config.settings import load_settings
from continuity.enums import JobRunStatus
from continuity.jobs import JobEnv, JobFilters, run_daily_chain
from continuity.jobs.event_period import update_current_event_period
from continuity.models import JobRun, Program
from continuity.parameters import save_call_center_parameters
from rules.loader import load_rules
from rules.sync import sync_rules

pytestmark = pytest.mark.db


async def test_sets_the_current_event_once_per_date(db: TortoiseContext, rules_dir: Path) -> None:
    await sync_rules(load_rules(rules_dir))
    run = await update_current_event_period(date(2026, 3, 15), triggered_by="test")
    assert (run.status, run.counts) == (JobRunStatus.SUCCEEDED, {"programs": 1, "updated": 1})
    wine = await Program.get(code="seasonal-wine")
    assert (wine.current_event, wine.current_event_as_of) == (3, date(2026, 3, 15))
    # first_event programs have no current event
    assert await Program.filter(current_event__isnull=False).count() == 1

    before = await Program.all().order_by("id").values_list("id", "current_event", "updated_at")
    again = await update_current_event_period(date(2026, 3, 15), triggered_by="test")
    assert again.counts == {"programs": 1}
    assert (
        await Program.all().order_by("id").values_list("id", "current_event", "updated_at")
        == before
    )
    assert await JobRun.filter(job="update-event-period").count() == 2


async def test_program_filter_and_the_daily_chain(db: TortoiseContext, rules_dir: Path) -> None:
    await sync_rules(load_rules(rules_dir))
    await save_call_center_parameters(load_settings(environ={}).call_center.model_dump())
    run = await update_current_event_period(
        date(2026, 8, 1), filters=JobFilters(program="book-club")
    )
    assert (run.filters, run.counts) == ({"program": "book-club"}, {})
    runs = await run_daily_chain(date(2026, 12, 31), env=JobEnv())
    assert [r.job for r in runs] == [
        "update-event-period",
        "extend-lines",
        "continuity-update",
        "process-payments",
        "create-child-orders",
        "close-orders",
    ]
    wine = await Program.get(code="seasonal-wine")
    assert wine.current_event == 12
    stored = await JobRun.get(id=runs[0].id)
    assert stored.finished_at is not None
    assert stored.status is JobRunStatus.SUCCEEDED
