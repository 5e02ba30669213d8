"""What an order will ship and bill next, or what an order for a program would: computed by the
same planning code the jobs use (``continuity.orders.projection``)."""

from __future__ import annotations

import datetime
from typing import Annotated

import strawberry

from continuity.engine.schedule import PlannedItem
from continuity.errors import ContinuityError, NotFound
from continuity.orders import projection
from resolvers import orders
from schema.common import Money, at_argument, query_error
from schema.context import Info
from schema.enums import CurrencyCode
from schema.ids import decode_id, decode_optional
from schema.inputs import check_arguments
from schema.programs import Program

#: The domain's words for the arguments, where the API's differ.
RENAMES = {"program": "programId", "paymentSchedule": "paymentScheduleId"}


@strawberry.type(description="One item of a future shipment.")
class ShipmentItem:
    sku: str = strawberry.field(description="The item's SKU.")
    quantity: int = strawberry.field(description="How many ship.")
    price: Money = strawberry.field(description="The unit price.")
    amount: Money = strawberry.field(description="Unit price × quantity.")


@strawberry.type(description="A future shipment and the charge it will bring.")
class UpcomingShipment:
    event_number: int = strawberry.field(description="The program event it ships.")
    repeat_index: int = strawberry.field(
        description="0 for the event's first shipment, 1.. for its repeats."
    )
    ship_date: datetime.date = strawberry.field(description="When it is planned to ship.")
    items: list[ShipmentItem] = strawberry.field(description="What it ships.")
    amount: Money = strawberry.field(description="What its items are worth.")
    charge: Money = strawberry.field(
        description="Charged when its child order is created (zero when prepaid)."
    )
    materialized: bool = strawberry.field(
        description="Held as continuity lines already (else computed from the program)."
    )
    skip: bool = strawberry.field(
        description="A skip slot (programPreview): the program's skip event passes, nothing "
        "ships and nothing is charged (no items, zero amounts). upcomingShipments leaves skips "
        "out."
    )


@strawberry.type(description="One installment of a planned payment schedule.")
class PlannedInstallment:
    number: int = strawberry.field(description="1, 2, …")
    due_date: datetime.date = strawberry.field(description="When it falls due.")
    amount: Money = strawberry.field(description="How much (the remainder goes to the last).")


@strawberry.type(description="What an order placed for a start date would ship and bill.")
class ProgramPreview:
    program: Program = strawberry.field(description="The program.")
    start_date: datetime.date = strawberry.field(
        description="The order's start date (the program's days_after_order added)."
    )
    first_event_number: int = strawberry.field(description="The event the order would start at.")
    currency_code: CurrencyCode = strawberry.field(
        description="The program's currency: every amount of the preview is in it."
    )
    finite: bool = strawberry.field(description="The program ends (no event repeats forever).")
    shipments: list[UpcomingShipment] = strawberry.field(
        description="The first slots of the schedule, in order: shipments, and skip slots "
        "(skip: true) that ship nothing."
    )
    up_front_total: Money | None = strawberry.field(
        description="Up-front programs: the total billed at placement."
    )
    installments: list[PlannedInstallment] = strawberry.field(
        description="Installment billing: the installments and their due dates."
    )


def _item(item: PlannedItem, currency: str) -> ShipmentItem:
    return ShipmentItem(
        sku=item.sku,
        quantity=item.quantity,
        price=Money.of(item.price_minor, currency),
        amount=Money.of(item.amount_minor, currency),
    )


def _shipment(shipment: projection.ProjectedShipment, currency: str) -> UpcomingShipment:
    return UpcomingShipment(
        event_number=shipment.event_number,
        repeat_index=shipment.repeat_index,
        ship_date=shipment.ship_date,
        items=[_item(item, currency) for item in shipment.items],
        amount=Money.of(shipment.amount_minor, currency),
        charge=Money.of(shipment.charge_minor, currency),
        materialized=shipment.materialized,
        skip=shipment.skip,
    )


@strawberry.type
class ProjectionQueries:
    @strawberry.field(
        description="An order's next shipments and the charge each will bring, as the jobs "
        "will ship them: with its skips, swaps and quantity; a pause until a date resumes on "
        "it; nothing while paused with no end date or on payment hold; a prepaid order's "
        "shipments wait for its unpaid charge. Null when there is no such order or it is not "
        "the caller's."
    )
    async def upcoming_shipments(
        self,
        info: Info,
        order_id: Annotated[
            strawberry.ID, strawberry.argument(description="The continuity order's global id.")
        ],
        count: Annotated[int, strawberry.argument(description="How many: 1 to 100.")] = 5,
    ) -> list[UpcomingShipment] | None:
        try:
            order, shipments = await orders.upcoming_shipments(
                info.context, decode_id(order_id, "ContinuityOrder", ["orderId"]), count
            )
        except NotFound:
            return None
        except ContinuityError as error:
            raise query_error(error) from None
        return [_shipment(s, order.currency) for s in shipments]

    @strawberry.field(
        description="What an order for this program would ship and bill from a start date "
        "(default today); null when there is no such program."
    )
    async def program_preview(
        self,
        info: Info,
        program_id: Annotated[
            strawberry.ID, strawberry.argument(description="The program's global id.")
        ],
        start_date: Annotated[
            datetime.date | None,
            strawberry.argument(description="The prompted start date (default: today)."),
        ] = None,
        count: Annotated[
            int,
            strawberry.argument(
                description="How many slots of the schedule (shipments and skip slots): 1 to 100."
            ),
        ] = 12,
        quantity: Annotated[
            int, strawberry.argument(description="The order's quantity: 1 to 1000.")
        ] = 1,
        payment_schedule_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="Up-front programs: one of the schedules the program offers "
                "(another is refused with PAYMENT_SCHEDULE_NOT_ALLOWED, as at placement)."
            ),
        ] = None,
    ) -> ProgramPreview | None:
        try:
            check_arguments(start_date=start_date)
            preview = await orders.program_preview(
                info.context,
                decode_id(program_id, "Program", ["programId"]),
                start_date=start_date,
                count=count,
                quantity=quantity,
                payment_schedule_id=decode_optional(
                    payment_schedule_id, "PaymentSchedule", ["paymentScheduleId"]
                ),
            )
        except ContinuityError as error:
            if isinstance(error, NotFound) and error.field in (("programId",), ("program",)):
                return None
            raise query_error(at_argument(error, RENAMES)) from None
        if preview is None:
            return None
        currency = preview.currency
        return ProgramPreview(
            program=Program.with_version(preview.program, preview.version),
            start_date=preview.start_date,
            first_event_number=preview.first_event,
            currency_code=CurrencyCode(currency),
            finite=preview.finite,
            shipments=[_shipment(s, currency) for s in preview.shipments],
            up_front_total=(
                Money.of(preview.up_front_total_minor, currency)
                if preview.up_front_total_minor is not None
                else None
            ),
            installments=[
                PlannedInstallment(
                    number=i.number,
                    due_date=i.due_date,
                    amount=Money.of(i.amount_minor, currency),
                )
                for i in preview.installments
            ],
        )
