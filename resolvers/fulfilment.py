"""The fulfilment system's side: the child orders it polls, and its callbacks (a child order
shipped, then invoiced)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from tortoise.queryset import QuerySet

from continuity import models
from continuity.enums import ChildOrderStatus
from continuity.fulfilment import Shipment, invoice_child_order, mark_child_order_shipped
from resolvers.scope import customer_scope
from resolvers.session import Session


@dataclass(frozen=True)
class ChildOrderFilter:
    status: ChildOrderStatus | None = None
    program_id: int | None = None
    planned_from: datetime.date | None = None
    planned_to: datetime.date | None = None
    created_after: datetime.datetime | None = None
    continuity_order_id: int | None = None


def child_orders(session: Session, wanted: ChildOrderFilter) -> QuerySet[models.ChildOrder]:
    """The child orders the caller may see (a customer: its own), filtered."""
    query = models.ChildOrder.all()
    scope = customer_scope(session.caller)
    if scope is not None:
        query = query.filter(customer_id=scope)
    if wanted.status is not None:
        query = query.filter(status=wanted.status)
    if wanted.program_id is not None:
        query = query.filter(continuity_order__program_id=wanted.program_id)
    if wanted.planned_from is not None:
        query = query.filter(planned_ship_date__gte=wanted.planned_from)
    if wanted.planned_to is not None:
        query = query.filter(planned_ship_date__lte=wanted.planned_to)
    if wanted.created_after is not None:
        moment = wanted.created_after
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
        query = query.filter(created_at__gt=moment)
    if wanted.continuity_order_id is not None:
        query = query.filter(continuity_order_id=wanted.continuity_order_id)
    return query


async def mark_shipped(
    session: Session, child_order_id: int, shipment: Shipment
) -> models.ChildOrder:
    return await mark_child_order_shipped(
        child_order_id, actor=session.actor, shipment=shipment, today=session.today
    )


async def invoice(
    session: Session, child_order_id: int, invoice_number: str | None
) -> models.ChildOrder:
    return await invoice_child_order(
        child_order_id,
        actor=session.actor,
        gateway=session.gateway,
        today=session.today,
        invoice_number=invoice_number,
    )
