"""Placing orders, reading continuity orders, and the projections."""

from __future__ import annotations

import datetime

from continuity import models
from continuity.engine.schedule import PlannedItem
from continuity.enums import ContinuityOrderStatus
from continuity.errors import ContinuityError
from continuity.orders import placement, projection
from resolvers.access import customer_scope
from resolvers.context import Info
from resolvers.errors import parse_id, query_error, user_errors
from resolvers.inputs import check_arguments, check_input
from schema.common import Money
from schema.orders import (
    ContinuityOrder,
    ContinuityOrderConnection,
    ContinuityOrderEdge,
    PlaceSalesOrderInput,
    PlaceSalesOrderPayload,
    PlannedInstallment,
    ProgramPreview,
    SalesOrder,
    ShipmentItem,
    UpcomingShipment,
)
from schema.pagination import PageInfo, decode_cursor, encode_cursor, page_size
from schema.programs import Program


def billing_rules(info: Info) -> placement.BillingRules:
    params = info.context.settings.call_center
    return placement.BillingRules(
        repeat_threshold=params.repeat_threshold,
        retry_days=params.retry_days,
        reauthorization_limit=params.reauthorization_limit,
    )


async def resolve_place_sales_order(
    info: Info, data: PlaceSalesOrderInput
) -> PlaceSalesOrderPayload:
    try:
        check_input(data, ["input"])
        order = placement.SalesOrderInput(
            customer_id=parse_id(data.customer_id, ["input", "customerId"]),
            ship_to_address_id=parse_id(data.ship_to_address_id, ["input", "shipToAddressId"]),
            payment_method_id=parse_id(data.payment_method_id, ["input", "paymentMethodId"]),
            lines=tuple(
                placement.OrderLineInput(
                    sku=line.sku,
                    quantity=line.quantity,
                    start_date=line.start_date,
                    payment_schedule=line.payment_schedule,
                )
                for line in data.lines
            ),
        )
        placed = await placement.place_sales_order(
            order,
            order_date=info.context.today,
            actor=info.context.actor,
            rules=billing_rules(info),
            gateway=info.context.gateway,
        )
    except ContinuityError as error:
        return PlaceSalesOrderPayload(
            sales_order=None, continuity_orders=[], user_errors=user_errors(error)
        )
    return PlaceSalesOrderPayload(
        sales_order=SalesOrder.from_row(placed.sales_order),
        continuity_orders=[ContinuityOrder.from_row(row) for row in placed.continuity_orders],
        user_errors=[],
    )


async def load_order(info: Info, order_id: str) -> models.ContinuityOrder | None:
    """The order, or None when it does not exist or is another customer's (alike)."""
    try:
        number = parse_id(order_id, ["id"])
    except ContinuityError:
        return None
    query = models.ContinuityOrder.filter(id=number)
    scope = customer_scope(info.context.caller)
    if scope is not None:
        query = query.filter(customer_id=scope)
    return await query.first()


async def resolve_continuity_order(info: Info, order_id: str) -> ContinuityOrder | None:
    row = await load_order(info, order_id)
    return ContinuityOrder.from_row(row) if row else None


async def resolve_continuity_orders(
    info: Info,
    customer: str | None,
    program: str | None,
    status: ContinuityOrderStatus | None,
    first: int | None,
    after: str | None,
) -> ContinuityOrderConnection:
    size = page_size(first)
    try:
        check_arguments(customer=customer, program=program, after=after)
    except ContinuityError as error:
        raise query_error(error) from None
    query = models.ContinuityOrder.all().order_by("id")
    scope = customer_scope(info.context.caller)
    if scope is not None:
        query = query.filter(customer_id=scope)
    after_id = decode_cursor("ContinuityOrder", after)
    if after_id is not None:
        query = query.filter(id__gt=after_id)
    if customer is not None:
        try:
            query = query.filter(customer_id=parse_id(customer, ["customer"]))
        except ContinuityError:
            query = query.filter(id__lt=0)  # an id that names nothing matches nothing
    if program is not None:
        query = query.filter(program__code=program)
    if status is not None:
        query = query.filter(status=status)
    rows = await query.limit(size + 1)
    edges = [
        ContinuityOrderEdge(
            cursor=encode_cursor("ContinuityOrder", r.id), node=ContinuityOrder.from_row(r)
        )
        for r in rows[:size]
    ]
    return ContinuityOrderConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > size, end_cursor=edges[-1].cursor if edges else None
        ),
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
    )


def _item(item: PlannedItem, currency: str) -> ShipmentItem:
    return ShipmentItem(
        sku=item.sku,
        quantity=item.quantity,
        price=Money.of(item.price_minor, currency),
        amount=Money.of(item.amount_minor, currency),
    )


async def resolve_upcoming_shipments(
    info: Info, order_id: str, count: int
) -> list[UpcomingShipment]:
    row = await load_order(info, order_id)
    if row is None:
        return []
    try:
        shipments = await projection.upcoming_shipments(row, count)
    except ContinuityError as error:
        raise query_error(error) from None
    return [_shipment(s, row.currency) for s in shipments]


async def resolve_program_preview(
    info: Info,
    program: str,
    start_date: datetime.date | None,
    count: int,
    quantity: int,
    payment_schedule: str | None,
) -> ProgramPreview | None:
    try:
        check_arguments(program=program, start_date=start_date, payment_schedule=payment_schedule)
        preview = await projection.program_preview(
            program,
            start_date or info.context.today,
            order_date=info.context.today,
            count=count,
            quantity=quantity,
            payment_schedule=payment_schedule,
        )
    except ContinuityError as error:
        if error.field == ("program",):
            return None
        raise query_error(error) from None
    currency = preview.currency
    return ProgramPreview(
        program=Program.from_rows(preview.program, preview.version),
        start_date=preview.start_date,
        first_event_number=preview.first_event,
        finite=preview.finite,
        shipments=[_shipment(s, currency) for s in preview.shipments],
        up_front_total=(
            Money.of(preview.up_front_total_minor, currency)
            if preview.up_front_total_minor is not None
            else None
        ),
        installments=[
            PlannedInstallment(
                number=i.number, due_date=i.due_date, amount=Money.of(i.amount_minor, currency)
            )
            for i in preview.installments
        ],
    )
