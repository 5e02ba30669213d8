"""Job 1, "update current event period": which event each ``current_event`` program is in."""

from __future__ import annotations

from datetime import date

from continuity.engine.calendar import CalendarEvent, GapSpec, current_event
from continuity.enums import OrderStart
from continuity.jobs.batch import run_batches
from continuity.jobs.env import NO_FILTERS, JobEnv, JobFilters
from continuity.jobs.locking import id_list
from continuity.jobs.runs import RunRecorder, recorded_run
from continuity.models import JobRun, Program, ProgramEvent, ProgramVersion

JOB_NAME = "update-event-period"


async def update_current_event_period(
    as_of: date,
    *,
    env: JobEnv | None = None,
    filters: JobFilters = NO_FILTERS,
    triggered_by: str = "scheduler",
) -> JobRun:
    """Set ``Program.current_event`` for ``as_of``; a program already set for that date and
    event is not written again, so a second run changes nothing. (The order filter does not
    apply: the job works on programs.)"""
    async with recorded_run(JOB_NAME, as_of, filters.as_dict(), triggered_by) as run:

        async def programs(after: int, size: int) -> list[int]:
            query = Program.filter(retired=False, id__gt=after)
            if filters.program:
                query = query.filter(code=filters.program)
            return await id_list(query.order_by("id").limit(size))

        async def update(ids: list[int], _room: int | None) -> None:
            for row in await Program.filter(id__in=ids).order_by("id"):
                await _update(row, as_of, run)

        await run_batches(
            run, select=programs, step=update, size=(env or JobEnv()).batch_size, item="program"
        )
    return run.run


async def _update(row: Program, as_of: date, run: RunRecorder) -> None:
    version = await ProgramVersion.filter(program_id=row.id).order_by("-number").first()
    if version is None or version.order_start is not OrderStart.CURRENT_EVENT:
        return
    if version.current_event_anchor is None:
        run.fail(row.code, "current_event program without an anchor date")
        return
    events = await ProgramEvent.filter(version_id=version.id).order_by("number")
    calendar = [
        CalendarEvent(
            number=e.number,
            gap=GapSpec(e.gap_unit, e.gap_count),
            shipments=None if e.repeat_forever else e.repeat + 1,
        )
        for e in events
    ]
    try:
        number = current_event(version.current_event_anchor, calendar, as_of)
    except ValueError as exc:
        run.fail(row.code, str(exc))
        return
    run.count("programs")
    if row.current_event == number and row.current_event_as_of == as_of:
        return
    row.current_event, row.current_event_as_of = number, as_of
    await row.save(update_fields=["current_event", "current_event_as_of"])
    run.count("updated")
