"""Products, payment schedules and the call-center parameters: what the rule files and
``config/`` say, read by every role."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from continuity import keyset, models
from continuity.errors import ContinuityError
from resolvers import catalog
from schema.common import Gap, Money, query_error
from schema.connections import Connection, QueryPager, connection
from schema.context import Info
from schema.enums import GapUnit, ProductKind, ScheduleKind
from schema.ids import decode_optional
from schema.inputs import check_arguments, one_of
from schema.nodes import Entity, entity

if TYPE_CHECKING:
    from schema.programs import Program

BY_SKU = keyset.Ordering(("sku",))
BY_CODE = keyset.Ordering(("code",))


@entity(models.Product, owner=None)
@strawberry.type(description="A sellable SKU: a catalog item, or a parent product.")
class Product(Entity):
    id: relay.NodeID[int]
    sku: str = strawberry.field(description="The stock-keeping unit, as in the rule files.")
    name: str = strawberry.field(description="The product's name.")
    kind: ProductKind = strawberry.field(description="An item that ships, or a parent product.")
    price: Money = strawberry.field(description="The catalog price.")
    active: bool = strawberry.field(description="Sold now (inactive products take no order).")
    event_count: int = strawberry.field(
        description="Parent products: how many events of the program it covers (0 = all)."
    )
    _program_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: models.Product) -> Product:
        return cls(
            id=row.id,
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
        from schema.programs import Program

        return await Program.load(info, self._program_id)


@strawberry.type(description="One installment of a specified payment schedule.")
class InstallmentLine:
    percent: Decimal = strawberry.field(description="Its share of the total, in percent.")
    offset_days: int = strawberry.field(description="Days from the order date to its due date.")


@entity(models.PaymentSchedule, owner=None)
@strawberry.type(description="A named split of an order's total into installments.")
class PaymentSchedule(Entity):
    id: relay.NodeID[int]
    code: str = strawberry.field(description="The schedule's id in the rule files.")
    name: str = strawberry.field(description="The schedule's name.")
    kind: ScheduleKind = strawberry.field(description="Equal installments, or specified ones.")
    installment_count: int = strawberry.field(description="How many installments.")
    period: Gap | None = strawberry.field(description="Equal schedules: time between installments.")
    ship_after_installment: int | None = strawberry.field(
        description="Shipping may start once this installment (1-based) is paid."
    )
    retired: bool = strawberry.field(
        description="Its rule file entry was removed: orders keep it, no new order takes it."
    )

    @classmethod
    def from_row(cls, row: models.PaymentSchedule) -> PaymentSchedule:
        period = (
            Gap(unit=GapUnit(row.period_unit), count=row.period_count)
            if row.period_unit is not None and row.period_count is not None
            else None
        )
        return cls(
            id=row.id,
            code=row.code,
            name=row.name,
            kind=row.kind,
            installment_count=row.installment_count,
            period=period,
            ship_after_installment=row.ship_after_installment,
            retired=row.retired,
        )

    @strawberry.field(description="Specified schedules: each installment's share and due offset.")
    async def lines(self, info: Info) -> list[InstallmentLine]:
        rows = await info.context.loaders.lines_by_schedule.load(self.id)
        return [
            InstallmentLine(
                percent=Decimal(row.percent_hundredths) / 100, offset_days=row.offset_days
            )
            for row in rows
        ]


@strawberry.type(description="The call-center parameters (SPEC §2), as configured in config/.")
class CallCenterParameters:
    repeat_threshold: int = strawberry.field(
        description="At most this many occurrences of a repeating event are planned at a time."
    )
    days_before_delivery: int = strawberry.field(
        description="Child orders are created for lines due within this many days."
    )
    on_account_bill_days: int = strawberry.field(
        description="An installment's bill is issued this many days before it is due."
    )
    max_child_orders_per_run: int = strawberry.field(
        description="At most this many child orders per run (0 = no limit)."
    )
    authorize_child_orders: bool = strawberry.field(
        description="Authorize the card when a child order is created."
    )
    reauthorization_limit: int = strawberry.field(
        description="How many times a declined charge is retried before the payment hold."
    )
    retry_days: int = strawberry.field(description="Days between retries of a declined charge.")
    timezone: str = strawberry.field(
        description="The business time zone in which today and due dates are evaluated."
    )
    max_backdate_days: int = strawberry.field(
        description="An agent may date a sales order (`orderDate`) up to this many days back."
    )

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
            max_backdate_days=row.max_backdate_days,
        )

    @strawberry.field(
        description="The payment gateway this service charges through: `test` (no money "
        "moves) or `stripe`. Configuration (CONTINUITY_PAYMENT_GATEWAY), not a parameter."
    )
    def payment_gateway(self, info: Info) -> str:
        return info.context.gateway.name


@strawberry.type
class CatalogQueries:
    @connection(Connection[Product], description="Products by SKU, filtered.")
    def products(
        self,
        kind: Annotated[
            ProductKind | None, strawberry.argument(description="Only items, or only parents.")
        ] = None,
        active: Annotated[
            bool | None, strawberry.argument(description="Only active (or inactive) products.")
        ] = None,
    ) -> QueryPager[models.Product, Product]:
        return QueryPager(catalog.products(kind, active), BY_SKU, Product.from_row)

    @strawberry.field(description="One product, by its global id or its SKU (give one).")
    async def product(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Its global id.")
        ] = None,
        sku: Annotated[str | None, strawberry.argument(description="Its SKU.")] = None,
    ) -> Product | None:
        try:
            one_of(id=id, sku=sku)
            check_arguments(sku=sku)
            if sku is not None:
                row = await catalog.product_by_sku(sku)
                return Product.from_row(row) if row else None
            return await Product.load(info, decode_optional(id, "Product", ["id"]))
        except ContinuityError as error:
            raise query_error(error) from None

    @connection(Connection[PaymentSchedule], description="Payment schedules by code.")
    def payment_schedules(self) -> QueryPager[models.PaymentSchedule, PaymentSchedule]:
        return QueryPager(catalog.payment_schedules(), BY_CODE, PaymentSchedule.from_row)

    @strawberry.field(description="One payment schedule, by its global id or its code (give one).")
    async def payment_schedule(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Its global id.")
        ] = None,
        code: Annotated[
            str | None, strawberry.argument(description="Its id in the rule files.")
        ] = None,
    ) -> PaymentSchedule | None:
        try:
            one_of(id=id, code=code)
            check_arguments(code=code)
            if code is not None:
                row = await catalog.payment_schedule_by_code(code)
                return PaymentSchedule.from_row(row) if row else None
            return await PaymentSchedule.load(info, decode_optional(id, "PaymentSchedule", ["id"]))
        except ContinuityError as error:
            raise query_error(error) from None

    @strawberry.field(description="The call-center parameters in force.")
    async def call_center_parameters(self) -> CallCenterParameters:
        return CallCenterParameters.from_row(await catalog.call_center_parameters())
