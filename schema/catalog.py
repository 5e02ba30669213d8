"""Products, payment schedules and the call-center parameters."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from continuity import models
from resolvers.context import Info
from schema.common import Gap, Money
from schema.enums import GapUnit, ProductKind, ScheduleKind

if TYPE_CHECKING:
    from schema.programs import Program


@strawberry.type
class Product:
    sku: str
    name: str
    kind: ProductKind
    price: Money
    active: bool
    event_count: int = strawberry.field(
        description="Parent products: how many events of the program it covers (0 = all)."
    )
    _program_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: models.Product) -> Product:
        return cls(
            sku=row.sku,
            name=row.name,
            kind=row.kind,
            price=Money.of(row.price_minor, row.currency),
            active=row.active,
            event_count=row.event_count,
            _program_id=row.program_id,
        )

    @strawberry.field(description="Parent products: the program the product stands for.")
    async def program(
        self, info: Info
    ) -> Annotated[Program, strawberry.lazy("schema.programs")] | None:
        if self._program_id is None:
            return None
        from schema.programs import Program

        row = await info.context.loaders.program_by_id.load(self._program_id)
        return await Program.build(row, info)


@strawberry.type
class InstallmentLine:
    percent: Decimal
    offset_days: int


@strawberry.type
class PaymentSchedule:
    id: strawberry.ID = strawberry.field(description="The schedule's id in the rule files.")
    name: str
    kind: ScheduleKind
    installment_count: int
    period: Gap | None = strawberry.field(description="Equal schedules: time between installments.")
    ship_after_installment: int | None = strawberry.field(
        description="Shipping may start once this installment (1-based) is paid."
    )
    retired: bool
    _row_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: models.PaymentSchedule) -> PaymentSchedule:
        period = (
            Gap(unit=GapUnit(row.period_unit), count=row.period_count)
            if row.period_unit is not None and row.period_count is not None
            else None
        )
        return cls(
            id=strawberry.ID(row.code),
            name=row.name,
            kind=row.kind,
            installment_count=row.installment_count,
            period=period,
            ship_after_installment=row.ship_after_installment,
            retired=row.retired,
            _row_id=row.id,
        )

    @strawberry.field(description="Specified schedules: each installment's share and due offset.")
    async def lines(self, info: Info) -> list[InstallmentLine]:
        rows = await info.context.loaders.lines_by_schedule.load(self._row_id)
        return [
            InstallmentLine(
                percent=Decimal(row.percent_hundredths) / 100, offset_days=row.offset_days
            )
            for row in rows
        ]


@strawberry.type(description="SPEC §2 call-center parameters, as configured in config/.")
class CallCenterParameters:
    repeat_threshold: int
    days_before_delivery: int
    on_account_bill_days: int
    max_child_orders_per_run: int
    authorize_child_orders: bool
    reauthorization_limit: int
    retry_days: int
    timezone: str

    @classmethod
    def from_row(cls, row: models.CallCenterParameters) -> CallCenterParameters:
        return cls(
            repeat_threshold=row.repeat_threshold,
            days_before_delivery=row.days_before_delivery,
            on_account_bill_days=row.on_account_bill_days,
            max_child_orders_per_run=row.max_child_orders_per_run,
            authorize_child_orders=row.authorize_child_orders,
            reauthorization_limit=row.reauthorization_limit,
            retry_days=row.retry_days,
            timezone=row.timezone,
        )

    @strawberry.field(
        description="The payment gateway this service charges through: `test` (no money "
        "moves) or `stripe`. Configuration (CONTINUITY_PAYMENT_GATEWAY), not a parameter."
    )
    def payment_gateway(self, info: Info) -> str:
        return info.context.gateway.name
