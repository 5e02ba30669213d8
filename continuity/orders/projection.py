"""Projections: an order's next shipments and charges, a program's preview for a start date.

Both walk the planner's schedule (``continuity.engine.plan``), the code that placement and the
jobs use, applied to the order's real state: what it holds and has shipped, its skips, its
substitutions and quantity, its pause (a pause with an end date is projected as the jobs will
resume it: ``resume_anchor``; without one, or on payment hold, nothing ships until someone acts),
and the charge that gates its shipping (a prepaid order's shipments wait for it). So what a
customer is shown is what will happen.

A program preview shows every slot of the schedule, a ``skip`` event's too (it ships nothing
and costs nothing, but the month passes), and refuses a payment schedule the program does not
offer exactly as placement does (``continuity.programs.offered_schedule``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from itertools import islice

from tortoise.connection import get_connection

from continuity.engine.billing import Installment, installments
from continuity.engine.plan import OrderSchedule, resume_anchor, upcoming
from continuity.engine.schedule import (
    Anchor,
    PlannedItem,
    all_occurrences,
    first_event_number,
    is_finite,
    start_date,
)
from continuity.enums import BillingMode, ContinuityOrderStatus
from continuity.errors import InvalidInput, NotFound
from continuity.models import ContinuityOrder, Program, ProgramVersion
from continuity.orders.replan import order_state
from continuity.payments.records import awaiting_payment
from continuity.programs import cached_spec, live_version, offered_schedule, schedule_spec

MAX_PROJECTED = 100


@dataclass(frozen=True)
class ProjectedShipment:
    event_number: int
    repeat_index: int
    ship_date: date
    items: tuple[PlannedItem, ...]
    #: What the shipment will be charged when its child order is created (0 when prepaid).
    charge_minor: int
    #: Already held as continuity lines (``True``) or only computed (``False``).
    materialized: bool
    #: A ``skip`` event's slot: nothing ships, nothing is charged (program previews only).
    skip: bool = False

    @property
    def amount_minor(self) -> int:
        return sum(item.amount_minor for item in self.items)


@dataclass(frozen=True)
class ProgramPreview:
    program: Program
    version: ProgramVersion
    start_date: date
    first_event: int
    currency: str
    shipments: list[ProjectedShipment]
    finite: bool
    up_front_total_minor: int | None
    installments: list[Installment]


def _check_count(count: int) -> None:
    if not 1 <= count <= MAX_PROJECTED:
        raise InvalidInput(f"must be 1 to {MAX_PROJECTED}", field=["count"])


async def upcoming_shipments(order: ContinuityOrder, count: int) -> list[ProjectedShipment]:
    """The next ``count`` shipments of an order, as the jobs will ship them. Skip events and
    skipped occurrences ship nothing and are left out; so is everything of an ended order, of
    an order on payment hold, and of one paused with no end date."""
    _check_count(count)
    if order.status not in (ContinuityOrderStatus.ACTIVE, ContinuityOrderStatus.PAUSED):
        return []
    if order.status is ContinuityOrderStatus.PAUSED and order.paused_until is None:
        return []
    conn = get_connection("default")
    state = await order_state(conn, order, as_of=None)
    schedule = state.schedule
    if order.status is ContinuityOrderStatus.PAUSED and order.paused_until is not None:
        resumed = resume_anchor(state.held, order.paused_until)
        if resumed is not None:
            schedule = schedule.with_anchor(resumed)
    waiting = await awaiting_payment(conn, [order.id])
    if order.id in waiting and waiting[order.id] is None:
        return []  # failed for good: the order goes on payment hold
    not_before = waiting.get(order.id)
    per_shipment = order.billing_mode is BillingMode.PER_SHIPMENT
    held = {line.key for line in state.held}
    return [
        ProjectedShipment(
            o.event_number,
            o.repeat_index,
            max(o.ship_date, not_before) if not_before is not None else o.ship_date,
            o.items,
            o.amount_minor if per_shipment else 0,
            o.key in held,
        )
        for o in islice(upcoming(schedule, state.held), count)
    ]


async def program_preview(
    program_code: str,
    start: date,
    *,
    order_date: date | None = None,
    count: int = 12,
    quantity: int = 1,
    payment_schedule: str | None = None,
) -> ProgramPreview:
    """What an order placed on ``order_date`` (default ``start``) for ``start`` would ship
    and bill (``start`` is the prompted date or the order date; the program's
    ``days_after_order`` is added): the first ``count`` slots of its schedule, skip slots
    included. Installments fall due from the order date, as at placement; a payment schedule
    the program does not offer is refused as placement refuses it."""
    _check_count(count)
    if not 1 <= quantity <= 1000:
        raise InvalidInput("must be 1 to 1000", field=["quantity"])
    program = await Program.get_or_none(code=program_code)
    if program is None:
        raise NotFound(f"no program {program_code!r}", field=["program"])
    version = await live_version(program.id)
    schedule = await offered_schedule(version, payment_schedule, ["paymentSchedule"])
    spec = await cached_spec(version, program.code)
    begin = start_date(spec, start)
    first = first_event_number(spec, begin)
    anchor = Anchor(begin, first)
    planned = OrderSchedule(spec, first, anchor, quantity)
    shipments = [
        ProjectedShipment(
            o.event_number,
            o.repeat_index,
            o.ship_date,
            o.items,
            0 if spec.bill_up_front else o.amount_minor,
            False,
            skip=not o.ships,
        )
        for o in islice(planned.occurrences(), count)
    ]
    finite = is_finite(spec, first)
    total = None
    plan: list[Installment] = []
    if spec.bill_up_front and finite:
        total = sum(o.amount_minor for o in all_occurrences(spec, first, anchor, quantity=quantity))
        if schedule is not None:
            plan = installments(total, await schedule_spec(schedule), order_date or start)
    return ProgramPreview(
        program, version, begin, first, spec.currency, shipments, finite, total, plan
    )
