"""Continuity programs as merchandisers wrote them: settings, billing, versions and events."""

from __future__ import annotations

import datetime
from typing import Annotated

import strawberry
from strawberry import relay

from continuity import keyset, models
from continuity.errors import ContinuityError
from resolvers import programs
from schema.catalog import PaymentSchedule
from schema.common import Gap, Money, query_error
from schema.connections import Connection, QueryPager, RelationPager, connection
from schema.context import Info
from schema.enums import CurrencyCode, EventAction, GapUnit, OrderStart
from schema.ids import decode_optional
from schema.inputs import check_arguments, one_of
from schema.nodes import Entity, entity

BY_CODE = keyset.Ordering(("code",))
VERSIONS = keyset.Relation(models.ProgramVersion, "program_id", keyset.Ordering(("number",)))


@strawberry.type(description="The sellable SKU that stands for the program on a sales order.")
class ParentProduct:
    sku: str = strawberry.field(description="The parent product's SKU.")
    name: str = strawberry.field(description="The parent product's name.")
    price: Money = strawberry.field(description="The price shown on the order.")
    event_count: int = strawberry.field(description="Events the product covers (0 = all).")


@strawberry.type(description="How orders of the program are billed.")
class Billing:
    up_front: bool = strawberry.field(
        description="The whole order is charged at placement (or per its payment schedule)."
    )
    prompt_for_payment_schedule: bool = strawberry.field(
        description="The order may name one of the allowed schedules."
    )
    _default_schedule_id: strawberry.Private[int | None]
    _version_id: strawberry.Private[int]

    @strawberry.field(description="The schedule used when the order names none.")
    async def payment_schedule(self, info: Info) -> PaymentSchedule | None:
        return await PaymentSchedule.load(info, self._default_schedule_id)

    @strawberry.field(description="The schedules a customer may choose from.")
    async def allowed_schedules(self, info: Info) -> list[PaymentSchedule]:
        ids = await info.context.loaders.allowed_schedule_ids_by_version.load(self._version_id)
        return [s for s in await PaymentSchedule.load_many(info, ids) if s is not None]


@entity(models.ProgramVersion, owner=None)
@strawberry.type(
    description="One loaded version of a program's rule file: immutable; orders keep the "
    "version they were placed under until a continuity update moves them."
)
class ProgramVersion(Entity):
    id: relay.NodeID[int]
    number: int = strawberry.field(description="1, 2, …: each changed load adds one.")
    content_hash: str = strawberry.field(description="SHA-256 of what the rule file said.")
    source_path: str = strawberry.field(description="The rule file it was loaded from.")
    created_at: datetime.datetime = strawberry.field(description="When it was loaded.")
    _program_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: models.ProgramVersion) -> ProgramVersion:
        return cls(
            id=row.id,
            number=row.number,
            content_hash=row.content_hash,
            source_path=row.source_path,
            created_at=row.created_at,
            _program_id=row.program_id,
        )

    @strawberry.field(description="The program it is a version of.")
    async def program(self, info: Info) -> Annotated[Program, strawberry.lazy("schema.programs")]:
        program = await Program.load(info, self._program_id)
        assert program is not None  # programs are shared data: never hidden
        return program


@strawberry.type(description="One item of a program event.")
class ProgramEventItem:
    sku: str = strawberry.field(description="The item's SKU.")
    name: str = strawberry.field(description="The item's name.")
    quantity: int = strawberry.field(description="How many ship (times the order's quantity).")
    price: Money = strawberry.field(description="The unit price charged for it.")
    price_overridden: bool = strawberry.field(
        description="The rule file set the price; otherwise it is the catalog price."
    )


@strawberry.type(description="One step of a program: one shipment of one or more items.")
class ProgramEvent:
    number: int = strawberry.field(description="1..n: the shipping order.")
    gap: Gap = strawberry.field(description="Time from the previous shipment.")
    not_before: datetime.date | None = strawberry.field(
        description="The event never ships before this date."
    )
    repeat: int = strawberry.field(description="Ships repeat+1 times (ignored when forever).")
    repeats_forever: bool = strawberry.field(description="Repeats until the order ends.")
    action: EventAction = strawberry.field(description="Ship, skip, or ship and end.")
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

    @strawberry.field(description="What the event ships.")
    async def items(self, info: Info) -> list[ProgramEventItem]:
        from schema.catalog import Product

        rows = await info.context.loaders.items_by_event.load(self._row_id)
        products = await Product.load_many(info, [row.product_id for row in rows])
        return [
            ProgramEventItem(
                sku=product.sku,
                name=product.name,
                quantity=row.quantity,
                price=Money.of(row.price_minor, self._currency),
                price_overridden=row.price_overridden,
            )
            for row, product in zip(rows, products, strict=True)
            if product is not None
        ]


