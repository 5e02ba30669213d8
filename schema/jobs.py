"""The maintenance jobs over GraphQL: running one, their runs, and the continuity update's dry
run."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, cast

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from continuity import keyset, models
from continuity.errors import ContinuityError
from continuity.jobs import update
from continuity.jobs.runs import split_counts
from resolvers import jobs
from schema.common import (
    INPUT,
    USER_ERRORS,
    Money,
    UserError,
    at_input,
    query_error,
    user_errors,
)
from schema.connections import Connection, QueryPager, connection
from schema.context import Info
from schema.enums import ContinuityLineStatus, CurrencyCode, EventAction, JobRunStatus, describe
from schema.ids import decode_optional, encode_id
from schema.inputs import check_arguments, check_input
from schema.nodes import Entity, entity

NEWEST_FIRST = keyset.Ordering(("id",), descending=True)


class JobName(StrEnum):
    """The CLI's job names; a test checks they match ``continuity.jobs.DAILY_CHAIN``."""

    UPDATE_EVENT_PERIOD = "update-event-period"
    EXTEND_LINES = "extend-lines"
    CONTINUITY_UPDATE = "continuity-update"
    PROCESS_PAYMENTS = "process-payments"
    CREATE_CHILD_ORDERS = "create-child-orders"
    CLOSE_ORDERS = "close-orders"
    ALL = "all"


describe(
    JobName,
    "A maintenance job (in the daily chain's order, SPEC §5), or ALL for the whole chain.",
    {
        "UPDATE_EVENT_PERIOD": "1. Sets each current_event program's current event.",
        "EXTEND_LINES": "2. Tops repeating events back up to the repeat threshold.",
        "CONTINUITY_UPDATE": "3. Moves orders on an old program version to the live one.",
        "PROCESS_PAYMENTS": "4. Charges due installments and shipments, retries declines.",
        "CREATE_CHILD_ORDERS": "5. Turns due lines into child orders.",
        "CLOSE_ORDERS": "6. Closes invoiced lines and finished orders.",
        "ALL": "The whole daily chain, in order (runJob); every job (jobRuns).",
    },
)


def present_counts(counts: Mapping[str, Any]) -> dict[str, Any]:
    """A run's counts as the API shows them: amounts (``x_minor:<currency>``) become ``x``,
    a list of ``{amount, currencyCode}``, one per currency."""
    numbers, amounts = split_counts(counts)
    return {
        **numbers,
        **{
            name: [{"amount": str(amount), "currencyCode": currency} for amount, currency in values]
            for name, values in amounts.items()
        },
    }


@strawberry.type(description="One item a job run could not handle.")
class JobFailure:
    item: str = strawberry.field(description="What failed (`order CO-…`, `payment 12`).")
    error: str = strawberry.field(description="Why.")


@strawberry.type(description="What a run was restricted to.")
class JobRunFilters:
    program_code: str | None = strawberry.field(description="Only this program's orders.")
    order_id: strawberry.ID | None = strawberry.field(
        description="Only this continuity order (its global id)."
    )


@entity(models.JobRun, owner=None)
@strawberry.type(description="One run of one job: what it did and what failed.")
class JobRun(Entity):
    id: relay.NodeID[int]
    job: JobName = strawberry.field(description="Which job (never ALL).")
    as_of: datetime.date = strawberry.field(description="The business date it ran for.")
    status: JobRunStatus = strawberry.field(description="How it went.")
    triggered_by: str = strawberry.field(
        description="Who started it: `scheduler`, `cli`, or the API caller (`operator:ops`)."
    )
    started_at: datetime.datetime = strawberry.field(description="When it started.")
    finished_at: datetime.datetime | None = strawberry.field(description="When it finished.")
    filters: JobRunFilters = strawberry.field(description="What it was restricted to.")
    counts: JSON = strawberry.field(
        description="What it did, per job (docs/JOBS.md): numbers, and amounts as lists of "
        "`{amount, currencyCode}`."
    )
    failures: list[JobFailure] = strawberry.field(description="The items that failed.")

    @classmethod
    def from_row(cls, row: models.JobRun) -> JobRun:
        order = row.filters.get("order")
        return cls(
            id=row.id,
            job=JobName(row.job),
            as_of=row.as_of,
            status=row.status,
            triggered_by=row.triggered_by,
            started_at=row.started_at,
            finished_at=row.finished_at,
            filters=JobRunFilters(
                program_code=row.filters.get("program"),
                order_id=(
                    strawberry.ID(encode_id("ContinuityOrder", order))
                    if isinstance(order, int)
                    else None
                ),
            ),
            counts=cast(JSON, present_counts(row.counts)),
            failures=[JobFailure(item=f["item"], error=f["error"]) for f in row.failures],
        )


