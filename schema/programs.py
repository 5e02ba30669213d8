"""Continuity programs as merchandisers wrote them: settings, billing, versions and events."""

from __future__ import annotations

import datetime

import strawberry

from continuity import models
from resolvers.context import Info
from schema.catalog import PaymentSchedule
from schema.common import Gap, Money
from schema.enums import EventAction, GapUnit, OrderStart


@strawberry.type(description="The sellable SKU that stands for the program on a sales order.")
class ParentProduct:
    sku: str
    name: str
    price: Money = strawberry.field(description="The price shown on the order.")
    event_count: int = strawberry.field(description="Events the product covers (0 = all).")


@strawberry.type
class Billing:
    up_front: bool = strawberry.field(
        description="The whole order is charged at placement (or per its payment schedule)."
    )
    prompt_for_payment_schedule: bool
    _default_schedule_id: strawberry.Private[int | None]
    _version_id: strawberry.Private[int]

    @strawberry.field(description="The schedule used when the order names none.")
    async def payment_schedule(self, info: Info) -> PaymentSchedule | None:
        if self._default_schedule_id is None:
            return None
        row = await info.context.loaders.schedule_by_id.load(self._default_schedule_id)
        return PaymentSchedule.from_row(row)

    @strawberry.field(description="The schedules a customer may choose from.")
    async def allowed_schedules(self, info: Info) -> list[PaymentSchedule]:
        ids = await info.context.loaders.allowed_schedule_ids_by_version.load(self._version_id)
        rows = await info.context.loaders.schedule_by_id.load_many(ids)
        return [PaymentSchedule.from_row(row) for row in rows]


@strawberry.type
class ProgramVersion:
    number: int
    content_hash: str
    source_path: str
    created_at: datetime.datetime

    @classmethod
    def from_row(cls, row: models.ProgramVersion) -> ProgramVersion:
        return cls(
            number=row.number,
            content_hash=row.content_hash,
            source_path=row.source_path,
            created_at=row.created_at,
        )


@strawberry.type
class ProgramEventItem:
    sku: str
    name: str
    quantity: int
    price: Money
    price_overridden: bool = strawberry.field(
        description="The rule file set the price; otherwise it is the catalog price."
    )


@strawberry.type(description="One step of a program: one shipment of one or more items.")
class ProgramEvent:
    number: int
    gap: Gap = strawberry.field(description="Time from the previous shipment.")
    not_before: datetime.date | None
    repeat: int = strawberry.field(description="Ships repeat+1 times (ignored when forever).")
    repeats_forever: bool
    action: EventAction
    _row_id: strawberry.Private[int]
    _currency: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: models.ProgramEvent, currency: str) -> ProgramEvent:
        return cls(
            number=row.number,
            gap=Gap(unit=row.gap_unit, count=row.gap_count),
            not_before=row.not_before,
            repeat=row.repeat,
            repeats_forever=row.repeat_forever,
            action=row.action,
            _row_id=row.id,
            _currency=currency,
        )

    @strawberry.field
    async def items(self, info: Info) -> list[ProgramEventItem]:
        rows = await info.context.loaders.items_by_event.load(self._row_id)
        products = await info.context.loaders.product_by_id.load_many(
            [row.product_id for row in rows]
        )
        return [
            ProgramEventItem(
                sku=product.sku,
                name=product.name,
                quantity=row.quantity,
                price=Money.of(row.price_minor, self._currency),
                price_overridden=row.price_overridden,
            )
            for row, product in zip(rows, products, strict=True)
        ]


@strawberry.type(description="A continuity program, with the settings of its live version.")
class Program:
    id: strawberry.ID = strawberry.field(description="The program's id in the rule files.")
    name: str
    active: bool
    retired: bool = strawberry.field(description="Its rule file was removed: no new orders.")
    currency: str
    parent_product: ParentProduct
    order_start: OrderStart
    current_event_anchor: datetime.date | None
    current_event: int | None = strawberry.field(
        description="current_event programs: the event the program calendar is in."
    )
    days_after_order: int
    prompt_for_start_date: bool
    consolidate_past_orders: bool
    billing: Billing
    cadence: Gap
    version: ProgramVersion = strawberry.field(description="The live version.")
    _row_id: strawberry.Private[int]
    _version_id: strawberry.Private[int]

    @classmethod
    def from_rows(cls, row: models.Program, version: models.ProgramVersion) -> Program:
        currency = version.currency
        return cls(
            id=strawberry.ID(row.code),
            name=version.name,
            active=row.active,
            retired=row.retired,
            currency=currency,
            parent_product=ParentProduct(
                sku=version.parent_sku,
                name=version.parent_name,
                price=Money.of(version.parent_price_minor, currency),
                event_count=version.parent_event_count,
            ),
            order_start=version.order_start,
            current_event_anchor=version.current_event_anchor,
            current_event=row.current_event,
            days_after_order=version.days_after_order,
            prompt_for_start_date=version.prompt_for_start_date,
            consolidate_past_orders=version.consolidate_past_orders,
            billing=Billing(
                up_front=version.bill_up_front,
                prompt_for_payment_schedule=version.prompt_for_payment_schedule,
                _default_schedule_id=version.default_payment_schedule_id,
                _version_id=version.id,
            ),
            cadence=Gap(unit=GapUnit(version.cadence_unit), count=version.cadence_count),
            version=ProgramVersion.from_row(version),
            _row_id=row.id,
            _version_id=version.id,
        )

    @classmethod
    async def build(cls, row: models.Program, info: Info) -> Program:
        version = await info.context.loaders.latest_version_by_program.load(row.id)
        return cls.from_rows(row, version)

    @strawberry.field(description="Events in shipping order.")
    async def events(self, info: Info) -> list[ProgramEvent]:
        rows = await info.context.loaders.events_by_version.load(self._version_id)
        return [ProgramEvent.from_row(row, self.currency) for row in rows]

    @strawberry.field(description="Every version, oldest first.")
    async def versions(self, info: Info) -> list[ProgramVersion]:
        rows = await info.context.loaders.versions_by_program.load(self._row_id)
        return [ProgramVersion.from_row(row) for row in rows]