@entity(models.Program, owner=None)
@strawberry.type(description="A continuity program, with the settings of its live version.")
class Program(Entity):
    id: relay.NodeID[int]
    code: str = strawberry.field(description="The program's id in the rule files.")
    active: bool = strawberry.field(description="Takes new orders.")
    retired: bool = strawberry.field(description="Its rule file was removed: no new orders.")
    current_event: int | None = strawberry.field(
        description="current_event programs: the event the program calendar is in."
    )
    _live: strawberry.Private[models.ProgramVersion | None]

    @classmethod
    def from_row(cls, row: models.Program) -> Program:
        return cls(
            id=row.id,
            code=row.code,
            active=row.active,
            retired=row.retired,
            current_event=row.current_event,
            _live=None,
        )

    @classmethod
    def with_version(cls, row: models.Program, version: models.ProgramVersion) -> Program:
        program = cls.from_row(row)
        program._live = version
        return program

    async def _version(self, info: Info) -> models.ProgramVersion:
        if self._live is None:
            live = await info.context.loaders.latest_version_by_program.load(self.id)
            assert live is not None  # a program is written with its first version
            self._live = live
        return self._live

    @strawberry.field(description="The program's name.")
    async def name(self, info: Info) -> str:
        return (await self._version(info)).name

    @strawberry.field(description="The currency of its prices and orders.")
    async def currency_code(self, info: Info) -> CurrencyCode:
        return CurrencyCode((await self._version(info)).currency)

    @strawberry.field(description="The parent product that stands for the program.")
    async def parent_product(self, info: Info) -> ParentProduct:
        version = await self._version(info)
        return ParentProduct(
            sku=version.parent_sku,
            name=version.parent_name,
            price=Money.of(version.parent_price_minor, version.currency),
            event_count=version.parent_event_count,
        )

    @strawberry.field(description="Where a new order starts: event 1, or the current event.")
    async def order_start(self, info: Info) -> OrderStart:
        return (await self._version(info)).order_start

    @strawberry.field(description="current_event programs: the calendar's anchor date.")
    async def current_event_anchor(self, info: Info) -> datetime.date | None:
        return (await self._version(info)).current_event_anchor

    @strawberry.field(description="Days from the order (or prompted) date to the start.")
    async def days_after_order(self, info: Info) -> int:
        return (await self._version(info)).days_after_order

    @strawberry.field(description="An order may give its own start date.")
    async def prompt_for_start_date(self, info: Info) -> bool:
        return (await self._version(info)).prompt_for_start_date

    @strawberry.field(description="Missed shipments of a late order go out as one child order.")
    async def consolidate_past_orders(self, info: Info) -> bool:
        return (await self._version(info)).consolidate_past_orders

    @strawberry.field(description="How orders are billed.")
    async def billing(self, info: Info) -> Billing:
        version = await self._version(info)
        return Billing(
            up_front=version.bill_up_front,
            prompt_for_payment_schedule=version.prompt_for_payment_schedule,
            _default_schedule_id=version.default_payment_schedule_id,
            _version_id=version.id,
        )

    @strawberry.field(description="The gap between events that give none.")
    async def cadence(self, info: Info) -> Gap:
        version = await self._version(info)
        return Gap(unit=GapUnit(version.cadence_unit), count=version.cadence_count)

    @strawberry.field(description="The live version: the one new orders follow.")
    async def version(self, info: Info) -> ProgramVersion:
        return ProgramVersion.from_row(await self._version(info))

    @strawberry.field(description="Events in shipping order.")
    async def events(self, info: Info) -> list[ProgramEvent]:
        version = await self._version(info)
        rows = await info.context.loaders.events_by_version.load(version.id)
        return [ProgramEvent.from_row(row, version.currency) for row in rows]

    @connection(Connection[ProgramVersion], description="Every version, oldest first.")
    def versions(self) -> RelationPager[models.ProgramVersion, ProgramVersion]:
        return RelationPager(VERSIONS, self.id, ProgramVersion.from_row)


@strawberry.type
class ProgramQueries:
    @connection(Connection[Program], description="Programs by code, filtered.")
    def programs(
        self,
        active: Annotated[
            bool | None, strawberry.argument(description="Only active (or inactive) programs.")
        ] = None,
    ) -> QueryPager[models.Program, Program]:
        return QueryPager(programs.programs(active), BY_CODE, Program.from_row)

    @strawberry.field(description="One program, by its global id or its code (give one).")
    async def program(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Its global id.")
        ] = None,
        code: Annotated[
            str | None, strawberry.argument(description="Its id in the rule files.")
        ] = None,
    ) -> Program | None:
        try:
            one_of(id=id, code=code)
            check_arguments(code=code)
            if code is not None:
                row = await programs.program_by_code(code)
                return Program.from_row(row) if row else None
            return await Program.load(info, decode_optional(id, "Program", ["id"]))
        except ContinuityError as error:
            raise query_error(error) from None