@strawberry.input(description="A job to run now.")
class RunJobInput:
    job: JobName = strawberry.field(description="Which job, or ALL for the daily chain.")
    as_of: datetime.date | None = strawberry.field(
        default=None, description="The business date to run for (default: today)."
    )
    program_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this program's orders (its global id)."
    )
    order_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this continuity order (its global id)."
    )


@strawberry.type(description="The result of runJob.")
class RunJobPayload:
    runs: list[JobRun] = strawberry.field(description="The runs, in order (one per job).")
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


class LineUpdateKind(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


describe(
    LineUpdateKind,
    "What the continuity update does to one continuity line.",
    {
        "ADDED": "A new line: an occurrence or item the order did not hold.",
        "REMOVED": "The line goes: the new version has no such occurrence or item, or the "
        "order ends there (its lines are cancelled).",
        "CHANGED": "The line stays in its slot (same event, repeat and item); some of its "
        "values change (see changedFields).",
    },
)


class LineField(StrEnum):
    SKU = "sku"
    QUANTITY = "quantity"
    PRICE = "price"
    PLANNED_SHIP_DATE = "planned_ship_date"
    ACTION = "action"
    STATUS = "status"


describe(
    LineField,
    "A value of a continuity line that the continuity update can change.",
    {
        "SKU": "The item shipped.",
        "QUANTITY": "How many ship.",
        "PRICE": "The unit price.",
        "PLANNED_SHIP_DATE": "When it is planned to ship.",
        "ACTION": "The event's action (NORMAL, SKIP, END).",
        "STATUS": "The line's status (a skip event's line is SKIPPED).",
    },
)


@strawberry.type(description="A continuity line's values on one side of the update.")
class LineValues:
    sku: str | None = strawberry.field(description="The item; null on a skip event's line.")
    quantity: int = strawberry.field(description="How many ship (0 on a skip line).")
    price: Money = strawberry.field(description="The unit price, in the order's currency.")
    amount: Money = strawberry.field(description="Unit price × quantity.")
    planned_ship_date: datetime.date = strawberry.field(description="When it would ship.")
    action: EventAction = strawberry.field(description="The event's action.")
    status: ContinuityLineStatus = strawberry.field(description="The line's status.")

    @classmethod
    def of(cls, values: update.LineValues | None, currency: str) -> LineValues | None:
        if values is None:
            return None
        return cls(
            sku=values.sku,
            quantity=values.quantity,
            price=Money.of(values.price_minor, currency),
            amount=Money.of(values.price_minor * values.quantity, currency),
            planned_ship_date=values.planned_ship_date,
            action=values.action,
            status=values.status,
        )


@strawberry.type(description="One continuity line the update adds, removes or changes.")
class LineUpdate:
    event_number: int = strawberry.field(description="The program event of the line.")
    repeat_index: int = strawberry.field(
        description="0 for the event's first shipment, 1.. for its repeats."
    )
    item_seq: int = strawberry.field(description="Which item of the shipment: 0, 1, …")
    change: LineUpdateKind = strawberry.field(description="Added, removed or changed.")
    before: LineValues | None = strawberry.field(
        description="The line as the order holds it now; null when added."
    )
    after: LineValues | None = strawberry.field(
        description="The line after the update; null when removed."
    )
    changed_fields: list[LineField] = strawberry.field(
        description="Changed lines: the values that differ between before and after."
    )


@strawberry.type(description="What the continuity update would change on one order.")
class OrderUpdatePreview:
    order_id: strawberry.ID = strawberry.field(description="The order's global id.")
    order_number: str = strawberry.field(description="The order's number.")
    from_version: int = strawberry.field(description="The version it follows now.")
    to_version: int = strawberry.field(description="The live version it would move to.")
    currency_code: CurrencyCode = strawberry.field(
        description="The order's currency (every amount in lines is in it)."
    )
    lines_removed: int = strawberry.field(
        description="Lines that would go (slots the new version does not have, or cancelled "
        "when the order ends)."
    )
    lines_added: int = strawberry.field(description="Lines in slots the order does not hold.")
    lines_changed: int = strawberry.field(
        description="Lines kept in their slot whose values would change."
    )
    date_changes: int = strawberry.field(
        description="Occurrences held before and after whose date would move."
    )
    cancelled_events: list[int] = strawberry.field(
        description="Events the new version no longer has."
    )
    lines: list[LineUpdate] = strawberry.field(
        description="Line by line, old → new, in event, repeat and item order; lines that do "
        "not change are left out."
    )


async def run_job(info: Info, input: Annotated[RunJobInput, INPUT]) -> RunJobPayload:
    try:
        check_input(input, ["input"])
        runs = await jobs.run(
            info.context,
            input.job.value,
            input.as_of,
            decode_optional(input.program_id, "Program", ["input", "programId"]),
            decode_optional(input.order_id, "ContinuityOrder", ["input", "orderId"]),
        )
    except ContinuityError as error:
        return RunJobPayload(runs=[], user_errors=user_errors(at_input(error)))
    return RunJobPayload(runs=[JobRun.from_row(run) for run in runs], user_errors=[])


@strawberry.type
class JobQueries:
    @connection(Connection[JobRun], description="Job runs, newest first, with counts and failures.")
    def job_runs(
        self,
        job: Annotated[
            JobName | None,
            strawberry.argument(description="Only this job's runs (ALL: every job)."),
        ] = None,
    ) -> QueryPager[models.JobRun, JobRun]:
        return QueryPager(jobs.job_runs(job.value if job else None), NEWEST_FIRST, JobRun.from_row)

    @strawberry.field(
        description="The continuity update's dry run: what moving each order on an old "
        "program version to the live one would change."
    )
    async def continuity_update_preview(
        self,
        program_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this program's orders.")
        ] = None,
        order_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this continuity order.")
        ] = None,
    ) -> list[OrderUpdatePreview]:
        try:
            check_arguments(program_id=program_id, order_id=order_id)
            previews = await jobs.continuity_update_preview(
                decode_optional(program_id, "Program", ["programId"]),
                decode_optional(order_id, "ContinuityOrder", ["orderId"]),
            )
        except ContinuityError as error:
            raise query_error(error) from None
        return [
            OrderUpdatePreview(
                order_id=strawberry.ID(encode_id("ContinuityOrder", u.order_id)),
                order_number=u.order_number,
                from_version=u.from_version,
                to_version=u.to_version,
                currency_code=CurrencyCode(u.currency),
                lines_removed=u.lines_removed,
                lines_added=u.lines_added,
                lines_changed=u.lines_changed,
                date_changes=u.date_changes,
                cancelled_events=list(u.cancelled_events),
                lines=[
                    LineUpdate(
                        event_number=line.event_number,
                        repeat_index=line.repeat_index,
                        item_seq=line.item_seq,
                        change=LineUpdateKind(line.kind),
                        before=LineValues.of(line.before, u.currency),
                        after=LineValues.of(line.after, u.currency),
                        changed_fields=[LineField(name) for name in line.fields],
                    )
                    for line in u.lines
                ],
            )
            for u in previews
        ]


@strawberry.type
class JobMutations:
    run_job: RunJobPayload = strawberry.mutation(
        resolver=run_job, description="Run one maintenance job now (or ALL: the daily chain)."
    )
