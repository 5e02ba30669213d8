"""Placing a sales order (SPEC §3): ordinary lines charged at once, each parent-product line a
continuity order."""

from __future__ import annotations

import datetime
from typing import Annotated

import strawberry

from continuity.errors import ContinuityError
from continuity.orders import placement
from resolvers import orders
from schema.common import INPUT, USER_ERRORS, UserError, at_input, user_errors
from schema.context import Info
from schema.idempotency import idempotent, key_field
from schema.ids import decode_id
from schema.input_build import quick_input
from schema.inputs import check_input
from schema.orders import ContinuityOrder, SalesOrder

#: The domain's words for the input's fields, where the API's differ.
RENAMES = {"paymentSchedule": "paymentScheduleId"}


@quick_input
@strawberry.input(description="One line of a sales order.")
class OrderLineInput:
    sku: str = strawberry.field(description="An item, or a parent product (a program).")
    quantity: int = strawberry.field(
        default=1, description="1 to 1000; on a parent product it multiplies every event."
    )
    start_date: datetime.date | None = strawberry.field(
        default=None, description="Parent products whose program prompts for a start date."
    )
    payment_schedule_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Parent products billed up front: one of the program's allowed schedules.",
    )


@quick_input
@strawberry.input(description="A sales order: who, where to, which card, and its lines.")
class PlaceSalesOrderInput:
    customer_id: strawberry.ID = strawberry.field(description="The customer's global id.")
    ship_to_address_id: strawberry.ID = strawberry.field(
        description="One of the customer's addresses."
    )
    payment_method_id: strawberry.ID = strawberry.field(
        description="One of the customer's cards, active and not expired."
    )
    lines: list[OrderLineInput] = strawberry.field(description="1 to 50 lines.")
    order_date: datetime.date | None = strawberry.field(
        default=None,
        description="When the order was taken (default: today). Agents may date a mail or "
        "phone order up to `maxBackdateDays` back: its shipments planned before today are "
        "missed and go out at the next run, consolidated when the program says so. A "
        "customer cannot back-date (`ORDER_DATE_NOT_ALLOWED`).",
    )
    idempotency_key: str | None = key_field()


@strawberry.type(description="The result of placeSalesOrder.")
class PlaceSalesOrderPayload:
    sales_order: SalesOrder | None = strawberry.field(description="The placed order.")
    continuity_orders: list[ContinuityOrder] = strawberry.field(
        description="The continuity orders its parent-product lines became."
    )
    user_errors: list[UserError] = strawberry.field(description=USER_ERRORS)


async def _line(index: int, line: OrderLineInput) -> placement.OrderLineInput:
    field = ["input", "lines", str(index), "paymentScheduleId"]
    schedule = (
        await orders.schedule_code(
            decode_id(line.payment_schedule_id, "PaymentSchedule", field), field
        )
        if line.payment_schedule_id is not None
        else None
    )
    return placement.OrderLineInput(
        sku=line.sku,
        quantity=line.quantity,
        start_date=line.start_date,
        payment_schedule=schedule,
    )


@idempotent(PlaceSalesOrderPayload)
async def place_sales_order(
    info: Info, input: Annotated[PlaceSalesOrderInput, INPUT]
) -> PlaceSalesOrderPayload:
    try:
        check_input(input, ["input"])
        order = placement.SalesOrderInput(
            customer_id=decode_id(input.customer_id, "Customer", ["input", "customerId"]),
            ship_to_address_id=decode_id(
                input.ship_to_address_id, "Address", ["input", "shipToAddressId"]
            ),
            payment_method_id=decode_id(
                input.payment_method_id, "PaymentMethod", ["input", "paymentMethodId"]
            ),
            lines=tuple([await _line(i, line) for i, line in enumerate(input.lines)]),
        )
        placed = await orders.place_sales_order(info.context, order, input.order_date)
    except ContinuityError as error:
        return PlaceSalesOrderPayload(
            sales_order=None,
            continuity_orders=[],
            user_errors=user_errors(at_input(error, RENAMES)),
        )
    return PlaceSalesOrderPayload(
        sales_order=SalesOrder.from_row(placed.sales_order),
        continuity_orders=[ContinuityOrder.from_row(row) for row in placed.continuity_orders],
        user_errors=[],
    )


@strawberry.type
class PlacementMutations:
    place_sales_order: PlaceSalesOrderPayload = strawberry.mutation(
        resolver=place_sales_order,
        description="Place a sales order: ordinary lines are charged at once; each "
        "parent-product line becomes a continuity order with its lines and billing.",
    )
