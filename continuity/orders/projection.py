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

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import islice
from operator import itemgetter
from typing import Any, NamedTuple

from continuity.connection import connection
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
from continuity.engine.spec import ProgramSpec
from continuity.enums import BillingMode, ContinuityOrderStatus
from continuity.errors import InvalidInput, NotFound
from continuity.models import ContinuityOrder, Program, ProgramVersion
from continuity.orders.replan import (
    HELD_SELECT,
    SUBSTITUTIONS_SELECT,
    OrderFacts,
    OrderState,
    states_from_rows,
)
from continuity.payments.records import GATE_SELECT, gates_from_rows
from continuity.programs import (
    cached_spec,
    live_version,
    offered_schedule,
    recalled_spec,
    schedule_spec,
    version_spec,
)
from continuity.sql import fetch_rows

MAX_PROJECTED = 100


class ProjectedShipment(NamedTuple):
    """One shipment still to come. (A named tuple, as the planner's lines are: a projection
    makes several an order; see ``continuity.engine.plan.LineRow``.)"""

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


def _state_select(*, gates: bool) -> str:
    """The reads of a projection in one statement: the orders' lines, substitutions and (with
    ``gates``) gating charges, each part's columns in a range of their own (``_PARTS``: its
    parser reads them by position), NULL elsewhere (cast in the first part so that PostgreSQL
    can type the union). Unsorted: ``states_from_rows`` sorts what it reads. Only a prepaid
    order has charges that gate its shipping (``continuity.payments.records.prepaid_charges``),
    so a read of per-shipment orders alone leaves that part and its columns out (SQLite reads
    a projection's rows a fifteenth faster without the three empty columns)."""
    # the gates' three columns: typed in the first part, empty in the second's rows
    gate_types = ",\n       CAST(NULL AS INTEGER), CAST(NULL AS DATE), CAST(NULL AS INTEGER)"
    gate_columns = (gate_types, ", NULL, NULL, NULL") if gates else ("", "")
    gate_part = f"""
UNION ALL
SELECT 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, NULL, g.*
FROM ({GATE_SELECT}) g
"""
    return f"""
SELECT 0 AS part, h.*,
       CAST(NULL AS INTEGER), CAST(NULL AS INTEGER), CAST(NULL AS INTEGER),
       CAST(NULL AS INTEGER), CAST(NULL AS TEXT), CAST(NULL AS INTEGER){gate_columns[0]}
FROM ({HELD_SELECT}) h
UNION ALL
SELECT 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       s.*{gate_columns[1]}
FROM ({SUBSTITUTIONS_SELECT}) s
{gate_part if gates else ""}"""


_STATE = _state_select(gates=True)
_STATE_PER_SHIPMENT = _state_select(gates=False)
#: Where each part's columns are in a row of ``_STATE`` (after ``part``): 12 of a line, 6 of
#: a substitution, 3 of a gate; and where each part's order id is.
_PARTS = (slice(1, 13), slice(13, 19), slice(19, 22))
_ORDER_COLUMN = (2, 14, 19)
#: What of each part a projection is computed from: a row without its own id and its order's
#: (a substitution's id only orders the substitutions: ``_memo_key``).
_CONTENT = (slice(3, 13), slice(15, 19), slice(20, 22))

#: Projections a program version keeps (``_projections``), the least recently used dropped
#: first; 0 keeps none (every projection computed: ``bench/worker.py`` measures that too).
PROJECTIONS_KEPT = 1024


def _projectable(order: ContinuityOrder) -> bool:
    if order.status not in (ContinuityOrderStatus.ACTIVE, ContinuityOrderStatus.PAUSED):
        return False
    return order.status is not ContinuityOrderStatus.PAUSED or order.paused_until is not None


async def upcoming_shipments(order: ContinuityOrder, count: int) -> list[ProjectedShipment]:
    """The next ``count`` shipments of an order, as the jobs will ship them. Skip events and
    skipped occurrences ship nothing and are left out; so is everything of an ended order, of
    an order on payment hold, and of one paused with no end date."""
    _check_count(count)
    if not _projectable(order):
        return []
    [shipments] = await _projections([order], count)
    return shipments


