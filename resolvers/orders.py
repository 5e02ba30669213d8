"""Placing orders, reading orders by number or by filter, and the projections.

Order numbers are generated in capitals (``CO-20270131-7F3A2C9B``): a number typed in any case
finds its order (by the unique index, not a case-insensitive scan)."""

from __future__ import annotations

import datetime

from tortoise.queryset import QuerySet

from continuity import models
from continuity.enums import ContinuityOrderStatus, Role
from continuity.errors import InvalidInput, NotFound
from continuity.orders import placement, projection, timeline
from resolvers.scope import customer_scope, require_order
from resolvers.session import Session, billing_rules


async def place_sales_order(
    session: Session, order: placement.SalesOrderInput, order_date: datetime.date | None = None
) -> placement.PlacedOrder:
    """Place an order dated today, or back-dated by an agent (``order_date``)."""
    today = session.today
    if order_date is not None:
        placement.check_order_date(
            order_date,
            today=today,
            max_backdate_days=session.settings.call_center.max_backdate_days,
            may_backdate=session.caller is None or session.caller.role is not Role.CUSTOMER,
        )
    return await placement.place_sales_order(
        order,
        order_date=order_date or today,
        actor=session.actor,
        rules=billing_rules(session),
        gateway=session.gateway,
        today=today,
        write=session.write_sales_order,
    )


async def schedule_code(schedule_id: int, field: list[str]) -> str:
    """The rule-file code of a payment schedule named by its id."""
    row = await models.PaymentSchedule.get_or_none(id=schedule_id)
    if row is None:
        raise NotFound("no such payment schedule", field=field)
    return row.code


def continuity_orders(
    session: Session,
    *,
    customer_id: int | None = None,
    program_id: int | None = None,
    status: ContinuityOrderStatus | None = None,
) -> QuerySet[models.ContinuityOrder]:
    """The continuity orders the caller may see, filtered."""
    query = models.ContinuityOrder.all()
    scope = customer_scope(session.caller)
    if scope is not None:
        query = query.filter(customer_id=scope)
    if customer_id is not None:
        query = query.filter(customer_id=customer_id)
    if program_id is not None:
        query = query.filter(program_id=program_id)
    if status is not None:
        query = query.filter(status=status)
    return query


async def continuity_order_by_number(
    session: Session, number: str
) -> models.ContinuityOrder | None:
    return await continuity_orders(session).filter(number=number.strip().upper()).first()


async def sales_order_by_number(session: Session, number: str) -> models.SalesOrder | None:
    query = models.SalesOrder.filter(number=number.strip().upper())
    scope = customer_scope(session.caller)
    if scope is not None:
        query = query.filter(customer_id=scope)
    return await query.first()


async def child_order_by_number(session: Session, number: str) -> models.ChildOrder | None:
    query = models.ChildOrder.filter(number=number.strip().upper())
    scope = customer_scope(session.caller)
    if scope is not None:
        query = query.filter(customer_id=scope)
    return await query.first()


def timeline_bounds(limit: int, before: datetime.datetime | None) -> datetime.datetime | None:
    """The checked arguments of an order's timeline: ``before`` as an aware time (a naive one
    is UTC). The caller already read the order, as it may see it."""
    if not 1 <= limit <= timeline.MAX_ENTRIES:
        raise InvalidInput(f"last must be 1 to {timeline.MAX_ENTRIES}", field=["last"])
    if before is not None and before.tzinfo is None:
        before = before.replace(tzinfo=datetime.UTC)
    return before


async def upcoming_shipments(
    session: Session, order_id: int, count: int
) -> tuple[models.ContinuityOrder, list[projection.ProjectedShipment]]:
    """An order's next shipments; ``NotFound`` when the caller may not see the order."""
    await require_order(session.caller, order_id, ["orderId"])
    order = await models.ContinuityOrder.get(id=order_id)
    return order, await projection.upcoming_shipments(order, count)


async def program_preview(
    session: Session,
    program_id: int,
    *,
    start_date: datetime.date | None,
    count: int,
    quantity: int,
    payment_schedule_id: int | None,
) -> projection.ProgramPreview | None:
    """What an order for the program would ship and bill; None when there is no such
    program."""
    program = await models.Program.get_or_none(id=program_id)
    if program is None:
        return None
    schedule = (
        await schedule_code(payment_schedule_id, ["paymentScheduleId"])
        if payment_schedule_id is not None
        else None
    )
    return await projection.program_preview(
        program.code,
        start_date or session.today,
        order_date=session.today,
        count=count,
        quantity=quantity,
        payment_schedule=schedule,
    )
