"""The root Query type: every read of the API."""

from __future__ import annotations

import datetime

import strawberry

from resolvers.catalog import (
    resolve_call_center_parameters,
    resolve_payment_schedules,
    resolve_products,
)
from resolvers.context import Info
from resolvers.customers import resolve_customer, resolve_customers
from resolvers.jobs import resolve_continuity_update_preview, resolve_job_runs
from resolvers.notifications import resolve_notifications
from resolvers.orders import (
    resolve_continuity_order,
    resolve_continuity_orders,
    resolve_program_preview,
    resolve_upcoming_shipments,
)
from resolvers.programs import resolve_program, resolve_programs
from schema.access import Viewer, resolve_viewer
from schema.catalog import CallCenterParameters, PaymentSchedule, Product
from schema.customers import Customer, CustomerConnection
from schema.enums import ContinuityOrderStatus, NotificationStatus, ProductKind
from schema.jobs import JobName, JobRunConnection, OrderUpdatePreview
from schema.notifications import NotificationConnection
from schema.orders import (
    ContinuityOrder,
    ContinuityOrderConnection,
    ProgramPreview,
    UpcomingShipment,
)
from schema.programs import Program


@strawberry.type
class Query:
    @strawberry.field(description="Who is calling: role, token name, and a customer's account.")
    def viewer(self, info: Info) -> Viewer | None:
        return resolve_viewer(info)

    @strawberry.field(description="Programs by id; `active` filters on the active flag.")
    async def programs(self, info: Info, active: bool | None = None) -> list[Program]:
        return await resolve_programs(info, active)

    @strawberry.field(description="One program by its id in the rule files.")
    async def program(self, info: Info, id: strawberry.ID) -> Program | None:
        return await resolve_program(info, str(id))

    @strawberry.field
    async def products(
        self, kind: ProductKind | None = None, active: bool | None = None
    ) -> list[Product]:
        return await resolve_products(kind, active)

    @strawberry.field
    async def payment_schedules(self) -> list[PaymentSchedule]:
        return await resolve_payment_schedules()

    @strawberry.field
    async def call_center_parameters(self) -> CallCenterParameters:
        return await resolve_call_center_parameters()

    @strawberry.field
    async def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        return await resolve_customer(info, str(id))

    @strawberry.field(description="Customers by id; `search` matches a name or account number.")
    async def customers(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
    ) -> CustomerConnection:
        return await resolve_customers(info, first, after, search)

    @strawberry.field
    async def continuity_order(self, info: Info, id: strawberry.ID) -> ContinuityOrder | None:
        return await resolve_continuity_order(info, str(id))

    @strawberry.field(description="Continuity orders by id, filtered; at most 100 a page.")
    async def continuity_orders(
        self,
        info: Info,
        customer: strawberry.ID | None = None,
        program: strawberry.ID | None = None,
        status: ContinuityOrderStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> ContinuityOrderConnection:
        return await resolve_continuity_orders(
            info,
            str(customer) if customer is not None else None,
            str(program) if program is not None else None,
            status,
            first,
            after,
        )

    @strawberry.field(
        description="An order's next shipments and the charge each will bring, as the jobs "
        "will ship them: with its skips, swaps and quantity; a pause until a date resumes on "
        "it; nothing while paused with no end date or on payment hold; a prepaid order's "
        "shipments wait for its unpaid charge."
    )
    async def upcoming_shipments(
        self, info: Info, order: strawberry.ID, count: int = 5
    ) -> list[UpcomingShipment]:
        return await resolve_upcoming_shipments(info, str(order), count)

    @strawberry.field(
        description="What an order for this program would ship and bill from a start date "
        "(default today)."
    )
    async def program_preview(
        self,
        info: Info,
        program: strawberry.ID,
        start_date: datetime.date | None = None,
        count: int = 12,
        quantity: int = 1,
        payment_schedule: strawberry.ID | None = None,
    ) -> ProgramPreview | None:
        return await resolve_program_preview(
            info,
            str(program),
            start_date,
            count,
            quantity,
            str(payment_schedule) if payment_schedule is not None else None,
        )

    @strawberry.field(description="Job runs, newest first, with counts and failures.")
    async def job_runs(
        self,
        info: Info,
        job: JobName | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> JobRunConnection:
        return await resolve_job_runs(info, job, first, after)

    @strawberry.field(
        description="The continuity update's dry run: what moving each order on an old "
        "program version to the live one would change."
    )
    async def continuity_update_preview(
        self,
        info: Info,
        program: strawberry.ID | None = None,
        order: strawberry.ID | None = None,
    ) -> list[OrderUpdatePreview]:
        return await resolve_continuity_update_preview(
            info,
            str(program) if program is not None else None,
            str(order) if order is not None else None,
        )

    @strawberry.field(
        description="The notification outbox, newest first: what was (or will be) sent to whom, "
        "and how delivery went."
    )
    async def notifications(
        self,
        info: Info,
        order: strawberry.ID | None = None,
        status: NotificationStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> NotificationConnection:
        return await resolve_notifications(
            info, str(order) if order is not None else None, status, first, after
        )
