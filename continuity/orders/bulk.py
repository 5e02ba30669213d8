"""Agent changes over a chosen set of orders, with a dry run first (SPEC §5, job 3).

"Update start date" shifts every pending occurrence of each order by the same number of days
(a new start date, or days to add); "substitute product" ships another item instead of one on
every pending line. Either applies to all the chosen orders in ONE transaction, or to none:
an error on any order rolls everything back. A dry run computes the same changes and writes
nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from tortoise.transactions import in_transaction

from continuity.enums import BillingMode, ContinuityLineStatus
from continuity.errors import ContinuityError, ErrorCode, InvalidInput
from continuity.models import ContinuityLine, ContinuityOrder, Program, ProgramVersion
from continuity.orders.changes import clean_reason, locked_order, require_open, swap_item
from continuity.orders.history import record
from continuity.orders.replan import apply_replan, plan_replan
from continuity.programs import program_spec

MAX_ORDERS = 1000
MAX_SHIFT = timedelta(days=366)


@dataclass(frozen=True)
class StartDateChange:
    order_id: int
    order_number: str
    from_start: date
    to_start: date
    lines_moved: int


@dataclass(frozen=True)
class Substitution:
    order_id: int
    order_number: str
    lines_changed: int


class _DryRun(Exception):
    """Raised at the end of a dry run so that its transaction rolls back."""


def _check_orders(order_ids: Sequence[int]) -> list[int]:
    unique = list(dict.fromkeys(order_ids))
    if not unique:
        raise InvalidInput("name at least one order", field=["input", "orderIds"])
    if len(unique) > MAX_ORDERS:
        raise InvalidInput(f"at most {MAX_ORDERS} orders at once", field=["input", "orderIds"])
    return unique


async def update_start_date(
    order_ids: Sequence[int],
    *,
    new_start: date | None = None,
    add_days: int | None = None,
    threshold: int,
    actor: str,
    reason: str | None = None,
    dry_run: bool = False,
) -> list[StartDateChange]:
    if (new_start is None) == (add_days is None):
        raise InvalidInput("give either newStartDate or addDays", field=["input", "addDays"])
    if add_days is not None and not 0 < abs(add_days) <= MAX_SHIFT.days:
        raise InvalidInput(
            f"must be a non-zero number of days up to {MAX_SHIFT.days}", field=["input", "addDays"]
        )
    why = clean_reason(reason)
    changes: list[StartDateChange] = []
    try:
        async with in_transaction() as conn:
            for order_id in _check_orders(order_ids):
                order = await locked_order(order_id, conn)
                require_open(order)
                shift = (
                    (new_start - order.start_date) if new_start else timedelta(days=add_days or 0)
                )
                if abs(shift) > MAX_SHIFT:
                    raise InvalidInput(
                        "moves the start date by more than a year", field=["input", "newStartDate"]
                    )
                lines = await ContinuityLine.filter(continuity_order_id=order.id).using_db(conn)
                pending = [ln for ln in lines if ln.status is ContinuityLineStatus.PENDING]
                if not pending:
                    raise InvalidInput(
                        f"order {order.number} has no pending shipment to move",
                        field=["input", "orderIds"],
                        code=ErrorCode.INVALID_STATE,
                    )
                first = min(
                    pending, key=lambda ln: (ln.planned_ship_date, ln.event_number, ln.repeat_index)
                )
                version = (
                    await ProgramVersion.filter(id=order.program_version_id).using_db(conn).get()
                )
                program = await Program.filter(id=order.program_id).using_db(conn).get()
                spec = await program_spec(version, program.code)
                replan = plan_replan(
                    order,
                    lines,
                    spec,
                    threshold=threshold,
                    anchor_date=first.planned_ship_date + shift,
                    up_front=order.billing_mode is not BillingMode.PER_SHIPMENT,
                )
                before = order.start_date
                order.start_date = before + shift
                await apply_replan(order, replan, conn)
                await order.save(update_fields=["start_date"], using_db=conn)
                await record(
                    order.id,
                    "start_date_updated",
                    actor=actor,
                    reason=why,
                    details={
                        "before": before.isoformat(),
                        "after": order.start_date.isoformat(),
                        "days": shift.days,
                        "lines_moved": len(replan.date_changes),
                    },
                    using_db=conn,
                )
                changes.append(
                    StartDateChange(order.id, order.number, before, order.start_date, len(pending))
                )
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return changes


async def substitute_product(
    order_ids: Sequence[int],
    from_sku: str,
    to_sku: str,
    *,
    actor: str,
    reason: str | None = None,
    dry_run: bool = False,
) -> list[Substitution]:
    """Swap ``from_sku`` for ``to_sku`` on the pending lines of every chosen order (orders
    without such a line are reported with 0 lines and left alone)."""
    result: list[Substitution] = []
    try:
        async with in_transaction():
            for order_id in _check_orders(order_ids):
                count = await ContinuityLine.filter(
                    continuity_order_id=order_id,
                    status=ContinuityLineStatus.PENDING,
                    product__sku=from_sku.strip(),
                ).count()
                try:
                    order = await swap_item(order_id, from_sku, to_sku, actor=actor, reason=reason)
                except ContinuityError as error:
                    if error.code is ErrorCode.NOT_FOUND and error.field == ("input", "fromSku"):
                        untouched = await ContinuityOrder.get(id=order_id)
                        result.append(Substitution(untouched.id, untouched.number, 0))
                        continue
                    raise
                result.append(Substitution(order.id, order.number, count))
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return result
