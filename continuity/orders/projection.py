"""Projections: an order's next shipments and charges, a program's preview for a start date.

Both come from the schedule engine, the same code that placement and the jobs use, so what a
customer is shown is what will happen.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from itertools import islice

from continuity.engine.billing import Installment, installments
from continuity.engine.schedule import (
    Anchor,
    PlannedItem,
    all_occurrences,
    first_event_number,
    is_finite,
    occurrences,
    start_date,
)
from continuity.enums import BillingMode, ContinuityLineStatus, ContinuityOrderStatus
from continuity.errors import InvalidInput, NotFound
from continuity.models import (
    ContinuityLine,
    ContinuityOrder,
    PaymentSchedule,
    Product,
    Program,
    ProgramVersion,
)
from continuity.programs import live_version, program_spec, schedule_spec

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
    """The next ``count`` shipments of an open order: its pending lines, then what the engine
    will add after them. Skip events and skipped occurrences ship nothing and are left out."""
    _check_count(count)
    if order.status in {ContinuityOrderStatus.CANCELLED, ContinuityOrderStatus.CLOSED}:
        return []
    per_shipment = order.billing_mode is BillingMode.PER_SHIPMENT
    lines = await ContinuityLine.filter(continuity_order_id=order.id).order_by(
        "event_number", "repeat_index", "item_seq"
    )
    products = {
        p.id: p
        for p in await Product.filter(id__in={ln.product_id for ln in lines if ln.product_id})
    }
    held: OrderedDict[tuple[int, int], list[ContinuityLine]] = OrderedDict()
    for line in lines:
        held.setdefault((line.event_number, line.repeat_index), []).append(line)
    shipments: list[ProjectedShipment] = []
    for (event, repeat), group in held.items():
        if group[0].status is not ContinuityLineStatus.PENDING:
            continue
        items = tuple(
            PlannedItem(ln.product_id, products[ln.product_id].sku, ln.quantity, ln.price_minor)
            for ln in group
            if ln.product_id is not None
        )
        amount = sum(i.amount_minor for i in items)
        shipments.append(
            ProjectedShipment(
                event,
                repeat,
                group[0].planned_ship_date,
                items,
                amount if per_shipment else 0,
                True,
            )
        )
    if len(shipments) >= count:
        return shipments[:count]
    version = await ProgramVersion.get(id=order.program_version_id)
    program = await Program.get(id=order.program_id)
    spec = await program_spec(version, program.code)
    anchor = Anchor(order.anchor_date, order.anchor_event_number, order.anchor_repeat_index)
    stream = occurrences(spec, order.first_event_number, anchor, quantity=order.quantity)
    for occurrence in stream:
        if len(shipments) >= count:
            break
        if occurrence.key in held or not occurrence.ships:
            continue
        shipments.append(
            ProjectedShipment(
                occurrence.event_number,
                occurrence.repeat_index,
                occurrence.ship_date,
                occurrence.items,
                occurrence.amount_minor if per_shipment else 0,
                False,
            )
        )
    return shipments


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
    ``days_after_order`` is added). Installments fall due from the order date, as at
    placement."""
    _check_count(count)
    if not 1 <= quantity <= 1000:
        raise InvalidInput("must be 1 to 1000", field=["quantity"])
    program = await Program.get_or_none(code=program_code)
    if program is None:
        raise NotFound(f"no program {program_code!r}", field=["program"])
    version = await live_version(program.id)
    spec = await program_spec(version, program.code)
    begin = start_date(spec, start)
    first = first_event_number(spec, begin)
    anchor = Anchor(begin, first)
    shipments = [
        ProjectedShipment(
            o.event_number,
            o.repeat_index,
            o.ship_date,
            o.items,
            0 if spec.bill_up_front else o.amount_minor,
            False,
        )
        for o in islice(
            (o for o in occurrences(spec, first, anchor, quantity=quantity) if o.ships), count
        )
    ]
    finite = is_finite(spec, first)
    total = None
    plan: list[Installment] = []
    if spec.bill_up_front and finite:
        total = sum(o.amount_minor for o in all_occurrences(spec, first, anchor, quantity=quantity))
        code = payment_schedule
        schedule = None
        if code is not None:
            schedule = await PaymentSchedule.get_or_none(code=code)
            if schedule is None:
                raise NotFound(f"no payment schedule {code!r}", field=["paymentSchedule"])
        elif version.default_payment_schedule_id is not None:
            schedule = await PaymentSchedule.get(id=version.default_payment_schedule_id)
        if schedule is not None:
            plan = installments(total, await schedule_spec(schedule), order_date or start)
    return ProgramPreview(
        program, version, begin, first, spec.currency, shipments, finite, total, plan
    )
