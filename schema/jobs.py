"""Maintenance jobs, child-order fulfilment, and the agents' bulk changes."""

from __future__ import annotations

import datetime
from enum import StrEnum
from typing import cast

import strawberry
from strawberry.scalars import JSON

from continuity import models
from schema.common import UserError
from schema.enums import JobRunStatus
from schema.orders import ChildOrder
from schema.pagination import PageInfo


@strawberry.enum(description="A maintenance job (SPEC §5 order), or ALL for the daily chain.")
class JobName(StrEnum):
    """The CLI's job names; a test checks they match ``continuity.jobs.DAILY_CHAIN``."""

    UPDATE_EVENT_PERIOD = "update-event-period"
    EXTEND_LINES = "extend-lines"
    CONTINUITY_UPDATE = "continuity-update"
    PROCESS_PAYMENTS = "process-payments"
    CREATE_CHILD_ORDERS = "create-child-orders"
    CLOSE_ORDERS = "close-orders"
    ALL = "all"


@strawberry.type
class JobFailure:
    item: str
    error: str


@strawberry.type(description="One run of one job: what it did and what failed.")
class JobRun:
    id: strawberry.ID
    job: str
    as_of: datetime.date
    status: JobRunStatus
    triggered_by: str
    started_at: datetime.datetime
    finished_at: datetime.datetime | None
    filters: JSON
    counts: JSON
    failures: list[JobFailure]

    @classmethod
    def from_row(cls, row: models.JobRun) -> JobRun:
        return cls(
            id=strawberry.ID(str(row.id)),
            job=row.job,
            as_of=row.as_of,
            status=row.status,
            triggered_by=row.triggered_by,
            started_at=row.started_at,
            finished_at=row.finished_at,
            filters=cast(JSON, row.filters),
            counts=cast(JSON, row.counts),
            failures=[JobFailure(item=f["item"], error=f["error"]) for f in row.failures],
        )


@strawberry.type
class JobRunEdge:
    cursor: str
    node: JobRun


@strawberry.type
class JobRunConnection:
    edges: list[JobRunEdge]
    page_info: PageInfo


@strawberry.input
class RunJobInput:
    job: JobName
    as_of: datetime.date | None = strawberry.field(
        default=None, description="Default: today in the business time zone."
    )
    program: strawberry.ID | None = None
    order: strawberry.ID | None = None


@strawberry.type
class RunJobPayload:
    runs: list[JobRun]
    user_errors: list[UserError]


@strawberry.input
class ChildOrderInput:
    child_order_id: strawberry.ID


@strawberry.type
class ChildOrderPayload:
    child_order: ChildOrder | None
    user_errors: list[UserError]


@strawberry.type(description="What the continuity update would change on one order.")
class OrderUpdatePreview:
    order_id: strawberry.ID
    order_number: str
    from_version: int
    to_version: int
    lines_removed: int
    lines_added: int
    date_changes: int
    cancelled_events: list[int]


@strawberry.input
class UpdateStartDateInput:
    order_ids: list[strawberry.ID]
    new_start_date: datetime.date | None = None
    add_days: int | None = None
    dry_run: bool = False
    reason: str | None = None


@strawberry.type
class StartDateChange:
    order_id: strawberry.ID
    order_number: str
    from_start_date: datetime.date
    to_start_date: datetime.date
    pending_lines_moved: int


@strawberry.type
class UpdateStartDatePayload:
    applied: bool
    changes: list[StartDateChange]
    user_errors: list[UserError]


@strawberry.input
class SubstituteProductInput:
    order_ids: list[strawberry.ID]
    from_sku: str
    to_sku: str
    dry_run: bool = False
    reason: str | None = None


@strawberry.type
class Substitution:
    order_id: strawberry.ID
    order_number: str
    lines_changed: int


@strawberry.type
class SubstituteProductPayload:
    applied: bool
    substitutions: list[Substitution]
    user_errors: list[UserError]
