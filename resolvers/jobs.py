"""Running jobs, reading job runs, fulfilment callbacks, and the agents' bulk changes."""

from __future__ import annotations

import strawberry

from continuity import models
from continuity.errors import ContinuityError, InvalidInput
from continuity.fulfilment import invoice_child_order, mark_child_order_shipped
from continuity.jobs import JobEnv, JobFilters, run_job
from continuity.jobs.update import preview_continuity_update
from continuity.orders import bulk
from resolvers.access import require_agent_reason
from resolvers.context import Info
from resolvers.errors import parse_id, query_error, user_errors
from resolvers.inputs import check_arguments, check_input
from schema.jobs import (
    ChildOrderInput,
    ChildOrderPayload,
    JobName,
    JobRun,
    JobRunConnection,
    JobRunEdge,
    OrderUpdatePreview,
    RunJobInput,
    RunJobPayload,
    StartDateChange,
    SubstituteProductInput,
    SubstituteProductPayload,
    Substitution,
    UpdateStartDateInput,
    UpdateStartDatePayload,
)
from schema.orders import ChildOrder
from schema.pagination import PageInfo, decode_cursor, encode_cursor, page_size

#: How far from today an operator may run a job.
MAX_AS_OF_DISTANCE = 3660


def _filters(program: str | None, order: str | None) -> JobFilters:
    return JobFilters(
        program=program,
        order=parse_id(order, ["input", "order"]) if order is not None else None,
    )


async def resolve_run_job(info: Info, data: RunJobInput) -> RunJobPayload:
    today = info.context.today
    as_of = data.as_of or today
    try:
        check_input(data, ["input"])
        if abs((as_of - today).days) > MAX_AS_OF_DISTANCE:
            raise InvalidInput("must be within ten years of today", field=["input", "asOf"])
        filters = _filters(
            str(data.program) if data.program is not None else None,
            str(data.order) if data.order is not None else None,
        )
        runs = await run_job(
            data.job.value,
            as_of,
            env=JobEnv(gateway=info.context.gateway),
            filters=filters,
            triggered_by=info.context.actor,
        )
    except ContinuityError as error:
        return RunJobPayload(runs=[], user_errors=user_errors(error))
    return RunJobPayload(runs=[JobRun.from_row(run) for run in runs], user_errors=[])


async def resolve_job_runs(
    info: Info, job: JobName | None, first: int | None, after: str | None
) -> JobRunConnection:
    """Newest first."""
    size = page_size(first)
    query = models.JobRun.all().order_by("-id")
    before_id = decode_cursor("JobRun", after)
    if before_id is not None:
        query = query.filter(id__lt=before_id)
    if job is not None and job is not JobName.ALL:
        query = query.filter(job=job.value)
    rows = await query.limit(size + 1)
    edges = [
        JobRunEdge(cursor=encode_cursor("JobRun", r.id), node=JobRun.from_row(r))
        for r in rows[:size]
    ]
    return JobRunConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > size, end_cursor=edges[-1].cursor if edges else None
        ),
    )


async def resolve_mark_shipped(info: Info, data: ChildOrderInput) -> ChildOrderPayload:
    try:
        check_input(data, ["input"])
        row = await mark_child_order_shipped(
            parse_id(data.child_order_id, ["input", "childOrderId"]), actor=info.context.actor
        )
    except ContinuityError as error:
        return ChildOrderPayload(child_order=None, user_errors=user_errors(error))
    return ChildOrderPayload(child_order=ChildOrder.from_row(row), user_errors=[])


async def resolve_invoice(info: Info, data: ChildOrderInput) -> ChildOrderPayload:
    try:
        check_input(data, ["input"])
        row = await invoice_child_order(
            parse_id(data.child_order_id, ["input", "childOrderId"]), actor=info.context.actor
        )
    except ContinuityError as error:
        return ChildOrderPayload(child_order=None, user_errors=user_errors(error))
    return ChildOrderPayload(child_order=ChildOrder.from_row(row), user_errors=[])


async def resolve_continuity_update_preview(
    info: Info, program: str | None, order: str | None
) -> list[OrderUpdatePreview]:
    try:
        check_arguments(program=program, order=order)
        filters = _filters(program, order)
    except ContinuityError as error:
        raise query_error(error) from None
    return [
        OrderUpdatePreview(
            order_id=strawberry.ID(str(u.order_id)),
            order_number=u.order_number,
            from_version=u.from_version,
            to_version=u.to_version,
            lines_removed=u.lines_removed,
            lines_added=u.lines_added,
            date_changes=u.date_changes,
            cancelled_events=list(u.cancelled_events),
        )
        for u in await preview_continuity_update(filters)
    ]


def _order_ids(ids: list[strawberry.ID]) -> list[int]:
    return [parse_id(value, ["input", "orderIds", str(i)]) for i, value in enumerate(ids)]


async def resolve_update_start_date(
    info: Info, data: UpdateStartDateInput
) -> UpdateStartDatePayload:
    try:
        check_input(data, ["input"])
        if not data.dry_run:
            require_agent_reason(info.context.caller, data.reason)
        changes = await bulk.update_start_date(
            _order_ids(data.order_ids),
            new_start=data.new_start_date,
            add_days=data.add_days,
            actor=info.context.actor,
            reason=data.reason,
            dry_run=data.dry_run,
        )
    except ContinuityError as error:
        return UpdateStartDatePayload(applied=False, changes=[], user_errors=user_errors(error))
    return UpdateStartDatePayload(
        applied=not data.dry_run,
        changes=[
            StartDateChange(
                order_id=strawberry.ID(str(c.order_id)),
                order_number=c.order_number,
                from_start_date=c.from_start,
                to_start_date=c.to_start,
                pending_lines_moved=c.lines_moved,
            )
            for c in changes
        ],
        user_errors=[],
    )


async def resolve_substitute_product(
    info: Info, data: SubstituteProductInput
) -> SubstituteProductPayload:
    try:
        check_input(data, ["input"])
        if not data.dry_run:
            require_agent_reason(info.context.caller, data.reason)
        result = await bulk.substitute_product(
            _order_ids(data.order_ids),
            data.from_sku,
            data.to_sku,
            today=info.context.today,
            actor=info.context.actor,
            reason=data.reason,
            dry_run=data.dry_run,
        )
    except ContinuityError as error:
        return SubstituteProductPayload(
            applied=False, substitutions=[], user_errors=user_errors(error)
        )
    return SubstituteProductPayload(
        applied=not data.dry_run,
        substitutions=[
            Substitution(
                order_id=strawberry.ID(str(s.order_id)),
                order_number=s.order_number,
                lines_changed=s.lines_changed,
            )
            for s in result
        ],
        user_errors=[],
    )