async def upcoming_shipments_of(
    orders: Sequence[ContinuityOrder], count: int
) -> dict[int, list[ProjectedShipment]]:
    """``upcoming_shipments`` of many orders (by order id), read in one statement."""
    _check_count(count)
    projected: dict[int, list[ProjectedShipment]] = {order.id: [] for order in orders}
    live = [order for order in orders if _projectable(order)]
    if live:
        for order, shipments in zip(live, await _projections(live, count), strict=True):
            projected[order.id] = shipments
    return projected


#: One order's rows of ``_STATE``, by part (lines, substitutions, gates).
_Rows = tuple[list[Sequence[Any]], list[Sequence[Any]], list[Sequence[Any]]]


async def _projections(
    orders: Sequence[ContinuityOrder], count: int
) -> list[list[ProjectedShipment]]:
    """The orders' projections (in their order), read in one statement.

    A projection is a function of its order's schedule facts, the rows read here and the
    program version (immutable), nothing else: not the day, not the order's id. Orders placed
    alike on a program share all of these until one of them changes (a skip, a swap, a
    charge), so each version keeps what it projected by those inputs (``_memo_key``) and a
    projection already made costs the read and a look-up instead of the planner's state and
    walk (docs/PERFORMANCE.md)."""
    conn = connection()
    prepaid = False
    specs: list[ProgramSpec] = []
    for order in orders:
        version_id = order.program_version_id
        spec = recalled_spec(version_id, conn) or await version_spec(version_id, conn)
        specs.append(spec)
        prepaid = prepaid or order.billing_mode is not BillingMode.PER_SHIPMENT
    rows = await fetch_rows(
        conn,
        _STATE if prepaid else _STATE_PER_SHIPMENT,
        orders=[order.id for order in orders],
    )
    by_order: dict[int, _Rows] = {order.id: ([], [], []) for order in orders}
    for row in rows:
        part = row[0]
        by_order[row[_ORDER_COLUMN[part]]][part].append(row)
    return [
        _projection(order, spec, by_order[order.id], count)
        for order, spec in zip(orders, specs, strict=True)
    ]


def _projection(
    order: ContinuityOrder, spec: ProgramSpec, rows: _Rows, count: int
) -> list[ProjectedShipment]:
    """One order's projection, from the version's memo or computed (``_projections``)."""
    kept: OrderedDict[tuple[Any, ...], tuple[ProjectedShipment, ...]] | None
    kept = spec.derived.get("projections")
    if kept is None:
        kept = spec.derived["projections"] = OrderedDict()
    facts = OrderFacts.of(order)
    key = _memo_key(order, facts, rows, count)
    shipments = kept.get(key)
    if shipments is not None:
        kept.move_to_end(key)
        return list(shipments)
    lines, substitutions, gates = rows
    [state] = states_from_rows(
        [(facts, spec)],
        [row[_PARTS[0]] for row in lines],
        [row[_PARTS[1]] for row in substitutions],
    )
    shipments = tuple(
        _project(order, state, gates_from_rows(row[_PARTS[2]] for row in gates), count)
    )
    if PROJECTIONS_KEPT:
        kept[key] = shipments
        if len(kept) > PROJECTIONS_KEPT:
            kept.popitem(last=False)
    return list(shipments)


def _memo_key(
    order: ContinuityOrder, facts: OrderFacts, rows: _Rows, count: int
) -> tuple[Any, ...]:
    """Everything a projection of ``order`` is computed from besides its program version:
    what the planner reads of the order (``OrderFacts.schedule_facts``), its pause
    (``_project``) and its rows without their ids (lines by key, substitutions in the order
    they were made)."""
    lines, substitutions, gates = rows
    line_content, substitution_content, gate_content = _CONTENT
    return (
        count,
        facts.schedule_facts,
        order.status,
        order.paused_until,
        tuple(sorted([row[line_content] for row in lines])),
        tuple([row[substitution_content] for row in sorted(substitutions, key=_SUBSTITUTION_ID)])
        if substitutions
        else (),
        tuple([row[gate_content] for row in gates]) if gates else (),
    )


_SUBSTITUTION_ID = itemgetter(_PARTS[1].start)


def _project(
    order: ContinuityOrder, state: OrderState, waiting: dict[int, date | None], count: int
) -> list[ProjectedShipment]:
    schedule = state.schedule
    if order.status is ContinuityOrderStatus.PAUSED and order.paused_until is not None:
        resumed = resume_anchor(state.held, order.paused_until)
        if resumed is not None:
            schedule = schedule.with_anchor(resumed)
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
